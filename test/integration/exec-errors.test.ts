/**
 * `kubectl exec` that cannot run must fail promptly with the server's reason. kubectl tries a
 * WebSocket first and falls back to SPDY; the fallback used to hang forever.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ServerProcess, kubectl } from '../support/server-process.js';
import { HttpsTransport } from '../../api/client/transport.js';

const it = suite<{ server: ServerProcess }>('exec errors');

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'] });
  await ctx.server.client.create('Pod', 'default', { metadata: { name: 'idle' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
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

it.run();
