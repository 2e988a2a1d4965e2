/**
 * The Store contract, one suite run against both backends: SQLite (a temporary database file) and
 * etcd (a real single-member etcd on loopback, emptied before each test). Revisions are checked
 * relative to the store's revision when a test starts, because etcd's revisions do not start at 0
 * and keep counting across tests. What only SQLite has (batching, its log table, the watch cache)
 * is tested in store.test.ts.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { openSqliteStore } from '../../server/store/sqlite-store.js';
import { openEtcdStore } from '../../server/store/etcd-store.js';
import { StoreError, type Store, type StoreErrorCode, type StoreEvent } from '../../server/store/store.js';
import { EtcdCluster, etcdAvailable } from '../support/etcd-process.js';

interface Backend {
  name: string;
  open(): Promise<Store>;
  after(): Promise<void>;
}

function sqliteBackend(): Backend {
  const dirs: string[] = [];
  return {
    name: 'sqlite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'corral-conf-'));
      dirs.push(dir);
      return openSqliteStore({ path: join(dir, 'state.db') });
    },
    async after() {
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  };
}

function etcdBackend(): Backend {
  let cluster: EtcdCluster | undefined;
  return {
    name: 'etcd',
    async open() {
      cluster ??= await EtcdCluster.start(1);
      // Every test starts from an empty keyspace (etcd's revision keeps counting).
      const raw = new Etcd3({ hosts: cluster.endpoints });
      await raw.delete().all();
      raw.close();
      return openEtcdStore({ endpoints: cluster.endpoints });
    },
    async after() {
      await cluster?.stop();
      cluster = undefined;
    },
  };
}

async function expectStoreError(promise: Promise<unknown>, code: StoreErrorCode): Promise<StoreError> {
  try {
    await promise;
  } catch (err) {
    assert.instance(err, StoreError);
    assert.is((err as StoreError).code, code, (err as Error).message);
    return err as StoreError;
  }
  assert.unreachable(`expected StoreError ${code}`);
  throw new Error('unreachable');
}

/** A watch that must fail with Compacted, whether the backend refuses at the call or at the first read. */
async function expectWatchCompacted(open: () => AsyncIterable<StoreEvent>): Promise<void> {
  await expectStoreError((async () => {
    const it = open()[Symbol.asyncIterator]();
    await it.next();
  })(), 'Compacted');
}

async function collect(iterable: AsyncIterable<StoreEvent>, until: (events: StoreEvent[]) => boolean): Promise<StoreEvent[]> {
  const events: StoreEvent[] = [];
  for await (const event of iterable) {
    events.push(event);
    if (until(events)) break;
  }
  return events;
}

function guard(controller: AbortController, ms = 15_000): AbortSignal {
  return AbortSignal.any([controller.signal, AbortSignal.timeout(ms)]);
}

function conformance(backend: Backend): void {
  const test = suite(`store contract (${backend.name})`);
  const withStore = (name: string, body: (store: Store, base: number) => Promise<void>): void => {
    test(name, async () => {
      const store = await backend.open();
      try {
        await body(store, store.currentRevision());
      } finally {
        await store.close();
      }
    });
  };
  test.after(() => backend.after());

  withStore('create, get, update, delete and re-create a key', async (store, base) => {
    const created = await store.create('/registry/pods/default/a', 'v1');
    assert.is(created.modRevision, base + 1);
    assert.is(created.createRevision, base + 1);
    assert.equal(await store.get('/registry/pods/default/a'), created);
    const updated = await store.update('/registry/pods/default/a', created.modRevision, 'v2');
    assert.is(updated.modRevision, base + 2);
    assert.is(updated.createRevision, base + 1, 'update keeps the create revision');
    assert.is((await store.get('/registry/pods/default/a'))?.value, 'v2');
    const deleted = await store.delete('/registry/pods/default/a', updated.modRevision);
    assert.is(deleted.value, 'v2', 'delete returns the last value');
    assert.is(deleted.modRevision, base + 3);
    assert.is(await store.get('/registry/pods/default/a'), undefined);
    assert.is(await store.count('/registry/pods/'), 0);
    const recreated = await store.create('/registry/pods/default/a', 'v3');
    assert.is(recreated.modRevision, base + 4);
    assert.is(recreated.createRevision, base + 4, 're-create starts a new life');
    assert.is(store.currentRevision(), base + 4);
    assert.is(await store.count('/registry/pods/'), 1);
  });

  withStore('KeyExists, KeyNotFound and Conflict (with the current revision)', async (store) => {
    const a = await store.create('/k/a', '1');
    await expectStoreError(store.create('/k/a', 'again'), 'KeyExists');
    await expectStoreError(store.update('/k/missing', 1, 'x'), 'KeyNotFound');
    await expectStoreError(store.delete('/k/missing', 0), 'KeyNotFound');
    const a2 = await store.update('/k/a', a.modRevision, '2');
    const stale = await expectStoreError(store.update('/k/a', a.modRevision, 'stale'), 'Conflict');
    assert.is(stale.currentRevision, a2.modRevision);
    await expectStoreError(store.delete('/k/a', a.modRevision), 'Conflict');
    await expectStoreError(store.update('/k/a', a2.modRevision + 999, 'future'), 'Conflict');
    await store.delete('/k/a', 0);
    await expectStoreError(store.update('/k/a', a2.modRevision, 'after delete'), 'KeyNotFound');
    await expectStoreError(store.delete('/k/a', 0), 'KeyNotFound');
    assert.is((await store.get('/k/a')), undefined);
  });

  withStore('concurrent writes expecting the same revision: exactly one wins', async (store) => {
    for (let round = 0; round < 10; round++) {
      const key = `/registry/configmaps/default/c${round}`;
      const base = await store.create(key, 'base');
      const results = await Promise.allSettled([
        store.update(key, base.modRevision, 'left'),
        store.update(key, base.modRevision, 'right'),
        store.delete(key, base.modRevision),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.is(won.length, 1, `round ${round}: one winner`);
      const winner = (won[0] as PromiseFulfilledResult<{ modRevision: number }>).value;
      const deleteWon = results[2]!.status === 'fulfilled';
      for (const l of lost) {
        // After a winning delete the key is gone (KeyNotFound); after a winning update it moved on (Conflict at its revision).
        assert.is((l.reason as StoreError).code, deleteWon ? 'KeyNotFound' : 'Conflict');
        if (!deleteWon) assert.is((l.reason as StoreError).currentRevision, winner.modRevision);
      }
    }
  });

  withStore('a list at an old revision returns the old state; a future one is served as current', async (store) => {
    const a = await store.create('/p/a', 'a1');
    const b = await store.create('/p/b', 'b1');
    const atTwo = store.currentRevision();
    await store.update('/p/a', a.modRevision, 'a2');
    await store.delete('/p/b', b.modRevision);
    await store.create('/p/c', 'c1');
    const now = await store.list('/p/');
    assert.equal(now.kvs.map((kv) => [kv.key, kv.value]), [['/p/a', 'a2'], ['/p/c', 'c1']]);
    assert.is(now.revision, store.currentRevision());
    const old = await store.list('/p/', { revision: atTwo });
    assert.is(old.revision, atTwo);
    assert.equal(old.kvs.map((kv) => [kv.key, kv.value, kv.modRevision]), [['/p/a', 'a1', a.modRevision], ['/p/b', 'b1', b.modRevision]]);
    assert.equal((await store.list('/p/', { revision: a.modRevision })).kvs.map((kv) => kv.key), ['/p/a']);
    assert.is((await store.list('/p/', { revision: store.currentRevision() + 10_000 })).revision, store.currentRevision());
  });

  withStore('pagination with limit, startAfter and remaining stays at one revision', async (store) => {
    for (let i = 0; i < 25; i++) await store.create(`/pg/${String(i).padStart(2, '0')}`, `v${i}`);
    const first = await store.list('/pg/', { limit: 10 });
    assert.is(first.kvs.length, 10);
    assert.ok(first.more);
    assert.is(first.remaining, 15);
    await store.create('/pg/99', 'late');
    await store.delete('/pg/15', 0);
    const second = await store.list('/pg/', { limit: 10, revision: first.revision, startAfter: first.kvs.at(-1)!.key });
    assert.equal(second.kvs.map((kv) => kv.key), Array.from({ length: 10 }, (_, i) => `/pg/${String(i + 10)}`));
    assert.is(second.remaining, 5);
    const third = await store.list('/pg/', { limit: 10, revision: first.revision, startAfter: second.kvs.at(-1)!.key });
    assert.is(third.kvs.length, 5);
    assert.not.ok(third.more);
    assert.is(third.remaining, 0);
    const fresh = await store.list('/pg/', { limit: 30 });
    assert.is(fresh.kvs.length, 25);
    assert.ok(fresh.kvs.some((kv) => kv.key === '/pg/99'));
    assert.not.ok(fresh.kvs.some((kv) => kv.key === '/pg/15'));
  });

  withStore('prefix matching is exact (no wildcards, byte order)', async (store) => {
    const keys = ['/registry/pods/default/a', '/registry/pods/default/b', '/registry/pods/default-x/c', '/registry/pods/defaultz/d',
      '/registry/pods/default', '/registry/pods/de%ault/e', '/registry/pods/de_ault/f', '/registry/podsx/default/g'];
    for (const key of keys) await store.create(key, key);
    const names = async (prefix: string): Promise<string[]> => (await store.list(prefix)).kvs.map((kv) => kv.key);
    assert.equal(await names('/registry/pods/default/'), ['/registry/pods/default/a', '/registry/pods/default/b']);
    assert.is(await store.count('/registry/pods/default/'), 2);
    assert.equal(await names('/registry/pods/de_'), ['/registry/pods/de_ault/f']);
    assert.equal(await names('/registry/pods/de%'), ['/registry/pods/de%ault/e']);
    assert.is(await store.count('/registry/pods/'), 7);
    assert.is(await store.count('/registry/'), 8);
    assert.equal(await names('/registry/pods/default'), keys.slice(0, 5).sort());
  });

  withStore('watch: replay then live, in order, without gaps or duplicates, while writes run concurrently', async (store) => {
    const keys = Array.from({ length: 30 }, (_, i) => `/registry/pods/ns/p${String(i).padStart(3, '0')}`);
    const revs = new Map<string, number>();
    for (const key of keys) revs.set(key, (await store.create(key, 'initial')).modRevision);
    const since = revs.get(keys[9]!)!;
    const controller = new AbortController();
    const isFinal = (events: StoreEvent[]): boolean => events.at(-1)!.kv.key === '/registry/pods/ns/zz-final';
    const collecting = collect(store.watch('/registry/pods/', { sinceRevision: since, signal: guard(controller) }), isFinal);
    const writes: Promise<number>[] = [];
    for (let i = 0; i < 60; i++) {
      writes.push((async () => {
        await new Promise((r) => setTimeout(r, Math.random() * 100));
        if (i % 4 === 0) return (await store.create(`/registry/pods/ns/new${i}`, `n${i}`)).modRevision;
        if (i % 10 === 1) { await store.create(`/registry/services/ns/s${i}`, 's'); return 0; }
        const key = keys[i % keys.length]!;
        for (;;) {
          const current = await store.get(key);
          try {
            return (await store.update(key, current!.modRevision, `u${i}`)).modRevision;
          } catch (err) {
            if ((err as StoreError).code !== 'Conflict') throw err;
          }
        }
      })());
    }
    const podWrites = (await Promise.all(writes)).filter((r) => r > 0);
    const finalRevision = (await store.create('/registry/pods/ns/zz-final', 'final')).modRevision;
    const events = await collecting;
    controller.abort();
    const expected = [...keys.slice(10).map((k) => revs.get(k)!), ...podWrites, finalRevision].sort((a, b) => a - b);
    assert.equal(events.map((e) => e.kv.modRevision), expected);
    for (const e of events) {
      assert.ok(e.kv.key.startsWith('/registry/pods/'));
      if (e.type === 'update') assert.ok(e.prev !== undefined && e.prev.modRevision < e.kv.modRevision && e.prev.key === e.kv.key, 'update carries prev');
    }
  });

  withStore('watch events carry types and prev values; a delete shows the last value; live equals replayed', async (store) => {
    await store.create('/other', 'elsewhere');
    const controller = new AbortController();
    const live = collect(store.watch('/w/', { sinceRevision: 0, signal: guard(controller) }), (e) => e.length === 4);
    const a = await store.create('/w/a', 'a1');
    const a2 = await store.update('/w/a', a.modRevision, 'a2');
    const gone = await store.delete('/w/a', a2.modRevision);
    const again = await store.create('/w/a', 'a3');
    const liveEvents = await live;
    const replayed = await collect(store.watch('/w/', { sinceRevision: a.modRevision - 1, signal: guard(controller) }), (e) => e.length === 4);
    controller.abort();
    assert.equal(
      replayed.map((e) => [e.type, e.kv.value, e.kv.modRevision, e.prev?.value, e.prev?.modRevision]),
      [
        ['create', 'a1', a.modRevision, undefined, undefined],
        ['update', 'a2', a2.modRevision, 'a1', a.modRevision],
        ['delete', 'a2', gone.modRevision, 'a2', a2.modRevision],
        ['create', 'a3', again.modRevision, undefined, undefined],
      ],
    );
    assert.is(replayed[3]?.kv.createRevision, again.modRevision);
    assert.equal(liveEvents, replayed);
  });

  withStore('a slow consumer neither blocks writers nor loses events', async (store) => {
    const controller = new AbortController();
    const iterator = store.watch('/s/', { sinceRevision: 0, signal: guard(controller) })[Symbol.asyncIterator]();
    const first = iterator.next();
    const revisions: number[] = [];
    for (let round = 0; round < 5; round++) {
      const kvs = await Promise.all(Array.from({ length: 40 }, (_, i) => store.create(`/s/${round}-${i}`, 'v')));
      revisions.push(...kvs.map((kv) => kv.modRevision));
    }
    const seen: number[] = [(await first).value!.kv.modRevision];
    while (seen.length < 200) {
      const next = await iterator.next();
      assert.not.ok(next.done);
      seen.push(next.value!.kv.modRevision);
    }
    assert.equal(seen, [...revisions].sort((x, y) => x - y));
    controller.abort();
    assert.ok((await iterator.next()).done, 'abort ends the watch');
  });

  test('abort and close end a waiting watch; a closed store refuses writes', async () => {
    const store = await backend.open();
    const controller = new AbortController();
    const waiting = collect(store.watch('/a/', { sinceRevision: 0, signal: controller.signal }), () => false);
    const waitingForClose = collect(store.watch('/a/', { sinceRevision: 0 }), () => false);
    await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    assert.equal(await waiting, []);
    await store.close();
    assert.equal(await waitingForClose, []);
    await expectStoreError(store.create('/a/x', 'x'), 'Closed');
  });

  withStore('a watch or list from a compacted revision fails with Compacted; from the compact revision it works', async (store) => {
    const a = await store.create('/c/a', '1');
    let kv = a;
    for (let i = 0; i < 10; i++) kv = await store.update('/c/a', kv.modRevision, String(i));
    await store.compact(kv.modRevision - 2);
    assert.is(store.compactRevision(), kv.modRevision - 2);
    await expectWatchCompacted(() => store.watch('/c/', { sinceRevision: a.modRevision, signal: AbortSignal.timeout(5000) }));
    await expectStoreError(store.list('/c/', { revision: a.modRevision }), 'Compacted');
    const events = await collect(store.watch('/c/', { sinceRevision: store.compactRevision(), signal: AbortSignal.timeout(5000) }), (e) => e.length === 2);
    assert.equal(events.map((e) => e.kv.modRevision), [kv.modRevision - 1, kv.modRevision]);
    assert.is(events[0]?.prev?.modRevision, kv.modRevision - 2);
  });

  test.run();
}

conformance(sqliteBackend());
if (etcdAvailable()) conformance(etcdBackend());
