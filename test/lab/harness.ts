/**
 * The multi-node lab: a home LAN (bridge br0 in its own netns, no uplink) with a `control` host and
 * nodes n1..nN, each a network + UTS + mount namespace of its own with a real sshd and a real
 * containerd. Agent and installer tests run against it exactly as against a rack of Raspberry Pis.
 *
 * Safety first: guard routes (`unreachable`) for every lab range go into the root namespace before any
 * lab address exists, and every client the tests run (ssh, wget, ctr) runs inside lab namespaces.
 * Teardown kills every process living in the lab's namespaces, so nothing survives a destroy, and a lab
 * created with the name of one that crashed first removes what that run left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec, waitFor, type ExecOptions, type ExecResult } from './exec.js';
import { addGuardRoutes, missingGuardRoutes } from './guard-routes.js';
import { addNetns, ipBatch, listNetns, netnsPath, NETNS_DIR } from './netns.js';
import { createHostView, nsenterPrefix, prepareNamespaceDir, PRIVATE_PATHS, runNetnsIsShared } from './host-ns.js';
import { generateKey, knownHosts, sshClientConfig, sshdArgv, writeSshdConfig } from './sshd.js';
import { containerdArgv, CTR_BINARY, writeContainerdConfig, type ContainerdPaths } from './containerd.js';
import { bindSource, containerdStateDir, DEFAULT_BASE_DIR, hostView, otherLabs, readState, statePath, timed, type LabState } from './lab-layout.js';
import { teardownLab, type TeardownReport } from './teardown.js';
import { lockLab, unlockLab } from './lab-lock.js';
import type { HostView } from './host-ns.js';

export { DEFAULT_BASE_DIR } from './lab-layout.js';
export { teardownLab, type TeardownReport } from './teardown.js';

export const DEFAULT_LAN_CIDR = '10.77.0.0/24';
export const DEFAULT_POD_CIDR = '10.42.0.0/16';
export const DEFAULT_SERVICE_CIDR = '10.43.0.0/16';
/** The containerd namespace corral's agent uses (the same as Kubernetes runtimes). */
export const CONTAINERD_NAMESPACE = 'k8s.io';

export interface LabOptions {
  /** Lowercase letters and digits, at most 10; prefixes every netns of the lab (`<name>-`). */
  name: string;
  /** Number of nodes n1..nN besides the control host. */
  nodes: number;
  /** The home LAN; a /24. Default 10.77.0.0/24. */
  lanCidr?: string;
  podCidr?: string;
  serviceCidr?: string;
  /** Parent of the lab directory. Default /tmp/corral-lab. */
  baseDir?: string;
  /** Start a containerd on every node (default true). */
  containerd?: boolean;
  /** Start an sshd on every node (default true). */
  sshd?: boolean;
  /**
   * Plain hosts on the LAN besides control and the nodes (e.g. `client`: a laptop on the home LAN), at
   * .200, .201, ...; no sshd or containerd.
   */
  clients?: readonly string[];
  /** More ranges to guard before anything else (e.g. a LoadBalancer pool, even inside the LAN). */
  guardRanges?: readonly string[];
  /** More paths every host sees as its own (bind mounts of per-host directories), besides PRIVATE_PATHS. */
  privatePaths?: readonly string[];
  /**
   * Nodes the harness starts no sshd and no containerd on, because the test brings its own (the emulated
   * arm64 node of test/lab/arm64-node.ts); their host keys are still made and pinned like the others'.
   */
  bareNodes?: readonly string[];
}

export interface LabHost {
  /** `control`, `n1`, `n2`, ... (also the host's hostname). */
  name: string;
  /** Address on the lab LAN. */
  ip: string;
  /** Named netns under /run/netns. */
  netns: string;
  /** The host's own directory inside the lab directory. */
  dir: string;
  view: HostView;
}

export interface LabNode extends LabHost {
  /** The node's containerd socket (also /run/containerd/containerd.sock inside the node's view). */
  containerdSocket: string;
  /** containerd's state dir, bound over /run/containerd in the node's view. */
  containerdState: string;
  /** The node's sshd and containerd, once started. */
  sshd?: LabProcess;
  containerd?: LabProcess;
}

/** A long-running process started in a lab host; killed on destroy at the latest. */
export interface LabProcess {
  pid: number;
  child: ChildProcess;
  logFile: string;
  /** Exit code (or -1 for a signal) once the process ends. */
  exited: Promise<number>;
}

export interface LabTimings { bringUpMs: number; steps: Record<string, number> }


export interface Lab {
  name: string;
  dir: string;
  /** Every netns of this lab starts with this; pod netns created in the lab must use it too. */
  netnsPrefix: string;
  lanNetns: string;
  lanCidr: string;
  podCidr: string;
  serviceCidr: string;
  /** The bridge's own address on the LAN (no uplink behind it). */
  bridgeIp: string;
  controlIp: string;
  control: LabHost;
  nodes: LabNode[];
  /** Private key of the lab's ssh client, authorised on every node. */
  clientKey: string;
  knownHostsFile: string;
  /** ssh_config for `ssh -F`: node names resolve, host keys are pinned. */
  sshConfigFile: string;
  timings: LabTimings;
  host(name: string): LabHost;
  node(name: string): LabNode;
  /** Runs argv in a host's network, UTS and mount namespaces. */
  exec(host: string, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Runs a command on a node with the real OpenSSH client from inside the control host. */
  ssh(host: string, command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Starts a long-running process in a host; its output goes to a log file in the lab directory. */
  spawn(host: string, argv: readonly string[], opts?: { logName?: string; env?: NodeJS.ProcessEnv }): LabProcess;
  /** `ctr` against a node's containerd, in the node's namespaces, in the k8s.io containerd namespace. */
  ctr(host: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Imports an image tarball into a node's containerd (k8s.io namespace). */
  importImage(host: string, tarPath: string): Promise<void>;
  destroy(): Promise<TeardownReport>;
}

const NAME_RE = /^[a-z][a-z0-9]{0,9}$/;

function lanAddress(cidr: string, host: number): string {
  const m = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(cidr);
  if (!m) throw new Error(`lab LAN must be a /24 like 10.77.0.0/24, got ${cidr}`);
  return `${m[1]}.${host}`;
}

/** True when /run/netns is a mount point in the root mount namespace. */
function runNetnsIsMount(): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === NETNS_DIR);
}

/** Brings up a lab; on any failure it tears down what it built before rethrowing. */
export async function createLab(opts: LabOptions): Promise<Lab> {
  if (!NAME_RE.test(opts.name)) throw new Error(`lab name must match ${NAME_RE}: ${opts.name}`);
  if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > 50) throw new Error(`lab nodes must be 1..50, got ${opts.nodes}`);
  const name = opts.name;
  // Validate the LAN before anything on the machine changes.
  lanAddress(opts.lanCidr ?? DEFAULT_LAN_CIDR, 1);
  const baseDir = opts.baseDir ?? DEFAULT_BASE_DIR;
  const dir = join(baseDir, name);
  const prefix = `${name}-`;
  const lanCidr = opts.lanCidr ?? DEFAULT_LAN_CIDR;
  const podCidr = opts.podCidr ?? DEFAULT_POD_CIDR;
  const serviceCidr = opts.serviceCidr ?? DEFAULT_SERVICE_CIDR;
  const steps: Record<string, number> = {};
  const t0 = performance.now();
  const privatePaths = [...new Set([...PRIVATE_PATHS, ...(opts.privatePaths ?? [])])];

  // Another live run of the same lab is waited for, never torn down as if it were leftovers.
  const lockPath = join(baseDir, `${name}.lock`);
  await lockLab(lockPath, name);
  if (existsSync(dir) || listNetns(prefix).length > 0) {
    const r = await timed(steps, 'leftovers', () => teardownLab(name, baseDir));
    if (r.errors.length > 0) {
      unlockLab(lockPath);
      throw new Error(`cannot clear leftovers of lab ${name}: ${r.errors.join('; ')}`);
    }
  }

  // Guard routes set by something other than a lab stay theirs. One set by another live lab for the
  // same range is shared: whichever lab goes last removes it.
  const ranges = [lanCidr, podCidr, serviceCidr, ...(opts.guardRanges ?? [])];
  const toGuard = await missingGuardRoutes(ranges);
  const otherLabRanges = new Set(otherLabs(baseDir, dir).flatMap((d) => readState(d)?.ranges ?? []));
  const shared = ranges.filter((r) => !toGuard.includes(r) && otherLabRanges.has(r));
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const state: LabState = { ranges, guardRoutes: [...toGuard, ...shared], createdDirs: [], madeRunNetnsMount: !runNetnsIsMount() };
  // Written before the first change to the machine, so a crash at any later point can be undone.
  writeFileSync(statePath(dir), JSON.stringify(state));

  const spawned = new Set<ChildProcess>();
  try {
    await timed(steps, 'guardRoutes', () => addGuardRoutes(toGuard));

    const hostNames = ['control', ...Array.from({ length: opts.nodes }, (_, i) => `n${i + 1}`)];
    const clients = opts.clients ?? [];
    for (const c of clients) if (!/^[a-z][a-z0-9]{0,9}$/.test(c) || hostNames.includes(c)) throw new Error(`invalid lab client host name ${c}`);
    const hosts: LabHost[] = [...hostNames, ...clients].map((h, i) => ({
      name: h,
      ip: lanAddress(lanCidr, i < hostNames.length ? 10 + i : 200 + i - hostNames.length),
      netns: `${prefix}${h}`,
      dir: join(dir, 'hosts', h),
      view: hostView(name, dir, h),
    }));
    const lanNetns = `${prefix}lan`;
    const bridgeIp = lanAddress(lanCidr, 1);

    await timed(steps, 'network', async () => {
      // The first `ip netns add` creates the shared /run/netns mount; the rest may then run in parallel.
      await addNetns(lanNetns);
      await Promise.all(hosts.map((h) => addNetns(h.netns)));
      await ipBatch(lanNetns, [
        'link set lo up',
        'link add br0 type bridge',
        `addr add ${bridgeIp}/24 dev br0`,
        'link set br0 up',
        ...hosts.flatMap((h) => [`link add v-${h.name} type veth peer name eth0 netns ${h.netns}`, `link set v-${h.name} master br0`, `link set v-${h.name} up`]),
      ]);
      const bridgeNf = existsSync('/proc/sys/net/bridge') ? ['net.bridge.bridge-nf-call-iptables=1'] : [];
      await Promise.all(hosts.map(async (h) => {
        await ipBatch(h.netns, ['link set lo up', `addr add ${h.ip}/24 dev eth0`, 'link set eth0 up']);
        // Nodes route pods (host-gw) and filter bridged pod traffic with iptables (services).
        const r = await exec(['nsenter', `--net=${netnsPath(h.netns)}`, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1', ...bridgeNf]);
        if (r.code !== 0) throw new Error(`sysctl in ${h.netns}: ${r.stderr.trim()}`);
      }));
    });

    await timed(steps, 'hostViews', async () => {
      if (!runNetnsIsShared()) {
        const r = await exec(['mount', '--make-shared', NETNS_DIR]);
        if (r.code !== 0) throw new Error(`cannot make ${NETNS_DIR} shared: ${r.stderr.trim()}`);
      }
      await prepareNamespaceDir(join(dir, 'ns'));
      for (const target of privatePaths) {
        const created = mkdirSync(target, { recursive: true });
        if (created !== undefined) {
          // Remember the created directories deepest first, so teardown can rmdir them in order.
          const chain: string[] = [];
          for (let p: string = target; p.length >= created.length; p = p.slice(0, p.lastIndexOf('/'))) chain.push(p);
          state.createdDirs.push(...chain);
        }
      }
      writeFileSync(statePath(dir), JSON.stringify(state));
      await Promise.all(hosts.map((h) => createHostView(h.view, privatePaths.map((target) => ({ source: bindSource(h.dir, target), target })))));
    });

    const nodes: LabNode[] = hosts.slice(1, hostNames.length).map((h) => ({
      ...h,
      containerdSocket: join(containerdStateDir(h.dir), 'containerd.sock'),
      containerdState: containerdStateDir(h.dir),
    }));
    const control = hosts[0]!;

    const byName = new Map<string, LabHost>(hosts.map((h) => [h.name, h]));
    const nodeByName = new Map<string, LabNode>(nodes.map((n) => [n.name, n]));
    const hostOf = (h: string): LabHost => {
      const found = byName.get(h);
      if (!found) throw new Error(`lab ${name} has no host ${h} (hosts: ${[...byName.keys()].join(', ')})`);
      return found;
    };
    const nodeOf = (h: string): LabNode => {
      const found = nodeByName.get(h);
      if (!found) throw new Error(`lab ${name} has no node ${h} (nodes: ${[...nodeByName.keys()].join(', ')})`);
      return found;
    };
    let spawnCount = 0;
    const spawnIn = (h: string, argv: readonly string[], o: { logName?: string; env?: NodeJS.ProcessEnv } = {}): LabProcess => {
      const host = hostOf(h);
      const base = (o.logName ?? argv[0]?.split('/').pop() ?? 'process').replace(/[^\w.-]/g, '_');
      const logFile = join(dir, 'logs', `${h}-${base}-${++spawnCount}.log`);
      const fd = openSync(logFile, 'a');
      const [file, ...args] = [...nsenterPrefix(host.view), ...argv];
      const child = spawn(file!, args, { detached: true, stdio: ['ignore', fd, fd], ...(o.env !== undefined ? { env: o.env } : {}) });
      closeSync(fd);
      child.unref();
      spawned.add(child);
      const exited = new Promise<number>((resolve) => {
        child.on('exit', (code) => { spawned.delete(child); resolve(code ?? -1); });
        child.on('error', () => { spawned.delete(child); resolve(-1); });
      });
      if (child.pid === undefined) throw new Error(`cannot start ${argv.join(' ')} in ${h}`);
      return { pid: child.pid, child, logFile, exited };
    };
    const execIn = (h: string, argv: readonly string[], o?: ExecOptions): Promise<ExecResult> => exec([...nsenterPrefix(hostOf(h).view), ...argv], o);

    const bare = new Set(opts.bareNodes ?? []);
    const clientKey = join(dir, 'id_ed25519');
    const knownHostsFile = join(dir, 'known_hosts');
    const sshConfigFile = join(dir, 'ssh_config');

    if (opts.sshd ?? true) {
      await timed(steps, 'sshd', async () => {
        const [clientPub, ...hostPubs] = await Promise.all([
          generateKey(clientKey, `corral-lab-${name}`),
          ...nodes.map((n) => generateKey(join(n.dir, 'ssh_host_ed25519_key'), `${n.name}@${name}`)),
        ]);
        const authorizedKeys = join(dir, 'authorized_keys');
        writeFileSync(authorizedKeys, `${clientPub!}\n`);
        const sshHosts = nodes.map((n, i) => ({ name: n.name, ip: n.ip, hostKey: hostPubs[i]! }));
        writeFileSync(knownHostsFile, knownHosts(sshHosts));
        writeFileSync(sshConfigFile, sshClientConfig(sshHosts, clientKey, knownHostsFile));
        const pidFiles = nodes.filter((n) => !bare.has(n.name)).map((n) => {
          const config = join(n.dir, 'sshd_config');
          const pidFile = join(n.dir, 'sshd.pid');
          writeSshdConfig(config, { listenAddress: n.ip, hostKey: join(n.dir, 'ssh_host_ed25519_key'), pidFile, authorizedKeysFile: authorizedKeys });
          const p = spawnIn(n.name, sshdArgv(config), { logName: 'sshd' });
          n.sshd = p;
          return { pidFile, p, node: n.name };
        });
        // sshd writes its pid file once it listens.
        await Promise.all(pidFiles.map(({ pidFile, p, node }) => waitFor(`sshd on ${node} (log ${p.logFile})`, () => {
          if (p.child.exitCode !== null) throw new Error(`sshd on ${node} exited: ${readFileSync(p.logFile, 'utf8').trim()}`);
          return existsSync(pidFile);
        }, 5_000)));
      });
    }

    if (opts.containerd ?? true) {
      await timed(steps, 'containerd', async () => {
        await Promise.all(nodes.filter((n) => !bare.has(n.name)).map(async (n) => {
          const paths: ContainerdPaths = { root: join(n.dir, 'containerd'), state: n.containerdState, socket: n.containerdSocket, config: join(n.dir, 'containerd.toml') };
          mkdirSync(paths.root, { recursive: true });
          writeContainerdConfig(paths);
          const p = spawnIn(n.name, containerdArgv(paths), { logName: 'containerd' });
          n.containerd = p;
          await waitFor(`containerd on ${n.name} (log ${p.logFile})`, () => {
            if (p.child.exitCode !== null) throw new Error(`containerd on ${n.name} exited: ${readFileSync(p.logFile, 'utf8').slice(-2000)}`);
            return existsSync(n.containerdSocket);
          }, 15_000);
        }));
      });
    }

    const lab: Lab = {
      name, dir, netnsPrefix: prefix, lanNetns, lanCidr, podCidr, serviceCidr, bridgeIp,
      controlIp: control.ip, control, nodes, clientKey, knownHostsFile, sshConfigFile,
      timings: { bringUpMs: Math.round(performance.now() - t0), steps },
      host: hostOf,
      node: nodeOf,
      exec: execIn,
      ssh: (h, command, o) => {
        const target = nodeOf(h);
        return execIn('control', ['ssh', '-F', sshConfigFile, target.name, command], o);
      },
      spawn: spawnIn,
      ctr: (h, args, o) => execIn(h, [CTR_BINARY, '-a', nodeOf(h).containerdSocket, '-n', CONTAINERD_NAMESPACE, ...args], o),
      importImage: async (h, tarPath) => {
        const r = await execIn(h, [CTR_BINARY, '-a', nodeOf(h).containerdSocket, '-n', CONTAINERD_NAMESPACE, 'images', 'import', tarPath], { timeoutMs: 60_000 });
        if (r.code !== 0) throw new Error(`importing ${tarPath} on ${h}: ${r.stderr.trim()}`);
      },
      destroy: async () => {
        const report = await teardownLab(name, baseDir);
        for (const child of spawned) child.kill('SIGKILL');
        unlockLab(lockPath);
        return report;
      },
    };
    return lab;
  } catch (e) {
    for (const child of spawned) child.kill('SIGKILL');
    const r = await teardownLab(name, baseDir);
    unlockLab(lockPath);
    const extra = r.errors.length > 0 ? ` (teardown also failed: ${r.errors.join('; ')})` : '';
    throw new Error(`lab ${name} bring-up failed: ${e instanceof Error ? e.message : String(e)}${extra}`, { cause: e });
  }
}

/** Runs fn with a fresh lab and always destroys the lab afterwards, also when fn throws. */
export async function withLab<T>(opts: LabOptions, fn: (lab: Lab) => Promise<T>): Promise<T> {
  const lab = await createLab(opts);
  let result: T;
  try {
    result = await fn(lab);
  } catch (e) {
    await lab.destroy();
    throw e;
  }
  const report = await lab.destroy();
  if (report.errors.length > 0) throw new Error(`lab ${lab.name} teardown: ${report.errors.join('; ')}`);
  return result;
}
