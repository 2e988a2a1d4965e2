/**
 * The request surface of issue 9, through the real listeners of a `corral server` and a `corral
 * agent`: what a hostile request line, number, Host header or client does (a 400 with upstream's
 * message, nothing logged above debug, the process alive) and that the kubelet endpoint checks its
 * token before it routes.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect } from 'node:tls';
import { ServerProcess } from '../support/server-process.js';
import { AgentProcess, createToken } from '../support/agent-process.js';
import { rawRequest, type RawReply } from '../support/fuzz.js';
import { sleep } from '../../api/async-util.js';

const it = suite<{ server: ServerProcess; agent: AgentProcess; viewer: string }>('request-surface');

/** Shortened for the test (default 60 s): how long a client may take to send its request. */
const BODY_TIMEOUT_MS = 2_000;

const WS_HEADERS = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };

it.before(async (ctx) => {
  // info level: whatever a client provokes must stay below it.
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'], env: { CORRAL_LOG_LEVEL: 'info', CORRAL_REQUEST_BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS) } });
  ctx.agent = await AgentProcess.start(ctx.server, { nodeName: 'surface', env: { CORRAL_LOG_LEVEL: 'info' } });
  ctx.viewer = createToken(ctx.server, 'viewer');
});

it.after(async (ctx) => {
  await ctx.agent?.destroy();
  await ctx.server?.destroy();
});

function statusOf(reply: RawReply): { code?: number; reason?: string; message?: string } {
  return JSON.parse(reply.body.toString('utf8')) as { code?: number; reason?: string; message?: string };
}

/** Log lines at info or above that mention `text`. */
function loggedAboveDebug(logs: string, text: string): string[] {
  return logs.split('\n').filter((l) => l.includes(text) && !l.includes('"level":"debug"'));
}

it('kubelet endpoint: the issue\'s bad-escape upgrade is refused and the agent (and the server) stay up', async ({ server, agent }) => {
  // The exact repro of the issue: unauthenticated, `%ZZ` in the path, a WebSocket upgrade.
  const repro = await rawRequest({ port: agent.kubeletPort, method: 'GET', target: '/exec/%ZZ/b/c', headers: WS_HEADERS });
  assert.is(repro.status, 400, repro.head);
  assert.match(repro.body.toString('utf8'), 'invalid URL escape "%ZZ"');
  // With the token too, and as a plain request.
  const authed = await rawRequest({ port: agent.kubeletPort, method: 'GET', target: '/exec/%ZZ/b/c', headers: { ...WS_HEADERS, authorization: `Bearer ${agent.kubeletToken}` } });
  assert.is(authed.status, 400, authed.head);
  const plain = await rawRequest({ port: agent.kubeletPort, method: 'GET', target: '/containerLogs/%E0%A4%A/b/c', headers: { authorization: `Bearer ${agent.kubeletToken}` } });
  assert.is(plain.status, 400, plain.head);
  // Well-formed escapes that are not UTF-8 decode without throwing: an unknown pod, not a crash.
  const notUtf8 = await rawRequest({ port: agent.kubeletPort, method: 'GET', target: '/exec/%C0%AF/b/c?command=sh', headers: { ...WS_HEADERS, authorization: `Bearer ${agent.kubeletToken}` } });
  assert.is(notUtf8.status, 404, notUtf8.head);
  // A malformed Host is refused before anything is built from it.
  const badHost = await rawRequest({ port: agent.kubeletPort, method: 'GET', target: '/exec/a/b/c', headers: { ...WS_HEADERS, host: '[::1' } });
  assert.is(badHost.status, 400, badHost.head);
  assert.match(badHost.body.toString('utf8'), 'malformed Host header');
  await sleep(300);
  assert.ok(agent.alive, `the agent died:\n${agent.logs.slice(-2000)}`);
  assert.ok(server.child!.exitCode === null, 'the server died');
  assert.equal(loggedAboveDebug(agent.logs, 'URI malformed'), []);
  assert.equal(loggedAboveDebug(agent.logs, 'invalid URL escape'), []);
});

it('kubelet endpoint: the token is checked before routing (401 for any path without it)', async ({ agent }) => {
  for (const target of ['/exec/default/web/c?command=sh', '/exec/a/b', '/nonsense', '/exec/%C0%AF/b/c']) {
    const upgrade = await rawRequest({ port: agent.kubeletPort, method: 'GET', target, headers: WS_HEADERS });
    assert.is(upgrade.status, 401, `${target}: ${upgrade.head}`);
    const wrong = await rawRequest({ port: agent.kubeletPort, method: 'GET', target, headers: { ...WS_HEADERS, authorization: 'Bearer nope' } });
    assert.is(wrong.status, 401, `${target}: ${wrong.head}`);
  }
  const authorizedUnknown = await rawRequest({ port: agent.kubeletPort, method: 'GET', target: '/exec/a/b', headers: { ...WS_HEADERS, authorization: `Bearer ${agent.kubeletToken}` } });
  assert.is(authorizedUnknown.status, 404);
});

it('API: a malformed % escape is a 400 Status with Go\'s message, for every caller, and is not logged above debug', async ({ server, viewer }) => {
  for (const headers of [{}, { authorization: `Bearer ${viewer}` }, { authorization: `Bearer ${server.token}` }]) {
    for (const target of ['/api/v1/namespaces/%ZZ/pods', '/api/v1/namespaces/default/configmaps/a%', '/%zz', '/apis/apps/v1/namespaces/default/deployments/x%2']) {
      const r = await rawRequest({ port: server.port, method: 'GET', target, headers });
      assert.is(r.status, 400, `${target}: ${r.head}`);
      const s = statusOf(r);
      assert.is(s.reason, 'BadRequest');
      assert.match(String(s.message), /^invalid URL escape "%/);
    }
  }
  // The same on an upgrade (exec), before auth.
  const up = await rawRequest({ port: server.port, method: 'GET', target: '/api/v1/namespaces/default/pods/%ZZ/exec?command=sh', headers: WS_HEADERS });
  assert.is(up.status, 400, up.head);
  assert.is(statusOf(up).message, 'invalid URL escape "%ZZ"');
  // Escapes that are well formed but not UTF-8 are just names that do not exist.
  const notUtf8 = await rawRequest({ port: server.port, method: 'GET', target: '/api/v1/namespaces/default/configmaps/%C0%AF', headers: { authorization: `Bearer ${server.token}` } });
  assert.is(notUtf8.status, 404, notUtf8.head);
  assert.equal(loggedAboveDebug(server.logs, 'URI malformed'), []);
  assert.equal(loggedAboveDebug(server.logs, 'invalid URL escape'), []);
  assert.equal(server.logs.split('\n').filter((l) => l.includes('"level":"error"')), []);
});

it('API: out-of-range and malformed integers are 400 with strconv\'s message, never a store error', async ({ server }) => {
  const auth = { authorization: `Bearer ${server.token}` };
  const cases: [string, string][] = [
    ['/api/v1/namespaces/default/pods?limit=99999999999999999999', 'strconv.ParseInt: parsing "99999999999999999999": value out of range'],
    ['/api/v1/pods?limit=1e3', 'strconv.ParseInt: parsing "1e3": invalid syntax'],
    ['/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=99999999999999999999', 'strconv.ParseInt: parsing "99999999999999999999": value out of range'],
  ];
  for (const [target, message] of cases) {
    const r = await rawRequest({ port: server.port, method: 'GET', target, headers: auth });
    assert.is(r.status, 400, `${target}: ${r.head}`);
    assert.is(statusOf(r).message, message);
  }
  const del = await rawRequest({ port: server.port, method: 'DELETE', target: '/api/v1/namespaces/default/configmaps/x?gracePeriodSeconds=99999999999999999999', headers: auth });
  assert.is(del.status, 400, del.head);
  // In range but past what a timer holds: the watch still starts (and is capped), not a 500.
  const longWatch = await rawRequest({ port: server.port, method: 'GET', target: '/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=9223372036854775807', headers: auth, readMs: 500 });
  assert.is(longWatch.status, 200, longWatch.head);
  // A negative limit means no limit, as upstream.
  const negative = await rawRequest({ port: server.port, method: 'GET', target: '/api/v1/namespaces/default/configmaps?limit=-1', headers: auth });
  assert.is(negative.status, 200, negative.head);
});

it('API: an unparsable Host header is a 400 before anything else, on upgrades and on plain requests', async ({ server }) => {
  for (const host of ['[::1', 'a b', '%zz', 'exa mple']) {
    const upgrade = await rawRequest({ port: server.port, method: 'GET', target: '/api/v1/namespaces/default/pods/web/exec?command=sh', headers: { ...WS_HEADERS, host } });
    assert.is(upgrade.status, 400, `${host}: ${upgrade.head}`);
    assert.is(statusOf(upgrade).message, 'malformed Host header');
    const spdy = await rawRequest({ port: server.port, method: 'POST', target: '/api/v1/namespaces/default/pods/web/exec?command=sh', headers: { connection: 'Upgrade', upgrade: 'SPDY/3.1', host } });
    assert.is(spdy.status, 400, `${host}: ${spdy.head}`);
    const plain = await rawRequest({ port: server.port, method: 'GET', target: '/api/v1/namespaces', headers: { host, authorization: `Bearer ${server.token}` } });
    assert.is(plain.status, 400, `${host}: ${plain.head}`);
    assert.is(statusOf(plain).message, 'malformed Host header');
  }
  assert.equal(server.logs.split('\n').filter((l) => l.includes('"level":"error"')), []);
});

it('API: YAML warnings from a client body are not printed, and a client that hangs up is not logged above debug', async ({ server }) => {
  const auth = { authorization: `Bearer ${server.token}` };
  const yaml = Buffer.from('%YAML 1.3\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yaml-warning\ndata:\n  a: !unknown-tag b\n');
  const r = await rawRequest({ port: server.port, method: 'POST', target: '/api/v1/namespaces/default/configmaps', headers: { ...auth, 'content-type': 'application/yaml' }, body: yaml });
  assert.ok(r.status === 201 || r.status === 400, r.head);
  // A client that sends half a body and goes away.
  await new Promise<void>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false }, () => {
      socket.write(`POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${server.token}\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n{"metadata":`);
      setTimeout(() => { socket.destroy(); resolve(); }, 200);
    });
    socket.on('error', () => resolve());
  });
  await sleep(500);
  assert.equal(server.logs.split('\n').filter((l) => /YAMLWarning|Unresolved tag|Unsupported YAML/.test(l)), [], server.logs.slice(-2000));
  const noisy = server.logs.split('\n').filter((l) => /\baborted\b|ECONNRESET|premature|client closed/i.test(l) && !l.includes('"level":"debug"'));
  assert.equal(noisy, [], 'a client hanging up must be logged at debug at most');
  assert.not.match(server.logs, /\n\s+at /, 'no stack traces');
});

it('API: an authenticated slow body is cut with a 408 after the body timeout, while a watch outlives it many times', async ({ server }) => {
  // A watch with no timeoutSeconds, opened first: it must still deliver events long after the body timeout.
  const events: string[] = [];
  const watch = connect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false });
  watch.on('data', (d: Buffer) => events.push(d.toString('utf8')));
  watch.on('error', () => undefined);
  await new Promise<void>((resolve) => watch.once('secureConnect', () => resolve()));
  watch.write(`GET /api/v1/namespaces/default/configmaps?watch=true HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${server.token}\r\n\r\n`);

  // A client with a valid token that sends its body one byte at a time, forever.
  const started = Date.now();
  const slow = connect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false });
  let answer = '';
  slow.on('data', (d: Buffer) => { answer += d.toString('latin1'); });
  slow.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => slow.once('close', () => resolve(Date.now() - started)));
  await new Promise<void>((resolve) => slow.once('secureConnect', () => resolve()));
  const body = JSON.stringify({ metadata: { name: 'slow-body' } }).padEnd(400, ' ');
  slow.write(`POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${server.token}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`);
  let sent = 0;
  const drip = setInterval(() => { if (!slow.destroyed && sent < body.length) slow.write(body[sent++]!); }, 200);
  const after = await Promise.race([closed, sleep(BODY_TIMEOUT_MS * 5).then(() => -1)]);
  clearInterval(drip);
  slow.destroy();
  assert.ok(after > 0, 'the slow body was never timed out');
  assert.ok(after >= BODY_TIMEOUT_MS - 200, `cut after ${after} ms, before the timeout`);
  assert.match(answer, /^HTTP\/1\.1 408/, answer);
  assert.is(await server.client.tryGet('ConfigMap', 'default', 'slow-body'), undefined, 'nothing stored');

  // The watch, open for well over twice the body timeout by now, still delivers.
  await sleep(Math.max(0, BODY_TIMEOUT_MS * 2 - (Date.now() - started)));
  await server.client.create('ConfigMap', 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'after-the-timeout' } });
  const deadline = Date.now() + 5_000;
  while (!events.join('').includes('after-the-timeout') && Date.now() < deadline) await sleep(50);
  watch.destroy();
  assert.match(events.join(''), /^HTTP\/1\.1 200/);
  assert.match(events.join(''), '"type":"ADDED"');
  assert.match(events.join(''), 'after-the-timeout');
});

it.run();
