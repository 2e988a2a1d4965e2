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

/** True while pid exists, including as a zombie not yet reaped by its parent. */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
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
 * SIGKILLs every process in the given namespaces until none is left (processes can fork while we scan),
 * then waits until the killed processes have been reaped, at most timeoutMs in all. Returns how many
 * were killed; throws naming the survivors.
 */
export async function killAllInNamespaces(inodes: ReadonlySet<number>, timeoutMs = 5_000): Promise<number> {
  const killed = new Set<number>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = pidsInNamespaces(inodes);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        /* already exited */
      }
    }
    if (Date.now() > deadline) throw new Error(`processes survive SIGKILL in lab namespaces: ${pids.map(describe).join(', ')}`);
    await sleep(20);
  }
  await waitUntilGone([...killed], Math.max(0, deadline - Date.now()));
  return killed.size;
}

/**
 * Waits until none of pids exists any more. A process that exits (or was killed) stays visible as a
 * zombie until its parent reaps it; our own children are reaped by Node's event loop, so this yields.
 */
export async function waitUntilGone(pids: readonly number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = pids.filter(exists);
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`lab processes not gone after ${timeoutMs} ms: ${left.map(describe).join(', ')}`);
    await sleep(20);
  }
}
