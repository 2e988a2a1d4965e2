/**
 * Teardown of a lab by name: works on a live lab, on one destroyed half-way and on what a crashed run
 * left behind, because it finds everything from the lab's name, directory and state file.
 */
import { existsSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from './exec.js';
import { removeGuardRoutes } from './guard-routes.js';
import { deleteNetns, killAllInNamespaces, listNetns, namespaceInode, netnsPath, NETNS_DIR, pidsInNamespaces, waitUntilGone } from './netns.js';
import { mountsUnder, nsenterPrefix, unmountAllUnder } from './host-ns.js';
import { CTR_BINARY, pidsInContainerCgroups, removeAllContainers, removeLeftoverCgroups } from './containerd.js';
import { containerdStateDir, DEFAULT_BASE_DIR, hostView, otherLabs, readState, timed } from './lab-layout.js';

export interface TeardownReport { ms: number; killed: number; errors: string[]; steps: Record<string, number> }

/**
 * Removes everything a lab with this name left on the machine, whether it was destroyed half-way,
 * crashed or is live: containers, processes, mounts, netns, guard routes, directories.
 */
export async function teardownLab(name: string, baseDir = DEFAULT_BASE_DIR): Promise<TeardownReport> {
  const t0 = performance.now();
  const dir = join(baseDir, name);
  const prefix = `${name}-`;
  const errors: string[] = [];
  const state = readState(dir);
  const mounted = new Set(mountsUnder(dir));
  const hostsDir = join(dir, 'hosts');
  const hostNames = existsSync(hostsDir) ? readdirSync(hostsDir) : [];

  // The lab's processes are those living in one of its namespaces (sshd, containerd, shims, containers,
  // ssh sessions, agents): identified by namespace, never by name.
  const inodes = new Set<number>();
  for (const ns of listNetns(prefix)) {
    const ino = namespaceInode(netnsPath(ns));
    if (ino !== undefined) inodes.add(ino);
  }
  for (const p of mounted) {
    if (!p.endsWith('.mnt') && !p.endsWith('.uts')) continue;
    const ino = namespaceInode(p);
    if (ino !== undefined) inodes.add(ino);
  }
  const initialPids = pidsInNamespaces(inodes);
  const steps: Record<string, number> = {};

  // 1. Orderly container removal while the node's containerd may still answer, so runc cleans cgroups.
  await timed(steps, 'containers', () => Promise.all(hostNames.map(async (host) => {
    const view = hostView(name, dir, host);
    const socket = join(containerdStateDir(join(hostsDir, host)), 'containerd.sock');
    if (!existsSync(socket) || !mounted.has(view.mntFile) || !existsSync(netnsPath(view.netns))) return;
    try {
      await removeAllContainers((argv) => exec([...nsenterPrefix(view), CTR_BINARY, '--connect-timeout', '2s', ...argv.slice(1)], { timeoutMs: 15_000 }), socket);
    } catch (e) {
      // A containerd that is already dead cannot help; killing and cgroup clean-up below still run.
      if (!/connection refused|no such file|context deadline|timed out|dial/i.test(String(e))) errors.push(`containers on ${host}: ${String(e)}`);
    }
  })));

  // 2. Kill whatever is left in the lab's namespaces, and wait until every lab process is really gone
  //    (shims exit on their own after their task is deleted).
  let killed = 0;
  await timed(steps, 'processes', async () => {
    try {
      const runcRoots = hostNames.map((host) => join(containerdStateDir(join(hostsDir, host)), 'runc'));
      killed = await killAllInNamespaces(inodes, () => runcRoots.flatMap(pidsInContainerCgroups));
      await waitUntilGone(initialPids, 5_000);
    } catch (e) {
      errors.push(String(e));
    }
  });

  // 3. Cgroups runc could not delete because its processes were killed first.
  for (const host of hostNames) removeLeftoverCgroups(join(containerdStateDir(join(hostsDir, host)), 'runc'));

  // 4. Mounts (namespace files), then netns, then routes, then files.
  await timed(steps, 'mountsAndNetns', async () => {
    try {
      await unmountAllUnder(dir);
    } catch (e) {
      errors.push(String(e));
    }
    for (const ns of listNetns(prefix)) {
      try {
        await deleteNetns(ns);
      } catch (e) {
        errors.push(String(e));
      }
    }
  });
  const others = otherLabs(baseDir, dir);
  if (state) {
    const stillUsed = new Set(others.flatMap((d) => readState(d)?.ranges ?? []));
    try {
      await removeGuardRoutes(state.guardRoutes.filter((r) => !stillUsed.has(r)));
    } catch (e) {
      errors.push(String(e));
    }
  }
  if (mountsUnder(dir).length === 0) rmSync(dir, { recursive: true, force: true });
  else errors.push(`not removing ${dir}: mounts remain under it`);
  if (state && others.length === 0) {
    for (const d of state.createdDirs) {
      try {
        rmdirSync(d);
      } catch {
        /* not empty or already gone: leave it */
      }
    }
  }
  try {
    if (existsSync(baseDir) && readdirSync(baseDir).length === 0) rmdirSync(baseDir);
  } catch {
    /* another lab appeared meanwhile */
  }
  if (state?.madeRunNetnsMount && existsSync(NETNS_DIR) && readdirSync(NETNS_DIR).length === 0) {
    await exec(['umount', NETNS_DIR]);
  }
  return { ms: Math.round(performance.now() - t0), killed, errors, steps };
}
