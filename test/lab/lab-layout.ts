/**
 * Where a lab keeps things, shared by bring-up and teardown: the lab directory, per-host directories
 * and namespace files, and the state file that lets a later run undo what a crashed one did.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostView } from './host-ns.js';

export const DEFAULT_BASE_DIR = '/tmp/corral-lab';

/** What teardown needs to know even when the run that made the lab has crashed. */
export interface LabState {
  /** Every range the lab uses. */
  ranges: string[];
  /** Guard routes teardown removes: those this lab added or shares with another lab. */
  guardRoutes: string[];
  /** Directories the lab created on the machine as bind mount targets, deepest first. */
  createdDirs: string[];
  /** True when /run/netns was not a mount before this lab (so teardown may unmount it when empty). */
  madeRunNetnsMount: boolean;
}

/**
 * Where a host keeps its own copy of a private path. /run/containerd is containerd's state dir (socket,
 * shim sockets, runc state), the rest sit under fs/.
 */
export function bindSource(hostDir: string, target: string): string {
  if (target === '/run/containerd') return containerdStateDir(hostDir);
  return join(hostDir, 'fs', target.replace(/^\//, '').replace(/\//g, '-'));
}

/** A host's namespaces: its named netns and its namespace files under the lab's ns/ directory. */
export function hostView(labName: string, dir: string, host: string): HostView {
  return { netns: `${labName}-${host}`, hostname: host, mntFile: join(dir, 'ns', `${host}.mnt`), utsFile: join(dir, 'ns', `${host}.uts`) };
}

export function statePath(dir: string): string {
  return join(dir, 'state.json');
}

export function readState(dir: string): LabState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(dir), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

/** Other labs' directories under baseDir that still hold state (they may still use shared things). */
export function otherLabs(baseDir: string, dir: string): string[] {
  if (!existsSync(baseDir)) return [];
  return readdirSync(baseDir).map((n) => join(baseDir, n)).filter((d) => d !== dir && existsSync(statePath(d)));
}

/** A node's containerd state dir, bound over /run/containerd in its view (socket, shims, runc state). */
export function containerdStateDir(hostDir: string): string {
  return join(hostDir, 'run-containerd');
}

/** Runs fn and records how long it took under name. */
export async function timed<T>(steps: Record<string, number>, name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    steps[name] = Math.round(performance.now() - t0);
  }
}
