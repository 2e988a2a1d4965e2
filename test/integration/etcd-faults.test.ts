/**
 * A corral server on a three-member etcd (loopback) while members die: with one member killed (-9)
 * writes go on; with two killed the API answers a clear 5xx within seconds and acknowledges nothing it
 * could lose; when the members return, writes work again; and every write the API acknowledged at any
 * point is there at the end (the durability check of the SQLite kill -9 test, on etcd).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ServerProcess } from '../support/server-process.js';
import { EtcdCluster, etcdAvailable } from '../support/etcd-process.js';
import { waitUntil } from '../support/wait.js';
import type { ApiClient } from '../../api/client/client.js';

interface Ctx { etcd: EtcdCluster; server: ServerProcess }
const test = suite<Ctx>('corral server while etcd members die');
const acknowledged: string[] = [];
let seq = 0;

/** One ConfigMap create; its name is kept when the API acknowledged it. */
async function write(client: ApiClient): Promise<{ ok: true } | { ok: false; code: number | undefined; message: string; ms: number }> {
  const name = `w-${seq++}`;
  const started = Date.now();
  try {
    await client.create('ConfigMap', 'default', { metadata: { name }, data: { n: name } });
    acknowledged.push(name);
    return { ok: true };
  } catch (err) {
    return { ok: false, code: (err as { code?: number }).code, message: (err as Error).message, ms: Date.now() - started };
  }
}

if (etcdAvailable()) {
  test.before(async (ctx) => {
    ctx.etcd = await EtcdCluster.start(3);
    ctx.server = await ServerProcess.start({
      extraArgs: ['--disable-controllers', '--datastore-endpoint', ctx.etcd.endpoints.join(',')],
      env: { CORRAL_TOKEN: 'fault-test-cluster-secret-0001' },
    });
  });

  test.after(async (ctx) => {
    await ctx.server?.destroy();
    await ctx.etcd?.stop();
  });

  test('one member killed: writes go on', async (ctx) => {
    for (let i = 0; i < 5; i++) assert.ok((await write(ctx.server.client)).ok);
    await ctx.etcd.kill(0);
    let ok = 0;
    for (let i = 0; i < 20; i++) if ((await write(ctx.server.client)).ok) ok++;
    assert.ok(ok >= 18, `${ok} of 20 writes acknowledged with one member down`);
  });

  test('two members killed: a clear 5xx, quickly, and nothing acknowledged', async (ctx) => {
    await ctx.etcd.kill(1);
    const before = acknowledged.length;
    const r = await write(ctx.server.client);
    assert.not.ok(r.ok, 'no quorum: the write must not be acknowledged');
    if (!r.ok) {
      assert.ok(r.code !== undefined && r.code >= 500, `a 5xx, not ${r.code}: ${r.message}`);
      assert.match(r.message, /etcd|storage|unavailable|timed out/i, r.message);
      assert.ok(r.ms <= 15_000, `answered in ${r.ms} ms`);
    }
    assert.is(acknowledged.length, before);
    // Reads of what the server knows still fail cleanly too, and the server stays up.
    assert.ok(ctx.server.child?.exitCode === null, 'the server is still running');
  });

  test('the members return: writes work again and every acknowledged write is there', async (ctx) => {
    ctx.etcd.restart(0);
    ctx.etcd.restart(1);
    await ctx.etcd.waitHealthy(60_000);
    await waitUntil('writes work again', async () => (await write(ctx.server.client)).ok, 60_000, 500);
    for (let i = 0; i < 5; i++) assert.ok((await write(ctx.server.client)).ok);
    const list = await ctx.server.client.list('ConfigMap', 'default');
    const present = new Set(list.items.map((c) => c.metadata.name));
    const lost = acknowledged.filter((n) => !present.has(n));
    assert.equal(lost, [], `acknowledged writes lost: ${lost.join(', ')}`);
  });
}

test.run();
