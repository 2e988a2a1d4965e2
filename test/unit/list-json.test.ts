/**
 * Plain JSON lists are spliced from the stored text (Registry.listJson); they must say exactly what
 * the parsed list (Registry.list) says, for every way an object can be stored.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resourceForKind } from '../../api/resources.js';
import { Registry } from '../../server/apiserver/registry.js';
import { MemoryStore } from '../../server/store/memory-store.js';
import { openSqliteStore } from '../../server/store/sqlite-store.js';
import { parseFieldSelector, parseLabelSelector } from '../../api/selectors.js';
import { resolveFieldSelector } from '../../server/apiserver/field-labels.js';

const NS = resourceForKind('Namespace')!;
const CM = resourceForKind('ConfigMap')!;
const EVENT = resourceForKind('Event')!;

test('listJson parses to the same list as list, page by page', async () => {
  const registry = new Registry(new MemoryStore());
  await registry.create(NS, undefined, { metadata: { name: 'n' } });
  // Type meta first, last and absent; empty labels; text that looks like metadata inside data.
  await registry.create(CM, 'n', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' }, data: { k: '"metadata":{"x":1}' } });
  await registry.create(CM, 'n', { data: { metadata: '{' }, metadata: { name: 'b', labels: {} }, kind: 'ConfigMap', apiVersion: 'v1' });
  await registry.create(CM, 'n', { metadata: { name: 'c', annotations: { note: '"resourceVersion":"1"' } } });
  const a = await registry.get(CM, 'n', 'a');
  await registry.update(CM, 'n', 'a', { ...a, data: { k: 'v2' } });
  await registry.create(EVENT, 'n', {
    metadata: { name: 'e' }, involvedObject: { kind: 'ConfigMap', namespace: 'n', name: 'a', resourceVersion: '1' },
    reason: 'R', message: 'm', type: 'Normal',
  });
  for (const info of [CM, EVENT, NS]) {
    const ns = info.namespaced ? 'n' : undefined;
    assert.equal(JSON.parse((await registry.listJson(info, ns)).toString('utf8')), await registry.list(info, ns), info.kind);
  }
  const first = JSON.parse((await registry.listJson(CM, 'n', { limit: 2 })).toString('utf8')) as { metadata: { continue: string; remainingItemCount: number }; items: { metadata: { name: string; resourceVersion: string } }[] };
  assert.equal(first, await registry.list(CM, 'n', { limit: 2 }));
  assert.is(first.metadata.remainingItemCount, 1);
  assert.ok(first.items.every((i) => /^\d+$/.test(i.metadata.resourceVersion)));
  const rest = JSON.parse((await registry.listJson(CM, 'n', { limit: 2, continue: first.metadata.continue })).toString('utf8'));
  assert.equal(rest, await registry.list(CM, 'n', { limit: 2, continue: first.metadata.continue }));
  assert.equal([...first.items, ...(rest as typeof first).items].map((i) => i.metadata.name), ['a', 'b', 'c']);
});

test('a repeated list serves each object at its current revision (served bytes are kept per revision)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-listjson-'));
  const sqlite = await openSqliteStore({ path: join(dir, 'db.sqlite') });
  try {
    for (const store of [new MemoryStore(), sqlite]) {
      const registry = new Registry(store);
      await registry.create(NS, undefined, { metadata: { name: 'n' } });
      for (const name of ['a', 'b', 'c']) await registry.create(CM, 'n', { metadata: { name }, data: { v: '1' } });
      assert.equal(JSON.parse((await registry.listJson(CM, 'n')).toString('utf8')), await registry.list(CM, 'n'));
      const b = await registry.get(CM, 'n', 'b');
      await registry.update(CM, 'n', 'b', { ...b, data: { v: '2' } });
      await registry.delete(CM, 'n', 'c', {});
      const again = JSON.parse((await registry.listJson(CM, 'n')).toString('utf8')) as { items: { metadata: { name: string }; data: { v: string } }[] };
      assert.equal(again, await registry.list(CM, 'n'));
      assert.equal(again.items.map((i) => `${i.metadata.name}=${i.data.v}`), ['a=1', 'b=2']);
    }
  } finally {
    await sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a label-selected listJson says what list says, page by page, and follows label changes', async () => {
  const registry = new Registry(new MemoryStore());
  await registry.create(NS, undefined, { metadata: { name: 'n' } });
  for (let i = 0; i < 7; i++) await registry.create(CM, 'n', { metadata: { name: `cm-${i}`, ...(i % 3 === 2 ? {} : { labels: { app: i % 2 ? 'web' : 'db' } }) } });
  const selectors = [parseLabelSelector('app=web'), parseLabelSelector('app'), parseLabelSelector('!app'), parseLabelSelector('app in (db,web),app!=db')];
  const parse = async (q: Parameters<Registry['listJson']>[2]) => JSON.parse((await registry.listJson(CM, 'n', q)).toString('utf8')) as { metadata: { continue?: string }; items: { metadata: { name: string } }[] };
  for (const labelSelector of selectors) {
    assert.equal(await parse({ labelSelector }), await registry.list(CM, 'n', { labelSelector }));
    const first = await parse({ labelSelector, limit: 2 });
    assert.equal(first, await registry.list(CM, 'n', { labelSelector, limit: 2 }));
    if (first.metadata.continue) {
      assert.equal(await parse({ labelSelector, limit: 2, continue: first.metadata.continue }), await registry.list(CM, 'n', { labelSelector, limit: 2, continue: first.metadata.continue }));
    }
  }
  const web = parseLabelSelector('app=web');
  const cm0 = await registry.get(CM, 'n', 'cm-0');
  await registry.update(CM, 'n', 'cm-0', { ...cm0, metadata: { ...cm0.metadata, labels: { app: 'web' } } });
  const after = await parse({ labelSelector: web });
  assert.equal(after, await registry.list(CM, 'n', { labelSelector: web }));
  assert.equal(after.items.map((i) => i.metadata.name), ['cm-0', 'cm-1', 'cm-3']);
});

test('a field-selected listJson says what list says, with and without labels, page by page', async () => {
  const registry = new Registry(new MemoryStore());
  await registry.create(NS, undefined, { metadata: { name: 'n' } });
  for (let i = 0; i < 6; i++) await registry.create(CM, 'n', { metadata: { name: `cm-${i}`, labels: { app: i % 2 ? 'web' : 'db' } } });
  const field = (s: string) => resolveFieldSelector(CM, parseFieldSelector(s));
  const parse = async (q: Parameters<Registry['listJson']>[2]) => JSON.parse((await registry.listJson(CM, 'n', q)).toString('utf8')) as { metadata: { continue?: string }; items: { metadata: { name: string } }[] };
  const cases = [
    { fieldSelector: field('metadata.name=cm-3') },
    { fieldSelector: field('metadata.name!=cm-3') },
    { fieldSelector: field('metadata.namespace=n,metadata.name!=cm-0') },
    { fieldSelector: field('metadata.name!=cm-1'), labelSelector: parseLabelSelector('app=web') },
  ];
  for (const q of cases) {
    assert.equal(await parse(q), await registry.list(CM, 'n', q));
    const first = await parse({ ...q, limit: 2 });
    assert.equal(first, await registry.list(CM, 'n', { ...q, limit: 2 }));
    if (first.metadata.continue) assert.equal(await parse({ ...q, limit: 2, continue: first.metadata.continue }), await registry.list(CM, 'n', { ...q, limit: 2, continue: first.metadata.continue }));
  }
  assert.equal((await parse(cases[3]!)).items.map((i) => i.metadata.name), ['cm-3', 'cm-5']);
});

test.run();
