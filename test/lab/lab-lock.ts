/**
 * One live lab per name on the machine. Two runs of the same lab test (a CI run and an engineer's run
 * beside it) would share the lab's namespaces and directory, and the second one's "clear leftovers"
 * step would tear down the first one's live lab. The lock file beside the lab directory holds the
 * owner's PID; a second run waits for it (bounded), and a lock whose owner is dead is stale.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { sleep } from '../../api/async-util.js';

const held = new Set<string>();
process.on('exit', () => { for (const path of held) rmSync(path, { force: true }); });

function ownerAlive(path: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** Takes the lock at `path`, waiting up to `timeoutMs` while another live process holds it. */
export async function lockLab(path: string, name: string, timeoutMs = 20 * 60_000): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      held.add(path);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = ownerAlive(path);
    if (owner === undefined || owner === process.pid) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`lab ${name} is in use by process ${owner} (${path}); waited ${Math.round(timeoutMs / 1000)} s`);
    if (!announced) process.stderr.write(`lab ${name} is in use by process ${owner}: waiting for it to finish\n`);
    announced = true;
    await sleep(1_000);
  }
}

/** Gives the lock back (only if this process holds it). */
export function unlockLab(path: string): void {
  if (!held.delete(path)) return;
  rmSync(path, { force: true });
}
