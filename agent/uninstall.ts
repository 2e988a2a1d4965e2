/**
 * `corral agent --uninstall`: removes everything an agent made on this machine, run after the agent
 * process is stopped (the installer's `corral uninstall HOST` and the server machine's own uninstall
 * call it). In order:
 *   1. the pods' containers (labelled with this node's name): SIGTERM, a short grace, SIGKILL, then
 *      task, container record, rootfs snapshot and state dir; and a container whose create died
 *      half-way (a mounted rootfs in the state dir, no container record);
 *   2. the pod network namespaces with this node's prefix, and the bridge `cni0`;
 *   3. corral's routes (its own routing protocol number) and corral's iptables chains and jumps in
 *      the backend that holds them (never anybody else's rules);
 *   4. the agent's data `<data-dir>/agent` (never the server's `<data-dir>/server`);
 *   5. with ownContainerd: corral's own containerd (started for step 1, then stopped) with its root
 *      `<data-dir>/containerd` and state /run/corral/containerd.
 * Every step runs even when an earlier one failed; the problems are returned, not thrown.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { log } from '../api/log.js';
import { agentDir, defaultNetnsPrefix, defaultNodeName } from './config.js';
import { ip } from './network/ip.js';
import { BRIDGE, NETNS_DIR } from './network/pod-network.js';
import { removeCorralRoutes } from './network/routes.js';
import { removeAllLbAddresses } from './network/lb-address.js';
import { LABEL_NODE } from './pods/naming.js';
import { backendBinaries, IptablesApplier, summarizeSave, type IptablesBackend } from './proxy/index.js';
import { ContainerdRuntime, isRuntimeError } from './runtime/index.js';
import { runCommand } from '../api/run-command.js';
import { OwnContainerd } from './runtime/own-containerd.js';

export interface UninstallOptions {
  dataDir: string;
  nodeName?: string | undefined;
  /** Default `corral-<node>-`, as the agent's. */
  netnsPrefix?: string | undefined;
  containerdAddress?: string | undefined;
  /** The agent ran corral's own containerd: start it to remove the containers, then remove it. */
  ownContainerd?: boolean | undefined;
  containerdNamespace?: string | undefined;
  /** Seconds each container gets after SIGTERM (default 5). */
  gracePeriodSeconds?: number | undefined;
}

export interface UninstallReport {
  containers: number;
  netns: number;
  iptablesBackends: IptablesBackend[];
  problems: string[];
}

/** Mount points at or below any of dirs, deepest first. */
function mountPointsUnder(dirs: string[]): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '')
    .filter((p) => dirs.some((d) => p === d || p.startsWith(`${d}/`)));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/**
 * Removes dirs after unmounting whatever is still mounted under them (a snapshot mount left by a killed
 * container): rm must not delete through a mount, nor fail half-way on one.
 */
async function removeUnmounted(dirs: string[]): Promise<void> {
  for (const m of mountPointsUnder(dirs)) await runCommand('umount', ['-l', m], { timeoutMs: 10_000 });
  for (const d of dirs) await rm(d, { recursive: true, force: true });
}

export async function uninstallAgent(o: UninstallOptions): Promise<UninstallReport> {
  const nodeName = o.nodeName ?? defaultNodeName();
  const prefix = o.netnsPrefix ?? defaultNetnsPrefix(nodeName);
  const report: UninstallReport = { containers: 0, netns: 0, iptablesBackends: [], problems: [] };
  const attempt = async (what: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      report.problems.push(`${what}: ${(err as Error).message}`);
    }
  };

  let own: OwnContainerd | undefined;
  if (o.ownContainerd && !o.containerdAddress) {
    own = new OwnContainerd({ dataDir: o.dataDir, startTimeoutMs: 20_000 });
    await attempt('starting corral\'s own containerd', () => own!.start());
  }
  const runtime = new ContainerdRuntime({
    address: o.containerdAddress ?? own?.paths.socket ?? '/run/containerd/containerd.sock',
    namespace: o.containerdNamespace ?? 'k8s.io',
    stateDir: `${agentDir(o)}/containers`,
    cgroupParent: `/corral/${nodeName}`,
  });
  await attempt('removing the pods\' containers', async () => {
    let containers;
    try {
      containers = await runtime.listContainers({ labels: { [LABEL_NODE]: nodeName } });
    } catch (err) {
      if (isRuntimeError(err, 'Unreachable')) {
        report.problems.push(`containerd is not reachable, containers left in place: ${(err as Error).message}`);
        return;
      }
      throw err;
    }
    const grace = (o.gracePeriodSeconds ?? 5) * 1000;
    await Promise.all(containers.map(async (c) => {
      await runtime.stop(c.id, { gracePeriodMs: grace }).catch(() => undefined);
      await attempt(`removing container ${c.id}`, async () => {
        await runtime.remove(c.id);
        report.containers++;
      });
    }));
    // A create that died half-way (the agent stopped between mounting the rootfs and creating the
    // container) left a mounted rootfs and its snapshot with no container record to list.
    const listed = new Set(containers.map((c) => c.id));
    const stateDir = `${agentDir(o)}/containers`;
    const leftovers = existsSync(stateDir) ? (await readdir(stateDir)).filter((id) => !listed.has(id)) : [];
    for (const id of leftovers) await attempt(`removing the half-made container ${id}`, async () => { await runtime.remove(id); });
  });

  await attempt('removing the pod network namespaces', async () => {
    const names = existsSync(NETNS_DIR) ? (await readdir(NETNS_DIR)).filter((n) => n.startsWith(prefix)) : [];
    for (const n of names) {
      await attempt(`deleting netns ${n}`, async () => {
        await ip(['netns', 'del', n], { allowFailure: /No such file/ });
        report.netns++;
      });
    }
  });
  await attempt(`deleting the bridge ${BRIDGE}`, async () => {
    await ip(['link', 'del', BRIDGE], { allowFailure: /Cannot find device|does not exist/ });
  });
  await attempt('removing corral\'s routes', () => removeCorralRoutes());
  await attempt('removing LoadBalancer addresses', async () => { await removeAllLbAddresses(); });

  for (const backend of ['nft', 'legacy'] as const) {
    const bins = backendBinaries(backend);
    if (!bins) continue;
    await attempt(`removing corral's ${backend} iptables chains`, async () => {
      const save = await runCommand(bins.save, ['-t', 'nat'], { timeoutMs: 30_000 });
      if (save.code !== 0) return; // that backend is not usable here
      const summary = summarizeSave(save.stdout);
      const jumps = /-j CORRAL-/.test(save.stdout);
      if (summary.corralChains === 0 && !jumps) return;
      await new IptablesApplier({ backend, binaries: bins, timeoutMs: 60_000 }).removeAll();
      report.iptablesBackends.push(backend);
    });
  }

  await attempt(`removing ${agentDir(o)}`, () => removeUnmounted([agentDir(o)]));
  if (own) {
    const paths = own.paths;
    await own.stop();
    await attempt(`removing ${paths.dir} and ${paths.state}`, () => removeUnmounted([paths.dir, paths.state]));
  }
  for (const p of report.problems) log.warn('agent', 'uninstall problem', { problem: p });
  log.info('agent', 'agent uninstalled', { node: nodeName, containers: report.containers, netns: report.netns, iptables: report.iptablesBackends.join(',') || 'none' });
  return report;
}
