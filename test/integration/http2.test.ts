/**
 * The API listener over HTTP/2 (api-listener.ts), with real clients against a real `corral server`:
 * kubectl v1.32 negotiates h2 and get/apply/watch work over it; watches stream over h2 streams (JSON
 * and protobuf, bookmarks, a client's close ends them on the server); no HTTP/1.1 connection header
 * reaches an h2 response; the HTTP/1.1 hardening has its HTTP/2 counterpart (slow body → 408, body
 * and header limits, malformed :authority, idle sessions); large bodies do not crowd a session's
 * other streams out; clients that offer only HTTP/1.1, and upgrades, stay on HTTP/1.1.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { ServerProcess, kubectl, kubectlSpawn, KUBECTL } from '../support/server-process.js';
import { rawRequest } from '../support/fuzz.js';
import { CONNECTION_SPECIFIC_HEADERS, h2Connect, h2Request } from '../support/h2.js';
import { waitUntil } from '../support/wait.js';
import { sleep } from '../../api/async-util.js';

const it = suite<{ server: ServerProcess }>('http2');

/** Shortened for the test (default 60 s): how long a client may take to send its request. */
const BODY_TIMEOUT_MS = 2_000;

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start({
    extraArgs: ['--disable-controllers'],
    env: { CORRAL_LOG_LEVEL: 'info', CORRAL_REQUEST_BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS), CORRAL_WATCH_BOOKMARK_INTERVAL_MS: '300' },
  });
});

it.after(async (ctx) => {
  await ctx.server?.destroy();
});

async function metric(server: ServerProcess, name: string, labels = ''): Promise<number> {
  const r = await rawRequest({ port: server.port, method: 'GET', target: '/metrics', headers: { authorization: `Bearer ${server.token}` } });
  let sum = 0;
  for (const line of r.body.toString('utf8').split('\n')) {
    if (line.startsWith(`${name}{`) && line.includes(labels)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

const auth = (s: ServerProcess): Record<string, string> => ({ authorization: `Bearer ${s.token}` });

it('kubectl v1.32 negotiates HTTP/2; get, apply, watch and delete work over it', async ({ server }) => {
  const h2Before = await metric(server, 'corral_apiserver_connections_total', 'protocol="h2"');
  const applied = await kubectl(server, ['apply', '-f', '-'], { input: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: via-h2\n  namespace: default\ndata:\n  a: "1"\n' });
  assert.is(applied.code, 0, applied.stderr);
  assert.match(applied.stdout, 'configmap/via-h2 created');
  const got = await kubectl(server, ['get', 'configmap', 'via-h2', '-o', 'jsonpath={.data.a}']);
  assert.is(got.stdout, '1', got.stderr);
  assert.ok(await metric(server, 'corral_apiserver_connections_total', 'protocol="h2"') >= h2Before + 2, 'kubectl connected with h2');

  // Go's own account of the connection: its HTTP/2 transport carried the request.
  const debug = await new Promise<string>((resolve) => {
    const child = spawn(KUBECTL, ['--kubeconfig', server.kubeconfig, '--cache-dir', join(server.dataDir, 'kube-cache'), 'get', 'configmap', 'via-h2'], {
      env: { ...process.env, HOME: server.dataDir, GODEBUG: 'http2debug=1' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('close', () => resolve(err));
  });
  assert.match(debug, /http2: Transport creating client conn/);
  assert.match(debug, /http2: Transport received HEADERS/);

  // A watch over h2 sees a create made after it started, then ends cleanly when kubectl is stopped.
  const watch = kubectlSpawn(server, ['get', 'configmaps', '-w', '-o', 'name']);
  let out = '';
  watch.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  await waitUntil('the watch listing via-h2', async () => out.includes('configmap/via-h2') || undefined, 15_000);
  await server.client.create('ConfigMap', 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'seen-by-watch' } });
  await waitUntil('the watch event', async () => out.includes('configmap/seen-by-watch') || undefined, 10_000);
  watch.kill();
  const deleted = await kubectl(server, ['delete', 'configmap', 'via-h2', 'seen-by-watch']);
  assert.is(deleted.code, 0, deleted.stderr);
  await waitUntil('the watch to end on the server', async () => (await metric(server, 'apiserver_longrunning_requests', 'resource="configmaps"')) === 0 || undefined, 10_000);
});

it('watches over HTTP/2 streams: JSON and protobuf events, bookmarks, and the client closing them', async ({ server }) => {
  const session = await h2Connect(server.port, server.caPem);
  const json: string[] = [];
  const proto: Buffer[] = [];
  const open = (accept: string, sink: (c: Buffer) => void) => {
    const s = session.request({ ':path': '/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true', accept, ...auth(server) });
    s.on('data', sink);
    s.on('error', () => undefined);
    return s;
  };
  const a = open('application/json', (c) => json.push(c.toString('utf8')));
  const b = open('application/vnd.kubernetes.protobuf;stream=watch', (c) => proto.push(c));
  const headers = await new Promise<Record<string, unknown>>((resolve) => a.once('response', (h) => resolve(h)));
  assert.is(headers[':status'], 200);
  for (const h of CONNECTION_SPECIFIC_HEADERS) assert.is(headers[h], undefined, `${h} on an h2 watch`);
  await waitUntil('both watches open', async () => (await metric(server, 'apiserver_longrunning_requests', 'resource="configmaps"')) === 2 || undefined, 5_000);
  await server.client.create('ConfigMap', 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'h2-event' } });
  await waitUntil('the JSON event', async () => json.join('').includes('"name":"h2-event"') || undefined, 5_000);
  await waitUntil('the protobuf event', async () => Buffer.concat(proto).includes('h2-event') || undefined, 5_000);
  const events = json.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string });
  assert.ok(events.some((e) => e.type === 'ADDED'));
  await waitUntil('a bookmark', async () => json.join('').includes('"type":"BOOKMARK"') || undefined, 5_000);
  assert.ok(Buffer.concat(proto).includes('BOOKMARK'), 'protobuf bookmark');
  // Closing one stream ends that watch on the server while the other and the session go on.
  a.close();
  await waitUntil('one watch left', async () => (await metric(server, 'apiserver_longrunning_requests', 'resource="configmaps"')) === 1 || undefined, 5_000);
  session.destroy();
  await waitUntil('no watch left', async () => (await metric(server, 'apiserver_longrunning_requests', 'resource="configmaps"')) === 0 || undefined, 5_000);
  b.destroy();
});

it('no HTTP/1.1 connection header reaches an HTTP/2 response, whatever the answer', async ({ server }) => {
  const session = await h2Connect(server.port, server.caPem);
  const cases: Record<string, string>[] = [
    { ':path': '/api', ...auth(server) },
    { ':path': '/api/v1/namespaces/default/configmaps', ...auth(server) },
    { ':path': '/api/v1/namespaces/default/configmaps/missing', ...auth(server) },
    { ':path': '/api/v1/namespaces' },
    { ':path': '/api/v1/namespaces/default/pods/nope/log', ...auth(server) },
    { ':path': '/api/v1/namespaces/default/pods/nope/exec?command=sh', ...auth(server) },
    { ':path': '/readyz' },
    { ':path': '/metrics', ...auth(server) },
    { ':path': '/%ZZ', ...auth(server) },
    { ':path': '/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1', ...auth(server) },
  ];
  for (const h of cases) {
    const r = await h2Request(session, h);
    assert.is(r.error, undefined, `${h[':path']}: ${r.error}`);
    assert.ok(r.status >= 200, `${h[':path']}: no status`);
    for (const name of CONNECTION_SPECIFIC_HEADERS) assert.is(r.headers[name], undefined, `${name} on ${h[':path']} (${r.status})`);
  }
  // The node install script names the server as the client reached it (HTTP/2: :authority, no Host).
  const script = await h2Request(session, { ':path': '/install.sh', ':authority': `corral.example:${server.port}` });
  assert.is(script.status, 200);
  assert.match(script.body.toString('utf8'), `https://corral.example:${server.port}`);
  const created = await h2Request(session, { ':method': 'POST', ':path': '/api/v1/namespaces/default/configmaps', 'content-type': 'application/json', ...auth(server) },
    JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'h2-created' } }));
  assert.is(created.status, 201, created.body.toString('utf8'));
  session.close();
  assert.equal(server.logs.split('\n').filter((l) => l.includes('"level":"error"')), []);
});

it('HTTP/2 hardening: slow body 408, body and header limits, malformed :authority, idle sessions closed', async ({ server }) => {
  const session = await h2Connect(server.port, server.caPem);
  // A body trickled one byte at a time is answered 408 after the body timeout and the stream reset;
  // what had arrived (here a whole JSON object, its padding still coming) is not acted on.
  const started = Date.now();
  const json = JSON.stringify({ metadata: { name: 'slow-h2' } });
  const body = json.padEnd(400, ' ');
  const slow = session.request({ ':method': 'POST', ':path': '/api/v1/namespaces/default/configmaps', 'content-type': 'application/json', 'content-length': String(body.length), ...auth(server) });
  let slowStatus = 0;
  slow.on('response', (h) => { slowStatus = Number(h[':status']); });
  slow.on('data', () => undefined);
  slow.on('error', () => undefined);
  slow.write(json);
  let sent = json.length;
  const drip = setInterval(() => { if (!slow.destroyed && !slow.closed && sent < body.length) slow.write(body[sent++]!); }, 200);
  const closedAfter = await Promise.race([new Promise<number>((r) => slow.once('close', () => r(Date.now() - started))), sleep(BODY_TIMEOUT_MS * 5).then(() => -1)]);
  clearInterval(drip);
  assert.ok(closedAfter >= BODY_TIMEOUT_MS - 200, `closed after ${closedAfter} ms`);
  assert.is(slowStatus, 408);
  await sleep(500); // a create that went ahead anyway would be stored by now
  assert.is(await server.client.tryGet('ConfigMap', 'default', 'slow-h2'), undefined, 'nothing stored');

  // Over the 3 MiB limit: declared (413 before reading) and undeclared (413 while reading).
  const big = Buffer.alloc(4 * 1024 * 1024, 0x20);
  const declared = await h2Request(session, { ':method': 'POST', ':path': '/api/v1/namespaces/default/configmaps', 'content-type': 'application/json', 'content-length': String(big.length), ...auth(server) }, big);
  assert.ok(declared.status === 413 || declared.error !== undefined, `declared: ${declared.status}`);
  const s2 = await h2Connect(server.port, server.caPem);
  const undeclared = await h2Request(s2, { ':method': 'POST', ':path': '/api/v1/namespaces/default/configmaps', 'content-type': 'application/json', ...auth(server) }, big);
  assert.ok(undeclared.status === 413 || undeclared.error !== undefined, `undeclared: ${undeclared.status}`);
  // A body longer than its Content-Length never reaches a handler: nghttp2 resets the stream.
  const liar = await h2Request(s2, { ':method': 'POST', ':path': '/api/v1/namespaces/default/configmaps', 'content-type': 'application/json', 'content-length': '10', ...auth(server) }, JSON.stringify({ metadata: { name: 'liar' } }));
  assert.ok(liar.error !== undefined || liar.status >= 400, `liar: ${liar.status}`);
  s2.destroy();

  // Headers over the limit (node:http's 16 KiB) are refused; the session and server go on.
  const s3 = await h2Connect(server.port, server.caPem);
  const huge = await h2Request(s3, { ':path': '/api', ...auth(server), 'x-padding': 'a'.repeat(40 * 1024) });
  assert.is(huge.status, 431, `huge headers: ${huge.error}`);
  s3.destroy();

  // A malformed :authority is a 400 Status, as a malformed Host is on HTTP/1.1.
  const s4 = await h2Connect(server.port, server.caPem);
  const badAuthority = await h2Request(s4, { ':path': '/api/v1/namespaces', ':authority': 'a b', ...auth(server) });
  assert.ok(badAuthority.status === 400 || badAuthority.error !== undefined, `bad :authority: ${badAuthority.status}`);
  if (badAuthority.status === 400) assert.match(badAuthority.body.toString('utf8'), 'malformed Host header');
  s4.destroy();

  // A session that opens no stream is closed after the headers timeout (as an idle HTTP/1.1 connection is).
  const idle = await h2Connect(server.port, server.caPem);
  const idleStart = Date.now();
  const idleClosed = await Promise.race([new Promise<number>((r) => idle.once('close', () => r(Date.now() - idleStart))), sleep(BODY_TIMEOUT_MS * 5).then(() => -1)]);
  assert.ok(idleClosed > 0, 'an idle session was never closed');

  const after = await h2Connect(server.port, server.caPem);
  assert.is((await h2Request(after, { ':path': '/readyz' })).status, 200);
  after.destroy();
  session.destroy();
  assert.ok(server.child!.exitCode === null, 'server alive');
  assert.equal(server.logs.split('\n').filter((l) => l.includes('"level":"error"')), []);
});

it('large LISTs in parallel on one connection all complete (a big body does not crowd out the session)', async ({ server }) => {
  await server.client.create('Namespace', undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'big' } });
  const value = 'x'.repeat(950 * 1024);
  for (let i = 0; i < 14; i++) await server.client.create('ConfigMap', 'big', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `big-${i}` }, data: { v: value } });
  const session = await h2Connect(server.port, server.caPem);
  const lists = await Promise.all(Array.from({ length: 4 }, () => h2Request(session, { ':path': '/api/v1/namespaces/big/configmaps', ...auth(server) })));
  for (const r of lists) {
    assert.is(r.error, undefined);
    assert.is(r.status, 200);
    assert.is((JSON.parse(r.body.toString('utf8')) as { items: unknown[] }).items.length, 14);
  }
  session.destroy();
});

it('clients that offer only HTTP/1.1, and upgrades, stay on HTTP/1.1', async ({ server }) => {
  const alpn = await new Promise<string | false>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: server.port, ca: server.caPem, servername: 'localhost', ALPNProtocols: ['http/1.1'] }, () => { resolve(s.alpnProtocol ?? false); s.destroy(); });
    s.on('error', reject);
  });
  assert.is(alpn, 'http/1.1');
  // A WebSocket exec upgrade (client-go's dialer offers http/1.1 only) reaches the exec route: 404 for a missing pod, as a Status.
  const ws = await rawRequest({ port: server.port, method: 'GET', target: '/api/v1/namespaces/default/pods/missing/exec?command=sh', headers: {
    ...auth(server), connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-protocol': 'v5.channel.k8s.io',
  } });
  assert.is(ws.status, 404);
  assert.match(ws.body.toString('utf8'), '"kind":"Status"');
  // An HTTP/1.1 client without ALPN at all (Node's https, the agents) keeps working.
  assert.ok(Array.isArray((await server.client.listAll('Namespace')).items));
  assert.ok(await metric(server, 'corral_apiserver_connections_total', 'protocol="http/1.1"') >= 1);
});

it.run();
