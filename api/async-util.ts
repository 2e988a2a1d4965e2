/**
 * Small async helpers shared by the server, the agent and the client: the one abortable `sleep`, the
 * one exponential back-off, and start-up steps. Nothing else in the tree keeps a private copy.
 */

/** Waits `ms`, or less if `signal` aborts (at once if it already has, or if `ms` <= 0). */
/** `unref`: the timer alone does not keep the process alive. */
export function sleep(ms: number, o: { signal?: AbortSignal | undefined; unref?: boolean } = {}): Promise<void> {
  const signal = o.signal;
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) {
      resolve();
      return;
    }
    const t = setTimeout(done, ms);
    if (o.unref) t.unref();
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface BackoffPolicy {
  /** The delay after the first failure, ms. */
  initialMs: number;
  /** The cap, ms. */
  maxMs: number;
  /** Growth per further failure (default 2). */
  factor?: number;
}

/** The delay after `failures` consecutive failures: 0 for none, `initialMs` for one, then ×factor up to the cap. */
export function backoffDelay(policy: BackoffPolicy, failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(policy.initialMs * (policy.factor ?? 2) ** (failures - 1), policy.maxMs);
}

/** A retry loop's back-off: `next()` after each failure, `reset()` after a success. */
export class Backoff {
  private failures = 0;

  constructor(readonly policy: BackoffPolicy) {}

  /** Counts one more failure; returns how long to wait before the next try. */
  next(): number {
    this.failures++;
    return backoffDelay(this.policy, this.failures);
  }

  reset(): void {
    this.failures = 0;
  }

  get failureCount(): number {
    return this.failures;
  }
}

/** Runs one start-up step, wrapping its error with what was being done (k3s-style). */
export async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
  }
}
