/** containerd's event stream (`ctr events`): task exits reach the pod manager without polling. */
import { spawn } from 'node:child_process';
import type { Ctr } from './ctr.js';
import { RuntimeError } from './errors.js';

export interface TaskEvent {
  /** e.g. /tasks/exit, /tasks/start, /containers/delete */
  topic: string;
  namespace: string;
  /** Parsed event body: container_id, pid, exit_status, exited_at, ... */
  body: Record<string, unknown>;
  timestamp: string;
}

/**
 * Streams containerd events of this namespace (`ctr events`) until the signal fires or ctr exits
 * (containerd restarted: the caller resubscribes and relists). Resolves when the stream ends.
 */
export function watchTaskEvents(ctr: Ctr, onEvent: (e: TaskEvent) => void, opts: { signal?: AbortSignal | undefined } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    ctr.checkSocket().then(() => {
      const child = spawn(ctr.ctrPath, [...ctr.baseArgs(), 'events'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let buffered = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const event = parseEventLine(buffered.slice(0, nl));
          buffered = buffered.slice(nl + 1);
          if (event && event.namespace === ctr.namespace) onEvent(event);
        }
      });
      child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
      const onAbort = (): void => { child.kill('SIGKILL'); };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      child.on('error', reject);
      child.on('close', (code) => {
        opts.signal?.removeEventListener('abort', onAbort);
        if (opts.signal?.aborted || code === 0) resolve();
        else reject(new RuntimeError(stderr ? (/dial/.test(stderr) ? 'Unreachable' : 'Failed') : 'Failed', `ctr events ended: ${stderr.trim() || `exit ${code}`}`, 'events'));
      });
    }, reject);
  });
}

/** Parses one `ctr events` line: "<date> <time> <zone> <zone name> <namespace> <topic> <json>". */
export function parseEventLine(line: string): TaskEvent | undefined {
  const m = /^(\S+ \S+ \S+ \S+) (\S+) (\/\S+) (.*)$/.exec(line.trim());
  if (!m) return undefined;
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(m[4]!) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  return { timestamp: m[1]!, namespace: m[2]!, topic: m[3]!, body };
}
