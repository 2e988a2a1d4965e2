/**
 * EndpointSlices inside a real `corral server` with a hollow node: the controller writes
 * discovery.k8s.io/v1 slices for a selector Service (conditions follow readiness, a pod leaving
 * leaves the slice), mirrors hand-written Endpoints, has the API server's own `kubernetes` slice, removes slices with their Service,
 * and kubectl v1.32 lists them with upstream's columns.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { EndpointSlice, Pod } from '../../api/types.js';
import { HollowNode } from '../support/hollow-node.js';
import { kubectl, ServerProcess } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

const it = suite<{ server: ServerProcess; node: HollowNode }>('endpoint-slices');

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start();
  ctx.node = await HollowNode.start(ctx.server.client, { name: 'slice-node' });
});

it.after(async (ctx) => {
  ctx.node?.stop();
  await ctx.server?.destroy();
});

const slicesOf = async (server: ServerProcess, svc: string): Promise<EndpointSlice[]> =>
  (await server.client.list<EndpointSlice>('EndpointSlice', 'default', { labelSelector: `kubernetes.io/service-name=${svc}` })).items;

function pod(name: string): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { app: 'sliced' } },
    spec: { nodeName: 'slice-node', containers: [{ name: 'c', image: 'busybox', ports: [{ name: 'http', containerPort: 8080 }] }] },
  };
}

it('the kubernetes Service has the slice the API server writes (its Endpoints are not mirrored)', async ({ server }) => {
  const slices = await waitUntil('kubernetes slice', async () => {
    const s = await slicesOf(server, 'kubernetes');
    return s.length === 1 && s;
  }, 15_000);
  assert.is(slices[0]!.metadata.name, 'kubernetes');
  assert.equal(slices[0]!.endpoints.map((e) => e.addresses[0]), ['127.0.0.1']);
  assert.equal(slices[0]!.ports, [{ name: 'https', port: server.port, protocol: 'TCP' }]);
});

it('a selector-less Service gets its hand-written Endpoints mirrored', async ({ server }) => {
  await server.client.create('Service', 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'outside' }, spec: { ports: [{ name: 'pg', port: 5432 }] } });
  await server.client.create('Endpoints', 'default', {
    apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'outside' },
    subsets: [{ addresses: [{ ip: '192.168.77.40' }], ports: [{ name: 'pg', port: 5432 }] }],
  });
  const slices = await waitUntil('mirrored slice', async () => {
    const s = await slicesOf(server, 'outside');
    return s.length === 1 && s;
  }, 15_000);
  assert.is(slices[0]!.metadata.labels?.['endpointslice.kubernetes.io/managed-by'], 'endpointslicemirroring-controller.k8s.io');
  assert.equal(slices[0]!.endpoints.map((e) => [e.addresses[0], e.conditions?.ready]), [['192.168.77.40', true]]);
});

it('a selector Service: conditions follow readiness, kubectl columns, gone with the Service', async ({ server, node }) => {
  await server.client.create('Service', 'default', {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'sliced' },
    spec: { selector: { app: 'sliced' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
  });
  await server.client.create('Pod', 'default', pod('sliced-1'));
  await server.client.create('Pod', 'default', pod('sliced-2'));
  const ready = await waitUntil('two ready endpoints', async () => {
    const s = await slicesOf(server, 'sliced');
    return s.length === 1 && s[0]!.endpoints.filter((e) => e.conditions?.ready).length === 2 && s[0]!;
  }, 15_000);
  assert.equal(ready.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
  assert.ok(ready.endpoints.every((e) => e.nodeName === 'slice-node' && e.targetRef?.kind === 'Pod'));
  assert.is(ready.metadata.ownerReferences?.[0]?.kind, 'Service');

  const table = await kubectl(server, ['get', 'endpointslices', '-l', 'kubernetes.io/service-name=sliced']);
  assert.is(table.code, 0, table.stderr);
  assert.match(table.stdout, /^NAME\s+ADDRESSTYPE\s+PORTS\s+ENDPOINTS\s+AGE/);
  assert.match(table.stdout, /sliced-\w+\s+IPv4\s+8080\s+10\.42\.\d+\.\d+,10\.42\.\d+\.\d+\s+/);

  await node.setReady('default', 'sliced-1', false);
  await waitUntil('sliced-1 not ready, not serving', async () => {
    const e = (await slicesOf(server, 'sliced'))[0]?.endpoints.find((x) => x.targetRef?.name === 'sliced-1');
    return e?.conditions?.ready === false && e.conditions.serving === false;
  }, 15_000);
  await server.client.delete('Pod', 'default', 'sliced-2');
  await waitUntil('sliced-2 gone', async () => !JSON.stringify(await slicesOf(server, 'sliced')).includes('"sliced-2"'), 15_000);
  await server.client.delete('Service', 'default', 'sliced');
  await waitUntil('slices deleted with the service', async () => (await slicesOf(server, 'sliced')).length === 0, 15_000);
});

it.run();
