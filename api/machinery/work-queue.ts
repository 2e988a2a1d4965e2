/**
 * A rate-limited work queue of keys, shaped like client-go's: a key is queued at most once, is never
 * processed by two workers at the same time (re-adds while in flight run once more afterwards), and
 * failures come back after the rate limiter's delay (by default per-key exponential back-off and an
 * overall token bucket: rate-limiter.ts). With `priorityOf`, keys come out highest priority first and
 * in arrival order among equals (the scheduler's active queue); otherwise strictly in arrival order.
 * A named queue reports client-go's workqueue metrics when a provider is installed (work-queue-metrics.ts).
 */
import { defaultControllerRateLimiter, type RateLimiter } from './rate-limiter.js';
import { workQueueMetricsFor, type WorkQueueMetrics } from './work-queue-metrics.js';

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirtyWhileProcessing = new Set<string>();
  /** Delayed adds by key, with when each is due (a sooner addAfter replaces a later one, as in client-go). */
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; dueAt: number }>();
  private waiters: (() => void)[] = [];
  private shutDown = false;
  private readonly metrics: WorkQueueMetrics | undefined;
  /** With metrics: when each queued key was added and each in-flight key was handed out (ms). */
  private readonly addedAt = new Map<string, number>();
  private readonly startedAt = new Map<string, number>();

  constructor(
    private readonly limiter: RateLimiter = defaultControllerRateLimiter(),
    private readonly priorityOf?: (key: string) => number,
    /** The controller's name: the `name` label of its workqueue metrics. */
    name?: string,
  ) {
    this.metrics = workQueueMetricsFor(name);
  }

  add(key: string): void {
    if (this.shutDown) return;
    if (this.processing.has(key)) {
      // Counted when done() queues it again.
      this.dirtyWhileProcessing.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.insert(key);
    if (this.metrics) {
      this.metrics.added();
      this.addedAt.set(key, performance.now());
      this.metrics.depth(this.queue.length);
    }
    this.wake();
  }

  /** Appends, or with `priorityOf` places the key after every key of the same or higher priority. */
  private insert(key: string): void {
    const priorityOf = this.priorityOf;
    if (!priorityOf) {
      this.queue.push(key);
      return;
    }
    const p = priorityOf(key);
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (priorityOf(this.queue[mid]!) >= p) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, key);
  }

  /** Adds the key after a delay (a timer per key; an earlier pending timer wins). */
  addAfter(key: string, delayMs: number): void {
    if (this.shutDown) return;
    if (delayMs <= 0) return this.add(key);
    const dueAt = Date.now() + delayMs;
    const pending = this.timers.get(key);
    if (pending) {
      if (pending.dueAt <= dueAt) return;
      clearTimeout(pending.timer);
    }
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { timer, dueAt });
  }

  /** Re-queues a failed key after the rate limiter's delay. */
  addRateLimited(key: string): void {
    this.metrics?.retried();
    this.addAfter(key, this.limiter.when(key));
  }

  /** Clears the back-off of a key that succeeded. */
  forget(key: string): void {
    this.limiter.forget(key);
  }

  /** How many times `key` has failed in a row. */
  numRequeues(key: string): number {
    return this.limiter.retries(key);
  }

  get length(): number {
    return this.queue.length;
  }

  /** Waits for the next key; undefined once shut down. */
  async get(): Promise<string | undefined> {
    while (this.queue.length === 0) {
      if (this.shutDown) return undefined;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    const key = this.queue.shift()!;
    this.queued.delete(key);
    this.processing.add(key);
    if (this.metrics) {
      const now = performance.now();
      this.metrics.waited((now - (this.addedAt.get(key) ?? now)) / 1000);
      this.addedAt.delete(key);
      this.startedAt.set(key, now);
      this.metrics.depth(this.queue.length);
    }
    return key;
  }

  done(key: string): void {
    this.processing.delete(key);
    const started = this.startedAt.get(key);
    if (started !== undefined) {
      this.startedAt.delete(key);
      this.metrics?.worked((performance.now() - started) / 1000);
    }
    if (this.dirtyWhileProcessing.delete(key)) this.add(key);
  }

  shutdown(): void {
    this.shutDown = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
    this.wake(true);
  }

  private wake(all = false): void {
    if (all) {
      const ws = this.waiters;
      this.waiters = [];
      for (const w of ws) w();
      return;
    }
    this.waiters.shift()?.();
  }
}
