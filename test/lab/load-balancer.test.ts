/**
 * LoadBalancer Services on a real home LAN (lab 'lbann': bridge 192.168.79.0/24, the server on
 * `control`, agents on n1 and n2, and a separate `client` host; real containerd, iptables, ARP):
 *
 * - by default a LoadBalancer Service gets the nodes' IPs, which the client reaches;
 * - with `--lb-pool` it gets 192.168.79.240, announced by exactly one node (the address on its eth0, the
 *   Lease naming it, arping from the client sees that node's MAC only), which the client reaches;
 * - `externalTrafficPolicy: Local` keeps the client's address, is announced from the node with the
 *   endpoint, and the health-check node port says 200 there and 503 elsewhere; source ranges drop others;
 * - killing the announcing node's agent moves the address: the old node's kernel drops it when the lease
 *   runs out, the other node takes it over, the client reaches the Service again within lease + 3 s and
 *   arping shows the new MAC.
 * Rule zero: the LAN and the pool are guarded in the root namespace before any lab address exists.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { createLab, type Lab } from './harness.js';
import { buildBusyboxImage } from './image.js';
import { labTierAvailable } from './prerequisites.js';
import { startLabCluster, type LabCluster } from './agent-cluster.js';
import type { Lease, Node, Pod, Service } from '../../api/types.js';
import type { KubeList } from '../../api/meta.js';
import { waitUntil } from '../support/wait.js';
import { apply, arpingMacs, get, holders, holdsAddress, lbService, macOf, pod, status } from './lb-lab.js';

const test = suite('LoadBalancer services on the lab LAN');

const LAN = '192.168.79.0/24';
const POOL = '192.168.79.240-192.168.79.247';
const VIP = '192.168.79.240';
/** The lab's lease: short, so the failover test stays quick (the default is 10 s). */
const LEASE_SECONDS = 4;

let lab: Lab | undefined;
let cluster: LabCluster | undefined;
const serverArgs: string[] = [];
const need = (): { lab: Lab; c: LabCluster } => {
  if (!lab || !cluster) throw new Error('the lab cluster did not come up (see the first test)');
  return { lab, c: cluster };
};

function ingressOf(s: Service): string[] {
  return (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '');
}
function logs(name: string): string {
  const p = name === 'server' ? cluster?.server : cluster?.agents.get(name);
  return p ? `\n${name} log:\n${readFileSync(p.logFile, 'utf8').slice(-2500)}` : '';
}
const withLogs = (...names: string[]) => (err: unknown): never => { throw new Error(`${String(err)}${names.map(logs).join('')}`); };

if (labTierAvailable(test, 'LoadBalancer lab test')) {
  test.after(async () => {
    if (lab) {
      const report = await lab.destroy();
      if (report.errors.length > 0) process.stdout.write(`lab teardown errors: ${report.errors.join('; ')}\n`);
    }
  });

  test('a LAN with two nodes and a client; web pods on both nodes', async () => {
    lab = await createLab({ name: 'lbann', nodes: 2, lanCidr: LAN, clients: ['client'], guardRanges: ['192.168.79.240/29'] });
    const image = await buildBusyboxImage({ dir: '/tmp/corral-lab-images' });
    await Promise.all(lab.nodes.map((n) => lab!.importImage(n.name, image)));
    cluster = await startLabCluster(lab, { serverArgs, agentArgs: ['--lb-lease-duration', `${LEASE_SECONDS}s`] });
    const { c } = need();
    await waitUntil('2 Ready nodes', async () => {
      const list = (await c.getJson<KubeList<Node>>(['get', 'nodes'])).items;
      return list.filter((n) => n.spec?.podCIDR && n.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True')).length === 2;
    }, 60_000, 300).catch(withLogs('n1'));
    await apply(c, pod('n1', { app: 'web' }), pod('n2', { app: 'web', local: 'yes' }));
    await waitUntil('both web pods ready', async () => {
      const pods = (await c.getJson<KubeList<Pod>>(['get', 'pods', '-l', 'app=web'])).items;
      return pods.length === 2 && pods.every((p) => p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'));
    }, 90_000, 300).catch(withLogs('n1', 'n2'));
  });

  test('by default a LoadBalancer Service gets the nodes\' IPs, and the client reaches it on each', async () => {
    const { lab: l, c } = need();
    await apply(c, lbService('web', { app: 'web' }));
    const n1 = l.node('n1').ip;
    const n2 = l.node('n2').ip;
    await waitUntil('ingress = both node IPs', async () => {
      const svc = await c.getJson<Service>(['get', 'svc', 'web']);
      return JSON.stringify(ingressOf(svc)) === JSON.stringify([n1, n2]);
    }, 20_000, 300).catch(withLogs('server'));
    for (const ip of [n1, n2]) {
      const body = await waitUntil(`the client reaches ${ip}:8080`, () => get(l, 'client', `http://${ip}:8080/`), 20_000, 300).catch(withLogs('n1'));
      assert.match(body, /^web-n[12]$/);
    }
    for (const n of ['n1', 'n2']) {
      assert.not.match((await l.exec(n, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout, /eth0:lb/, 'node IPs are not announced as extra addresses');
    }
  });

  test('with --lb-pool the Service gets 192.168.79.240, announced by exactly one node, which the client reaches', async () => {
    const { lab: l, c } = need();
    serverArgs.push('--lb-pool', POOL);
    await c.stopServer();
    await c.startServer();
    await waitUntil(`ingress = ${VIP}`, async () => JSON.stringify(ingressOf(await c.getJson<Service>(['get', 'svc', 'web']))) === JSON.stringify([VIP]), 20_000, 300).catch(withLogs('server'));
    const holder = await waitUntil('one node holds the address', async () => {
      const h = await holders(l, VIP);
      return h.length === 1 ? h[0] : undefined;
    }, 20_000, 200).catch(withLogs('n1', 'n2'));
    const lease = await c.getJson<Lease>(['get', 'lease', '-n', 'kube-system', 'corral-lb-192-168-79-240']);
    assert.is(lease.spec?.holderIdentity, holder, 'the Lease names the node that holds the address');
    assert.is(lease.spec?.leaseDurationSeconds, LEASE_SECONDS);
    const body = await waitUntil('the client reaches the pool address', () => get(l, 'client', `http://${VIP}:8080/`), 20_000, 300).catch(withLogs('n1', 'n2'));
    assert.match(body, /^web-n[12]$/);
    // Only the holder answers ARP for it (the other node has no such address and arp_ignore=1).
    const macs = await arpingMacs(l, VIP);
    assert.ok(macs.length >= 1, 'arping got replies');
    assert.equal([...new Set(macs)], [await macOf(l, holder)]);
    for (const n of ['n1', 'n2']) assert.is((await l.exec(n, ['cat', '/proc/sys/net/ipv4/conf/eth0/arp_ignore'])).stdout.trim(), '1');
    const events = await c.kubectlOk(['get', 'events', '--field-selector', 'involvedObject.name=web', '-o', 'jsonpath={.items[*].reason}']);
    assert.match(events, /nodeAssigned/);
  });

  test('externalTrafficPolicy Local: announced from the node with the endpoint, client address kept, health check 200/503, source ranges', async () => {
    const { lab: l, c } = need();
    await apply(c, lbService('local', { local: 'yes' }, { externalTrafficPolicy: 'Local', allocateLoadBalancerNodePorts: false }));
    const svc = await waitUntil('the Local service has a pool address', async () => {
      const s = await c.getJson<Service>(['get', 'svc', 'local']);
      return ingressOf(s).length === 1 ? s : undefined;
    }, 20_000, 300);
    const vip = ingressOf(svc)[0]!;
    assert.is(svc.spec.ports?.[0]?.nodePort, undefined, 'no node port');
    await waitUntil('n2 (the node with the endpoint) announces it', async () => JSON.stringify(await holders(l, vip)) === '["n2"]', 20_000, 200).catch(withLogs('n1', 'n2'));
    const clientIp = l.host('client').ip;
    // busybox httpd writes REMOTE_ADDR as [::ffff:a.b.c.d].
    const remoteAddr = async (url: string): Promise<string | undefined> => (await get(l, 'client', url))?.replace(/^\[(::ffff:)?|\]$/g, '');
    const seen = await waitUntil('the pod sees the client address', () => remoteAddr(`http://${vip}:8080/cgi-bin/ip`), 20_000, 300).catch(withLogs('n2'));
    assert.is(seen, clientIp, 'not masqueraded');
    // Through the Cluster-policy Service the pod sees a node address instead.
    const masqueraded = await remoteAddr(`http://${VIP}:8080/cgi-bin/ip`);
    assert.ok(masqueraded !== undefined && masqueraded !== clientIp, `Cluster policy is masqueraded (${String(masqueraded)})`);
    // The health-check node port, on both nodes' addresses.
    const hc = (svc.spec as { healthCheckNodePort?: number }).healthCheckNodePort;
    assert.ok(hc !== undefined && hc >= 30000);
    const onN2 = await waitUntil('n2 health check 200', async () => { const r = await status(l, 'client', `http://${l.node('n2').ip}:${hc}/`); return r.code === 200 ? r : undefined; }, 15_000, 300);
    assert.equal(JSON.parse(onN2.body), { service: { namespace: 'default', name: 'local' }, localEndpoints: 1, serviceProxyHealthy: true });
    assert.is((await status(l, 'client', `http://${l.node('n1').ip}:${hc}/`)).code, 503);

    // Source ranges: only the control host may connect; the client's packets are dropped.
    await c.kubectlOk(['patch', 'svc', 'local', '-p', JSON.stringify({ spec: { loadBalancerSourceRanges: [`${l.controlIp}/32`] } })]);
    await waitUntil('the client is refused', async () => (await get(l, 'client', `http://${vip}:8080/`)) === undefined, 15_000, 300);
    assert.is(await get(l, 'control', `http://${vip}:8080/`), 'web-n2');
    assert.is(await get(l, 'client', `http://${vip}:8080/`), undefined);
    await c.kubectlOk(['patch', 'svc', 'local', '--type', 'json', '-p', '[{"op":"remove","path":"/spec/loadBalancerSourceRanges"}]']);
    await waitUntil('the client is let in again', () => get(l, 'client', `http://${vip}:8080/`), 15_000, 300);
    await c.kubectlOk(['delete', 'svc', 'local']);
    await waitUntil('the Local service\'s address is given up', async () => (await holders(l, vip)).length === 0, 15_000, 300);
  });

  test(`killing the announcing node's agent moves the address within the lease (${LEASE_SECONDS} s) + 3 s; arping shows the new MAC`, async () => {
    const { lab: l, c } = need();
    const [old] = await holders(l, VIP);
    assert.ok(old, 'someone holds the address');
    const other = old === 'n1' ? 'n2' : 'n1';
    const newMac = await macOf(l, other);
    const t0 = Date.now();
    await c.killAgent(old!);
    // The client polls the Service the whole time.
    let answeredAt: number | undefined;
    let outage = 0;
    let lastOk = t0;
    await waitUntil('the other node holds the address and the client reaches it', async () => {
      const ok = (await get(l, 'client', `http://${VIP}:8080/`)) !== undefined;
      const now = Date.now();
      if (ok) {
        outage = Math.max(outage, now - lastOk);
        lastOk = now;
      }
      if (ok && (await holders(l, VIP)).join() === other) answeredAt ??= now;
      return answeredAt !== undefined;
    }, (LEASE_SECONDS + 10) * 1000, 100).catch(withLogs(other));
    const failoverMs = answeredAt! - t0;
    process.stdout.write(`failover: ${failoverMs} ms after the kill (lease ${LEASE_SECONDS} s), longest gap between answers ${outage} ms\n`);
    assert.ok(failoverMs <= (LEASE_SECONDS + 3) * 1000, `failover took ${failoverMs} ms`);
    assert.not.ok(await holdsAddress(l, old!, VIP), 'the dead agent\'s node no longer has the address (its lifetime ran out)');
    assert.equal([...new Set(await arpingMacs(l, VIP))], [newMac], 'only the new holder answers ARP');
    // The client's own neighbour table learnt the new MAC (gratuitous ARP or re-resolution).
    const neigh = (await l.exec('client', ['ip', 'neigh', 'show', VIP])).stdout.toLowerCase();
    assert.ok(neigh.includes(newMac), neigh);
    const lease = await c.getJson<Lease>(['get', 'lease', '-n', 'kube-system', 'corral-lb-192-168-79-240']);
    assert.is(lease.spec?.holderIdentity, other);
    assert.ok((lease.spec?.leaseTransitions ?? 0) >= 1);
  });
}

test.run();
