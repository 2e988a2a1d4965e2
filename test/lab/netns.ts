/**
 * Named network namespaces (/run/netns/NAME, the `ip netns` convention, so `ip`, `ctr --with-ns` and the
 * agent all find them) and finding the processes that live in a set of namespaces, which is how a lab
 * knows for certain which processes are its own when it tears down.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { exec, execOk, sleep } from './exec.js';

export const NETNS_DIR = '/run/netns';

export function netnsPath(name: string): string {
  return `${NETNS_DIR}/${name}`;
}

export async function addNetns(name: string): Promise<void> {
  await execOk(['ip', 'netns', 'add', name]);
}

/** Deletes a named netns; a name that does not exist is not an error. */
export async function deleteNetns(name: string): Promise<void> {
  if (!existsSync(netnsPath(name))) return;
  const r = await exec(['ip', 'netns', 'delete', name]);
  if (r.code !== 0 && existsSync(netnsPath(name))) throw new Error(`cannot delete netns ${name}: ${r.stderr.trim()}`);
}

/** Names of the named netns that start with prefix. */
export function listNetns(prefix: string): string[] {
  if (!existsSync(NETNS_DIR)) return [];
  return readdirSync(NETNS_DIR).filter((n) => n.startsWith(prefix)).sort();
}

/** Runs `ip` commands (one per line, as `ip -batch` takes them) inside a named netns. */
export async function ipBatch(netns: string, lines: readonly string[]): Promise<void> {
  await execOk(['ip', '-n', netns, '-batch', '-'], { input: lines.join('\n') + '\n' });
}

/**
 * The namespace id (nsfs inode) behind a namespace file: a bind-mounted /run/netns entry or a persistent
 * mount/UTS namespace file. Undefined when the file is missing or not a namespace.
 */
export function namespaceInode(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

/** PIDs of every process whose net, mnt or uts namespace is one of the given namespace ids. */
export function pidsInNamespaces(inodes: ReadonlySet<number>): number[] {
  const found: number[] = [];
  if (inodes.size === 0) return found;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    for (const kind of ['net', 'mnt', 'uts'] as const) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/ns/${kind}`);
      } catch {
        break; // gone, or a zombie: nothing to kill
      }
      const m = /\[(\d+)\]/.exec(link);
      if (m?.[1] !== undefined && inodes.has(Number(m[1]))) {
        found.push(pid);
        break;
      }
    }
  }
  return found;
}

/**
 * True while pid is a live process. A zombie (exited, waiting for its parent to reap it) counts as
 * gone: it holds no namespaces, memory or files. Orphaned shims are reaped by PID 1, which may take
 * its time (on some machines over a second), and that is outside the lab's control.
 */
export function isRunning(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // The state letter follows the command name, which is in parentheses and may itself contain them.
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

/** `pid (comm) state ppid` of a process, for error messages. */
function describe(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ').slice(0, 4).join(' ');
  } catch {
    return String(pid);
  }
}

/**
 * SIGKILLs every process in the given namespaces, and those extra() names, until none is left
 * (processes can fork while we scan), then waits until the killed ones have ended, at most timeoutMs in
 * all. Returns how many were killed; throws naming the survivors.
 */
export async function killAllInNamespaces(inodes: ReadonlySet<number>, extra: () => number[] = () => [], timeoutMs = 5_000): Promise<number> {
  const killed = new Set<number>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = [...new Set([...pidsInNamespaces(inodes), ...extra()])].filter((p) => p !== process.pid && isRunning(p));
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        /* already exited */
      }
    }
    if (Date.now() > deadline) throw new Error(`lab processes survive SIGKILL: ${pids.map(describe).join(', ')}`);
    await sleep(20);
  }
  await waitUntilGone([...killed], Math.max(0, deadline - Date.now()));
  return killed.size;
}

/** Waits until none of pids is running any more (see isRunning). */
export async function waitUntilGone(pids: readonly number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = pids.filter(isRunning);
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`lab processes not gone after ${timeoutMs} ms: ${left.map(describe).join(', ')}`);
    await sleep(20);
  }
}
