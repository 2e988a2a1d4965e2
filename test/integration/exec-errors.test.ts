/**
 * `kubectl exec` that cannot run must fail promptly with the server's reason. kubectl tries a
 * WebSocket first and falls back to SPDY; the fallback used to hang forever.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ServerProcess, kubectl } from '../support/server-process.js';
import { HttpsTransport } from '../../api/client/transport.js';
import { WebSocket } from 'ws';

const it = suite<{ server: ServerProcess }>('exec errors');

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'] });
  await ctx.server.client.create('Pod', 'default', { metadata: { name: 'idle' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
  await ctx.server.client.create('Pod', 'default', { metadata: { name: 'bound' }, spec: { nodeName: 'ghost', containers: [{ name: 'c', image: 'busybox', stdin: true }] } });
});
it.after(async (ctx) => {
  await ctx.server?.destroy();
});

it('exec into an unscheduled pod fails fast with the reason', async ({ server }) => {
  const started = Date.now();
  const r = await kubectl(server, ['exec', 'idle', '--', 'echo', 'hi'], { timeoutMs: 30_000 });
  assert.is.not(r.code, 0);
  assert.ok(Date.now() - started < 25_000, 'kubectl did not hang');
  assert.match(r.stderr, 'does not have a host assigned');
});

it('exec naming a missing container fails fast with the reason', async ({ server }) => {
  const r = await kubectl(server, ['exec', 'idle', '-c', 'nope', '--', 'true'], { timeoutMs: 30_000 });
  assert.is.not(r.code, 0);
  assert.match(r.stderr, 'container nope is not valid for pod idle');
});

it('any other upgrade gets an HTTP answer instead of a hanging connection', async ({ server }) => {
  const t = new HttpsTransport({ server: server.url, caPem: server.caPem, token: server.token, timeoutMs: 10_000 });
  const res = await t.request({ method: 'GET', path: '/api/v1/namespaces/default/pods/idle', headers: { connection: 'Upgrade', upgrade: 'h2c' } }).catch((err: Error) => err);
  t.close();
  assert.ok(!(res instanceof Error), `request failed: ${String(res)}`);
  if (!(res instanceof Error)) assert.is(res.status, 400);
});

/** A v5.channel.k8s.io WebSocket to `path`: the refusal's HTTP status and Status body, or the frames of a session. */
function attachSocket(server: ServerProcess, path: string): Promise<{ status: number; body: string } | { frames: Buffer[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.url.replace('https:', 'wss:')}${path}`, ['v5.channel.k8s.io'], { headers: { authorization: `Bearer ${server.token}` }, ca: server.caPem });
    const frames: Buffer[] = [];
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString('utf8'); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('message', (d: Buffer) => frames.push(d));
    ws.on('close', () => resolve({ frames }));
    ws.on('error', reject);
  });
}

it('attach: upstream\'s 400s before the upgrade; an unreachable agent ends the session with a Status', async ({ server }) => {
  const none = await attachSocket(server, '/api/v1/namespaces/default/pods/bound/attach?stdin=false&stdout=false');
  assert.ok('status' in none, 'refused before the upgrade');
  if ('status' in none) {
    assert.is(none.status, 400);
    assert.match(JSON.parse(none.body).message, 'you must specify at least 1 of stdin, stdout, stderr');
  }
  const bad = await attachSocket(server, '/api/v1/namespaces/default/pods/bound/attach?stdin=maybe');
  assert.ok('status' in bad && bad.status === 400 && /invalid value for query parameter \\?"stdin\\?"/.test(bad.body), JSON.stringify(bad));
  const nope = await attachSocket(server, '/api/v1/namespaces/default/pods/bound/attach?stdout=true&container=nope');
  assert.ok('status' in nope && nope.status === 400 && nope.body.includes('container nope is not valid for pod bound'), JSON.stringify(nope));
  const unscheduled = await kubectl(server, ['attach', 'idle'], { timeoutMs: 30_000 });
  assert.is.not(unscheduled.code, 0);
  assert.match(unscheduled.stderr, 'does not have a host assigned');
  // Node "ghost" does not exist: refused before the upgrade (NotFound), nothing hangs.
  const ghost = await attachSocket(server, '/api/v1/namespaces/default/pods/bound/attach?stdout=true');
  assert.ok('status' in ghost, JSON.stringify(ghost));
  if ('status' in ghost) { assert.is(ghost.status, 404, ghost.body); assert.match(ghost.body, 'ghost'); }
  assert.is((await server.client.tryGet('Pod', 'default', 'bound'))?.metadata.name, 'bound', 'the server is still up');
});

it.run();
