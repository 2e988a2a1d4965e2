import { sleep } from '../../api/async-util.js';

/** Polling for tests: retry `fn` until it yields a value (not undefined/false) or time runs out. */
export async function waitUntil<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, stepMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** Waits for `p`, but rejects once `timeoutMs` passes (the timer alone keeps nothing alive). */
export async function within<T>(what: string, p: Promise<T>, timeoutMs: number): Promise<T> {
  const late = Symbol('late');
  const v = await Promise.race([p, sleep(timeoutMs, { unref: true }).then(() => late)]);
  if (v === late) throw new Error(`timed out waiting for ${what}`);
  return v as T;
}
