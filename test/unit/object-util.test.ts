/**
 * deepEqual and clone (api/object-util.ts) walk objects without building key arrays; deepEqual must
 * still answer what comparing own keys with defined values (Object.keys filtered) answers, in both
 * directions, and clone copy own keys only, in their order, sharing nothing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { clone, deepEqual } from '../../api/object-util.js';

/** The key-array comparison deepEqual replaced, kept as the reference. */
function reference(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => reference(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => reference(ao[k], bo[k]));
}

const inherited = Object.create({ spec: { x: 1 } }) as Record<string, unknown>;
const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, b: [1, { c: null }] });

const values: unknown[] = [
  {}, [], null, 0, '', 'x', 1, true, false, undefined,
  { a: 1 }, { a: 1, b: undefined }, { b: undefined, a: 1 }, { a: undefined }, { a: null }, { a: 2 }, { b: 1 },
  { a: 1, b: 2 }, { b: 2, a: 1 }, { a: 1, b: 2, c: 3 },
  [1, 2], [2, 1], [1, 2, 3], [undefined], [null], [{ a: 1 }], [{ a: 1, b: undefined }],
  { metadata: { name: 'p', labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
  { spec: { containers: [{ name: 'c', image: 'i' }] }, metadata: { labels: { app: 'web' }, name: 'p' } },
  { metadata: { name: 'p', labels: { app: 'db' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
  { metadata: { name: 'p', labels: {} }, spec: { containers: [{ name: 'c', image: 'i' }] } },
  { 0: 'a', 1: 'b' }, ['a', 'b'], { 10: 'x', 2: 'y' }, { 2: 'y', 10: 'x' },
  inherited, {}, { spec: { x: 1 } },
  bare, { a: 1, b: [1, { c: null }] }, { a: 1, b: [1, { c: undefined }] },
];

test('deepEqual answers as the key-array comparison, for every pair both ways', () => {
  let equalPairs = 0;
  for (const a of values) {
    for (const b of values) {
      const want = reference(a, b);
      assert.is(deepEqual(a, b), want, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      if (want && a !== b) equalPairs++;
    }
  }
  // The list holds pairs that differ only in key order or undefined members: the test compares them.
  assert.ok(equalPairs >= 8, `${equalPairs} distinct equal pairs`);
});

test('inherited keys do not count; a bare object equals its plain twin', () => {
  assert.ok(deepEqual(inherited, {}));
  assert.not.ok(deepEqual(inherited, { spec: { x: 1 } }));
  assert.ok(deepEqual(bare, { a: 1, b: [1, { c: null }] }));
  assert.not.ok(deepEqual(bare, { a: 1, b: [1, { c: undefined }] }));
});

test('clone: own keys in order, a "__proto__" key kept as a key, nothing shared, inherited keys left out', () => {
  const parsed = JSON.parse('{"b":1,"a":{"__proto__":{"x":1},"list":[{"c":null},"s"]},"2":true}') as Record<string, unknown>;
  const copy = clone(parsed);
  assert.is(JSON.stringify(copy), JSON.stringify(parsed));
  assert.equal(Object.keys(copy), ['2', 'b', 'a']);
  const inner = copy['a'] as Record<string, unknown>;
  assert.ok(Object.prototype.hasOwnProperty.call(inner, '__proto__'));
  assert.is(Object.getPrototypeOf(inner), Object.prototype);
  assert.is.not(inner, parsed['a']);
  assert.is.not(inner['list'], (parsed['a'] as Record<string, unknown>)['list']);
  assert.equal(clone(inherited), {});
  const bareCopy = clone(bare);
  assert.is(Object.getPrototypeOf(bareCopy), null);
  assert.equal({ ...bareCopy }, { a: 1, b: [1, { c: null }] });
  const frozen = Object.freeze({ m: Object.freeze({ n: 1 }) });
  const thawed = clone(frozen);
  assert.not.ok(Object.isFrozen(thawed) || Object.isFrozen(thawed.m));
  const when = new Date(0);
  assert.is(clone({ when }).when.getTime(), 0);
});

test.run();
