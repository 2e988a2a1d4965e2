/**
 * Services inside a real `corral server`: ClusterIP and NodePort allocation (422 on duplicates, also
 * through kubectl; release on delete and type change; no double assignment after a restart; the
 * `kubernetes` service on 10.43.0.1) and the Endpoints controller (ready / not-ready addresses,
 * named target ports resolved per pod, subsets grouped by port set) with hollow nodes; Endpoints the
 * user manages (no Service, or a Service without a selector) are left alone.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Endpoints, Pod, Service } from '../../api/types.js';
import { StatusError } from '../../api/status.js';
import { HollowNode } from '../support/hollow-node.js';
import { kubectl, ServerProcess } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

const it = suite<{ server: ServerProcess; node: HollowNode }>('services');

const waitFor = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> => waitUntil(what, fn, timeoutMs);

async function expect422(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, StatusError);
    assert.is((err as StatusError).code, 422, (err as StatusError).message);
    return (err as StatusError).message;
  }
  throw new Error('expected 422, the write succeeded');
}

function service(name: string, spec: Partial<Service['spec']>): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { ports: [{ port: 80 }], ...spec } };
}

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start();
  ctx.node = await HollowNode.start(ctx.server.client, { name: 'svc-node' });
});

it.after(async (ctx) => {
  ctx.node?.stop();
  await ctx.server?.destroy();
});

it('the kubernetes service has the first address and points at the API server', async ({ server }) => {
  const svc = await server.client.get<Service>('Service', 'default', 'kubernetes');
  assert.is(svc.spec.clusterIP, '10.43.0.1');
  assert.equal(svc.spec.clusterIPs, ['10.43.0.1']);
  assert.is(svc.spec.ports?.[0]?.port, 443);
  const ep = await server.client.get<Endpoints>('Endpoints', 'default', 'kubernetes');
  assert.equal(ep.subsets, [{ addresses: [{ ip: '127.0.0.1' }], ports: [{ name: 'https', port: server.port, protocol: 'TCP' }] }]);
  // Nobody else can take it.
  const msg = await expect422(server.client.create('Service', 'default', service('steal', { clusterIP: '10.43.0.1' })));
  assert.match(msg, 'spec.clusterIPs: Invalid value: []string{"10.43.0.1"}: failed to allocate IP 10.43.0.1: provided IP is already allocated');
});

it('ClusterIPs: dynamic, explicit, duplicates refused, out of range refused, headless, released on delete', async ({ server }) => {
  const a = await server.client.create<Service>('Service', 'default', service('ip-a', {}));
  assert.match(a.spec.clusterIP!, /^10\.43\.\d+\.\d+$/);
  assert.is.not(a.spec.clusterIP, '10.43.0.1');
  assert.equal(a.spec.clusterIPs, [a.spec.clusterIP]);
  await expect422(server.client.create('Service', 'default', service('ip-b', { clusterIP: a.spec.clusterIP! })));
  const outside = await expect422(server.client.create('Service', 'default', service('ip-c', { clusterIP: '10.99.0.5' })));
  assert.match(outside, 'the provided IP (10.99.0.5) is not in the valid range. The range of valid IPs is 10.43.0.0/16');
  const explicit = await server.client.create<Service>('Service', 'default', service('ip-d', { clusterIP: '10.43.7.7' }));
  assert.is(explicit.spec.clusterIP, '10.43.7.7');
  const headless = await server.client.create<Service>('Service', 'default', service('ip-e', { clusterIP: 'None' }));
  assert.is(headless.spec.clusterIP, 'None');
  // An update that leaves clusterIP out keeps it.
  const kept = await server.client.update<Service>('Service', { ...explicit, spec: { ...explicit.spec, clusterIP: undefined, clusterIPs: undefined } } as unknown as Service);
  assert.is(kept.spec.clusterIP, '10.43.7.7');
  // Deleting frees the address for the next one who asks.
  await server.client.delete('Service', 'default', 'ip-d');
  const again = await server.client.create<Service>('Service', 'default', service('ip-f', { clusterIP: '10.43.7.7' }));
  assert.is(again.spec.clusterIP, '10.43.7.7');
});

it('NodePorts: allocated in range, duplicates refused with 422 (API and kubectl), released on delete and type change', async ({ server }) => {
  const a = await server.client.create<Service>('Service', 'default', service('np-a', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }));
  assert.is(a.spec.ports?.[0]?.nodePort, 30080);
  const dyn = await server.client.create<Service>('Service', 'default', service('np-b', { type: 'NodePort', ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] }));
  const ports = dyn.spec.ports!.map((p) => p.nodePort!);
  for (const p of ports) assert.ok(p >= 30000 && p <= 32767, `node port ${p} in range`);
  assert.is.not(ports[0], ports[1]);
  const lb = await server.client.create<Service>('Service', 'default', service('np-lb', { type: 'LoadBalancer' }));
  assert.ok(lb.spec.ports![0]!.nodePort! >= 30000, 'LoadBalancer services get node ports too');

  const msg = await expect422(server.client.create('Service', 'default', service('np-c', { type: 'NodePort', ports: [{ port: 81, nodePort: 30080 }] })));
  assert.match(msg, 'spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated');
  const yaml = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: np-kubectl\nspec:\n  type: NodePort\n  ports:\n  - port: 80\n    nodePort: 30080\n';
  const r = await kubectl(server, ['apply', '-f', '-'], { input: yaml });
  assert.is.not(r.code, 0);
  assert.match(r.stderr, 'spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated');
  assert.not.ok(await server.client.tryGet('Service', 'default', 'np-kubectl'), 'the refused write left nothing behind');
  const created = await kubectl(server, ['create', 'service', 'nodeport', 'np-kubectl2', '--tcp=80:80', '--node-port=30080']);
  assert.is.not(created.code, 0);
  assert.match(created.stderr, 'provided port is already allocated');

  // Type change to ClusterIP releases the port (once the write is confirmed).
  const cur = await server.client.get<Service>('Service', 'default', 'np-a');
  await server.client.update('Service', { ...cur, spec: { ...cur.spec, type: 'ClusterIP', ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }], externalTrafficPolicy: undefined } } as unknown as Service);
  const taken = await waitFor('30080 released after the type change', async () => {
    try {
      return await server.client.create<Service>('Service', 'default', service('np-d', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }));
    } catch {
      return undefined;
    }
  }, 5000);
  assert.is(taken.spec.ports?.[0]?.nodePort, 30080);
  // Delete releases too.
  await server.client.delete('Service', 'default', 'np-d');
  const back = await server.client.create<Service>('Service', 'default', service('np-e', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }));
  assert.is(back.spec.ports?.[0]?.nodePort, 30080);
});

it('concurrent creates asking for the same port: exactly one wins', async ({ server }) => {
  const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) =>
    server.client.create<Service>('Service', 'default', service(`race-${i}`, { type: 'NodePort', ports: [{ port: 80, nodePort: 31555 }] }))));
  assert.is(results.filter((r) => r.status === 'fulfilled').length, 1);
  for (const r of results) if (r.status === 'rejected') assert.is((r.reason as StatusError).code, 422);
  // And many dynamic ones in parallel never collide.
  const many = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    server.client.create<Service>('Service', 'default', service(`many-${i}`, { type: 'NodePort' }))));
  const ips = new Set(many.map((s) => s.spec.clusterIP));
  const nodePorts = new Set(many.map((s) => s.spec.ports![0]!.nodePort));
  assert.is(ips.size, 20);
  assert.is(nodePorts.size, 20);
});

it('no double assignment after a restart: the bitmaps are rebuilt from the store', async ({ server }) => {
  const before = (await server.client.list<Service>('Service', 'default')).items;
  const heldIPs = new Set(before.map((s) => s.spec.clusterIP).filter((ip) => ip && ip !== 'None'));
  const heldPorts = new Set(before.flatMap((s) => (s.spec.ports ?? []).map((p) => p.nodePort)).filter((p) => p));
  await server.restart();
  await expect422(server.client.create('Service', 'default', service('after-dup', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] })));
  await expect422(server.client.create('Service', 'default', service('after-dup-ip', { clusterIP: '10.43.7.7' })));
  const fresh = await Promise.all(Array.from({ length: 30 }, (_, i) =>
    server.client.create<Service>('Service', 'default', service(`after-${i}`, { type: 'NodePort' }))));
  for (const s of fresh) {
    assert.not.ok(heldIPs.has(s.spec.clusterIP), `${s.spec.clusterIP} handed out twice`);
    assert.not.ok(heldPorts.has(s.spec.ports![0]!.nodePort), `${s.spec.ports![0]!.nodePort} handed out twice`);
  }
  const kube = await server.client.get<Service>('Service', 'default', 'kubernetes');
  assert.is(kube.spec.clusterIP, '10.43.0.1');
});

function pod(name: string, labels: Record<string, string>, ports: { name: string; containerPort: number }[]): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, labels },
    spec: { nodeName: 'svc-node', containers: [{ name: 'c', image: 'busybox', ports }] },
  };
}

it('Endpoints: ready and not-ready addresses, named ports per pod, subsets by port set', async ({ server, node }) => {
  await server.client.create('Service', 'default', {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' },
    spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'metrics', port: 9100, targetPort: 9100 }] },
  });
  await server.client.create('Pod', 'default', pod('web-1', { app: 'web' }, [{ name: 'http', containerPort: 8080 }]));
  await server.client.create('Pod', 'default', pod('web-2', { app: 'web' }, [{ name: 'http', containerPort: 8080 }]));
  await server.client.create('Pod', 'default', pod('web-3', { app: 'web' }, [{ name: 'http', containerPort: 9090 }]));
  await server.client.create('Pod', 'default', pod('other', { app: 'other' }, [{ name: 'http', containerPort: 8080 }]));
  await waitFor('pods running', async () => node.pods().length === 4);
  const ep = await waitFor('endpoints with 3 ready addresses', async () => {
    const e = await server.client.tryGet<Endpoints>('Endpoints', 'default', 'web');
    const n = (e?.subsets ?? []).reduce((s, ss) => s + (ss.addresses?.length ?? 0), 0);
    return n === 3 && e;
  });
  assert.is(ep.subsets!.length, 2, 'two port sets: http→8080 and http→9090');
  const by8080 = ep.subsets!.find((s) => s.ports?.some((p) => p.name === 'http' && p.port === 8080))!;
  const by9090 = ep.subsets!.find((s) => s.ports?.some((p) => p.name === 'http' && p.port === 9090))!;
  assert.is(by8080.addresses!.length, 2);
  assert.is(by9090.addresses!.length, 1);
  assert.ok(by8080.ports!.some((p) => p.name === 'metrics' && p.port === 9100));
  const a = by9090.addresses![0]!;
  assert.is(a.targetRef?.name, 'web-3');
  assert.is(a.targetRef?.kind, 'Pod');
  assert.is(a.nodeName, 'svc-node');
  assert.is(a.ip, node.pod('default', 'web-3')!.ip);

  await node.setReady('default', 'web-1', false);
  const notReady = await waitFor('web-1 not ready', async () => {
    const e = await server.client.get<Endpoints>('Endpoints', 'default', 'web');
    const s = e.subsets!.find((x) => x.notReadyAddresses?.some((ad) => ad.targetRef?.name === 'web-1'));
    return s && e;
  });
  const s8080 = notReady.subsets!.find((s) => s.ports?.some((p) => p.port === 8080))!;
  assert.equal(s8080.addresses!.map((x) => x.targetRef?.name), ['web-2']);

  // A pod that stops matching leaves; deleting the service deletes its Endpoints.
  await server.client.patch('Pod', 'default', 'web-2', { metadata: { labels: { app: 'moved' } } });
  await waitFor('web-2 gone from endpoints', async () => {
    const e = await server.client.get<Endpoints>('Endpoints', 'default', 'web');
    return !JSON.stringify(e.subsets).includes('"web-2"');
  });
  const rv = (await server.client.get<Endpoints>('Endpoints', 'default', 'web')).metadata.resourceVersion;
  await new Promise((r) => setTimeout(r, 500));
  assert.is((await server.client.get<Endpoints>('Endpoints', 'default', 'web')).metadata.resourceVersion, rv, 'no writes when nothing changed');
  await server.client.delete('Service', 'default', 'web');
  await waitFor('endpoints deleted with the service', async () => !(await server.client.tryGet('Endpoints', 'default', 'web')));
});

const MANUAL_ENDPOINTS = (name: string, ip: string): string => `apiVersion: v1
kind: Endpoints
metadata:
  name: ${name}
  labels: {owner: user}
subsets:
- addresses: [{ip: ${ip}}]
  ports: [{name: http, port: 8080, protocol: TCP}]
`;

it('user-managed Endpoints (no Service, or a Service without a selector) survive and are not rewritten', async ({ server }) => {
  const r1 = await kubectl(server, ['apply', '-f', '-'], { input: MANUAL_ENDPOINTS('lonely', '192.0.2.10') });
  assert.is(r1.code, 0, r1.stderr);
  await server.client.create('Service', 'default', service('external-db', { ports: [{ name: 'http', port: 80, targetPort: 8080 }] }));
  const r2 = await kubectl(server, ['apply', '-f', '-'], { input: MANUAL_ENDPOINTS('external-db', '192.0.2.20') });
  assert.is(r2.code, 0, r2.stderr);
  // Edits by the user, as the upstream Endpoints lifecycle test does (patch, then update).
  await server.client.patch('Endpoints', 'default', 'lonely', { metadata: { labels: { patched: 'yes' } } });
  await server.client.patch('Endpoints', 'default', 'external-db', { subsets: [{ addresses: [{ ip: '192.0.2.21' }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] }] });
  await new Promise((r) => setTimeout(r, 1500));
  const lonely = await server.client.get<Endpoints>('Endpoints', 'default', 'lonely');
  assert.is(lonely.metadata.labels?.['patched'], 'yes');
  assert.is(lonely.subsets?.[0]?.addresses?.[0]?.ip, '192.0.2.10');
  const external = await server.client.get<Endpoints>('Endpoints', 'default', 'external-db');
  assert.is(external.subsets?.[0]?.addresses?.[0]?.ip, '192.0.2.21', 'the controller did not rewrite a selectorless Service\'s Endpoints');
  const list = await kubectl(server, ['get', 'endpoints', '-l', 'owner=user', '-o', 'name']);
  assert.equal(list.stdout.trim().split('\n').sort(), ['endpoints/external-db', 'endpoints/lonely']);
  // Deleting the Service takes its Endpoints along (upstream does the same); the lonely one stays.
  await server.client.delete('Service', 'default', 'external-db');
  await waitFor('Endpoints of the deleted Service gone', async () => !(await server.client.tryGet('Endpoints', 'default', 'external-db')));
  assert.ok(await server.client.tryGet('Endpoints', 'default', 'lonely'));
  await server.client.delete('Endpoints', 'default', 'lonely');
});

it.run();
