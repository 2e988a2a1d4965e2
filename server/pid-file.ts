/**
 * `<data-dir>/server/corral.pid`: written by a running `corral server`, removed when it stops, so
 * commands that must not touch a live server's files (`corral restore`) can refuse.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function pidFilePath(dataDir: string): string {
  return join(dataDir, 'server', 'corral.pid');
}

export function writePidFile(dataDir: string): void {
  writeFileSync(pidFilePath(dataDir), `${process.pid}\n`, { mode: 0o644 });
}

/** Removes the pid file if it is this process's. */
export function removePidFile(dataDir: string): void {
  if (readPid(dataDir) === process.pid) rmSync(pidFilePath(dataDir), { force: true });
}

function readPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidFilePath(dataDir), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pid of a live server using this data dir. A stale file left by a crash does not count, nor
 * does a pid that was reused by another program after a reboot (its command line is not corral's).
 */
export function runningServerPid(dataDir: string): number | undefined {
  const pid = readPid(dataDir);
  if (pid === undefined || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to someone else — still running.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!/corral|cli\.js/.test(cmdline)) return undefined;
  } catch {
    // No /proc (or the process just ended): trust the pid file.
  }
  return pid;
}
