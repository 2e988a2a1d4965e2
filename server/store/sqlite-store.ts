/**
 * The embedded SQLite implementation of `Store`, shaped after kine: a log table with one row per
 * revision, optimistic concurrency enforced by a unique index, watches fed from the table and an
 * in-process broadcaster, and compaction that keeps a floor of recent revisions.
 *
 * Two connections: all writes (and compaction) go through one writer connection and the write
 * batcher, which serialises them and groups concurrent ones into one transaction; reads use a
 * separate read-only connection, so they never see a batch that has not committed yet and never
 * wait for one (WAL lets readers and the writer run side by side).
 *
 * Why this file is long: the kine-shaped store: schema, batched writes, watch replay and compaction
 * share one connection and one revision counter.
 */
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { debuglog } from 'node:util';
import { Broadcaster } from './broadcaster.js';
import { prefixRange, type KeyRange } from './key-range.js';
import { META, READER_SQL, SCHEMA_SQL, SCHEMA_VERSION, WRITER_SQL, type KvRow, type LogRow } from './log-sql.js';
import { SqliteConnection, isConstraintError, type PreparedStatement } from './sqlite-db.js';
import {
  StoreError,
  type KeyValue,
  type ListOptions,
  type ListResult,
  type Store,
  type StoreEvent,
  type WatchOptions,
} from './store.js';
import { compactedError, watchStream, type WatchSource } from './watch-stream.js';
import { WriteBatcher, type BulkItem, type Outcome } from './write-batcher.js';
import { WatchCache } from './watch-cache.js';

const debug = debuglog('corral-store');

function unboundedAbortController(): AbortController {
  const c = new AbortController();
  setMaxListeners(0, c.signal);
  return c;
}

export interface SqliteStoreOptions {
  /** Database file; created when missing. */
  path: string;
  /** How long a statement waits for a lock held by another process before failing. */
  busyTimeoutMs?: number;
  /** Most writes grouped into one transaction. */
  maxBatch?: number;
  /** Live events buffered per watcher before it falls back to reading the table. */
  watchBufferSize?: number;
  /** Rows per table read when a watcher catches up. */
  watchPageSize?: number;
  /** Rows examined per compaction transaction (keeps each one to a few milliseconds). */
  compactChunkRows?: number;
  /** WAL pages that trigger an automatic checkpoint (SQLite's default is 1000 pages, ~4 MiB). */
  walAutocheckpointPages?: number;
}

export interface CompactorOptions {
  /** How often to compact (default 5 minutes). */
  intervalMs?: number;
  /** Revisions always kept behind the current one, so watchers can resume (default 1000). */
  keepRevisions?: number;
  signal?: AbortSignal;
}

/** Counters for benchmarks and for measuring what reaches the disk. */
export interface SqliteStoreStats {
  /** Transactions committed (a lone write in autocommit counts as one). */
  transactions: number;
  /** Log rows inserted (one per successful create, update or delete). */
  rowsWritten: number;
  /** Writes that failed (conflicts, missing keys, I/O errors). */
  writesFailed: number;
  /** Largest number of writes committed by one transaction. */
  largestBatch: number;
  /** Writes that reached the database in a multi-row statement with others of their batch. */
  writesInBulk: number;
  /** Log rows removed by compaction. */
  rowsCompacted: number;
  /** Longest compaction transaction so far: how long compaction held writers up, at most. */
  longestCompactionChunkMs: number;
  /** Open watchers. */
  watchers: number;
  currentRevision: number;
  compactRevision: number;
}

/** What a committed write hands to the broadcaster and to its caller. */
interface WriteResult {
  kv: KeyValue;
  event: StoreEvent;
}

/** What a write does, so a batch's creates and updates can go to the database as one statement each. */
type WriteOp =
  | { kind: 'create'; key: string; value: string }
  | { kind: 'update'; key: string; expected: number; value: string }
  | { kind: 'delete' };

/**
 * No lone surrogate (Node.js 20's String#isWellFormed; ES2024, not in this project's lib yet): JSON
 * would carry one into the database where a bound parameter carries U+FFFD, so such writes go one by one.
 */
const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

type WriterStatements = Record<keyof typeof WRITER_SQL, PreparedStatement>;
type ReaderStatements = Record<keyof typeof READER_SQL, PreparedStatement>;

interface ListRow extends KvRow {
  total: number;
}

interface WatchRow extends LogRow {
  prev_id: number | null;
  prev_value: string | null;
}

export class SqliteStore implements Store {
  readonly path: string;
  readonly #writer: SqliteConnection;
  readonly #reader: SqliteConnection;
  readonly #w: WriterStatements;
  readonly #r: ReaderStatements;
  readonly #batcher: WriteBatcher<WriteResult, WriteOp>;
  readonly #broadcaster = new Broadcaster<StoreEvent>();
  /** The live keys in memory: gets, counts and current lists are served from it. */
  readonly #cache: WatchCache;
  /** Every open watch listens on it: no listener bound (Node warns past 10, a server has hundreds). */
  readonly #closedController = unboundedAbortController();
  readonly #watchBufferSize: number;
  readonly #watchPageSize: number;
  readonly #compactChunkRows: number;
  #currentRevision: number;
  #compactRevision: number;
  #compactedThrough: number;
  #rowsCompacted = 0;
  #writesInBulk = 0;
  #longestCompactionChunkMs = 0;
  /** Compactions run one after another. */
  #compaction: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;

  /** Use `openSqliteStore`. */
  constructor(init: {
    options: SqliteStoreOptions;
    writer: SqliteConnection;
    reader: SqliteConnection;
    writerStatements: WriterStatements;
    readerStatements: ReaderStatements;
    currentRevision: number;
    compactRevision: number;
    compactedThrough: number;
    cache: WatchCache;
  }) {
    this.path = init.options.path;
    this.#writer = init.writer;
    this.#reader = init.reader;
    this.#w = init.writerStatements;
    this.#r = init.readerStatements;
    this.#currentRevision = init.currentRevision;
    this.#compactRevision = init.compactRevision;
    this.#compactedThrough = init.compactedThrough;
    this.#cache = init.cache;
    this.#watchBufferSize = init.options.watchBufferSize ?? 1024;
    this.#watchPageSize = init.options.watchPageSize ?? 500;
    this.#compactChunkRows = init.options.compactChunkRows ?? 500;
    this.#batcher = new WriteBatcher<WriteResult, WriteOp>({
      statements: this.#w,
      ...(init.options.maxBatch !== undefined ? { maxBatch: init.options.maxBatch } : {}),
      onCommitted: (results) => this.#published(results),
      runBulk: (items) => this.#runBulk(items),
    });
  }

  // ---- writes ----------------------------------------------------------------------------------

  create(key: string, value: string): Promise<KeyValue> {
    return this.#write({ kind: 'create', key, value }, async () => {
      let row: { id: number } | undefined;
      try {
        row = await this.#w.create.first<{ id: number }>([key, value]);
      } catch (err) {
        // Another connection created the key between our check and insert.
        if (!isConstraintError(err)) throw err;
      }
      if (row === undefined) throw new StoreError('KeyExists', `${key} already exists`);
      const kv: KeyValue = { key, value, modRevision: row.id, createRevision: row.id };
      return { kv, event: { type: 'create', kv } };
    });
  }

  update(key: string, expectedRevision: number, value: string): Promise<KeyValue> {
    return this.#write({ kind: 'update', key, expected: expectedRevision, value }, async () => {
      let row: { id: number; create_revision: number; prev_value: string } | undefined;
      try {
        row = await this.#w.update.first([key, expectedRevision, value]);
      } catch (err) {
        if (!isConstraintError(err)) throw err;
      }
      if (row === undefined) throw await this.#explainRefusal(key, expectedRevision);
      const kv: KeyValue = { key, value, modRevision: row.id, createRevision: row.create_revision };
      return { kv, event: { type: 'update', kv, prev: this.#replaced(key, expectedRevision, row) } };
    });
  }

  /** Returns the deleted value with the revision of the delete (as the delete event carries it). */
  delete(key: string, expectedRevision: number): Promise<KeyValue> {
    return this.#write({ kind: 'delete' }, async () => {
      let row: { id: number; create_revision: number; prev_revision: number; value: string } | undefined;
      try {
        row = await this.#w.delete.first([key, expectedRevision]);
      } catch (err) {
        if (!isConstraintError(err)) throw err;
      }
      if (row === undefined) throw await this.#explainRefusal(key, expectedRevision);
      const kv: KeyValue = { key, value: row.value, modRevision: row.id, createRevision: row.create_revision };
      const prev: KeyValue = { key, value: row.value, modRevision: row.prev_revision, createRevision: row.create_revision };
      return { kv, event: { type: 'delete', kv, prev } };
    });
  }

  /**
   * The value an update replaced: the watch cache's own KeyValue when it is that revision (the same
   * object readers got, whose decoded form the API server keeps, so a watch filter comparing old and
   * new parses nothing again), else one built from the row.
   */
  #replaced(key: string, expectedRevision: number, row: { create_revision: number; prev_value: string }): KeyValue {
    const cached = this.#cache.get(key);
    if (cached !== undefined && cached.modRevision === expectedRevision) return cached;
    return { key, value: row.prev_value, modRevision: expectedRevision, createRevision: row.create_revision };
  }

  /** Why an update or delete inserted nothing: the key is gone, or another write came first. */
  async #explainRefusal(key: string, expectedRevision: number): Promise<StoreError> {
    const latest = await this.#w.latest.first<LogRow>([key]);
    if (latest === undefined || latest.deleted) return new StoreError('KeyNotFound', `${key} not found`);
    return new StoreError(
      'Conflict',
      `${key} is at revision ${latest.id}, not the expected revision ${expectedRevision}`,
      latest.id,
    );
  }

  async #write(op: WriteOp, job: () => Promise<WriteResult>): Promise<KeyValue> {
    if (this.#closing) throw closedError();
    const result = await this.#batcher.submit(job, { bulk: op });
    return result.kv;
  }

  /**
   * A batch's writes inside its transaction: its creates as one statement, then its updates as one
   * (deletes, and any group that cannot go as one statement, one by one). Revisions follow that
   * order; #published puts the events back in revision order.
   */
  async #runBulk(items: readonly BulkItem<WriteResult, WriteOp>[]): Promise<Outcome<WriteResult>[]> {
    const outcomes: Outcome<WriteResult>[] = new Array(items.length);
    const creates: number[] = [];
    const updates: number[] = [];
    const others: number[] = [];
    items.forEach((item, i) => (item.bulk.kind === 'create' ? creates : item.bulk.kind === 'update' ? updates : others).push(i));
    if (!(await this.#createMany(items, creates, outcomes))) await runEach(items, creates, outcomes);
    if (!(await this.#updateMany(items, updates, outcomes))) await runEach(items, updates, outcomes);
    await runEach(items, others, outcomes);
    return outcomes;
  }

  /** The creates at `indexes` as one statement; false when they must go one by one. */
  async #createMany(items: readonly BulkItem<WriteResult, WriteOp>[], indexes: number[], outcomes: Outcome<WriteResult>[]): Promise<boolean> {
    const ops = indexes.map((i) => items[i]!.bulk as Extract<WriteOp, { kind: 'create' }>);
    if (!canGoTogether(ops)) return false;
    let rows: { id: number; name: string }[];
    try {
      rows = await this.#w.createMany.all([JSON.stringify(ops.map((op) => [op.key, op.value]))]);
    } catch (err) {
      if (isConstraintError(err)) return false;
      throw err;
    }
    this.#writesInBulk += ops.length;
    const byName = new Map(rows.map((row) => [row.name, row]));
    indexes.forEach((index, n) => {
      const { key, value } = ops[n]!;
      const row = byName.get(key);
      if (row === undefined) {
        outcomes[index] = { ok: false, error: new StoreError('KeyExists', `${key} already exists`) };
        return;
      }
      const kv: KeyValue = { key, value, modRevision: row.id, createRevision: row.id };
      outcomes[index] = { ok: true, result: { kv, event: { type: 'create', kv } } };
    });
    return true;
  }

  /** The updates at `indexes` as one statement; false when they must go one by one. */
  async #updateMany(items: readonly BulkItem<WriteResult, WriteOp>[], indexes: number[], outcomes: Outcome<WriteResult>[]): Promise<boolean> {
    const ops = indexes.map((i) => items[i]!.bulk as Extract<WriteOp, { kind: 'update' }>);
    if (!canGoTogether(ops)) return false;
    let rows: { id: number; name: string; create_revision: number; prev_value: string }[];
    try {
      rows = await this.#w.updateMany.all([JSON.stringify(ops.map((op) => [op.key, op.expected, op.value]))]);
    } catch (err) {
      // A stale expected revision (the unique index): the statement was backed out alone.
      if (isConstraintError(err)) return false;
      throw err;
    }
    this.#writesInBulk += ops.length;
    const byName = new Map(rows.map((row) => [row.name, row]));
    for (const [n, index] of indexes.entries()) {
      const { key, expected, value } = ops[n]!;
      const row = byName.get(key);
      if (row === undefined) {
        outcomes[index] = { ok: false, error: await this.#explainRefusal(key, expected) };
        continue;
      }
      const kv: KeyValue = { key, value, modRevision: row.id, createRevision: row.create_revision };
      outcomes[index] = { ok: true, result: { kv, event: { type: 'update', kv, prev: this.#replaced(key, expected, row) } } };
    }
    return true;
  }

  /**
   * After a commit: update the cache and advance the revision, then tell watchers, in revision
   * order. All of it runs synchronously before any writer's promise resolves.
   */
  #published(committed: readonly WriteResult[]): void {
    // A bulk batch answers its creates before its updates; watchers need revision order.
    let results = committed;
    for (let i = 1; i < committed.length; i++) {
      if (committed[i]!.kv.modRevision < committed[i - 1]!.kv.modRevision) {
        results = [...committed].sort((a, b) => a.kv.modRevision - b.kv.modRevision);
        break;
      }
    }
    const last = results[results.length - 1];
    const events = results.map((r) => r.event);
    this.#cache.apply(events);
    if (last !== undefined) this.#currentRevision = last.kv.modRevision;
    this.#broadcaster.publish(events);
  }

  // ---- reads -----------------------------------------------------------------------------------

  async get(key: string): Promise<KeyValue | undefined> {
    if (this.#closing) throw closedError();
    return this.#cache.get(key);
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    if (this.#closing) throw closedError();
    const range = prefixRange(prefix);
    const requested = options.revision !== undefined && options.revision > 0 ? options.revision : undefined;
    const limit = options.limit !== undefined && options.limit > 0 ? options.limit : undefined;
    // The current state (and a revision newer than any write: nothing differs yet) is in memory.
    if (requested === undefined || requested >= this.#currentRevision) {
      const page = this.#cache.list(prefix, {
        ...(limit !== undefined ? { limit } : {}),
        ...(options.startAfter !== undefined ? { startAfter: options.startAfter } : {}),
      });
      return { ...page, revision: this.#currentRevision };
    }
    for (;;) {
      const revision = Math.min(requested, this.#currentRevision);
      if (revision < this.#compactRevision) throw compactedError(revision, this.#compactRevision);
      const params = [range.start, range.end, options.startAfter ?? '', revision];
      let rows: KvRow[];
      let remaining = 0;
      if (limit === undefined) {
        rows = await this.#r.listAll.all<KvRow>(params);
      } else {
        const page = await this.#r.listPage.all<ListRow>([...params, limit]);
        remaining = (page[0]?.total ?? 0) - page.length;
        rows = page;
      }
      // A compaction that passed `revision` while the query ran may have removed rows it needed.
      if (revision < this.#compactRevision) {
        if (requested !== undefined) throw compactedError(revision, this.#compactRevision);
        continue; // the current revision moved on: list again at the new one
      }
      return { kvs: rows.map(kvOf), revision, more: remaining > 0, remaining };
    }
  }

  async count(prefix: string): Promise<number> {
    if (this.#closing) throw closedError();
    return this.#cache.count(prefix);
  }

  /**
   * Throws Compacted right away (synchronously) when `sinceRevision` is already compacted, so the
   * API server can answer 410 before it starts a stream; iteration can still throw Compacted if a
   * compaction overtakes a watcher that is catching up.
   */
  watch(prefix: string, options: WatchOptions): AsyncIterable<StoreEvent> {
    if (this.#closing) throw closedError();
    const since = options.sinceRevision;
    if (since > 0 && since < this.#compactRevision) throw compactedError(since, this.#compactRevision);
    return watchStream(this.#watchSource, {
      prefix,
      afterRevision: since > 0 ? since : this.#currentRevision,
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
      bufferSize: this.#watchBufferSize,
      pageSize: this.#watchPageSize,
      ...(options.filter !== undefined ? { filter: options.filter } : {}),
      ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}),
      ...(options.trigger !== undefined ? { trigger: options.trigger } : {}),
    });
  }

  readonly #watchSource: WatchSource = {
    broadcaster: this.#broadcaster,
    readEvents: async (afterRevision: number, range: KeyRange, limit: number): Promise<StoreEvent[]> => {
      const rows = await this.#r.watchPage.all<WatchRow>([afterRevision, range.start, range.end, limit]);
      return rows.map(eventOf);
    },
    compactRevision: () => this.#compactRevision,
    currentRevision: () => this.#currentRevision,
    closed: this.#closedController.signal,
  };

  currentRevision(): number {
    return this.#currentRevision;
  }

  compactRevision(): number {
    return this.#compactRevision;
  }

  // ---- compaction ------------------------------------------------------------------------------

  /**
   * Drop every row that a row at or below `revision` replaced, and delete tombstones at or below
   * it, so the state at `revision` and every later one is unchanged and only older states go. The
   * latest row of a live key is never replaced, so never removed. The compact revision is stored
   * first; the rows go afterwards in small transactions between write batches, with progress
   * stored in each, so a crash mid-way leaves a consistent log and the next compaction resumes.
   */
  compact(revision: number): Promise<void> {
    if (this.#closing) return Promise.reject(closedError());
    const run = this.#compaction.then(() => this.#compactTo(revision));
    this.#compaction = run.catch(() => {});
    return run;
  }

  async #compactTo(revision: number): Promise<void> {
    const target = Math.min(revision, this.#currentRevision);
    if (target > this.#compactRevision) {
      await this.#batcher.exclusive(async () => {
        await this.#w.setMeta.run([META.compactRevision, target]);
        this.#batcher.countTransaction();
      });
      this.#compactRevision = target;
    }
    while (this.#compactedThrough < this.#compactRevision) {
      if (this.#closing) throw closedError();
      await this.#batcher.exclusive(() => this.#compactChunk());
    }
  }

  /** One transaction: the next `compactChunkRows` rows up to the compact revision. */
  async #compactChunk(): Promise<void> {
    const from = this.#compactedThrough;
    const limit = this.#compactRevision;
    const end = await this.#w.chunkEnd.first<{ id: number }>([from, limit, this.#compactChunkRows - 1]);
    const to = end?.id ?? limit;
    const w = this.#w;
    const started = performance.now();
    await w.begin.run();
    try {
      const superseded = await w.compactSuperseded.run([from, to]);
      const tombstones = await w.compactTombstones.run([from, to]);
      await w.setMeta.run([META.compactedThrough, to]);
      await w.commit.run();
      this.#batcher.countTransaction();
      this.#compactedThrough = to;
      this.#rowsCompacted += superseded.changes + tombstones.changes;
      this.#longestCompactionChunkMs = Math.max(this.#longestCompactionChunkMs, performance.now() - started);
    } catch (err) {
      await w.rollback.run().catch(() => {});
      throw err;
    }
  }

  /**
   * Compact every `intervalMs`, keeping the newest `keepRevisions` revisions. Writes nothing when
   * nothing was written since the last run (an idle cluster must not wear out its SD card).
   */
  startCompactor(options: CompactorOptions = {}): void {
    const intervalMs = options.intervalMs ?? 5 * 60_000;
    const keepRevisions = options.keepRevisions ?? 1000;
    let running = false;
    const tick = (): void => {
      if (running || this.#closing) return;
      const target = this.#currentRevision - keepRevisions;
      if (target <= this.#compactRevision && this.#compactedThrough >= this.#compactRevision) return;
      running = true;
      this.compact(Math.max(target, this.#compactRevision))
        .catch((err: unknown) => debug('automatic compaction failed: %s', err instanceof Error ? err.message : String(err)))
        .finally(() => {
          running = false;
        });
    };
    const timer = setInterval(tick, intervalMs);
    timer.unref();
    const stop = (): void => clearInterval(timer);
    options.signal?.addEventListener('abort', stop, { once: true });
    this.#closedController.signal.addEventListener('abort', stop, { once: true });
  }

  // ---- housekeeping ----------------------------------------------------------------------------

  stats(): SqliteStoreStats {
    const batcher = this.#batcher.stats();
    return {
      transactions: batcher.transactions,
      rowsWritten: batcher.jobsCommitted,
      writesFailed: batcher.jobsFailed,
      largestBatch: batcher.largestBatch,
      writesInBulk: this.#writesInBulk,
      rowsCompacted: this.#rowsCompacted,
      longestCompactionChunkMs: this.#longestCompactionChunkMs,
      watchers: this.#broadcaster.size,
      currentRevision: this.#currentRevision,
      compactRevision: this.#compactRevision,
    };
  }

  /** Finish queued writes, end every watcher, close both connections. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closedController.abort();
    await this.#batcher.close();
    await this.#compaction;
    await this.#reader.close();
    await this.#writer.close();
  }
}

function closedError(): StoreError {
  return new StoreError('Closed', 'the store is closed');
}

function kvOf(row: KvRow): KeyValue {
  return { key: row.name, value: row.value, modRevision: row.id, createRevision: row.create_revision };
}

function eventOf(row: WatchRow): StoreEvent {
  const kv = kvOf(row);
  if (row.created) return { type: 'create', kv };
  const prev: KeyValue = {
    key: row.name,
    // The replaced row is kept until a later row passes the compact revision, so it is present
    // for every event a watcher can still be given; the tombstone's own value is the fallback.
    value: row.prev_value ?? row.value,
    modRevision: row.prev_id ?? row.prev_revision,
    createRevision: row.create_revision,
  };
  return { type: row.deleted ? 'delete' : 'update', kv, prev };
}

/**
 * Open (or create) the store at `options.path`. Reopening a file continues its revisions.
 *
 * Durability: WAL with `synchronous=NORMAL`. A write is acknowledged after COMMIT has appended it
 * to the WAL file (in the OS page cache), so it survives the process being killed (kill -9, a
 * crash). It is only fsynced at checkpoints, so a power cut can lose the last transactions
 * committed since the previous checkpoint, but never corrupts the database. `FULL` would fsync
 * every commit: on an SD card that is several milliseconds per write and a lot more wear, for
 * protection against power loss that a k3s-style edge node accepts (kine/k3s make the same call).
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const writer = await SqliteConnection.open(options.path);
  let reader: SqliteConnection | undefined;
  try {
    await writer.all('PRAGMA journal_mode = WAL');
    await writer.exec(`
      PRAGMA synchronous = NORMAL;
      PRAGMA busy_timeout = ${Math.trunc(busyTimeoutMs)};
      PRAGMA wal_autocheckpoint = ${Math.trunc(options.walAutocheckpointPages ?? 1000)};
      PRAGMA journal_size_limit = ${32 * 1024 * 1024};
      PRAGMA temp_store = MEMORY;
    `);
    const [row] = await writer.all<{ user_version: number }>('PRAGMA user_version');
    const version = row?.user_version ?? 0;
    if (version > SCHEMA_VERSION) {
      throw new Error(`it was written by a newer corral (schema ${version}, this one knows ${SCHEMA_VERSION})`);
    }
    // Only a new file gets the schema: opening an existing one writes nothing.
    if (version === 0) await writer.exec(`BEGIN; ${SCHEMA_SQL} PRAGMA user_version = ${SCHEMA_VERSION}; COMMIT;`);

    reader = await SqliteConnection.open(options.path, { readOnly: true });
    await reader.exec(`PRAGMA busy_timeout = ${Math.trunc(busyTimeoutMs)}; PRAGMA temp_store = MEMORY;`);

    const writerStatements = await writer.prepareAll(WRITER_SQL);
    const readerStatements = await reader.prepareAll(READER_SQL);
    const last = await writerStatements.lastRevision.first<{ seq: number }>();
    const compactRevision = await writerStatements.getMeta.first<{ value: number }>([META.compactRevision]);
    const compactedThrough = await writerStatements.getMeta.first<{ value: number }>([META.compactedThrough]);
    // Nothing writes until the store is handed out, so this read is the state at `currentRevision`.
    const cache = new WatchCache();
    const all = prefixRange('');
    cache.load((await readerStatements.listAll.all<KvRow>([all.start, all.end, '', Number.MAX_SAFE_INTEGER])).map(kvOf));
    return new SqliteStore({
      cache,
      options,
      writer,
      reader,
      writerStatements,
      readerStatements,
      currentRevision: last?.seq ?? 0,
      compactRevision: compactRevision?.value ?? 0,
      compactedThrough: compactedThrough?.value ?? 0,
    });
  } catch (err) {
    await reader?.close().catch(() => {});
    await writer.close().catch(() => {});
    throw new Error(`opening the store at ${options.path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** Runs the jobs at `indexes` one by one; a StoreError is that job's outcome, anything else fails the batch. */
async function runEach(items: readonly BulkItem<WriteResult, WriteOp>[], indexes: readonly number[], outcomes: Outcome<WriteResult>[]): Promise<void> {
  for (const index of indexes) {
    try {
      outcomes[index] = { ok: true, result: await items[index]!.job() };
    } catch (error) {
      if (!(error instanceof StoreError)) throw error;
      outcomes[index] = { ok: false, error };
    }
  }
}

/** Several writes of distinct keys, none carrying a lone surrogate (see wellFormed). */
function canGoTogether(ops: readonly { key: string; value: string }[]): boolean {
  if (ops.length < 2) return false;
  const keys = new Set<string>();
  for (const op of ops) {
    if (keys.has(op.key) || !wellFormed(op.key) || !wellFormed(op.value)) return false;
    keys.add(op.key);
  }
  return true;
}
