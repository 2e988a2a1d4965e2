/**
 * Reads a container's log for `kubectl logs`: the rotated files and the live one in order,
 * tailLines and limitBytes, and `follow`, which polls the live file for growth until the container
 * stops or the client goes away. Log files hold the raw output; `timestamps` prefixes each line with
 * the time the agent saw it: exact in follow mode for new output, the file's last write time for
 * older lines (the runtime's file log keeps no per-line times).
 */
import { open, readFile, stat } from 'node:fs/promises';

export interface LogOptions {
  follow?: boolean;
  tailLines?: number | undefined;
  limitBytes?: number | undefined;
  timestamps?: boolean;
  /** Still running? follow stops once this turns false and the file stopped growing. */
  isRunning?: () => boolean;
  signal?: AbortSignal;
  pollMs?: number;
}

function nanoTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

function prefix(text: string, time: Date): string {
  if (text === '') return '';
  const stamp = nanoTime(time);
  const lines = text.split('\n');
  const last = lines.pop();
  const out = lines.map((l) => `${stamp} ${l}\n`);
  if (last) out.push(`${stamp} ${last}`);
  return out.join('');
}

/** The lines of the rotated files (oldest first) and the live file. */
async function existingText(file: string, maxFiles: number): Promise<{ text: string; size: number; mtime: Date }> {
  const parts: string[] = [];
  for (let i = maxFiles; i >= 1; i--) {
    const t = await readFile(`${file}.${i}`, 'utf8').catch(() => undefined);
    if (t) parts.push(t);
  }
  const st = await stat(file).catch(() => undefined);
  const live = st ? await readFile(file, 'utf8') : '';
  parts.push(live);
  return { text: parts.join(''), size: Buffer.byteLength(live), mtime: st?.mtime ?? new Date() };
}

export function tail(text: string, lines: number): string {
  if (lines < 0) return text;
  if (lines === 0) return '';
  const trimmed = text.endsWith('\n') ? text.slice(0, -1) : text;
  const all = trimmed.split('\n');
  const kept = all.slice(Math.max(0, all.length - lines)).join('\n');
  return text.endsWith('\n') ? `${kept}\n` : kept;
}

/** Streams the log to `write` (which returns false when the client is gone). */
export async function streamLog(file: string, maxFiles: number, o: LogOptions, write: (chunk: string) => boolean): Promise<void> {
  const first = await existingText(file, maxFiles);
  let text = o.tailLines !== undefined ? tail(first.text, o.tailLines) : first.text;
  let budget = o.limitBytes ?? Infinity;
  const emit = (t: string, time: Date): boolean => {
    if (budget <= 0) return false;
    let out = o.timestamps ? prefix(t, time) : t;
    if (Buffer.byteLength(out) > budget) out = Buffer.from(out).subarray(0, budget).toString('utf8');
    budget -= Buffer.byteLength(out);
    return out === '' ? true : write(out);
  };
  if (!emit(text, first.mtime) || !o.follow) return;
  text = '';
  let offset = first.size;
  const poll = o.pollMs ?? 250;
  let idleAfterStop = 0;
  while (!o.signal?.aborted && budget > 0) {
    await new Promise((r) => setTimeout(r, poll));
    const st = await stat(file).catch(() => undefined);
    if (!st) return;
    if (st.size < offset) offset = 0; // rotated (truncated): read from the start
    if (st.size > offset) {
      const fh = await open(file, 'r');
      try {
        const buf = Buffer.alloc(st.size - offset);
        await fh.read(buf, 0, buf.length, offset);
        offset = st.size;
        if (!emit(buf.toString('utf8'), new Date())) return;
      } finally {
        await fh.close();
      }
      idleAfterStop = 0;
    } else if (o.isRunning && !o.isRunning()) {
      // Give the shim a moment to flush the last bytes after the exit.
      if (++idleAfterStop >= 3) return;
    }
  }
}
