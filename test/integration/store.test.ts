/**
 * What only the SQLite store has, against real database files in a temporary directory: batching
 * into transactions, the log table and its unique index, the watch cache, paged replays, chunked
 * compaction, reopening. The Store contract both backends keep is store-conformance.test.ts.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { openSqliteStore, type SqliteStore, type SqliteStoreOptions } from '../../server/store/sqlite-store.js';
import { StoreError, type StoreErrorCode, type StoreEvent } from '../../server/store/store.js';
import { prefixUpperBound } from '../../server/store/key-range.js';
import { SqliteConnection } from '../../server/store/sqlite-db.js';
import { WRITER_SQL } from '../../server/store/log-sql.js';
import { WriteBatcher } from '../../server/store/write-batcher.js';
import { waitUntil } from '../support/wait.js';

const dirs: string[] = [];
function tempDbPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'corral-store-'));
  dirs.push(dir);
  return join(dir, 'state.db');
}

async function openTemp(options: Partial<SqliteStoreOptions> = {}): Promise<SqliteStore> {
  return openSqliteStore({ path: tempDbPath(), ...options });
}

async function expectStoreError(promise: Promise<unknown>, code: StoreErrorCode): Promise<StoreError> {
  try {
    await promise;
  } catch (err) {
    assert.instance(err, StoreError);
    assert.is((err as StoreError).code, code);
    return err as StoreError;
  }
  assert.unreachable(`expected StoreError ${code}`);
  throw new Error('unreachable');
}

/** Run a query on a separate plain sqlite3 connection (what another process would see). */
function rawQuery<Row>(path: string, sql: string, params: unknown[] = []): Promise<Row[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(path, (openErr) => {
      if (openErr) return reject(openErr);
      db.all<Row>(sql, params, (err, rows) => {
        db.close(() => (err ? reject(err) : resolve(rows)));
      });
    });
  });
}

async function integrityCheck(path: string): Promise<string> {
  const rows = await rawQuery<{ integrity_check: string }>(path, 'PRAGMA integrity_check');
  return rows.map((r) => r.integrity_check).join('\n');
}

/** Collect events from a watch until `until` says stop or the watch ends (give it a signal with a timeout). */
async function collect(
  iterable: AsyncIterable<StoreEvent>,
  until: (events: StoreEvent[]) => boolean,
  options: { slowFirst?: number } = {},
): Promise<StoreEvent[]> {
  const events: StoreEvent[] = [];
  for await (const event of iterable) {
    events.push(event);
    if (until(events)) break;
    // Dawdle over the first events, so writes keep landing while the watcher is still replaying.
    if (events.length <= (options.slowFirst ?? 0)) await new Promise((r) => setTimeout(r, 2));
  }
  return events;
}

/** Aborts on `controller` or after a timeout, so a broken watch fails the test instead of hanging it. */
function guard(controller: AbortController, ms = 10_000): AbortSignal {
  return AbortSignal.any([controller.signal, AbortSignal.timeout(ms)]);
}

function assertStrictlyIncreasing(events: StoreEvent[]): void {
  for (let i = 1; i < events.length; i++) {
    assert.ok(events[i]!.kv.modRevision > events[i - 1]!.kv.modRevision, `event ${i} out of order or duplicated`);
  }
}

// ---------------------------------------------------------------------------------------------------

const crud = suite('store: create, get, update, delete');

crud.after(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

crud('KeyExists, KeyNotFound and Conflict', async () => {
  const store = await openTemp();
  try {
    const a = await store.create('/k/a', '1');
    await expectStoreError(store.create('/k/a', 'again'), 'KeyExists');
    await expectStoreError(store.update('/k/missing', 1, 'x'), 'KeyNotFound');
    await expectStoreError(store.delete('/k/missing', 0), 'KeyNotFound');

    const a2 = await store.update('/k/a', a.modRevision, '2');
    const stale = await expectStoreError(store.update('/k/a', a.modRevision, 'stale'), 'Conflict');
    assert.is(stale.currentRevision, a2.modRevision, 'Conflict carries the current revision');
    await expectStoreError(store.delete('/k/a', a.modRevision), 'Conflict');
    await expectStoreError(store.update('/k/a', 999, 'future'), 'Conflict');

    await store.delete('/k/a', 0);
    await expectStoreError(store.update('/k/a', a2.modRevision, 'after delete'), 'KeyNotFound');
    await expectStoreError(store.delete('/k/a', 0), 'KeyNotFound');
    assert.is(store.stats().rowsWritten, 3);
  } finally {
    await store.close();
  }
});

crud('two concurrent updates expecting the same revision: exactly one wins', async () => {
  const store = await openTemp();
  try {
    for (let round = 0; round < 20; round++) {
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
      assert.is(lost.length, 2);
      for (const l of lost) assert.is((l.reason as StoreError).code, 'Conflict');
      const winner = (won[0] as PromiseFulfilledResult<{ modRevision: number; value: string }>).value;
      for (const l of lost) assert.is((l.reason as StoreError).currentRevision, winner.modRevision);
    }
    assert.ok(store.stats().largestBatch >= 3, 'the three writes were committed in one batch');
  } finally {
    await store.close();
  }
});

crud('the unique index rejects a conflicting INSERT made through a second connection', async () => {
  const path = tempDbPath();
  const store = await openSqliteStore({ path });
  try {
    const v1 = await store.create('/k/x', 'v1');
    await store.update('/k/x', v1.modRevision, 'v2');
    // Another writer that still expects v1 tries to append its own successor of v1.
    const insert = `INSERT INTO log (name, created, deleted, create_revision, prev_revision, value) VALUES (?, 0, 0, ?, ?, ?)`;
    let error: (Error & { code?: string }) | undefined;
    try {
      await rawQuery(path, insert, ['/k/x', v1.createRevision, v1.modRevision, 'sneaky']);
    } catch (err) {
      error = err as Error & { code?: string };
    }
    assert.ok(error, 'the raw insert must fail');
    assert.is(error?.code, 'SQLITE_CONSTRAINT');
    assert.match(error?.message ?? '', /UNIQUE/);
    // A second "first create" of an existing key is rejected the same way.
    await expectRawConstraint(path, `INSERT INTO log (name, created, deleted, create_revision, prev_revision, value) VALUES ('/k/x', 1, 0, 0, 0, 'dup')`);
    assert.is((await store.get('/k/x'))?.value, 'v2');
  } finally {
    await store.close();
  }
});

async function expectRawConstraint(path: string, sql: string): Promise<void> {
  try {
    await rawQuery(path, sql);
  } catch (err) {
    assert.is((err as { code?: string }).code, 'SQLITE_CONSTRAINT');
    return;
  }
  assert.unreachable('raw insert should have violated the unique index');
}

crud('one failing write in a batch does not fail the others', async () => {
  const store = await openTemp();
  try {
    await store.create('/b/taken', 'x');
    const before = store.stats().transactions;
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) => store.create(i === 15 ? '/b/taken' : `/b/k${i}`, `v${i}`)),
    );
    assert.is(results.filter((r) => r.status === 'fulfilled').length, 29);
    const failed = results[15];
    assert.is(failed?.status, 'rejected');
    assert.is(((failed as PromiseRejectedResult).reason as StoreError).code, 'KeyExists');
    assert.is(await store.count('/b/'), 30);
    const used = store.stats().transactions - before;
    assert.ok(used <= 3, `30 concurrent writes took ${used} transactions`);
    // Revisions stay dense: the failed write consumed none.
    const revisions = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.modRevision] : [])).sort((x, y) => x - y);
    assert.equal(revisions, Array.from({ length: 29 }, (_, i) => i + 2));
  } finally {
    await store.close();
  }
});

crud.run();

// ---------------------------------------------------------------------------------------------------

const listing = suite('store: list and count');

listing.after(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

listing('current lists, gets and counts (the watch cache) agree with the log, across writes and a reopen', async () => {
  const path = tempDbPath();
  // Names chosen so UTF-16 order and the store's UTF-8 order disagree (U+FFFD vs U+1F600).
  const names = ['a', 'b', 'a-b', 'a/b', 'z', '\u00e9', '\ufffd', '\u{1f600}', '\ue000x', 'A', '0'];
  const keyOf = (n: string, i: number): string => `/c/${i % 3}/${n}${i % 5}`;
  let rng = 7;
  const random = (n: number): number => { rng = (rng * 1103515245 + 12345) % 2 ** 31; return rng % n; };
  const compare = async (store: SqliteStore): Promise<void> => {
    const at = store.currentRevision();
    // A write elsewhere makes `at` an old revision, which the log (not the cache) serves.
    await store.create(`/other/${at}`, 'x');
    for (const prefix of ['/c/', '/c/0/', '/c/1/a', '/c/2/\u00e9', '']) {
      const cached = await store.list(prefix);
      const logged = await store.list(prefix, { revision: at });
      const fromLog = logged.kvs.filter((kv) => !kv.key.startsWith('/other/'));
      assert.equal(cached.kvs.filter((kv) => !kv.key.startsWith('/other/')), fromLog, `list ${prefix}`);
      if (prefix !== '') assert.is(await store.count(prefix), fromLog.length, `count ${prefix}`);
      for (const limit of [1, 4]) {
        let after: string | undefined;
        const paged: string[] = [];
        for (;;) {
          const page = await store.list(prefix, { limit, ...(after !== undefined ? { startAfter: after } : {}) });
          const old = await store.list(prefix, { limit, revision: at, ...(after !== undefined ? { startAfter: after } : {}) });
          if (prefix !== '') assert.equal([page.kvs.map((kv) => kv.key), page.remaining, page.more], [old.kvs.map((kv) => kv.key), old.remaining, old.more]);
          paged.push(...page.kvs.map((kv) => kv.key));
          if (!page.more) break;
          after = page.kvs.at(-1)!.key;
        }
        assert.equal(paged, cached.kvs.map((kv) => kv.key), `pages of ${limit} under ${prefix}`);
      }
    }
    for (const kv of (await store.list('/c/', { revision: at })).kvs) assert.equal(await store.get(kv.key), kv);
  };
  let store = await openSqliteStore({ path });
  try {
    for (let i = 0; i < 300; i++) {
      const key = keyOf(names[random(names.length)]!, random(15));
      const current = await store.get(key);
      const op = random(3);
      if (!current) await store.create(key, `v${i}`);
      else if (op === 0) await store.delete(key, current.modRevision);
      else await store.update(key, current.modRevision, `v${i}`);
      assert.equal((await store.get(key))?.value, op === 0 && current ? undefined : `v${i}`);
    }
    // Concurrent writes in one batch, some refused.
    const first = (await store.list('/c/')).kvs[0]!;
    await Promise.allSettled([
      store.update(first.key, first.modRevision, 'won'),
      store.update(first.key, first.modRevision, 'lost'),
      store.create('/c/0/new', 'n'),
      store.create('/c/0/new', 'dup'),
    ]);
    assert.is((await store.get(first.key))?.value, 'won');
    assert.is((await store.get('/c/0/new'))?.value, 'n');
    await compare(store);
    await store.close();
    store = await openSqliteStore({ path });
    await compare(store);
  } finally {
    await store.close();
  }
});

listing('prefix upper bounds', () => {
  assert.is(prefixUpperBound('/a/'), '/a0');
  assert.is(prefixUpperBound('/a\u{10ffff}'), '/b');
  assert.ok(prefixUpperBound('') > '/registry/zzz');
  assert.is(prefixUpperBound('x\ud7ff'), 'x\ue000');
});

listing.run();

// ---------------------------------------------------------------------------------------------------

const watching = suite('store: watch');

watching.after(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

watching('replay then live, without gaps or duplicates, while 200 writes run concurrently', async () => {
  // Small pages: the replay needs many table reads, and writes commit (and are published to the
  // watcher's buffer) between them, so replayed and buffered events overlap and must be deduplicated.
  const store = await openTemp({ watchPageSize: 4 });
  try {
    const keys = Array.from({ length: 100 }, (_, i) => `/registry/pods/ns/p${String(i).padStart(3, '0')}`);
    const revs = new Map<string, number>();
    for (const key of keys) revs.set(key, (await store.create(key, 'initial')).modRevision);
    await store.create('/registry/services/ns/s', 'other prefix');
    const since = revs.get(keys[9]!)!; // replay must start in the middle of the existing log

    const controller = new AbortController();
    const watcher = store.watch('/registry/pods/', { sinceRevision: since, signal: guard(controller) });
    const liveOnly = store.watch('/registry/pods/', { sinceRevision: 0, signal: guard(controller) });
    const liveStart = store.currentRevision();
    const isFinal = (events: StoreEvent[]): boolean => events.at(-1)!.kv.key === '/registry/pods/ns/zz-final';
    // Start consuming before the writes start, so the replay runs while they commit.
    const collecting = collect(watcher, isFinal, { slowFirst: 100 });
    const collectingLive = collect(liveOnly, isFinal, { slowFirst: 40 });

    // 200 concurrent writes: updates to the pods (chained per key) and creates, some in another prefix.
    const writes: Promise<number>[] = [];
    // Each write starts after a random pause of up to 250 ms, so writes are in flight both while the
    // watcher replays and after it has switched to live events.
    const pause = (): Promise<void> => new Promise((r) => setTimeout(r, Math.random() * 250));
    const writeOne = async (i: number): Promise<number> => {
      await pause();
      if (i % 4 === 0) return (await store.create(`/registry/pods/ns/new${i}`, `n${i}`)).modRevision;
      if (i % 10 === 1) {
        await store.create(`/registry/services/ns/s${i}`, `s${i}`);
        return 0;
      }
      const key = keys[i % keys.length]!;
      for (;;) {
        const current = await store.get(key);
        try {
          return (await store.update(key, current!.modRevision, `u${i}`)).modRevision;
        } catch (err) {
          if ((err as StoreError).code !== 'Conflict') throw err;
        }
      }
    };
    for (let i = 0; i < 200; i++) writes.push(writeOne(i));
    const podWriteRevisions = (await Promise.all(writes)).filter((r) => r > 0);
    // One more write after all the others; the watchers stop when they see it.
    const finalRevision = (await store.create('/registry/pods/ns/zz-final', 'final')).modRevision;
    const events = await collecting;
    const liveEvents = await collectingLive;
    controller.abort();

    const expected = [...keys.slice(10).map((k) => revs.get(k)!), ...podWriteRevisions, finalRevision].sort((a, b) => a - b);
    assert.equal(events.map((e) => e.kv.modRevision), expected, 'replay + live = every pod write after since, once');
    assertStrictlyIncreasing(events);
    assert.equal(
      liveEvents.map((e) => e.kv.modRevision),
      expected.filter((r) => r > liveStart),
      'a watch from now sees every later pod write',
    );
    for (const e of events) {
      assert.ok(e.kv.key.startsWith('/registry/pods/'));
      if (e.type === 'update') {
        assert.ok(e.prev !== undefined && e.prev.modRevision < e.kv.modRevision, 'update carries prev');
        assert.is(e.prev?.key, e.kv.key);
      }
    }
    // prev of each update is the previous event of the same key (or its initial create).
    const lastValue = new Map<string, { value: string; rev: number }>();
    for (const key of keys) lastValue.set(key, { value: 'initial', rev: revs.get(key)! });
    for (const e of events) {
      const before = lastValue.get(e.kv.key);
      if (e.type === 'update' && before !== undefined) {
        assert.equal([e.prev?.value, e.prev?.modRevision], [before.value, before.rev]);
      }
      lastValue.set(e.kv.key, { value: e.kv.value, rev: e.kv.modRevision });
    }
  } finally {
    await store.close();
  }
});

watching('a slow consumer neither blocks writers nor loses events', async () => {
  const store = await openTemp({ watchBufferSize: 16, watchPageSize: 50 });
  try {
    const controller = new AbortController();
    const iterator = store.watch('/s/', { sinceRevision: 0, signal: guard(controller) })[Symbol.asyncIterator]();
    const first = iterator.next(); // subscribed, then stalls: nobody reads for a while
    const revisions: number[] = [];
    for (let round = 0; round < 10; round++) {
      const kvs = await Promise.all(Array.from({ length: 50 }, (_, i) => store.create(`/s/${round}-${i}`, 'v')));
      revisions.push(...kvs.map((kv) => kv.modRevision));
    }
    assert.is(revisions.length, 500, 'all writes finished while the watcher was not reading');
    const seen: number[] = [(await first).value!.kv.modRevision];
    while (seen.length < 500) {
      const next = await iterator.next();
      assert.not.ok(next.done);
      seen.push(next.value!.kv.modRevision);
    }
    assert.equal(seen, [...revisions].sort((a, b) => a - b));
    controller.abort();
    assert.ok((await iterator.next()).done, 'abort ends the watch');
  } finally {
    await store.close();
  }
});

/** A filtered (and, with `trigger`, index-triggered) watch's deliveries and progress reports, under drops and replays. */
async function filteredWatchCase(withTrigger: boolean): Promise<void> {
  // A node's pod watch: values name a node; the watch wants pods on "a" (now or before the write).
  // Tiny buffers and pages, and a consumer that dawdles, so live events, progress marks, buffer
  // drops and table replays all interleave.
  const store = await openTemp({ watchBufferSize: 6, watchPageSize: 4 });
  try {
    const onA = (value: string | undefined): boolean => value?.startsWith('a') === true;
    const wants = (e: StoreEvent): boolean => onA(e.kv.value) || (e.type === 'update' && onA(e.prev?.value));
    const keys = Array.from({ length: 40 }, (_, i) => `/registry/pods/ns/p${String(i).padStart(2, '0')}`);
    for (const [i, key] of keys.entries()) await store.create(key, i % 3 === 0 ? 'a0' : 'b0');
    const since = store.currentRevision() - 20; // replay starts in the middle of the existing log

    const delivered: StoreEvent[] = [];
    /** Each progress report, with how many events had been taken when it came. */
    const reports: { revision: number; taken: number }[] = [];
    const controller = new AbortController();
    // The trigger: each event's node, now and before (the first letter of the value).
    const index = { valuesOf: (e: StoreEvent) => [e.kv.value[0] ?? '', ...(e.type === 'update' ? [e.prev?.value[0] ?? ''] : [])] };
    const watcher = store.watch('/registry/pods/', {
      sinceRevision: since, signal: guard(controller), filter: wants, ...(withTrigger ? { trigger: { index, value: 'a' } } : {}),
      onProgress: (revision) => reports.push({ revision, taken: delivered.length }),
    })[Symbol.asyncIterator]();
    // The complete ordered log of the prefix, from an unfiltered watch of the same range.
    const allEvents: StoreEvent[] = [];
    const unfiltered = store.watch('/registry/pods/', { sinceRevision: since, signal: guard(controller) });
    const recordAll = (async () => {
      for await (const e of unfiltered) allEvents.push(e);
    })();

    let stopAt = Infinity;
    const consuming = (async () => {
      for (;;) {
        const next = await watcher.next();
        if (next.done === true) return;
        delivered.push(next.value);
        if (next.value.kv.modRevision >= stopAt) return;
        if (delivered.length % 3 === 0) await new Promise((r) => setTimeout(r, 3));
      }
    })();

    const pause = (): Promise<void> => new Promise((r) => setTimeout(r, Math.random() * 200));
    await Promise.all(Array.from({ length: 150 }, async (_, i) => {
      await pause();
      const key = keys[i % keys.length]!;
      for (;;) {
        const current = (await store.get(key))!;
        // Pods move between nodes, so updates enter and leave the watch.
        try {
          await store.update(key, current.modRevision, `${(i * 7) % 5 < 2 ? 'a' : 'b'}${i}`);
          return;
        } catch (err) {
          if ((err as StoreError).code !== 'Conflict') throw err;
        }
      }
    }));
    // Last, a wanted write (the consumer stops there), then a skipped one while it waits.
    stopAt = (await store.update(keys[0]!, (await store.get(keys[0]!))!.modRevision, 'a-final')).modRevision;
    await consuming;
    const waiting = watcher.next();
    await new Promise((r) => setTimeout(r, 20));
    const tail = await store.create('/registry/pods/ns/zz', 'b-tail');
    await waitUntil('a waiting watch reports a skipped write at once', async () => reports.at(-1)?.revision === tail.modRevision, 5000, 5);
    await waitUntil('the unfiltered watch saw every write', async () => allEvents.at(-1)?.kv.modRevision === tail.modRevision, 5000, 5);
    controller.abort();
    assert.ok((await waiting).done, 'nothing more was delivered');
    await recordAll;

    const expected = allEvents.filter(wants).map((e) => e.kv.modRevision);
    assert.ok(expected.length > 30 && expected.length < allEvents.length - 30, 'the writes both enter and miss the filter');
    assert.equal(delivered.map((e) => e.kv.modRevision), expected, 'exactly the wanted events, in order, once');
    const revisions = allEvents.map((e) => e.kv.modRevision);
    for (const [i, { revision, taken }] of reports.entries()) {
      assert.ok(i === 0 || revision > reports[i - 1]!.revision, `progress ${revision} after ${reports[i - 1]?.revision}`);
      assert.ok(revisions.includes(revision) && !expected.includes(revision), `progress ${revision} is a skipped event's revision`);
      // Every wanted event below it had been taken from the stream when it was reported.
      const owed = expected.filter((r) => r < revision);
      assert.equal(delivered.slice(0, taken).map((e) => e.kv.modRevision).slice(0, owed.length), owed, `progress ${revision} overtook an event`);
      assert.ok(taken >= owed.length, `progress ${revision} came after only ${taken} of ${owed.length} earlier events`);
    }
    assert.ok(reports.length > 5, 'skipped runs were reported');
  } finally {
    await store.close();
  }
}

watching('a filtered watch gets exactly its events in order, and skipped revisions only once every earlier event was taken', async () => {
  await filteredWatchCase(false);
});

watching('an index-triggered watch (a node\'s pods) likewise, handed only its value\'s events', async () => {
  await filteredWatchCase(true);
});

watching('a filter that throws delivers the event', async () => {
  const store = await openTemp();
  try {
    const controller = new AbortController();
    const watcher = store.watch('/t/', {
      sinceRevision: 0, signal: guard(controller), filter: (e) => { if (e.kv.value === 'bad') throw new Error('boom'); return false; },
    });
    const events = collect(watcher, (got) => got.length === 1);
    await store.create('/t/skipped', 'fine');
    const bad = await store.create('/t/bad', 'bad');
    assert.equal((await events).map((e) => e.kv.modRevision), [bad.modRevision]);
    controller.abort();
  } finally {
    await store.close();
  }
});

watching('abort and close end a waiting watch', async () => {
  const store = await openTemp();
  const controller = new AbortController();
  const waiting = collect(store.watch('/a/', { sinceRevision: 0, signal: controller.signal }), () => false);
  const waitingForClose = collect(store.watch('/a/', { sinceRevision: 0 }), () => false);
  await new Promise((r) => setTimeout(r, 20));
  assert.is(store.stats().watchers, 2);
  controller.abort();
  assert.equal(await waiting, []);
  await store.close();
  assert.equal(await waitingForClose, []);
  assert.is(store.stats().watchers, 0);
  await expectStoreError(store.create('/a/x', 'x'), 'Closed');
});

watching('a compaction that overtakes a catching-up watcher ends it with Compacted', async () => {
  const store = await openTemp({ watchPageSize: 10 });
  try {
    let kv = await store.create('/o/a', '0');
    for (let i = 0; i < 100; i++) kv = await store.update('/o/a', kv.modRevision, String(i));
    const iterator = store.watch('/o/', { sinceRevision: 1, signal: AbortSignal.timeout(5000) })[Symbol.asyncIterator]();
    assert.is((await iterator.next()).value?.kv.modRevision, 2); // first page read
    await store.compact(store.currentRevision());
    const error = await (async () => {
      try {
        for (;;) if ((await iterator.next()).done) return undefined;
      } catch (err) {
        return err;
      }
    })();
    assert.instance(error, StoreError);
    assert.is((error as StoreError).code, 'Compacted');
  } finally {
    await store.close();
  }
});

watching.run();

// ---------------------------------------------------------------------------------------------------

const lifecycle = suite('store: compaction, reopen, integrity');

lifecycle.after(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

lifecycle('compaction keeps every live key and the state at and after the compact revision', async () => {
  const path = tempDbPath();
  const store = await openSqliteStore({ path, compactChunkRows: 7 });
  try {
    const live = new Map<string, number>();
    for (let i = 0; i < 30; i++) live.set(`/x/k${i}`, (await store.create(`/x/k${i}`, `c${i}`)).modRevision);
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 30; i += 2) {
        const kv = await store.update(`/x/k${i}`, live.get(`/x/k${i}`)!, `u${round}-${i}`);
        live.set(`/x/k${i}`, kv.modRevision);
      }
    }
    for (let i = 1; i < 30; i += 5) {
      await store.delete(`/x/k${i}`, 0);
      live.delete(`/x/k${i}`);
    }
    await store.create('/x/k1', 'reborn'); // re-create after delete; its tombstone gets compacted
    live.set('/x/k1', store.currentRevision());
    const mid = store.currentRevision();
    const k0 = await store.update('/x/k0', live.get('/x/k0')!, 'after-mid');
    live.set('/x/k0', k0.modRevision);
    const k3 = await store.delete('/x/k3', 0);
    live.delete('/x/k3');

    const beforeMid = await store.list('/x/', { revision: mid });
    const beforeNow = await store.list('/x/');
    await store.compact(mid);
    assert.is(store.compactRevision(), mid);
    assert.ok(store.stats().rowsCompacted > 0);

    assert.equal(await store.list('/x/', { revision: mid }), beforeMid, 'state at the compact revision is unchanged');
    assert.equal(await store.list('/x/'), beforeNow, 'current state is unchanged');
    for (const [key, rev] of live) assert.is((await store.get(key))?.modRevision, rev, `${key} survives`);
    await expectStoreError(store.list('/x/', { revision: mid - 1 }), 'Compacted');

    // Only one row per key is left at or below the compact revision.
    const dupes = await rawQuery<{ name: string; n: number }>(
      path,
      'SELECT name, count(*) AS n FROM log WHERE id <= ? GROUP BY name HAVING n > 1',
      [mid],
    );
    assert.equal(dupes, []);
    const tombstones = await rawQuery<{ n: number }>(path, 'SELECT count(*) AS n FROM log WHERE deleted = 1 AND id <= ?', [mid]);
    assert.is(tombstones[0]?.n, 0);

    // The events after the compact revision can still be watched, prev values included.
    const events = await collect(store.watch('/x/', { sinceRevision: mid, signal: AbortSignal.timeout(5000) }), (e) => e.length === 2);
    assert.equal(events.map((e) => [e.type, e.kv.key, e.prev?.value]), [
      ['update', '/x/k0', beforeMid.kvs.find((kv) => kv.key === '/x/k0')?.value],
      ['delete', '/x/k3', k3.value],
    ]);

    // Writes continue with the revisions read back after compaction.
    const k2 = await store.update('/x/k2', live.get('/x/k2')!, 'post-compaction');
    assert.is(k2.modRevision, store.currentRevision());

    // Compacting everything leaves exactly the live keys.
    await store.compact(store.currentRevision());
    const rows = await rawQuery<{ n: number }>(path, 'SELECT count(*) AS n FROM log');
    assert.is(rows[0]?.n, live.size);
    assert.is(await store.count('/x/'), live.size);
  } finally {
    await store.close();
  }
  assert.is(await integrityCheck(path), 'ok');
});

lifecycle('the automatic compactor keeps a floor of recent revisions and does nothing when idle', async () => {
  const store = await openTemp();
  try {
    let kv = await store.create('/auto/a', '0');
    for (let i = 0; i < 60; i++) kv = await store.update('/auto/a', kv.modRevision, String(i));
    const controller = new AbortController();
    store.startCompactor({ intervalMs: 20, keepRevisions: 10, signal: controller.signal });
    const deadline = Date.now() + 5000;
    while (store.compactRevision() !== store.currentRevision() - 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.is(store.compactRevision(), store.currentRevision() - 10);
    await new Promise((r) => setTimeout(r, 60));
    const idle = store.stats().transactions;
    await new Promise((r) => setTimeout(r, 150));
    assert.is(store.stats().transactions, idle, 'no transactions while idle');
    controller.abort();
    assert.is((await store.list('/auto/', { revision: store.compactRevision() })).kvs.length, 1);
  } finally {
    await store.close();
  }
});

lifecycle('reopening continues revisions and keeps the compact revision', async () => {
  const path = tempDbPath();
  let store = await openSqliteStore({ path });
  const a = await store.create('/r/a', '1');
  const b = await store.create('/r/b', '1');
  await store.delete('/r/b', b.modRevision); // the newest row is a tombstone...
  await store.compact(store.currentRevision()); // ...which compaction removes
  const last = store.currentRevision();
  await store.close();

  store = await openSqliteStore({ path });
  try {
    assert.is(store.currentRevision(), last);
    assert.is(store.compactRevision(), last);
    const c = await store.create('/r/c', '1');
    assert.is(c.modRevision, last + 1, 'revisions are never reused');
    assert.is((await store.get('/r/a'))?.modRevision, a.modRevision);
    const recreated = await store.create('/r/b', '2');
    assert.is(recreated.createRevision, last + 2);
    await expectStoreError(store.list('/r/', { revision: last - 1 }), 'Compacted');
  } finally {
    await store.close();
  }
  assert.is(await integrityCheck(path), 'ok');
});

lifecycle('close finishes pending writes', async () => {
  const path = tempDbPath();
  const store = await openSqliteStore({ path });
  const writes = Array.from({ length: 100 }, (_, i) => store.create(`/close/${i}`, 'v'));
  const closing = store.close();
  const results = await Promise.allSettled(writes);
  await closing;
  assert.ok(results.every((r) => r.status === 'fulfilled'));
  const rows = await rawQuery<{ n: number }>(path, 'SELECT count(*) AS n FROM log');
  assert.is(rows[0]?.n, 100);
  assert.is(await integrityCheck(path), 'ok');
});

lifecycle.run();

// ---------------------------------------------------------------------------------------------------

const batching = suite('store: write batcher');

batching.after(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function batcherOnTable(): Promise<{ db: SqliteConnection; batcher: WriteBatcher<number>; values: () => Promise<number[]> }> {
  const db = await SqliteConnection.open(tempDbPath());
  await db.exec('CREATE TABLE t (x INTEGER UNIQUE)');
  const { begin, commit, rollback, savepoint, release, rollbackToSavepoint } = WRITER_SQL;
  const statements = await db.prepareAll({ begin, commit, rollback, savepoint, release, rollbackToSavepoint });
  const batcher = new WriteBatcher<number>({ statements });
  const values = async (): Promise<number[]> => (await db.all<{ x: number }>('SELECT x FROM t ORDER BY x')).map((r) => r.x);
  return { db, batcher, values };
}

batching('a batch\'s creates and updates go as one statement each, answered exactly as one by one', async () => {
  const path = tempDbPath();
  let store = await openSqliteStore({ path });
  try {
    const old = await Promise.all(Array.from({ length: 10 }, (_, i) => store.create(`/b/a${i}`, `v${i}`)));
    const watcher = store.watch('/b/', { sinceRevision: store.currentRevision(), signal: AbortSignal.timeout(10_000) })[Symbol.asyncIterator]();
    const first = watcher.next(); // subscribed now: the batches' events arrive live
    const settle = (writes: Promise<unknown>[]): Promise<string[]> => Promise.all(writes.map((w) => w.then(
      (kv) => `ok ${(kv as { modRevision: number }).modRevision}`, (err: StoreError) => err.code)));
    const before = store.stats();
    // All submitted in one tick: one batch. Distinct keys, no stale revision: the bulk path.
    // Updates submitted first: the creates' statement runs first, so answers come out of revision order.
    const round1 = await settle([
      ...[1, 2, 3, 4, 5].map((i) => store.update(`/b/a${i}`, old[i]!.modRevision, `u${i}`)),
      store.update('/b/missing', 5, 'x'),
      ...Array.from({ length: 10 }, (_, i) => store.create(`/b/n${i}`, `new ${i} \u00e9 \u{1F600}`)),
      store.create('/b/a0', 'exists'),
    ]);
    const after1 = store.stats();
    assert.is(after1.transactions - before.transactions, 1, 'one transaction');
    assert.is(after1.writesInBulk - before.writesInBulk, 10 + 1 + 5 + 1, 'creates and updates went as two statements');
    assert.equal(round1.map((o) => o.split(' ')[0]), [...Array(5).fill('ok'), 'KeyNotFound', ...Array(10).fill('ok'), 'KeyExists']);
    assert.ok(Number(round1[0]!.slice(3)) > Number(round1[15]!.slice(3)), 'the creates took the lower revisions');
    // A stale revision fails the updates' statement: they are written one by one, with the same answers.
    const round2 = await settle([
      store.create('/b/m0', 'm0'), store.create('/b/m1', 'm1'),
      store.update('/b/a6', old[6]!.modRevision, 'u6'),
      store.update('/b/a1', old[1]!.modRevision, 'stale'),
      store.update('/b/a7', old[7]!.modRevision, 'u7'),
      // A lone surrogate cannot travel as JSON text: the creates go one by one too.
      store.create('/b/s0', 'lone \ud800'), store.create('/b/s1', 'fine'),
    ]);
    const after2 = store.stats();
    assert.is(after2.transactions - after1.transactions, 1);
    assert.is(after2.writesInBulk - after1.writesInBulk, 0, 'both groups went one by one');
    assert.equal(round2.map((o) => o.split(' ')[0]), ['ok', 'ok', 'ok', 'Conflict', 'ok', 'ok', 'ok']);
    // Watchers get every committed write once, in revision order, with prev for updates.
    const committed = [...round1, ...round2].filter((o) => o.startsWith('ok ')).map((o) => Number(o.slice(3))).sort((a, b) => a - b);
    const events: StoreEvent[] = [(await first).value as StoreEvent];
    while (events.length < committed.length) events.push((await watcher.next()).value as StoreEvent);
    assert.equal(events.map((e) => e.kv.modRevision), committed);
    const a2 = events.find((e) => e.kv.key === '/b/a2')!;
    assert.equal([a2.type, a2.kv.value, a2.prev?.value, a2.prev?.modRevision], ['update', 'u2', 'v2', old[2]!.modRevision]);
    assert.is((await store.get('/b/n3'))?.value, 'new 3 \u00e9 \u{1F600}');
    assert.is((await store.get('/b/a1'))?.value, 'u1');
    await watcher.return?.();
    // What was answered is what is on disk.
    await store.close();
    store = await openSqliteStore({ path });
    const listed = await store.list('/b/');
    assert.equal(Object.fromEntries(listed.kvs.map((kv) => [kv.key, kv.value]))['/b/a7'], 'u7');
    assert.is(listed.kvs.length, 10 + 10 + 2 + 2);
    assert.is((await store.get('/b/n9'))?.modRevision, Number(round1[15]!.slice(3)));
  } finally {
    await store.close();
  }
});

batching('a multi-statement job in its own savepoint is rolled back alone', async () => {
  const { db, batcher, values } = await batcherOnTable();
  try {
    const insert = (x: number) => async (): Promise<number> => (await db.run('INSERT INTO t (x) VALUES (?)', [x])).lastId;
    const results = await Promise.allSettled([
      batcher.submit(insert(1)),
      batcher.submit(
        async () => {
          await db.run('INSERT INTO t (x) VALUES (2)');
          await db.run('INSERT INTO t (x) VALUES (3)');
          throw new StoreError('Conflict', 'changed its mind after two statements');
        },
        { savepoint: true },
      ),
      batcher.submit(insert(4)),
    ]);
    assert.equal(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.equal(await values(), [1, 4]);
    assert.is(batcher.stats().transactions, 1);
    assert.is(batcher.stats().largestBatch, 3);
  } finally {
    await batcher.close();
    await db.close();
  }
});

batching('an unexpected error fails the whole batch and commits nothing', async () => {
  const { db, batcher, values } = await batcherOnTable();
  try {
    const results = await Promise.allSettled([
      batcher.submit(async () => (await db.run('INSERT INTO t (x) VALUES (1)')).lastId),
      batcher.submit(async () => (await db.run('INSERT INTO no_such_table (x) VALUES (2)')).lastId),
      batcher.submit(async () => (await db.run('INSERT INTO t (x) VALUES (3)')).lastId),
    ]);
    assert.ok(results.every((r) => r.status === 'rejected'));
    assert.equal(await values(), []);
    // The next batch works normally.
    assert.is(await batcher.submit(async () => (await db.run('INSERT INTO t (x) VALUES (5)')).changes), 1);
    assert.equal(await values(), [5]);
  } finally {
    await batcher.close();
    await db.close();
  }
});

batching.run();
