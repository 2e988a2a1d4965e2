/**
 * Size-based rotation of container log files. containerd's shim appends to the file (O_APPEND), so
 * rotation is copy-then-truncate: `N.log` → `N.log.1` (older ones shift up to logMaxFiles), then the
 * live file is truncated and the shim keeps writing at its new end. Checked every 10 s: a burst can
 * overshoot the limit by what a container writes in that time.
 */
import { copyFile, readdir, rename, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { log } from '../../api/log.js';

export async function rotateIfLarge(file: string, maxBytes: number, maxFiles: number): Promise<boolean> {
  const st = await stat(file).catch(() => undefined);
  if (!st || st.size < maxBytes) return false;
  if (maxFiles <= 0) {
    await truncate(file, 0);
    return true;
  }
  await rm(`${file}.${maxFiles}`, { force: true });
  for (let i = maxFiles - 1; i >= 1; i--) await rename(`${file}.${i}`, `${file}.${i + 1}`).catch(() => undefined);
  await copyFile(file, `${file}.1`);
  await truncate(file, 0);
  return true;
}

/** Every live `*.log` under the logs dir (`<pod dir>/<container>/<attempt>.log`). */
export async function listLogFiles(logsDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const pod of await readdir(logsDir).catch(() => [] as string[])) {
    for (const container of await readdir(join(logsDir, pod)).catch(() => [] as string[])) {
      for (const f of await readdir(join(logsDir, pod, container)).catch(() => [] as string[])) {
        if (f.endsWith('.log')) out.push(join(logsDir, pod, container, f));
      }
    }
  }
  return out;
}

export class LogRotator {
  constructor(private readonly logsDir: string, private readonly maxBytes: number, private readonly maxFiles: number, private readonly intervalMs = 10_000) {}

  start(signal: AbortSignal): void {
    const timer = setInterval(() => {
      void this.runOnce().catch((err: unknown) => log.warn('agent', 'log rotation failed', { error: (err as Error).message }));
    }, this.intervalMs);
    timer.unref();
    signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  }

  async runOnce(): Promise<number> {
    let n = 0;
    for (const f of await listLogFiles(this.logsDir)) if (await rotateIfLarge(f, this.maxBytes, this.maxFiles)) n++;
    return n;
  }
}
