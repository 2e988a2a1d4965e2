/**
 * Reads a container's log for `kubectl logs`: the rotated files and the live one in order, with
 * `sinceSeconds`/`sinceTime`, `tailLines`, `limitBytes`, `timestamps`, and `follow`, which polls the
 * live file for growth until the container stops or the client goes away. Log files hold the raw
 * output; each line's time comes from the file's time index (time-index.ts), and in follow mode new
 * output is stamped when the agent reads it.
 */
import { open, readFile, stat } from 'node:fs/promises';
import { indexPath, linesSince, parseIndex, timeLines, type TimedLine } from './time-index.js';
import { sleep } from '../../api/async-util.js';
import { isoString } from '../../api/iso-time.js';

export interface LogOptions {
  follow?: boolean;
  tailLines?: number | undefined;
  limitBytes?: number | undefined;
  timestamps?: boolean;
  /** Only lines written at or after this time (unix ms). */
  sinceMs?: number | undefined;
  /** Still running? follow stops once this turns false and the file stopped growing. */
  isRunning?: () => boolean;
  signal?: AbortSignal;
  pollMs?: number;
}

/** RFC 3339 with nanoseconds, as kubelet prints it. */
function nanoTime(ms: number): string {
  return isoString(ms).replace(/\.(\d{3})Z$/, '.$1000000Z');
}

function render(lines: readonly TimedLine[], timestamps: boolean | undefined): string {
  return lines.map((l) => (timestamps ? `${nanoTime(l.at)} ${l.text}` : l.text)).join('');
}

async function fileLines(file: string): Promise<{ lines: TimedLine[]; size: number } | undefined> {
  const st = await stat(file).catch(() => undefined);
  if (!st) return undefined;
  const content = await readFile(file).catch(() => Buffer.alloc(0));
  const index = parseIndex(await readFile(indexPath(file), 'utf8').catch(() => ''));
  return { lines: timeLines(content, index, st.mtimeMs), size: content.length };
}

/** The dated lines of the rotated files (oldest first) and the live file. */
async function existingLines(file: string, maxFiles: number): Promise<{ lines: TimedLine[]; size: number }> {
  const lines: TimedLine[] = [];
  for (let i = maxFiles; i >= 1; i--) {
    const r = await fileLines(`${file}.${i}`);
    if (r) lines.push(...r.lines);
  }
  const live = await fileLines(file);
  if (live) lines.push(...live.lines);
  return { lines, size: live?.size ?? 0 };
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
  const first = await existingLines(file, maxFiles);
  let lines = linesSince(first.lines, o.sinceMs);
  if (o.tailLines !== undefined && o.tailLines >= 0) lines = o.tailLines === 0 ? [] : lines.slice(Math.max(0, lines.length - o.tailLines));
  let budget = o.limitBytes ?? Infinity;
  const emit = (out: string): boolean => {
    if (budget <= 0) return false;
    if (Buffer.byteLength(out) > budget) out = Buffer.from(out).subarray(0, budget).toString('utf8');
    budget -= Buffer.byteLength(out);
    return out === '' ? true : write(out);
  };
  if (!emit(render(lines, o.timestamps)) || !o.follow) return;
  let offset = first.size;
  const poll = o.pollMs ?? 250;
  let idleAfterStop = 0;
  while (!o.signal?.aborted && budget > 0) {
    await sleep(poll, { signal: o.signal });
    const st = await stat(file).catch(() => undefined);
    if (!st) return;
    if (st.size < offset) offset = 0; // rotated (truncated): read from the start
    if (st.size > offset) {
      const fh = await open(file, 'r');
      try {
        const buf = Buffer.alloc(st.size - offset);
        await fh.read(buf, 0, buf.length, offset);
        offset = st.size;
        if (!emit(render(timeLines(buf, [], Date.now()), o.timestamps))) return;
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
