/** Service updates: type changes drop NodePort-only fields; a replace without clusterIP keeps it. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ServerProcess, kubectl } from '../support/server-process.js';
import type { Service } from '../../api/types.js';
import { waitUntil } from '../support/wait.js';

const it = suite<{ server: ServerProcess }>('service updates');

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'] });
});
it.after(async (ctx) => {
  await ctx.server?.destroy();
});

it('NodePort → ClusterIP drops the node port and frees it', async ({ server }) => {
  const c = server.client;
  await c.create('Service', 'default', { metadata: { name: 'np' }, spec: { type: 'NodePort', selector: { app: 'x' }, ports: [{ port: 80, nodePort: 30111 }] } });
  const changed = await c.patch<Service>('Service', 'default', 'np', { spec: { type: 'ClusterIP' } });
  assert.is(changed.spec.type, 'ClusterIP');
  assert.is(changed.spec.ports?.[0]?.nodePort, undefined);
  assert.is(changed.spec.externalTrafficPolicy, undefined);
  // The allocator frees a port an update dropped once the store confirms the update (within ~200 ms).
  const other = await waitUntil('the freed node port', () => c.create<Service>('Service', 'default', { metadata: { name: 'np2' }, spec: { type: 'NodePort', selector: { app: 'y' }, ports: [{ port: 80, nodePort: 30111 }] } }), 5_000);
  assert.is(other.spec.ports?.[0]?.nodePort, 30111, 'the freed port can be taken again');
});

it('kubectl replace of a Service without clusterIP keeps the allocated address', async ({ server }) => {
  const created = await server.client.create<Service>('Service', 'default', { metadata: { name: 'keep' }, spec: { selector: { app: 'k' }, ports: [{ port: 8080 }] } });
  const ip = created.spec.clusterIP;
  assert.match(ip ?? '', /^10\.43\./);
  const manifest = JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'keep', namespace: 'default' }, spec: { selector: { app: 'k2' }, ports: [{ port: 8080 }] } });
  const r = await kubectl(server, ['replace', '-f', '-'], { input: manifest });
  assert.is(r.code, 0, r.stderr);
  const after = await server.client.get<Service>('Service', 'default', 'keep');
  assert.is(after.spec.clusterIP, ip);
  assert.equal(after.spec.selector, { app: 'k2' });
});

it.run();
