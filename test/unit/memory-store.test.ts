import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryStore } from '../../server/store/memory-store.js';
import { RoutingStore } from '../../server/store/routing-store.js';
import { StoreError, type StoreEvent } from '../../server/store/store.js';

async function expectCode(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    assert.instance(err, StoreError);
    assert.is((err as StoreError).code, code);
    return;
  }
  throw new Error(`expected ${code}`);
}

test('create, update with expected revision, delete; conflicts and missing keys', async () => {
  const s = new MemoryStore();
  const a = await s.create('/l/a', '1');
  await expectCode(s.create('/l/a', 'x'), 'KeyExists');
  const a2 = await s.update('/l/a', a.modRevision, '2');
  assert.ok(a2.modRevision > a.modRevision);
  assert.is(a2.createRevision, a.modRevision);
  await expectCode(s.update('/l/a', a.modRevision, '3'), 'Conflict');
  await expectCode(s.update('/l/missing', 1, '3'), 'KeyNotFound');
  const gone = await s.delete('/l/a', a2.modRevision);
  assert.is(gone.value, '2');
  assert.is(await s.get('/l/a'), undefined);
  await s.close();
});

test('revisions start from the clock so they grow across restarts', async () => {
  const first = new MemoryStore();
  const kv = await first.create('/l/a', '1');
  await first.close();
  await new Promise((r) => setTimeout(r, 2));
  const second = new MemoryStore();
  const kv2 = await second.create('/l/a', '1');
  assert.ok(kv2.modRevision > kv.modRevision);
  // A resourceVersion from before the restart cannot be resumed: the client must re-list.
  await expectCode(() => second.watch('/l/', { sinceRevision: kv.modRevision + 10_000_000 }), 'Compacted');
  await second.close();
});

test('list at an older revision undoes newer history; pagination', async () => {
  const s = new MemoryStore();
  const a = await s.create('/l/a', 'a1');
  await s.create('/l/b', 'b1');
  const at = s.currentRevision();
  await s.update('/l/a', a.modRevision, 'a2');
  await s.create('/l/c', 'c1');
  await s.create('/other/x', 'x');
  const old = await s.list('/l/', { revision: at });
  assert.equal(old.kvs.map((k) => `${k.key}=${k.value}`), ['/l/a=a1', '/l/b=b1']);
  const now = await s.list('/l/', { limit: 2 });
  assert.equal(now.kvs.map((k) => k.key), ['/l/a', '/l/b']);
  assert.ok(now.more);
  assert.is(now.remaining, 1);
  const rest = await s.list('/l/', { startAfter: '/l/b', revision: now.revision });
  assert.equal(rest.kvs.map((k) => k.key), ['/l/c']);
  assert.is(await s.count('/l/'), 3);
  await s.close();
});

test('watch replays history after a revision, then delivers live events in order', async () => {
  const s = new MemoryStore();
  const a = await s.create('/l/a', '1');
  await s.update('/l/a', a.modRevision, '2');
  const abort = new AbortController();
  const seen: StoreEvent[] = [];
  const done = (async () => {
    for await (const ev of s.watch('/l/', { sinceRevision: a.modRevision, signal: abort.signal })) {
      seen.push(ev);
      if (seen.length === 3) abort.abort();
    }
  })();
  await s.create('/other/z', 'ignored');
  await s.create('/l/b', 'x');
  const cur = (await s.get('/l/a'))!;
  await s.delete('/l/a', cur.modRevision);
  await done;
  assert.equal(seen.map((e) => `${e.type}:${e.kv.key}`), ['update:/l/a', 'create:/l/b', 'delete:/l/a']);
  assert.is(seen[2]!.prev?.value, '2');
  await s.close();
});

test('keys not written within the TTL are swept', async () => {
  const s = new MemoryStore({ ttlMs: 30 });
  await s.create('/e/old', '1');
  await new Promise((r) => setTimeout(r, 80));
  (s as unknown as { sweep(): void }).sweep();
  await new Promise((r) => setTimeout(r, 5));
  assert.is(await s.get('/e/old'), undefined);
  await s.close();
});

test('routing store sends each prefix to its backend', async () => {
  const mem = new MemoryStore();
  const other = new MemoryStore();
  const r = new RoutingStore([{ prefix: '/registry/coordination.k8s.io/leases/', store: mem }], other);
  await r.create('/registry/coordination.k8s.io/leases/kube-node-lease/n1', 'lease');
  await r.create('/registry/core/pods/default/p', 'pod');
  assert.is((await mem.list('/registry/')).kvs.length, 1);
  assert.is((await other.list('/registry/')).kvs.length, 1);
  assert.is(r.currentRevision('/registry/coordination.k8s.io/leases/'), mem.currentRevision());
  await r.close();
});

test.run();
