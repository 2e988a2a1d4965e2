/**
 * How long a failed key waits before it is looked at again, shaped like client-go's workqueue rate
 * limiters: per-key exponential back-off (a key that keeps failing slows down alone), an overall token
 * bucket (a burst of failures across many keys cannot hammer the API server), and the maximum of both.
 */
import { backoffDelay, type BackoffPolicy } from '../async-util.js';

export interface RateLimiter {
  /** The delay before `key` is retried, counting this failure. */
  when(key: string): number;
  /** The key succeeded: its back-off starts over. */
  forget(key: string): void;
  /** Failures counted for `key` since it last succeeded. */
  retries(key: string): number;
}

/** Per-key exponential back-off: initial, doubling, capped (client-go: 5 ms .. 1000 s). */
export class ItemExponentialRateLimiter implements RateLimiter {
  private readonly failures = new Map<string, number>();

  constructor(private readonly policy: BackoffPolicy) {}

  when(key: string): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    return backoffDelay(this.policy, n);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

/**
 * One token bucket for all keys (client-go: 10 per second, burst 100). Like golang.org/x/time/rate's
 * Reserve, a retry beyond the burst is not refused but scheduled when its token will exist, so the
 * delays of a storm grow one refill interval apart.
 */
export class BucketRateLimiter implements RateLimiter {
  private tokens: number;
  private updatedMs: number;

  constructor(private readonly perSecond: number, private readonly burst: number, private readonly now: () => number = Date.now) {
    this.tokens = burst;
    this.updatedMs = now();
  }

  when(): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedMs) * this.perSecond) / 1000);
    this.updatedMs = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.perSecond);
  }

  forget(): void {}

  retries(): number {
    return 0;
  }
}

/** The longest delay any of the limiters asks for. */
export class MaxOfRateLimiter implements RateLimiter {
  private readonly limiters: RateLimiter[];

  constructor(...limiters: RateLimiter[]) {
    this.limiters = limiters;
  }

  when(key: string): number {
    return Math.max(0, ...this.limiters.map((l) => l.when(key)));
  }

  forget(key: string): void {
    for (const l of this.limiters) l.forget(key);
  }

  retries(key: string): number {
    return Math.max(0, ...this.limiters.map((l) => l.retries(key)));
  }
}

/**
 * What every controller's queue uses unless it says otherwise: per-key 50 ms doubling to 60 s (an edge
 * box wants a failed key back sooner than client-go's 1000 s cap), and 10 retries per second, burst 100.
 */
export function defaultControllerRateLimiter(): RateLimiter {
  return new MaxOfRateLimiter(
    new ItemExponentialRateLimiter({ initialMs: 50, maxMs: 60_000 }),
    new BucketRateLimiter(10, 100),
  );
}
