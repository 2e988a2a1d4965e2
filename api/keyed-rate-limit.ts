/**
 * Token buckets per key (a source address, a join token id): `burst` events at once, then one per
 * `refillMs`. Memory is bounded: at most `maxKeys` buckets, full ones (nothing to remember) dropped
 * first, and the oldest dropped beyond that.
 */
export interface KeyedRateLimiterOptions {
  burst: number;
  refillMs: number;
  maxKeys?: number;
}

interface Bucket { tokens: number; at: number }

export class KeyedRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxKeys: number;

  constructor(private readonly o: KeyedRateLimiterOptions) {
    this.maxKeys = o.maxKeys ?? 10_000;
  }

  private bucket(key: string, now: number): Bucket {
    const b = this.buckets.get(key);
    if (!b) return { tokens: this.o.burst, at: now };
    const refilled = Math.min(this.o.burst, b.tokens + Math.floor((now - b.at) / this.o.refillMs));
    // Keep the remainder of a partly refilled token.
    const at = refilled === this.o.burst ? now : b.at + Math.floor((now - b.at) / this.o.refillMs) * this.o.refillMs;
    return { tokens: refilled, at };
  }

  /** Seconds until `key` may act again; 0 if it may now (without spending anything). */
  retryAfterSeconds(key: string, now = Date.now()): number {
    const b = this.bucket(key, now);
    return b.tokens > 0 ? 0 : Math.max(1, Math.ceil((b.at + this.o.refillMs - now) / 1000));
  }

  /** Spends one token of `key`; false if it has none left. */
  take(key: string, now = Date.now()): boolean {
    const b = this.bucket(key, now);
    if (b.tokens <= 0) {
      this.buckets.set(key, b);
      return false;
    }
    b.tokens--;
    this.buckets.delete(key);
    this.buckets.set(key, b);
    if (this.buckets.size > this.maxKeys) this.prune(now);
    return true;
  }

  private prune(now: number): void {
    for (const [k, b] of this.buckets) if (this.bucket(k, now).tokens >= this.o.burst && b) this.buckets.delete(k);
    while (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next().value;
      if (oldest === undefined) break;
      this.buckets.delete(oldest);
    }
  }
}
