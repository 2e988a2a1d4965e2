/**
 * The LoadBalancer controller inside a real `corral server` with hollow nodes and real kubectl:
 * without a pool a LoadBalancer Service gets the InternalIPs of the eligible Ready nodes (the
 * svccontroller.corral.dev/enablelb label opts nodes out, or in), following node changes; with
 * `--lb-pool` one address per Service from several ranges/CIDRs, `spec.loadBalancerIP` and the
 * metallb.universe.tf/loadBalancerIPs annotation honoured, conflicts, out-of-pool requests and an
 * exhausted pool explained by Warning events, addresses released on delete and on a type change,
 * kept across a server restart; `allocateLoadBalancerNodePorts: false` leaves node ports out;
 * `kubectl get svc` shows EXTERNAL-IP.
 *
 * Every wait is bounded and fails fast: each test has a deadline and always stops every server and
 * hollow node it started (a failure once left a server running and the file hung until the runner's
 * 15-minute limit).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Event, Node, Service } from '../../api/types.js';
import { HollowNode } from '../support/hollow-node.js';
import { kubectl, ServerProcess } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

let servers: ServerProcess[] = [];
let nodes: HollowNode[] = [];

/** Starts a server that stopAll will stop, whatever happens in the test. */
async function startServer(extraArgs: string[] = []): Promise<ServerProcess> {
  const s = await ServerProcess.start({ extraArgs });
  servers.push(s);
  return s;
}

async function stopAll(): Promise<void> {
  for (const n of nodes.splice(0)) n.stop();
  await Promise.all(servers.splice(0).map((s) => s.destroy()));
}

/** A test body with a deadline; whatever the outcome, everything it started is stopped. */
function bounded(ms: number, body: () => Promise<void>): () => Promise<void> {
  return async () => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`test did not finish within ${ms} ms`)), ms); });
    try {
      await Promise.race([body(), deadline]);
    } finally {
      clearTimeout(timer);
      await stopAll();
    }
  };
}

function lbService(name: string, extra: { annotations?: Record<string, string>; spec?: Record<string, unknown> } = {}): Service {
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name, namespace: 'default', ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: { type: 'LoadBalancer', selector: { app: name }, ports: [{ name: 'http', port: 80 }], ...extra.spec },
  } as Service;
}

const ingressOf = (s: Service): string[] => (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '');

function ingressBecomes(s: ServerProcess, name: string, want: string[]): Promise<Service> {
  return waitUntil(`service ${name} ingress = [${want.join(',')}]`, async () => {
    const svc = await s.client.get<Service>('Service', 'default', name);
    return JSON.stringify(ingressOf(svc)) === JSON.stringify(want) && svc;
  }, 10_000, 100);
}

function warningAbout(s: ServerProcess, name: string, pattern: RegExp): Promise<Event> {
  return waitUntil(`a Warning event on service ${name} matching ${String(pattern)}`, async () => {
    const events = await s.client.list<Event>('Event', 'default', { fieldSelector: `involvedObject.name=${name}` });
    return events.items.find((e) => e.type === 'Warning' && e.reason === 'AllocationFailed' && pattern.test(e.message ?? ''));
  }, 10_000, 100);
}

test.after(stopAll);

test('without a pool: the InternalIPs of the Ready nodes not opted out, following node changes; kubectl shows EXTERNAL-IP', bounded(60_000, async () => {
  const s = await startServer();
  nodes.push(await HollowNode.start(s.client, { name: 'lb1', nodeIP: '10.200.7.11' }));
  nodes.push(await HollowNode.start(s.client, { name: 'lb2', nodeIP: '10.200.7.12' }));
  nodes.push(await HollowNode.start(s.client, { name: 'lb3', nodeIP: '10.200.7.13', labels: { 'svccontroller.corral.dev/enablelb': 'false' } }));
  await s.client.create('Service', 'default', lbService('web'));
  await ingressBecomes(s, 'web', ['10.200.7.11', '10.200.7.12']);
  const out = await kubectl(s, ['get', 'svc', 'web']);
  assert.is(out.code, 0, out.stderr);
  assert.match(out.stdout, /^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)/);
  assert.match(out.stdout, /web\s+LoadBalancer\s+10\.43\.\d+\.\d+\s+10\.200\.7\.11,10\.200\.7\.12\s+80:3\d{4}\/TCP/);

  // Opting one node in makes it the only one.
  await s.client.patch<Node>('Node', undefined, 'lb2', { metadata: { labels: { 'svccontroller.corral.dev/enablelb': 'true' } } });
  await ingressBecomes(s, 'web', ['10.200.7.12']);
  // That node going away: no node is opted in any more, so every node not opted out is used again.
  await nodes[1]!.remove();
  await ingressBecomes(s, 'web', ['10.200.7.11']);
  // A Service changed to ClusterIP loses its ingress.
  await s.client.patch<Service>('Service', 'default', 'web', { spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80 }] } });
  await ingressBecomes(s, 'web', []);
}));

test('with --lb-pool: one address per Service, requests honoured, conflicts and exhaustion explained, releases, restart', bounded(120_000, async () => {
  const s = await startServer(['--lb-pool', '192.168.77.240-192.168.77.241, 192.168.77.244/31']);
  nodes.push(await HollowNode.start(s.client, { name: 'p1', nodeIP: '10.200.8.11' }));
  await s.client.create('Service', 'default', lbService('a'));
  await ingressBecomes(s, 'a', ['192.168.77.240']);
  await s.client.create('Service', 'default', lbService('b', { spec: { loadBalancerIP: '192.168.77.245' } }));
  await ingressBecomes(s, 'b', ['192.168.77.245']);
  await s.client.create('Service', 'default', lbService('c', { annotations: { 'metallb.universe.tf/loadBalancerIPs': '192.168.77.244' } }));
  await ingressBecomes(s, 'c', ['192.168.77.244']);
  const out = await kubectl(s, ['get', 'svc', 'a', 'b', 'c', '--no-headers', '-o', 'custom-columns=N:.metadata.name,IP:.status.loadBalancer.ingress[0].ip']);
  assert.equal(out.stdout.trim().split('\n').map((l) => l.split(/\s+/).join(' ')), ['a 192.168.77.240', 'b 192.168.77.245', 'c 192.168.77.244']);

  // A request for a taken address, one outside the pool: pending with a Warning that says why.
  await s.client.create('Service', 'default', lbService('dup', { spec: { loadBalancerIP: '192.168.77.240' } }));
  await warningAbout(s, 'dup', /requested address 192\.168\.77\.240 is already allocated to service default\/a/);
  await s.client.create('Service', 'default', lbService('far', { annotations: { 'metallb.universe.tf/loadBalancerIPs': '10.9.9.9' } }));
  await warningAbout(s, 'far', /requested address 10\.9\.9\.9 is not in the --lb-pool ranges \(192\.168\.77\.240-192\.168\.77\.241,192\.168\.77\.244\/31\)/);
  assert.equal(ingressOf(await s.client.get<Service>('Service', 'default', 'far')), []);
  const pending = await kubectl(s, ['get', 'svc', 'far', '--no-headers']);
  assert.match(pending.stdout, /<pending>/);

  // The last free address, then exhaustion.
  await s.client.create('Service', 'default', lbService('d', { spec: { allocateLoadBalancerNodePorts: false } }));
  const d = await ingressBecomes(s, 'd', ['192.168.77.241']);
  assert.is(d.spec.ports?.[0]?.nodePort, undefined, 'allocateLoadBalancerNodePorts: false leaves the node port out');
  await s.client.create('Service', 'default', lbService('e'));
  await warningAbout(s, 'e', /no available IP in the --lb-pool ranges/);

  // Deleting a releases .240: the Service that asked for it gets it.
  await s.client.delete('Service', 'default', 'a');
  await ingressBecomes(s, 'dup', ['192.168.77.240']);
  // A type change releases .241, which the waiting Service e gets.
  await s.client.patch<Service>('Service', 'default', 'd', { spec: { type: 'ClusterIP' } });
  await ingressBecomes(s, 'd', []);
  await ingressBecomes(s, 'e', ['192.168.77.241']);

  // A restarted server keeps every assignment (read back from the statuses), and still allocates around them.
  await s.restart();
  await s.client.create('Service', 'default', lbService('f'));
  await warningAbout(s, 'f', /no available IP/);
  for (const [name, ip] of [['b', '192.168.77.245'], ['c', '192.168.77.244'], ['dup', '192.168.77.240'], ['e', '192.168.77.241']] as const) {
    assert.equal(ingressOf(await s.client.get<Service>('Service', 'default', name)), [ip], `${name} keeps ${ip}`);
  }
}));

test('healthCheckNodePort for the Local policy (allocated, kept, freed), source ranges and health-check ports validated', bounded(60_000, async () => {
  const s = await startServer();
  const local = await s.client.create<Service>('Service', 'default', lbService('local', { spec: { externalTrafficPolicy: 'Local' } }));
  const hc = (local.spec as { healthCheckNodePort?: number }).healthCheckNodePort;
  assert.ok(hc !== undefined && hc >= 30000 && hc <= 32767, `allocated from the node-port range: ${String(hc)}`);
  assert.is.not(hc, local.spec.ports?.[0]?.nodePort);
  // An update that leaves it out keeps it; a type change to the Cluster policy frees it.
  const kept = await s.client.patch<Service>('Service', 'default', 'local', { metadata: { labels: { x: 'y' } } });
  assert.is((kept.spec as { healthCheckNodePort?: number }).healthCheckNodePort, hc);
  const cluster = await s.client.patch<Service>('Service', 'default', 'local', { spec: { externalTrafficPolicy: 'Cluster' } });
  assert.is((cluster.spec as { healthCheckNodePort?: number }).healthCheckNodePort, undefined);
  // The freed port can be asked for by another Service; asking for a taken one is refused.
  // (The allocator frees a dropped port once it sees the update stored: a moment later.)
  const again = await waitUntil('the freed health-check port can be requested', () => s.client.create<Service>('Service', 'default', lbService('again', { spec: { externalTrafficPolicy: 'Local', healthCheckNodePort: hc } })), 5_000, 100);
  assert.is((again.spec as { healthCheckNodePort?: number }).healthCheckNodePort, hc);
  const refusal = async (svc: Service): Promise<string> => s.client.create('Service', 'default', svc).then(() => 'created', (err: unknown) => String((err as Error).message));
  assert.match(await refusal(lbService('taken', { spec: { externalTrafficPolicy: 'Local', healthCheckNodePort: hc } })), /spec\.healthCheckNodePort: Invalid value: \d+: provided port is already allocated/);
  assert.match(await refusal({ ...lbService('cip', { spec: { type: 'ClusterIP', healthCheckNodePort: 31000 } }) }), /spec\.healthCheckNodePort: Invalid value: 31000: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'/);
  assert.match(await refusal(lbService('ranges', { spec: { loadBalancerSourceRanges: ['10.0.0.0/8', 'home'] } })), /spec\.loadBalancerSourceRanges\[1\]: Invalid value: "home": must be a list of IP ranges/);
  assert.match(await refusal(lbService('cip2', { spec: { type: 'ClusterIP', loadBalancerSourceRanges: ['10.0.0.0/8'] } })), /spec\.loadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'/);
  assert.match(await refusal(lbService('ann', { annotations: { 'service.beta.kubernetes.io/load-balancer-source-ranges': '10.0.0.0/8,10.1.2.3' } })),
    /metadata\.annotations\[service\.beta\.kubernetes\.io\/load-balancer-source-ranges\]: Invalid value: "10\.0\.0\.0\/8,10\.1\.2\.3": must be a list of IP ranges/);
  // kubectl shows the same refusal.
  const out = await kubectl(s, ['create', 'service', 'loadbalancer', 'bad', '--tcp=80:80', '--dry-run=client', '-o', 'json']);
  const bad = JSON.parse(out.stdout) as Service;
  (bad.spec as { loadBalancerSourceRanges?: string[] }).loadBalancerSourceRanges = ['300.1.1.1/8'];
  const applied = await kubectl(s, ['apply', '-f', '-'], { input: JSON.stringify(bad) });
  assert.is.not(applied.code, 0);
  assert.match(applied.stderr, /spec\.loadBalancerSourceRanges\[0\]: Invalid value: "300\.1\.1\.1\/8"/);
}));

test('a bad --lb-pool stops the server with the entry named', bounded(40_000, async () => {
  const r = await startServer(['--lb-pool', '192.168.77.240-192.168.77.230']).then(() => 'started', (err: unknown) => String(err));
  assert.match(r, /invalid --lb-pool entry "192\.168\.77\.240-192\.168\.77\.230": the range ends before it starts/);
}));

test.run();
