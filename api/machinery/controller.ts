/**
 * The loop every controller runs: workers take keys from the queue and call `reconcile(key)`, which
 * reads current state (informer caches) and drives it toward the desired state. Errors requeue with
 * back-off; a result may ask for a later look (e.g. a deadline). One key is never reconciled twice
 * at once (the queue guarantees it).
 */
import { log } from '../log.js';
import { isAlreadyExists, isConflict, isNotFound } from '../status.js';
import type { RateLimiter } from './rate-limiter.js';
import { WorkQueue } from './work-queue.js';

export interface ReconcileResult {
  /** Look at this key again after this many milliseconds. */
  requeueAfterMs?: number;
}

export interface ControllerSpec {
  name: string;
  workers?: number;
  /** How failed keys wait (default: per-key exponential back-off plus an overall bucket). */
  rateLimiter?: RateLimiter;
  reconcile(key: string): Promise<ReconcileResult | void>;
}

export class Controller {
  readonly queue: WorkQueue;

  constructor(private readonly spec: ControllerSpec) {
    this.queue = new WorkQueue(spec.rateLimiter, undefined, spec.name);
  }

  get name(): string {
    return this.spec.name;
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  run(signal: AbortSignal): Promise<void> {
    signal.addEventListener('abort', () => this.queue.shutdown(), { once: true });
    const workers = Array.from({ length: this.spec.workers ?? 1 }, () => this.worker(signal));
    return Promise.all(workers).then(() => undefined);
  }

  private async worker(signal: AbortSignal): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined || signal.aborted) return;
      try {
        const result = await this.spec.reconcile(key);
        this.queue.forget(key);
        if (result?.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
      } catch (err) {
        if (signal.aborted) return;
        // Conflicts are routine (another writer came first): retry quietly.
        const quiet = isNotFound(err) || isConflict(err) || isAlreadyExists(err);
        if (!quiet) log.warn(this.spec.name, 'reconcile failed, will retry', { key, error: (err as Error).message });
        this.queue.addRateLimited(key);
      } finally {
        this.queue.done(key);
      }
    }
  }
}
