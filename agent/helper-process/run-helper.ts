/**
 * Runs a one-shot job of helper-main.ts in a child Node.js process and returns its JSON answer. The
 * libraries such jobs need (systeminformation, @peculiar/x509) are large and used once at start or once
 * a year: loaded in the child, they are released when it exits instead of staying resident in the agent
 * for its whole life (an ES module is never unloaded).
 */
import { fileURLToPath } from 'node:url';
import { runNodeJob } from '../../api/run-command.js';

// In the one-file agent bundle this is the bundle itself (installer/bundle.ts rewrites it; agent-entry.ts
// dispatches the job names to helper-main).
const HELPER = fileURLToPath(new URL('./helper-main.js', import.meta.url));

export type HelperJob = 'system-facts' | 'self-signed-cert';

/** Runs `job` with `input` (JSON on stdin); rejects with the child's own message when it fails. */
export function runHelper<T>(job: HelperJob, input: unknown, timeoutMs = 60_000): Promise<T> {
  return runNodeJob<T>(`the ${job} helper`, HELPER, [job], input, timeoutMs);
}
