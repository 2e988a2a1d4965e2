/**
 * The agent's care of container log files, one cheap pass per second over the live log files (those
 * of running containers, named by the pod manager):
 *   - time index: a file that grew since the last pass gets a `<size> <time>` sample in its `.idx`
 *     (time-index.ts explains why and how it dates lines);
 *   - size-based rotation: containerd's shim appends to the file (O_APPEND), so rotation is
 *     copy-then-truncate: `N.log` → `N.log.1` (older ones shift up, at most logMaxFiles kept), each
 *     with its index, then the live file is truncated and the shim keeps writing at its new end. A
 *     burst can overshoot the limit by what a container writes in one pass.
 * A pass over files that did not grow is one `stat` each, made synchronously: these are a few
 * microseconds on a local file, while a walk of the logs directory with promise-based calls (three
 * thread-pool round trips per directory and file, every second) was a large share of an idle agent's
 * CPU. A container's last lines after its final pass are dated by the file's mtime (time-index.ts).
 */
import { statSync } from 'node:fs';
import { appendFile, copyFile, readFile, rename, rm, stat, truncate } from 'node:fs/promises';
import { log } from '../../api/log.js';
import { formatIndexEntry, indexPath, parseIndex } from './time-index.js';

async function shift(from: string, to: string): Promise<void> {
  await rename(from, to).catch(() => undefined);
  await rename(indexPath(from), indexPath(to)).catch(() => undefined);
}

/** Rotates `file` when it reached maxBytes (`size`: its size if just read); the live file's index moves with the copy. */
export async function rotateIfLarge(file: string, maxBytes: number, maxFiles: number, now = Date.now(), size?: number): Promise<boolean> {
  const current = size ?? (await stat(file).catch(() => undefined))?.size;
  if (current === undefined || current < maxBytes) return false;
  if (maxFiles <= 0) {
    await truncate(file, 0);
    await rm(indexPath(file), { force: true });
    return true;
  }
  await rm(`${file}.${maxFiles}`, { force: true });
  await rm(indexPath(`${file}.${maxFiles}`), { force: true });
  for (let i = maxFiles - 1; i >= 1; i--) await shift(`${file}.${i}`, `${file}.${i + 1}`);
  await copyFile(file, `${file}.1`);
  const copied = (await stat(`${file}.1`)).size;
  // Date the copy's tail now; the live index starts over with the truncated file.
  await appendFile(indexPath(file), formatIndexEntry({ size: copied, at: now }));
  await rename(indexPath(file), indexPath(`${file}.1`));
  await truncate(file, 0);
  return true;
}

export class LogKeeper {
  /** Size of each live file at its last index sample. */
  private readonly sampled = new Map<string, number>();

  /** `liveFiles`: the log files being written now (the running containers'). */
  constructor(private readonly liveFiles: () => Iterable<string>, private readonly maxBytes: number, private readonly maxFiles: number, private readonly intervalMs = 1_000) {}

  start(signal: AbortSignal): void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      void this.runOnce()
        .catch((err: unknown) => log.warn('agent', 'log index/rotation pass failed', { error: (err as Error).message }))
        .finally(() => { busy = false; });
    }, this.intervalMs);
    timer.unref();
    signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  }

  /** One pass: samples grown files, rotates large ones. Returns the number of rotations. */
  async runOnce(now = Date.now()): Promise<number> {
    let rotated = 0;
    const files = new Set(this.liveFiles());
    for (const f of this.sampled.keys()) if (!files.has(f)) this.sampled.delete(f);
    for (const f of files) {
      const size = statSync(f, { throwIfNoEntry: false })?.size;
      if (size === undefined) continue;
      let last = this.sampled.get(f);
      if (last === size) continue;
      if (last === undefined) {
        // First look since the container started or the agent restarted: continue the index on disk.
        const entries = parseIndex(await readFile(indexPath(f), 'utf8').catch(() => ''));
        last = entries.at(-1)?.size ?? 0;
      }
      if (size < last) {
        // Replaced or truncated behind our back: its old samples no longer describe it.
        await rm(indexPath(f), { force: true });
        last = 0;
      }
      if (size > last) {
        await appendFile(indexPath(f), formatIndexEntry({ size, at: now }));
        last = size;
      }
      this.sampled.set(f, last);
      if (await rotateIfLarge(f, this.maxBytes, this.maxFiles, now, size)) {
        this.sampled.set(f, 0);
        rotated++;
      }
    }
    return rotated;
  }
}
