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

/**
 * Removes the cgroups recorded in runc's state files under runcRoot (/run/containerd/runc in the node's
 * view). Only meaningful after every process of the lab is dead; directories that are already gone or
 * still in use are skipped.
 */
export function removeLeftoverCgroups(runcRoot: string): number {
  let removed = 0;
  if (!existsSync(runcRoot)) return removed;
  for (const ns of readdirSync(runcRoot)) {
    const nsDir = join(runcRoot, ns);
    let ids: string[];
    try {
      ids = readdirSync(nsDir);
    } catch {
      continue;
    }
    for (const id of ids) {
      let state: { cgroup_paths?: Record<string, string> };
      try {
        state = JSON.parse(readFileSync(join(nsDir, id, 'state.json'), 'utf8')) as typeof state;
      } catch {
        continue;
      }
      for (const path of new Set(Object.values(state.cgroup_paths ?? {}))) {
        if (!path.startsWith('/sys/fs/cgroup/')) continue;
        try {
          rmdirSync(path);
          removed++;
        } catch {
          /* already gone, or not empty */
        }
      }
    }
  }
  return removed;
}
