/**
 * A real etcd (Debian's `etcd-server`) for tests: one member or a small cluster on 127.0.0.1 with
 * free ports and a temporary data dir, plain HTTP (loopback only). Members can be killed and
 * started again to test failures. Under CI=true a missing etcd binary is a failure, never a skip.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './server-process.js';
import { waitUntil } from './wait.js';

export const ETCD_BINARY = process.env['CORRAL_ETCD'] ?? '/usr/bin/etcd';

/** Whether etcd is installed; under CI its absence throws (the test must fail, naming the package). */
export function etcdAvailable(): boolean {
  if (existsSync(ETCD_BINARY)) return true;
  if (process.env['CI'] === 'true') throw new Error(`${ETCD_BINARY} is missing: install Debian's etcd-server (test/setup.sh does)`);
  return false;
}

/** One member of a new cluster; it listens on the same URLs it advertises. */
export interface EtcdMemberSpec { name: string; dataDir: string; clientUrl: string; peerUrl: string; initialCluster: string; clusterToken: string }

/** etcd's command line for one member of a new cluster (a restart with the data dir kept ignores the initial-cluster flags). */
export function etcdMemberArgs(m: EtcdMemberSpec): string[] {
  return [
    '--name', m.name, '--data-dir', m.dataDir,
    '--listen-client-urls', m.clientUrl, '--advertise-client-urls', m.clientUrl,
    '--listen-peer-urls', m.peerUrl, '--initial-advertise-peer-urls', m.peerUrl,
    '--initial-cluster', m.initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', m.clusterToken,
    // Faster elections than etcd's WAN-friendly defaults: the members share one machine.
    '--heartbeat-interval', '50', '--election-timeout', '500',
  ];
}

/** etcd refuses to start on arm64 unless told that is intended. */
export function etcdEnv(): NodeJS.ProcessEnv {
  return { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === 'arm64' ? 'arm64' : '' };
}

interface Member { name: string; clientPort: number; peerPort: number; dataDir: string; child?: ChildProcess | undefined; log: string }

export class EtcdCluster {
  private constructor(private readonly members: Member[], private readonly root: string) {}

  /** Starts `size` members (1 or 3) and waits until the cluster answers. */
  static async start(size = 1): Promise<EtcdCluster> {
    const root = mkdtempSync(join(tmpdir(), 'corral-etcd-'));
    const members: Member[] = [];
    for (let i = 0; i < size; i++) {
      members.push({ name: `m${i}`, clientPort: await freePort(), peerPort: await freePort(), dataDir: join(root, `m${i}`), log: '' });
    }
    const cluster = new EtcdCluster(members, root);
    for (const m of members) cluster.launch(m);
    await cluster.waitHealthy();
    return cluster;
  }

  get endpoints(): string[] {
    return this.members.map((m) => `http://127.0.0.1:${m.clientPort}`);
  }

  private launch(m: Member): void {
    const child = spawn(ETCD_BINARY, etcdMemberArgs({
      name: m.name, dataDir: m.dataDir, clientUrl: `http://127.0.0.1:${m.clientPort}`, peerUrl: `http://127.0.0.1:${m.peerPort}`,
      initialCluster: this.members.map((x) => `${x.name}=http://127.0.0.1:${x.peerPort}`).join(','), clusterToken: `corral-test-${process.pid}`,
    }), { stdio: ['ignore', 'pipe', 'pipe'], env: etcdEnv() });
    const keep = (d: Buffer): void => { m.log = (m.log + d.toString()).slice(-20_000); };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    m.child = child;
  }

  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    await waitUntil('etcd answers', async () => {
      const up = this.members.filter((m) => m.child && m.child.exitCode === null);
      const r = spawnSync('etcdctl', ['--endpoints', up.map((m) => `http://127.0.0.1:${m.clientPort}`).join(','), 'endpoint', 'health'], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' }, timeout: 5_000 });
      return r.status === 0;
    }, timeoutMs, 200).catch((err: unknown) => { throw new Error(`${String(err)}\n${this.members.map((m) => `${m.name}:\n${m.log.slice(-2000)}`).join('\n')}`); });
  }

  /** SIGKILLs member `i` (its data stays, so it can come back). */
  async kill(i: number): Promise<void> {
    const m = this.members[i]!;
    const child = m.child;
    if (!child || child.exitCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
    m.child = undefined;
  }

  /** Starts a killed member again (its data dir exists, so etcd ignores the initial-cluster flags). */
  restart(i: number): void {
    const m = this.members[i]!;
    if (!m.child) this.launch(m);
  }

  async stop(): Promise<void> {
    for (let i = 0; i < this.members.length; i++) await this.kill(i);
    rmSync(this.root, { recursive: true, force: true });
  }
}
