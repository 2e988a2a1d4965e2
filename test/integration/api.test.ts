/**
 * API semantics at the HTTP level against a real `corral server` process: Status errors and codes,
 * no partial writes, resourceVersion/generation bookkeeping, finalizers, pagination, watch resume,
 * protobuf bodies, discovery and authentication.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServerProcess } from '../support/server-process.js';
import { HttpsTransport, type TransportResponse } from '../../api/client/transport.js';
import { StatusError } from '../../api/status.js';
import type { KubeObject, WatchEvent } from '../../api/meta.js';

const it = suite<{ server: ServerProcess; http: HttpsTransport }>('api');

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'] });
  ctx.http = new HttpsTransport({ server: ctx.server.url, caPem: ctx.server.caPem, token: ctx.server.token });
});

it.after(async (ctx) => {
  ctx.http?.close();
  await ctx.server?.destroy();
});

async function send(http: HttpsTransport, method: string, path: string, body?: string | Uint8Array, contentType?: string): Promise<{ res: TransportResponse; json: Record<string, unknown> }> {
  const res = await http.request({ method, path, ...(body !== undefined ? { body } : {}), headers: contentType ? { 'content-type': contentType } : {} });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try { json = JSON.parse(text) as Record<string, unknown>; } catch { json = { text }; }
  return { res, json };
}

async function expectStatus(p: Promise<unknown>, code: number, reason?: string): Promise<StatusError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, StatusError);
    const s = err as StatusError;
    assert.is(s.code, code, `${s.message}`);
    if (reason) assert.is(s.reason, reason);
    return s;
  }
  throw new Error(`expected HTTP ${code}, got success`);
}

it('health, version and discovery', async ({ server, http }) => {
  const version = await send(new HttpsTransport({ server: server.url, caPem: server.caPem }), 'GET', '/version');
  assert.is(version.json['major'], '1');
  assert.is(version.json['minor'], '32');
  const agg = await http.request({ method: 'GET', path: '/apis', headers: { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' } });
  assert.is(agg.headers['content-type'], 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
  const body = JSON.parse(await agg.text()) as { items: { metadata: { name: string } }[] };
  assert.ok(body.items.some((g) => g.metadata.name === 'apps'));
  const legacy = await send(http, 'GET', '/api/v1');
  const names = (legacy.json['resources'] as { name: string; group?: string; kind: string }[]);
  const eviction = names.find((r) => r.name === 'pods/eviction');
  assert.equal([eviction?.group, eviction?.kind], ['policy', 'Eviction']);
  const openapi = await send(http, 'GET', '/openapi/v3');
  assert.ok((openapi.json['paths'] as Record<string, unknown>)['apis/apps/v1']);
});

it('authentication: no token or a wrong one is 401 with a Status body', async ({ server }) => {
  const anon = await send(new HttpsTransport({ server: server.url, caPem: server.caPem }), 'GET', '/api/v1/pods');
  assert.is(anon.res.status, 401);
  assert.is(anon.json['kind'], 'Status');
  assert.is(anon.json['reason'], 'Unauthorized');
  const wrong = await send(new HttpsTransport({ server: server.url, caPem: server.caPem, token: 'abc.def' }), 'GET', '/api/v1/pods');
  assert.is(wrong.res.status, 401);
  const healthz = await send(new HttpsTransport({ server: server.url, caPem: server.caPem }), 'GET', '/healthz');
  assert.is(healthz.res.status, 200);
});

it('bad input: 400 malformed, 415, 413, 422 with causes, 404 namespace — and nothing stored', async ({ server, http }) => {
  const before = await server.client.list('ConfigMap', 'default');
  const malformed = await send(http, 'POST', '/api/v1/namespaces/default/configmaps', '{"metadata": {', 'application/json');
  assert.is(malformed.res.status, 400);
  assert.is(malformed.json['reason'], 'BadRequest');
  const yamlBad = await send(http, 'POST', '/api/v1/namespaces/default/configmaps', 'a: [b', 'application/yaml');
  assert.is(yamlBad.res.status, 400);
  const media = await send(http, 'POST', '/api/v1/namespaces/default/configmaps', '<xml/>', 'application/xml');
  assert.is(media.res.status, 415);
  const big = JSON.stringify({ metadata: { name: 'huge' }, data: { blob: 'x'.repeat(4 * 1024 * 1024) } });
  const tooLarge = await send(http, 'POST', '/api/v1/namespaces/default/configmaps', big, 'application/json');
  assert.is(tooLarge.res.status, 413);
  const invalid = await send(http, 'POST', '/apis/apps/v1/namespaces/default/deployments', JSON.stringify({
    metadata: { name: 'Bad' },
    spec: { replicas: -1, selector: { matchLabels: { app: 'x' } }, template: { metadata: { labels: { app: 'y' } }, spec: { containers: [{ name: 'c' }] } } },
  }), 'application/json');
  assert.is(invalid.res.status, 422);
  assert.is(invalid.json['reason'], 'Invalid');
  const causes = ((invalid.json['details'] as { causes: { field: string }[] }).causes).map((c) => c.field);
  assert.ok(causes.includes('metadata.name'), JSON.stringify(causes));
  assert.ok(causes.includes('spec.replicas'), JSON.stringify(causes));
  assert.ok(causes.includes('spec.template.spec.containers[0].image'), JSON.stringify(causes));
  const noNs = await send(http, 'POST', '/api/v1/namespaces/nowhere/configmaps', JSON.stringify({ metadata: { name: 'x' } }), 'application/json');
  assert.is(noNs.res.status, 404);
  assert.is(noNs.json['message'], 'namespaces "nowhere" not found');
  const mismatch = await send(http, 'POST', '/api/v1/namespaces/default/configmaps', JSON.stringify({ metadata: { name: 'x', namespace: 'kube-system' } }), 'application/json');
  assert.is(mismatch.res.status, 400);
  const wrongKind = await send(http, 'POST', '/api/v1/namespaces/default/configmaps', JSON.stringify({ kind: 'Secret', apiVersion: 'v1', metadata: { name: 'x' } }), 'application/json');
  assert.is(wrongKind.res.status, 400);
  const after = await server.client.list('ConfigMap', 'default');
  assert.is(after.items.length, before.items.length, 'no partial writes');
  const health = await send(http, 'GET', '/healthz');
  assert.is(health.res.status, 200, 'the server stays up');
});

it('create/update: uid, timestamps, generation only on spec changes, no-op updates write nothing, conflicts', async ({ server }) => {
  const c = server.client;
  const d = await c.create('Deployment', 'default', {
    metadata: { name: 'gen' },
    spec: { selector: { matchLabels: { app: 'gen' } }, template: { metadata: { labels: { app: 'gen' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
  });
  assert.match(d.metadata.uid ?? '', /^[0-9a-f-]{36}$/);
  assert.match(d.metadata.creationTimestamp ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.is(d.metadata.generation, 1);
  assert.is((d['spec'] as { replicas: number }).replicas, 1, 'defaults applied');
  const labelled = await c.patch('Deployment', 'default', 'gen', { metadata: { labels: { x: 'y' } } });
  assert.is(labelled.metadata.generation, 1, 'metadata changes do not bump generation');
  const scaled = await c.patch('Deployment', 'default', 'gen', { spec: { replicas: 3 } });
  assert.is(scaled.metadata.generation, 2);
  const same = await c.patch('Deployment', 'default', 'gen', { spec: { replicas: 3 } });
  assert.is(same.metadata.resourceVersion, scaled.metadata.resourceVersion, 'a no-op write does not create a revision');
  const status = await c.patchStatus('Deployment', 'default', 'gen', { status: { replicas: 3, observedGeneration: 2 } });
  assert.is(status.metadata.generation, 2, 'status writes do not bump generation');
  const mainWithStatus = await c.patch('Deployment', 'default', 'gen', { status: { replicas: 99 } });
  assert.is((mainWithStatus['status'] as { replicas: number }).replicas, 3, 'status is ignored on the main resource');
  const stale = { ...scaled, spec: { ...(scaled['spec'] as object), replicas: 4 } };
  await expectStatus(c.update('Deployment', stale as KubeObject), 409, 'Conflict');
  await expectStatus(c.create('Deployment', 'default', { ...d, metadata: { name: 'gen' } }), 409, 'AlreadyExists');
  const generated = await c.create('ConfigMap', 'default', { metadata: { generateName: 'gen-' } });
  assert.match(generated.metadata.name ?? '', /^gen-[a-z0-9]{5}$/);
});

it('finalizers hold a deleted object until the last one is removed', async ({ server }) => {
  const c = server.client;
  await c.create('ConfigMap', 'default', { metadata: { name: 'held', finalizers: ['example.com/hold'] } });
  await c.delete('ConfigMap', 'default', 'held');
  const terminating = await c.get('ConfigMap', 'default', 'held');
  assert.ok(terminating.metadata.deletionTimestamp, 'deletionTimestamp set');
  await c.patch('ConfigMap', 'default', 'held', { metadata: { finalizers: null } });
  await expectStatus(c.get('ConfigMap', 'default', 'held'), 404, 'NotFound');
});

it('list: limit/continue pages through a consistent snapshot; field selectors', async ({ server }) => {
  const c = server.client;
  await c.create('Namespace', undefined, { metadata: { name: 'paging' } });
  for (let i = 0; i < 7; i++) await c.create('ConfigMap', 'paging', { metadata: { name: `cm-${i}`, labels: { n: String(i % 2) } } });
  const page1 = await c.list('ConfigMap', 'paging', { limit: 3 });
  assert.is(page1.items.length, 3);
  assert.ok(page1.metadata.continue);
  assert.is(page1.metadata.remainingItemCount, 4);
  await c.create('ConfigMap', 'paging', { metadata: { name: 'cm-late' } });
  const page2 = await c.list('ConfigMap', 'paging', { limit: 3, continue: page1.metadata.continue! });
  const page3 = await c.list('ConfigMap', 'paging', { limit: 3, continue: page2.metadata.continue! });
  const names = [...page1.items, ...page2.items, ...page3.items].map((i) => i.metadata.name);
  assert.equal(names, ['cm-0', 'cm-1', 'cm-2', 'cm-3', 'cm-4', 'cm-5', 'cm-6'], 'the snapshot excludes the later write');
  assert.is(page3.metadata.continue, undefined);
  const odd = await c.list('ConfigMap', 'paging', { labelSelector: 'n=1' });
  assert.equal(odd.items.map((i) => i.metadata.name), ['cm-1', 'cm-3', 'cm-5']);
  const byName = await c.list('ConfigMap', 'paging', { fieldSelector: 'metadata.name=cm-4' });
  assert.equal(byName.items.map((i) => i.metadata.name), ['cm-4']);
  const notName = await c.list('ConfigMap', 'paging', { fieldSelector: 'metadata.name!=cm-4,metadata.namespace=paging' });
  assert.is(notName.items.length, 7);
});

it('watch: resume from a resourceVersion, selector transitions, bookmarks, timeoutSeconds', async ({ server }) => {
  const c = server.client;
  const start = await c.list('ConfigMap', 'default');
  const rv = start.metadata.resourceVersion!;
  await c.create('ConfigMap', 'default', { metadata: { name: 'w1', labels: { watch: 'yes' } } });
  await c.patch('ConfigMap', 'default', 'w1', { metadata: { labels: { watch: 'no' } } });
  await c.patch('ConfigMap', 'default', 'w1', { metadata: { labels: { watch: 'yes' } } });
  await c.delete('ConfigMap', 'default', 'w1');
  const events: WatchEvent[] = [];
  for await (const ev of c.watchOnce('ConfigMap', 'default', { resourceVersion: rv, labelSelector: 'watch=yes', timeoutSeconds: 1 })) {
    events.push(ev);
  }
  assert.equal(events.map((e) => e.type), ['ADDED', 'DELETED', 'ADDED', 'DELETED'], 'label changes in and out of the selector');
  const revisions = events.map((e) => Number(e.object.metadata.resourceVersion));
  assert.equal([...revisions].sort((a, b) => a - b), revisions, 'events in revision order');
  assert.ok(revisions[0]! > Number(rv));

  // From "0": the current state as ADDED first.
  const initial: string[] = [];
  for await (const ev of c.watchOnce('Namespace', undefined, { resourceVersion: '0', timeoutSeconds: 1 })) initial.push(`${ev.type}:${ev.object.metadata.name}`);
  assert.ok(initial.includes('ADDED:default'));
});

it('protobuf request bodies from kubectl fixtures are decoded', async ({ http, server }) => {
  const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'protobuf');
  const fixture = readdirSync(dir).find((f) => /configmap.*\.bin$/.test(f));
  assert.ok(fixture, 'a ConfigMap fixture exists');
  const body = readFileSync(join(dir, fixture!));
  const expected = JSON.parse(readFileSync(join(dir, fixture!.replace(/\.bin$/, '.json')), 'utf8')) as KubeObject;
  const ns = expected.metadata.namespace ?? 'default';
  await server.client.tryGet('Namespace', undefined, ns) ?? await server.client.create('Namespace', undefined, { metadata: { name: ns } });
  await server.client.deleteIfExists('ConfigMap', ns, expected.metadata.name!);
  const created = await send(http, 'POST', `/api/v1/namespaces/${ns}/configmaps`, body, 'application/vnd.kubernetes.protobuf');
  assert.is(created.res.status, 201, JSON.stringify(created.json));
  assert.equal(created.json['data'], expected['data']);
});

it('discovery answers /api/ and /apis/ like /api and /apis', async ({ http }) => {
  for (const path of ['/api', '/apis']) {
    for (const accept of ['application/json', 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json']) {
      const bare = await http.request({ method: 'GET', path, headers: { accept } });
      const slash = await http.request({ method: 'GET', path: `${path}/`, headers: { accept } });
      assert.is(slash.status, 200, `${path}/ with ${accept}`);
      assert.is(slash.headers['content-type'], bare.headers['content-type']);
      assert.equal(JSON.parse(await slash.text()), JSON.parse(await bare.text()));
    }
  }
});

it('a Table for something that cannot be printed is 406 NotAcceptable, as upstream', async ({ server, http }) => {
  const table = 'application/json;as=Table;v=v1;g=meta.k8s.io';
  await server.client.deleteIfExists('Pod', 'default', 'table-406');
  await server.client.create('Pod', 'default', { metadata: { name: 'table-406' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
  const eviction = JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'table-406', namespace: 'default' } });
  const res = await http.request({ method: 'POST', path: '/api/v1/namespaces/default/pods/table-406/eviction', body: eviction, headers: { 'content-type': 'application/json', accept: table } });
  assert.is(res.status, 406);
  const status = JSON.parse(await res.text()) as { reason: string; code: number };
  assert.equal([status.reason, status.code], ['NotAcceptable', 406]);
  assert.ok(await server.client.tryGet('Pod', 'default', 'table-406'), 'the refused eviction did nothing');
  // Upstream's conformance case: a SelfSubjectAccessReview (nothing stored, no printer) asked for as a Table.
  const review = JSON.stringify({ apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { nonResourceAttributes: { path: '/', verb: 'get' } } });
  const sar = await http.request({ method: 'POST', path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', body: review, headers: { 'content-type': 'application/json', accept: table } });
  assert.is(sar.status, 406);
  // The pod itself and its status print.
  for (const path of ['/api/v1/namespaces/default/pods/table-406', '/api/v1/namespaces/default/pods/table-406/status']) {
    const printed = await http.request({ method: 'GET', path, headers: { accept: table } });
    assert.is(printed.status, 200, path);
  }
});

it.run();
