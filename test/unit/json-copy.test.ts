/**
 * jsonCopy (api/json-copy.ts) gives exactly what a JSON round trip gives for plain data, never shares
 * a container with its input, and declines (undefined) whatever JSON would write another way, or
 * whose text could pass the size limit, so that the caller takes the text path for it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { jsonCopy } from '../../api/json-copy.js';

const LIMITS = { maxDepth: 1000, maxBytes: 3 * 1024 * 1024 };
const roundTrip = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

test('plain data: the same as a JSON round trip, key order and all', () => {
  const values: unknown[] = [
    {}, [], { a: 1, b: 'x', c: true, d: null, e: [1, 'two', null, false, { f: -0 }] },
    { skipped: undefined, fn: () => 1, sym: Symbol('s'), kept: 0 },
    [undefined, () => 1, Symbol('s'), 3],
    { z: 1, a: 2, 10: 'ten', 2: 'two' },
    { text: 'é ü \u2028 "q" \\ \ud800 lone', big: 1e21, small: 5e-324, neg: -1.5 },
    Object.assign(Object.create(null) as Record<string, unknown>, { bare: 'object' }),
    // eslint-disable-next-line no-sparse-arrays
    [1, , 3],
    { nested: { deeper: { deepest: [[[]]] } } },
  ];
  for (const v of values) {
    const copy = jsonCopy(v, LIMITS);
    assert.is(JSON.stringify(copy), JSON.stringify(roundTrip(v)));
    assert.equal(copy, roundTrip(v));
  }
  const negZero = jsonCopy({ n: -0 }, LIMITS) as { n: number };
  assert.ok(Object.is(negZero.n, 0), '-0 becomes 0 as through JSON');
  assert.is(Object.getPrototypeOf(jsonCopy(Object.create(null), LIMITS)), Object.prototype);
});

test('the copy shares nothing with its input', () => {
  const input = { a: { b: [{ c: 1 }] } };
  const copy = jsonCopy(input, LIMITS) as typeof input;
  copy.a.b[0]!.c = 2;
  copy.a.b.push({ c: 3 });
  assert.equal(input, { a: { b: [{ c: 1 }] } });
});

test('declines what JSON writes another way, too deep or possibly too large', () => {
  class Box { x = 1; }
  const declined: unknown[] = [
    { when: new Date(0) }, { custom: { toJSON: () => 'x' } }, [new Box()], { n: NaN }, { n: Infinity }, { b: 1n },
    JSON.parse('{"__proto__": {"polluted": true}}'), { s: new String('boxed') },
    'a string', 1, null, undefined,
  ];
  for (const v of declined) assert.is(jsonCopy(v, LIMITS), undefined, String(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? 'bigint' : x))));
  let deep: unknown = {};
  for (let i = 0; i < 5; i++) deep = { deep };
  assert.ok(jsonCopy(deep, { maxDepth: 6, maxBytes: 1000 }) !== undefined, 'six levels fit a depth of 6');
  assert.is(jsonCopy({ deep }, { maxDepth: 6, maxBytes: 1000 }), undefined, 'seven do not');
  assert.is(jsonCopy({ s: 'x'.repeat(200) }, { maxDepth: 10, maxBytes: 1000 }), undefined, 'a text that might pass the limit');
  assert.ok(jsonCopy({ s: 'x'.repeat(100) }, { maxDepth: 10, maxBytes: 1000 }) !== undefined);
});

test.run();
