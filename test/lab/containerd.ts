/**
 * One containerd per lab node: its own root, state and socket under the lab directory, the CRI plugin
 * off (corral drives containerd with `ctr`, not CRI), started inside the node's namespaces so shims and
 * containers belong to the node. Also the orderly clean-up of its tasks and containers, and the removal
 * of cgroups that runc left behind when a previous run was killed before it could clean up.
 */
import { existsSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecResult } from './exec.js';

export const CONTAINERD_BINARY = '/usr/bin/containerd';
export const CTR_BINARY = '/usr/bin/ctr';

export interface ContainerdPaths {
  root: string;
  /** containerd's state dir; the harness binds it over /run/containerd in the node's view. */
  state: string;
  socket: string;
  config: string;
}

/** config.toml (v2) for a node's containerd. */
export function containerdConfig(p: ContainerdPaths): string {
  const q = (s: string): string => JSON.stringify(s);
  return [
    'version = 2',
    `root = ${q(p.root)}`,
    `state = ${q(p.state)}`,
    // CRI is not used by corral; the other disabled snapshotters only fail noisily on a plain host.
    'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]',
    '',
    '[grpc]',
    `  address = ${q(p.socket)}`,
    '',
    '[ttrpc]',
    '  address = ""',
    '',
    '[debug]',
    '  address = ""',
    '',
    '[metrics]',
    '  address = ""',
    '',
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = ${q(join(p.root, 'opt'))}`,
    '',
  ].join('\n');
}

export function writeContainerdConfig(p: ContainerdPaths): void {
  writeFileSync(p.config, containerdConfig(p));
}

export function containerdArgv(p: ContainerdPaths): string[] {
  return [CONTAINERD_BINARY, '--config', p.config];
}

/** Runs a command where the node's containerd can be reached (the harness passes its `exec`). */
export type Runner = (argv: readonly string[]) => Promise<ExecResult>;

function lines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

/**
 * Kills and deletes every task and removes every container in every containerd namespace, so runc
 * deletes the containers' cgroups and containerd unmounts their root filesystems.
 */
export async function removeAllContainers(run: Runner, socket: string): Promise<void> {
  const ctr = (...args: string[]): Promise<ExecResult> => run([CTR_BINARY, '-a', socket, ...args]);
  const nsList = await ctr('namespaces', 'ls', '-q');
  if (nsList.code !== 0) throw new Error(`ctr namespaces ls: ${nsList.stderr.trim()}`);
  for (const ns of lines(nsList.stdout)) {
    const tasks = await ctr('-n', ns, 'tasks', 'ls', '-q');
    for (const id of lines(tasks.stdout)) await ctr('-n', ns, 'tasks', 'rm', '-f', id);
    const containers = await ctr('-n', ns, 'containers', 'ls', '-q');
    const ids = lines(containers.stdout);
    if (ids.length > 0) await ctr('-n', ns, 'containers', 'rm', ...ids);
  }
}

/** The cgroup paths runc recorded for each container under runcRoot (/run/containerd/runc in the node's view). */
function recordedCgroups(runcRoot: string): string[][] {
  const out: string[][] = [];
  if (!existsSync(runcRoot)) return out;
  for (const ns of readdirSync(runcRoot)) {
    let ids: string[];
    try {
      ids = readdirSync(join(runcRoot, ns));
    } catch {
      continue;
    }
    for (const id of ids) {
      try {
        const state = JSON.parse(readFileSync(join(runcRoot, ns, id, 'state.json'), 'utf8')) as { cgroup_paths?: Record<string, string> };
        out.push([...new Set(Object.values(state.cgroup_paths ?? {}))].filter((p) => p.startsWith('/sys/fs/cgroup/')));
      } catch {
        /* no state file: not a container */
      }
    }
  }
  return out;
}

/**
 * PIDs still in the cgroups of the node's containers. A container with a network namespace of its own
 * is not found by looking at the node's namespaces; its cgroup finds it, also when containerd is dead.
 */
export function pidsInContainerCgroups(runcRoot: string): number[] {
  const pids = new Set<number>();
  for (const paths of recordedCgroups(runcRoot)) {
    for (const path of paths) {
      let procs: string;
      try {
        procs = readFileSync(join(path, 'cgroup.procs'), 'utf8');
      } catch {
        continue;
      }
      for (const l of procs.split('\n')) if (/^\d+$/.test(l)) pids.add(Number(l));
    }
  }
  return [...pids];
}

/**
 * Removes the cgroups recorded in runc's state files under runcRoot (/run/containerd/runc in the node's
 * view). Only meaningful after every process of the lab is dead; directories that are already gone or
 * still in use are skipped.
 */
export function removeLeftoverCgroups(runcRoot: string): number {
  let removed = 0;
  for (const paths of recordedCgroups(runcRoot)) {
    for (const path of paths) {
      try {
        rmdirSync(path);
        removed++;
      } catch {
        /* already gone, or not empty */
      }
    }
  }
  return removed;
}
