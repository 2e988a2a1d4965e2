/**
 * Service updates: type changes drop the fields the new type has no use for when the client sent the
 * old values back (NodePort-only fields; clusterIP(s), ipFamilies, ipFamilyPolicy for ExternalName,
 * as upstream's conformance tests change types) and release what they held; a replace without
 * clusterIP keeps it.
 */
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

async function expectFreed(server: ServerProcess, what: string, spec: Service['spec']): Promise<Service> {
  // The allocator frees what an update dropped once the store confirms the update (within ~200 ms).
  return waitUntil(what, () => server.client.create<Service>('Service', 'default', { metadata: { generateName: 'reuse-' }, spec }), 5_000);
}

it('ClusterIP → ExternalName with the old values sent back (a full update) drops them and frees the address', async ({ server }) => {
  const c = server.client;
  const created = await c.create<Service>('Service', 'default', { metadata: { name: 'to-ext' }, spec: { selector: { app: 'x' }, ports: [{ port: 80 }] } });
  const ip = created.spec.clusterIP!;
  assert.match(ip, /^10\.43\./);
  assert.equal(created.spec.ipFamilies, ['IPv4']);
  // What a client-go UpdateService does: the object as read, with the type and externalName changed.
  const next: Service = { ...created, spec: { ...created.spec, type: 'ExternalName', externalName: 'db.example.com' } };
  const changed = await c.update<Service>('Service', next);
  assert.is(changed.spec.type, 'ExternalName');
  assert.is(changed.spec.externalName, 'db.example.com');
  assert.is(changed.spec.clusterIP, undefined);
  assert.is(changed.spec.clusterIPs, undefined);
  assert.is(changed.spec.ipFamilies, undefined);
  assert.is(changed.spec.ipFamilyPolicy, undefined);
  const reused = await expectFreed(server, 'the freed cluster IP', { selector: { app: 'y' }, ports: [{ port: 80 }], clusterIP: ip });
  assert.is(reused.spec.clusterIP, ip, 'the address was released');
  // A client that asks for a cluster IP on an ExternalName Service is still refused.
  const r = await kubectl(server, ['patch', 'service', 'to-ext', '-p', '{"spec":{"clusterIP":"10.43.200.200"}}']);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'may not be set for ExternalName services');
});

it('NodePort → ExternalName through kubectl patch drops clusterIP, node ports and families and frees them', async ({ server }) => {
  const c = server.client;
  const created = await c.create<Service>('Service', 'default', { metadata: { name: 'np-to-ext' }, spec: { type: 'NodePort', selector: { app: 'x' }, ports: [{ port: 80, nodePort: 30222 }] } });
  const ip = created.spec.clusterIP!;
  const r = await kubectl(server, ['patch', 'service', 'np-to-ext', '-p', '{"spec":{"type":"ExternalName","externalName":"web.example.com"}}']);
  assert.is(r.code, 0, r.stderr);
  const changed = await c.get<Service>('Service', 'default', 'np-to-ext');
  assert.is(changed.spec.type, 'ExternalName');
  assert.is(changed.spec.clusterIP, undefined);
  assert.is(changed.spec.clusterIPs, undefined);
  assert.is(changed.spec.ipFamilies, undefined);
  assert.is(changed.spec.ipFamilyPolicy, undefined);
  assert.is(changed.spec.externalTrafficPolicy, undefined);
  assert.is(changed.spec.ports?.[0]?.nodePort, undefined);
  const reused = await expectFreed(server, 'the freed address and node port', { type: 'NodePort', selector: { app: 'y' }, ports: [{ port: 80, nodePort: 30222 }], clusterIP: ip });
  assert.is(reused.spec.clusterIP, ip);
  assert.is(reused.spec.ports?.[0]?.nodePort, 30222);
});

it.run();
