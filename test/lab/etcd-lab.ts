/**
 * A three-member etcd (Debian's `etcd-server`) on lab hosts: one member per host, talking over the
 * lab LAN in plain HTTP (the LAN is the lab's own bridge). Members can be killed (-9) and started
 * again from their data dirs, as a machine that loses power and comes back.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../../api/async-util.js';
import type { Lab, LabProcess } from './harness.js';
import { ETCD_BINARY, etcdEnv, etcdMemberArgs } from '../support/etcd-process.js';
import { waitUntil } from '../support/wait.js';

export const ETCD_CLIENT_PORT = 2379;
const ETCD_PEER_PORT = 2380;

interface LabMember { host: string; ip: string; dataDir: string; process?: LabProcess | undefined }

export class LabEtcd {
  private constructor(private readonly lab: Lab, private readonly members: LabMember[]) {}

  /** Starts one member on each of `hosts` and waits until the cluster answers. */
  static async start(lab: Lab, hosts: readonly string[]): Promise<LabEtcd> {
    const members = hosts.map((h) => ({ host: h, ip: lab.host(h).ip, dataDir: join(lab.host(h).dir, 'etcd') }));
    const etcd = new LabEtcd(lab, members);
    for (const m of members) etcd.launch(m);
    await etcd.waitHealthy();
    return etcd;
  }

  get endpoints(): string[] {
    return this.members.map((m) => `http://${m.ip}:${ETCD_CLIENT_PORT}`);
  }

  private launch(m: LabMember): void {
    const args = etcdMemberArgs({
      name: m.host, dataDir: m.dataDir, clientUrl: `http://${m.ip}:${ETCD_CLIENT_PORT}`, peerUrl: `http://${m.ip}:${ETCD_PEER_PORT}`,
      initialCluster: this.members.map((x) => `${x.host}=http://${x.ip}:${ETCD_PEER_PORT}`).join(','), clusterToken: `corral-${this.lab.name}`,
    });
    m.process = this.lab.spawn(m.host, [ETCD_BINARY, ...args], { logName: 'etcd', env: etcdEnv() });
  }

  private running(): LabMember[] {
    return this.members.filter((m) => m.process && m.process.child.exitCode === null && m.process.child.signalCode === null);
  }

  /** Waits until every running member reports healthy (asked from inside the lab). */
  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    await waitUntil('etcd members healthy', async () => {
      const up = this.running();
      if (up.length === 0) return false;
      const r = await this.lab.exec(up[0]!.host, ['etcdctl', '--endpoints', up.map((m) => `http://${m.ip}:${ETCD_CLIENT_PORT}`).join(','), 'endpoint', 'health'],
        { timeoutMs: 10_000, env: { ...process.env, ETCDCTL_API: '3' } });
      return r.code === 0;
    }, timeoutMs, 300).catch((err: unknown) => {
      const logs = this.members.map((m) => `${m.host}: ${m.process ? readFileSync(m.process.logFile, 'utf8').slice(-1500) : '(not running)'}`).join('\n');
      throw new Error(`${String(err)}\n${logs}`);
    });
  }

  /** SIGKILLs the member on `host`; its data dir stays. */
  async kill(host: string): Promise<void> {
    const m = this.member(host);
    const p = m.process;
    if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
    p.child.kill('SIGKILL');
    // The harness unrefs its children: a timer keeps the loop alive while the exit is awaited.
    await Promise.race([p.exited, sleep(10_000)]);
    m.process = undefined;
  }

  /** Starts a killed member again from its data dir. */
  restart(host: string): void {
    const m = this.member(host);
    if (!m.process) this.launch(m);
  }

  private member(host: string): LabMember {
    const m = this.members.find((x) => x.host === host);
    if (!m) throw new Error(`no etcd member on ${host}`);
    return m;
  }
}
