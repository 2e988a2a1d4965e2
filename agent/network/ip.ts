/**
 * Runs iproute2 and sysctl for the pod network, with time limits and errors that say what failed.
 * Everything the agent changes in the kernel's network state goes through here.
 */
import { runCommand } from '../../api/run-command.js';

export class NetworkError extends Error {
  override readonly name = 'NetworkError';
}

/** `ip <args>`; throws with ip's stderr unless it exits 0. Returns stdout. */
export async function ip(args: readonly string[], opts: { allowFailure?: RegExp } = {}): Promise<string> {
  const r = await runCommand('ip', args, { timeoutMs: 15_000 });
  if (r.code !== 0) {
    const msg = r.stderr.trim() || `exit ${r.code}`;
    if (opts.allowFailure?.test(msg)) return '';
    throw new NetworkError(`ip ${args.join(' ')}: ${msg}`);
  }
  return r.stdout;
}

/** `ip -batch -`: many commands in one process (a pod's netns + veth takes one call). */
export async function ipBatch(lines: readonly string[], opts: { netns?: string } = {}): Promise<void> {
  const args = [...(opts.netns ? ['-n', opts.netns] : []), '-batch', '-'];
  const r = await runCommand('ip', args, { timeoutMs: 15_000, input: `${lines.join('\n')}\n` });
  if (r.code !== 0) throw new NetworkError(`ip -batch (${lines[0] ?? ''} ...): ${r.stderr.trim() || `exit ${r.code}`}`);
}

/** Writes sysctls of the current network namespace; missing keys are reported, not fatal, when optional. */
export async function sysctl(settings: Record<string, string>, optional: readonly string[] = []): Promise<string[]> {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(settings)) {
    const r = await runCommand('sysctl', ['-q', '-w', `${key}=${value}`], { timeoutMs: 5_000 });
    if (r.code !== 0) {
      const msg = `sysctl ${key}=${value}: ${r.stderr.trim() || `exit ${r.code}`}`;
      if (optional.includes(key)) problems.push(msg);
      else throw new NetworkError(msg);
    }
  }
  return problems;
}
