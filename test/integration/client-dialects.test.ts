/**
 * Small differences in how clients speak the API, against a real `corral server`: boolean query
 * parameters in every spelling Go's strconv.ParseBool takes (the Python client sends `watch=True`),
 * trailing-slash paths, `details` on every error Status that upstream gives one (kubectl debug
 * dereferences it), and a refused WebSocket upgrade that answers the real Status.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { ServerProcess, kubectl } from '../support/server-process.js';
import { HttpsTransport } from '../../api/client/transport.js';

const it = suite<{ server: ServerProcess; http: HttpsTransport }>('client dialects');

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'] });
  ctx.http = new HttpsTransport({ server: ctx.server.url, caPem: ctx.server.caPem, token: ctx.server.token, timeoutMs: 10_000 });
  await ctx.server.client.create('Pod', 'default', { metadata: { name: 'idle' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
  await ctx.server.client.create('ConfigMap', 'default', { metadata: { name: 'cm' }, data: { a: '1' } });
});

it.after(async (ctx) => {
  ctx.http?.close();
  await ctx.server?.destroy();
});

async function get(http: HttpsTransport, path: string, method = 'GET', body?: string, contentType?: string): Promise<{ status: number; text: string; json: Record<string, unknown> }> {
  const res = await http.request({ method, path, ...(body !== undefined ? { body } : {}), headers: contentType ? { 'content-type': contentType } : {} });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try { json = JSON.parse(text.split('\n')[0]!) as Record<string, unknown>; } catch { /* not JSON */ }
  return { status: res.status, text, json };
}

it('watch is true for 1 t T TRUE true True and false for 0 f F FALSE false False', async ({ http }) => {
  for (const spelling of ['1', 't', 'T', 'TRUE', 'true', 'True']) {
    const r = await get(http, `/api/v1/namespaces/default/configmaps?watch=${spelling}&timeoutSeconds=1`);
    assert.is(r.status, 200, spelling);
    assert.is(r.json['type'], 'ADDED', `watch=${spelling} streams events: ${r.text.slice(0, 80)}`);
    assert.is((r.json['object'] as { metadata: { name: string } }).metadata.name, 'cm');
  }
  for (const spelling of ['0', 'f', 'F', 'FALSE', 'false', 'False']) {
    const r = await get(http, `/api/v1/namespaces/default/configmaps?watch=${spelling}`);
    assert.is(r.status, 200, spelling);
    assert.is(r.json['kind'], 'ConfigMapList', `watch=${spelling} lists`);
  }
});

it('any other spelling of a boolean is a 400 naming the parameter, for every boolean parameter', async ({ http }) => {
  const cases = [
    '/api/v1/namespaces/default/configmaps?watch=yes',
    '/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=on',
    '/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=tRuE',
    '/api/v1/namespaces/default/pods/idle/log?follow=y',
    '/apis/events.k8s.io/v1/namespaces/default/events?watch=nope',
  ];
  for (const path of cases) {
    const r = await get(http, path);
    assert.is(r.status, 400, path);
    assert.is(r.json['reason'], 'BadRequest');
    assert.match(String(r.json['message']), /invalid value for query parameter "\w+": strconv\.ParseBool: parsing "\w+": invalid syntax/);
  }
  const patch = await get(http, '/api/v1/namespaces/default/configmaps/cm?fieldManager=me&force=sure', 'PATCH', '{"data":{"a":"2"}}', 'application/apply-patch+yaml');
  assert.is(patch.status, 400);
  assert.match(String(patch.json['message']), 'parsing "sure"');
  const cm = await get(http, '/api/v1/namespaces/default/configmaps/cm');
  assert.equal(cm.json['data'], { a: '1' }, 'nothing was written');
});

it('force=True takes over fields in a server-side apply conflict; force=False does not', async ({ http }) => {
  const apply = (manager: string, force: string, value: string) => get(http, `/api/v1/namespaces/default/configmaps/ssa?fieldManager=${manager}&force=${force}`, 'PATCH',
    JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ssa' }, data: { k: value } }), 'application/apply-patch+yaml');
  assert.is((await apply('first', 'False', 'a')).status, 201);
  const refused = await apply('second', 'False', 'b');
  assert.is(refused.status, 409);
  const forced = await apply('second', 'True', 'b');
  assert.is(forced.status, 200, forced.text);
  assert.equal(forced.json['data'], { k: 'b' });
});

it('trailing-slash forms upstream answers: /version/, /healthz/, /api/v1/, /apis/apps/, /apis/apps/v1/', async ({ server, http }) => {
  const anonymous = new HttpsTransport({ server: server.url, caPem: server.caPem });
  const version = await get(anonymous, '/version/');
  anonymous.close();
  assert.is(version.status, 200);
  assert.is(version.json['minor'], '32');
  assert.is((await get(http, '/healthz/')).text, 'ok');
  assert.is((await get(http, '/api/v1/')).json['kind'], 'APIResourceList');
  assert.is((await get(http, '/apis/apps/')).json['kind'], 'APIGroup');
  assert.is((await get(http, '/apis/apps/v1/')).json['groupVersion'], 'apps/v1');
  const viaKubectl = await kubectl(server, ['get', '--raw', '/version/']);
  assert.is(viaKubectl.code, 0, viaKubectl.stderr);
});

it('error Statuses carry details as upstream: {} on a bare 404, name and kind on NotFound, causes on 422', async ({ http }) => {
  const unknown = await get(http, '/api/v1/namespaces/default/pods/idle/ephemeralcontainers', 'PATCH', '{}', 'application/strategic-merge-patch+json');
  assert.is(unknown.status, 404);
  assert.equal(unknown.json['details'], {});
  const path = await get(http, '/apis/nothing.example/v1/widgets');
  assert.equal(path.json['details'], {});
  const missing = await get(http, '/api/v1/namespaces/default/pods/nothere');
  assert.equal(missing.json['details'], { name: 'nothere', group: '', kind: 'pods' });
  const invalid = await get(http, '/api/v1/namespaces/default/configmaps', 'POST', '{"metadata":{"name":"Not_Valid"}}', 'application/json');
  assert.is(invalid.status, 422);
  assert.ok(((invalid.json['details'] as { causes: unknown[] }).causes).length > 0);
});

it('kubectl debug on a server without ephemeral containers says so instead of crashing', async ({ server }) => {
  const r = await kubectl(server, ['debug', 'idle', '--image=busybox', '--profile=general'], { timeoutMs: 30_000 });
  assert.is(r.code, 1, r.stdout);
  assert.not.match(r.stderr, 'panic');
  assert.match(r.stderr, 'ephemeral containers are disabled for this cluster');
});

it('a WebSocket exec that cannot be served answers the real Status, code and message', async ({ server }) => {
  const url = `${server.url.replace('https', 'wss')}/api/v1/namespaces/default/pods/idle/exec?command=true&stdout=true`;
  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const ws = new WebSocket(url, ['v5.channel.k8s.io'], { headers: { authorization: `Bearer ${server.token}` }, ca: server.caPem });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => { body += chunk.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('open', () => reject(new Error('the upgrade was accepted')));
    ws.on('error', (err) => { if (!/Unexpected server response/.test(err.message)) reject(err); });
  });
  assert.is(answer.status, 400);
  const status = JSON.parse(answer.body) as { kind: string; code: number; reason: string; message: string };
  assert.equal([status.kind, status.code, status.reason], ['Status', 400, 'BadRequest']);
  assert.is(status.message, 'pod idle does not have a host assigned');
  const viaKubectl = await kubectl(server, ['exec', 'idle', '--', 'true'], { timeoutMs: 30_000 });
  assert.match(viaKubectl.stderr, 'Error from server (BadRequest): pod idle does not have a host assigned');
});

it.run();
