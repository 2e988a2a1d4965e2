/**
 * Object watches of the server's informers (api/client/in-process-watch.ts) against the JSON frames
 * every other client reads, on one real API app over SQLite: the same events in the same order (plain
 * and label-selected watches, a relabel leaving a selection, deletes, bookmarks), deep-frozen objects
 * that refuse a change, 410 Gone for a compacted revision as a StatusError, and an abort or a consumer
 * that stops reading ends the server's watch (the long-running request gauge goes back).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiApp } from '../../server/apiserver/app.js';
import { Registry } from '../../server/apiserver/registry.js';
import { TokenStore } from '../../server/auth/tokens.js';
import { openSqliteStore } from '../../server/store/sqlite-store.js';
import { ApiClient, type WatchOptions } from '../../api/client/client.js';
import { InProcessTransport } from '../../api/client/transport.js';
import { isGone } from '../../api/status.js';
import type { KubeObject, WatchEvent } from '../../api/meta.js';
import { parseExposition } from '../support/prom-text.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-objwatch-'));
const store = await openSqliteStore({ path: join(dir, 'state.db') });
const tokens = new TokenStore(join(dir, 'tokens.json'));
const api = createApiApp({ registry: new Registry(store), tokens, serverAddress: '127.0.0.1:6443', bookmarkIntervalMs: 50 });
const authorization = `Bearer ${tokens.create('admin').token}`;
const frames = new ApiClient(new InProcessTransport(api.app, { authorization }));
const objects = new ApiClient(new InProcessTransport(api.app, { authorization }, undefined, true));
await frames.create('Namespace', undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'w' } });

/** Collects a watch's events until `count` are in (or the stream ends), then aborts it. */
async function collect(client: ApiClient, o: WatchOptions, count: number, onEach?: (ev: WatchEvent<KubeObject>) => void): Promise<WatchEvent<KubeObject>[]> {
  const abort = new AbortController();
  const out: WatchEvent<KubeObject>[] = [];
  for await (const ev of client.watchOnce('ConfigMap', 'w', { ...o, signal: abort.signal })) {
    onEach?.(ev);
    out.push(ev);
    if (out.length >= count) abort.abort();
  }
  return out;
}

async function openWatches(): Promise<number> {
  const samples = parseExposition((await api.metrics.exposition()).body).samples;
  return samples.filter((s) => s.name === 'apiserver_longrunning_requests' && s.labels['resource'] === 'configmaps').reduce((a, s) => a + s.value, 0);
}

async function writes(): Promise<void> {
  await frames.create('ConfigMap', 'w', { metadata: { name: 'a', labels: { app: 'x' } }, data: { k: '1' } });
  await frames.create('ConfigMap', 'w', { metadata: { name: 'b', labels: { app: 'y' } } });
  await frames.patch('ConfigMap', 'w', 'a', { data: { k: '2', text: 'é "q" \u2028' } });
  await frames.patch('ConfigMap', 'w', 'a', { metadata: { labels: { app: 'y' } } });
  await frames.patch('ConfigMap', 'w', 'b', { metadata: { labels: { app: 'x' } } });
  await frames.delete('ConfigMap', 'w', 'b');
}

test('the same events, in the same order, as the JSON frames; the objects are frozen throughout', async () => {
  const start = (await frames.list('ConfigMap', 'w')).metadata.resourceVersion!;
  await writes();
  for (const o of [{}, { labelSelector: 'app=x' }] as WatchOptions[]) {
    const want = await collect(frames, { ...o, resourceVersion: start }, o.labelSelector ? 5 : 6);
    const got = await collect(objects, { ...o, resourceVersion: start }, want.length, (ev) => {
      assert.ok(Object.isFrozen(ev.object) && Object.isFrozen(ev.object.metadata) && Object.isFrozen(ev.object.metadata.labels));
      assert.throws(() => { (ev.object.metadata as { name?: string }).name = 'changed'; }, TypeError);
    });
    assert.equal(got, want, JSON.stringify(o));
    assert.equal(got.map((e) => e.type), o.labelSelector ? ['ADDED', 'MODIFIED', 'DELETED', 'ADDED', 'DELETED'] : ['ADDED', 'ADDED', 'MODIFIED', 'MODIFIED', 'MODIFIED', 'DELETED']);
  }
  // From resourceVersion 0: the current state as ADDED, from a list (private copies), frozen as well.
  const initial = await collect(objects, { resourceVersion: '0' }, 1);
  assert.is(initial[0]!.object.metadata.name, 'a');
  assert.ok(Object.isFrozen(initial[0]!.object.data));
});

test('bookmarks come as objects carrying the newest revision', async () => {
  const current = (await frames.list('ConfigMap', 'w')).metadata.resourceVersion!;
  const [bookmark] = await collect(objects, { resourceVersion: current, allowWatchBookmarks: true }, 1);
  assert.is(bookmark!.type, 'BOOKMARK');
  assert.equal(bookmark!.object, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { resourceVersion: current } });
});

test('a compacted revision: 410 Gone as a StatusError, as from frames', async () => {
  const old = (await frames.list('ConfigMap', 'w')).metadata.resourceVersion!;
  await frames.create('ConfigMap', 'w', { metadata: { name: 'c' } });
  await frames.create('ConfigMap', 'w', { metadata: { name: 'd' } });
  await store.compact(store.currentRevision());
  for (const client of [frames, objects]) {
    const err = await collect(client, { resourceVersion: old }, 1).then(() => undefined, (e: unknown) => e);
    assert.ok(isGone(err), String(err));
  }
});

test('an abort, or a consumer that stops reading, ends the server\'s watch', async () => {
  assert.is(await openWatches(), 0);
  const abort = new AbortController();
  const current = (await frames.list('ConfigMap', 'w')).metadata.resourceVersion!;
  const events = objects.watchOnce('ConfigMap', 'w', { resourceVersion: current, signal: abort.signal });
  const first = events.next();
  await frames.create('ConfigMap', 'w', { metadata: { name: 'e' } });
  assert.is(((await first).value as WatchEvent<KubeObject>).object.metadata.name, 'e');
  assert.is(await openWatches(), 1);
  const pending = events.next();
  abort.abort();
  assert.ok((await pending).done);
  await new Promise((r) => setTimeout(r, 20));
  assert.is(await openWatches(), 0);
  // A consumer that leaves its loop with events still queued.
  for await (const ev of objects.watchOnce('ConfigMap', 'w', { resourceVersion: '0' })) {
    assert.is(ev.type, 'ADDED');
    break;
  }
  await new Promise((r) => setTimeout(r, 20));
  assert.is(await openWatches(), 0);
});

test.run();
