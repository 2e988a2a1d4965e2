/**
 * The broadcaster's indexed triggers (kube-apiserver's): a subscriber registered under an index value
 * is handed only the items whose index values include it, with the whole batch beside them; the index
 * runs once per item however many subscribers use it; plain subscribers get everything.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Broadcaster, type Index } from '../../server/store/broadcaster.js';

interface Item { id: number; node: string; before?: string }

test('triggered subscribers get their value\'s items once per publish, the index runs once per item', () => {
  const b = new Broadcaster<Item>();
  let indexCalls = 0;
  const byNode: Index<Item> = {
    valuesOf: (item) => {
      indexCalls += 1;
      return item.before !== undefined && item.before !== item.node ? [item.node, item.before] : [item.node];
    },
  };
  const got = new Map<string, { items: number[]; batches: number[] }[]>();
  const subscribe = (name: string, trigger?: { index: Index<Item>; value: string }): (() => void) => b.subscribe((items, batch) => {
    const calls = got.get(name) ?? [];
    calls.push({ items: items.map((i) => i.id), batches: batch.map((i) => i.id) });
    got.set(name, calls);
  }, trigger);
  const nodes = Array.from({ length: 50 }, (_, i) => `n${i}`);
  const unsubscribe = nodes.map((n) => subscribe(n, { index: byNode, value: n }));
  subscribe('all');
  assert.is(b.size, 51);

  const batch: Item[] = [
    { id: 1, node: 'n1' }, { id: 2, node: 'n2' }, { id: 3, node: 'n1', before: 'n1' },
    { id: 4, node: 'n3', before: 'n1' }, { id: 5, node: 'elsewhere' },
  ];
  b.publish(batch);
  assert.is(indexCalls, batch.length, 'once per item, not per subscriber');
  assert.equal(got.get('all'), [{ items: [1, 2, 3, 4, 5], batches: [1, 2, 3, 4, 5] }]);
  assert.equal(got.get('n1'), [{ items: [1, 3, 4], batches: [1, 2, 3, 4, 5] }]);
  assert.equal(got.get('n3')?.[0]?.items, [4], 'a move is seen by the new node');
  assert.equal(got.get('n7'), [{ items: [], batches: [1, 2, 3, 4, 5] }], 'others hear of the batch, for their progress');

  // An index that throws cannot tell: every triggered subscriber gets the item (and filters it itself).
  const failing: Index<Item> = { valuesOf: () => { throw new Error('cannot decode'); } };
  const calls: number[][] = [];
  b.subscribe((items) => calls.push(items.map((i) => i.id)), { index: failing, value: 'x' });
  b.publish([{ id: 6, node: 'n1' }]);
  assert.equal(calls, [[6]]);

  for (const u of unsubscribe) u();
  assert.is(b.size, 2);
  b.publish([{ id: 7, node: 'n1' }]);
  assert.is(got.get('n1')?.length, 2, 'unsubscribed: nothing more (the second call was id 6)');
});

test.run();
