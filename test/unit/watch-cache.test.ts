/**
 * The watch cache's key order in blocks, against a plain sorted model: random creates and deletes
 * (with blocks of 4 keys, so blocks split, empty and vanish all the time), keys whose UTF-16 and
 * code point orders differ mixed in and out, and every prefix list, page and count compared.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WatchCache, compareKeys } from '../../server/store/watch-cache.js';
import type { KeyValue, StoreEvent } from '../../server/store/store.js';

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

const PARTS = ['a', 'b', 'ab', 'z', '\u{1F600}', '\uFB01', 'c'];

function expectSame(cache: WatchCache, model: Map<string, KeyValue>, next: () => number): void {
  const sorted = [...model.keys()].sort(compareKeys);
  for (const prefix of ['', '/a', '/a/b', '/b', '/\u{1F600}', '/\uFB01', '/c/z']) {
    const want = sorted.filter((k) => k.startsWith(prefix));
    assert.equal(cache.list(prefix).kvs.map((kv) => kv.key), want, `list ${JSON.stringify(prefix)}`);
    assert.is(cache.count(prefix), want.length, `count ${JSON.stringify(prefix)}`);
    const limit = 1 + Math.floor(next() * 5);
    const after = want[Math.floor(next() * want.length)];
    const page = cache.list(prefix, { limit, ...(after !== undefined ? { startAfter: after } : {}) });
    const rest = after === undefined ? want : want.slice(want.indexOf(after) + 1);
    assert.equal(page.kvs.map((kv) => kv.key), rest.slice(0, limit), `page of ${JSON.stringify(prefix)} after ${after}`);
    assert.is(page.remaining, Math.max(0, rest.length - limit));
    assert.is(page.more, rest.length > limit);
  }
  assert.is(cache.size, model.size);
}

test('blocks of keys stay in store order through random creates and deletes', () => {
  const next = random(18);
  const cache = new WatchCache({ blockSize: 4 });
  const model = new Map<string, KeyValue>();
  let revision = 0;
  for (let round = 0; round < 60; round++) {
    const events: StoreEvent[] = [];
    for (let n = 0; n < 1 + Math.floor(next() * 8); n++) {
      const key = `/${PARTS[Math.floor(next() * PARTS.length)]}/${PARTS[Math.floor(next() * PARTS.length)]}/${Math.floor(next() * 20)}`;
      revision += 1;
      const kv: KeyValue = { key, value: `v${revision}`, modRevision: revision, createRevision: revision };
      if (model.has(key) && next() < 0.5) {
        model.delete(key);
        events.push({ type: 'delete', kv });
      } else {
        events.push({ type: model.has(key) ? 'update' : 'create', kv });
        model.set(key, kv);
      }
    }
    cache.apply(events);
    expectSame(cache, model, next);
  }
  // Loading what is there gives the same answers as having applied it.
  const loaded = new WatchCache({ blockSize: 4 });
  loaded.load([...model.values()]);
  expectSame(loaded, model, next);
});

test.run();
