/**
 * Groups writes into transactions. Writes that arrive while a transaction is running wait and are
 * committed together in the next one. On a slow disk (an SD card) this turns N concurrent API calls
 * into one WAL append instead of N.
 *
 * One failing write does not fail the others: a job that throws a StoreError (a conflict, a missing
 * key) is simply left out. A job that changes the database with a single statement needs nothing
 * more, because SQLite rolls back a failed statement on its own and keeps the transaction; a job
 * that runs several changing statements asks for its own SAVEPOINT (`{ savepoint: true }`) and is
 * rolled back to it. The store's writes are all single statements and skip the savepoint: measured,
 * SAVEPOINT + RELEASE tripled the round trips per write and halved batched throughput. Any other
 * error (I/O, disk full: SQLite may already have rolled the whole transaction back) fails the whole
 * batch.
 *
 * A batch of one single-statement job runs in autocommit mode: the statement is its own
 * transaction, so BEGIN/COMMIT would only add round trips.
 *
 * Each statement is a round trip to the `sqlite3` worker thread whose answer waits for the main
 * thread's next event-loop turn, so on a busy server a batch of N jobs run one by one takes N turns
 * (a Deployment of 1,000 pods saw batches of 30 take 30 ms and more). Jobs submitted with a `bulk`
 * description are handed together to `runBulk`, which may write many of them with one statement
 * (the store's multi-row INSERTs); it still runs inside the batch's transaction, and every job is
 * still answered only after the COMMIT.
 *
 * Every job's promise settles only after its transaction has committed (or failed).
 */
import type { PreparedStatement } from './sqlite-db.js';
import { StoreError } from './store.js';

/** Runs a write's statements on the writer connection and returns its result. */
export type WriteJob<R> = () => Promise<R>;

export interface TransactionStatements {
  begin: PreparedStatement;
  commit: PreparedStatement;
  rollback: PreparedStatement;
  savepoint: PreparedStatement;
  release: PreparedStatement;
  rollbackToSavepoint: PreparedStatement;
}

/** How one job of a batch ended. */
export type Outcome<R> = { ok: true; result: R } | { ok: false; error: unknown };

/** A job with its bulk description, for `runBulk`; `job` alone still does the same write. */
export interface BulkItem<R, B> {
  bulk: B;
  job: WriteJob<R>;
}

export interface WriteBatcherOptions<R, B = never> {
  statements: TransactionStatements;
  /** Most writes in one transaction (bounds how long one COMMIT holds the write lock). */
  maxBatch?: number;
  /**
   * Called synchronously after a commit with the results of the jobs that succeeded, in commit
   * order, before any job's promise resolves (so watchers hear of a write no later than its caller).
   */
  onCommitted?: (results: readonly R[]) => void;
  /**
   * Runs the jobs of a batch that all carry a bulk description, inside its transaction: one outcome
   * per item, in order. A StoreError of one item is its outcome; any other throw fails the batch.
   */
  runBulk?: (items: readonly BulkItem<R, B>[]) => Promise<Outcome<R>[]>;
}

export interface WriteBatcherStats {
  /** Transactions committed, including single-statement autocommits. */
  transactions: number;
  /** Jobs that completed successfully. */
  jobsCommitted: number;
  /** Jobs that failed (their own error or a failed commit). */
  jobsFailed: number;
  largestBatch: number;
}

export interface SubmitOptions<B = never> {
  /** The job changes the database with more than one statement: isolate it in a SAVEPOINT. */
  savepoint?: boolean;
  /** What the job writes, for `runBulk` (the job itself must do the same write alone). */
  bulk?: B;
}

interface Pending<R, B> {
  job: WriteJob<R>;
  savepoint: boolean;
  bulk: B | undefined;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

interface Exclusive {
  task: () => Promise<unknown>;
  resolve: (result: unknown) => void;
  reject: (err: unknown) => void;
}

export class WriteBatcher<R, B = never> {
  readonly #statements: TransactionStatements;
  readonly #maxBatch: number;
  readonly #onCommitted: (results: readonly R[]) => void;
  readonly #runBulk: ((items: readonly BulkItem<R, B>[]) => Promise<Outcome<R>[]>) | undefined;
  #writes: Pending<R, B>[] = [];
  readonly #exclusives: Exclusive[] = [];
  #pumping: Promise<void> | undefined;
  #closed = false;
  readonly #stats: WriteBatcherStats = { transactions: 0, jobsCommitted: 0, jobsFailed: 0, largestBatch: 0 };

  constructor(options: WriteBatcherOptions<R, B>) {
    this.#statements = options.statements;
    this.#maxBatch = options.maxBatch ?? 500;
    this.#onCommitted = options.onCommitted ?? (() => {});
    this.#runBulk = options.runBulk;
  }

  /** Queue a write; resolves after the transaction holding it committed. */
  submit(job: WriteJob<R>, options: SubmitOptions<B> = {}): Promise<R> {
    if (this.#closed) return Promise.reject(new StoreError('Closed', 'the store is closed'));
    return new Promise<R>((resolve, reject) => {
      this.#writes.push({ job, savepoint: options.savepoint === true, bulk: options.bulk, resolve, reject });
      this.#schedule();
    });
  }

  /**
   * Run `task` alone on the writer connection between two batches (compaction uses it, one small
   * chunk per task, so writes are never held up for long). The task manages its own transaction.
   */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new StoreError('Closed', 'the store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.#exclusives.push({ task, resolve: resolve as (r: unknown) => void, reject });
      this.#schedule();
    });
  }

  /** Count a transaction that a task run through `exclusive` committed. */
  countTransaction(): void {
    this.#stats.transactions += 1;
  }

  stats(): WriteBatcherStats {
    return { ...this.#stats };
  }

  /** Refuse new work, finish what is queued. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#pumping) await this.#pumping;
  }

  #schedule(): void {
    if (this.#pumping) return;
    // Start on the next microtask so writes submitted in the same tick share the first batch.
    this.#pumping = new Promise<void>((resolve) => queueMicrotask(resolve))
      .then(() => this.#pump())
      .finally(() => {
        this.#pumping = undefined;
        if (this.#writes.length > 0 || this.#exclusives.length > 0) this.#schedule();
      });
  }

  async #pump(): Promise<void> {
    while (this.#writes.length > 0 || this.#exclusives.length > 0) {
      if (this.#writes.length > 0) {
        const batch = this.#writes.splice(0, this.#maxBatch);
        await this.#runBatch(batch);
      }
      // Alternate: one exclusive task between batches, so neither side starves the other.
      const exclusive = this.#exclusives.shift();
      if (exclusive) {
        try {
          exclusive.resolve(await exclusive.task());
        } catch (err) {
          exclusive.reject(err);
        }
      }
    }
  }

  async #runBatch(batch: Pending<R, B>[]): Promise<void> {
    this.#stats.largestBatch = Math.max(this.#stats.largestBatch, batch.length);
    const alone = batch.length === 1 && !batch[0]!.savepoint;
    const outcomes = alone ? [await this.#runAlone(batch[0]!)] : await this.#runInTransaction(batch);
    const committed: R[] = [];
    for (const outcome of outcomes) if (outcome.ok) committed.push(outcome.result);
    if (committed.length > 0) {
      this.#stats.transactions += 1;
      this.#onCommitted(committed);
    }
    batch.forEach((pending, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) {
        this.#stats.jobsCommitted += 1;
        pending.resolve(outcome.result);
      } else {
        this.#stats.jobsFailed += 1;
        pending.reject(outcome.error);
      }
    });
  }

  async #runAlone(pending: Pending<R, B>): Promise<Outcome<R>> {
    try {
      return { ok: true, result: await pending.job() };
    } catch (error) {
      return { ok: false, error };
    }
  }

  async #runInTransaction(batch: Pending<R, B>[]): Promise<Outcome<R>[]> {
    const s = this.#statements;
    try {
      await s.begin.run();
    } catch (error) {
      return batch.map(() => ({ ok: false, error }));
    }
    const outcomes: Outcome<R>[] = [];
    try {
      const bulk = this.#runBulk !== undefined && batch.every((p) => p.bulk !== undefined && !p.savepoint);
      if (bulk) outcomes.push(...await this.#runBulk!(batch.map((p) => ({ bulk: p.bulk!, job: p.job }))));
      for (const pending of bulk ? [] : batch) {
        if (pending.savepoint) await s.savepoint.run();
        try {
          const result = await pending.job();
          if (pending.savepoint) await s.release.run();
          outcomes.push({ ok: true, result });
        } catch (error) {
          if (!(error instanceof StoreError)) throw error;
          if (pending.savepoint) {
            await s.rollbackToSavepoint.run();
            await s.release.run();
          }
          outcomes.push({ ok: false, error });
        }
      }
      await s.commit.run();
      return outcomes;
    } catch (error) {
      // A statement or COMMIT failed for a reason other than the write's own (disk full, I/O
      // error): nothing in this batch committed.
      await s.rollback.run().catch(() => {});
      return batch.map(() => ({ ok: false, error }));
    }
  }
}
