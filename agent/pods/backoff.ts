/**
 * CrashLoopBackOff timing, like kubelet: the first restart is immediate, then the delay starts at the
 * initial value and doubles up to the cap; a container that ran fine for 10 minutes starts over.
 */
export const BACKOFF_RESET_MS = 10 * 60_000;

export interface BackoffState {
  /** Delay to apply before the next restart, ms (0: restart now). */
  nextDelayMs: number;
}

export function nextBackoff(state: BackoffState | undefined, ranForMs: number, initialMs: number, maxMs: number): { delayMs: number; state: BackoffState } {
  if (!state || ranForMs >= BACKOFF_RESET_MS) return { delayMs: 0, state: { nextDelayMs: initialMs } };
  const delayMs = Math.min(state.nextDelayMs, maxMs);
  return { delayMs, state: { nextDelayMs: Math.min(delayMs * 2, maxMs) } };
}
