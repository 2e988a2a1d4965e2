/** The bitmap allocator and the IPv4 range behind ClusterIP/NodePort allocation. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BitmapAllocator } from '../../server/apiserver/allocators/bitmap.js';
import { IPv4Range } from '../../server/apiserver/allocators/ipv4-range.js';

test('allocate, release and count', () => {
  const b = new BitmapAllocator(100);
  assert.ok(b.allocate(0));
  assert.ok(b.allocate(99));
  assert.not.ok(b.allocate(99), 'taken twice');
  assert.not.ok(b.allocate(100), 'out of range');
  assert.not.ok(b.allocate(-1));
  assert.not.ok(b.allocate(1.5));
  assert.is(b.count, 2);
  assert.equal(b.taken(), [0, 99]);
  assert.ok(b.release(0));
  assert.not.ok(b.release(0), 'released twice');
  assert.is(b.count, 1);
  assert.is(b.free, 99);
});

test('allocateNext never hands out a taken offset and fills the whole range', () => {
  const b = new BitmapAllocator(70, () => 0.37);
  const seen = new Set<number>();
  for (let i = 0; i < 70; i++) {
    const off = b.allocateNext();
    assert.ok(off !== undefined);
    assert.not.ok(seen.has(off!), `offset ${off} handed out twice`);
    seen.add(off!);
  }
  assert.is(b.allocateNext(), undefined, 'full range');
  b.release(42);
  assert.is(b.allocateNext(), 42, 'the only free offset');
});

test('allocateNext prefers the upper band and honours skip', () => {
  const b = new BitmapAllocator(64, () => 0);
  const skip = new Set([0]);
  for (let i = 0; i < 48; i++) {
    const off = b.allocateNext({ preferFrom: 16, skip })!;
    assert.ok(off >= 16, `dynamic pick ${off} came from the static band while the upper band had room`);
  }
  const next = b.allocateNext({ preferFrom: 16, skip })!;
  assert.ok(next >= 1 && next < 16, 'falls back to the lower band when the upper one is full');
  for (let i = 0; i < 14; i++) b.allocateNext({ preferFrom: 16, skip });
  assert.is(b.allocateNext({ preferFrom: 16, skip }), undefined, 'skipped offsets are never returned');
  assert.not.ok(b.has(0));
});

test('word boundaries', () => {
  const b = new BitmapAllocator(65);
  for (const off of [31, 32, 63, 64]) assert.ok(b.allocate(off));
  assert.equal(b.taken(), [31, 32, 63, 64]);
  assert.ok(b.has(64));
  assert.not.ok(b.has(33));
});

test('IPv4Range maps usable addresses to offsets', () => {
  const r = new IPv4Range('10.43.0.0/16');
  assert.is(r.size, 65534);
  assert.is(r.addressAt(0), '10.43.0.1');
  assert.is(r.offsetOf('10.43.0.1'), 0);
  assert.is(r.offsetOf('10.43.1.0'), 255);
  assert.is(r.addressAt(65533), '10.43.255.254');
  assert.is(r.offsetOf('10.43.0.0'), undefined, 'network address');
  assert.is(r.offsetOf('10.43.255.255'), undefined, 'broadcast address');
  assert.is(r.offsetOf('10.44.0.1'), undefined);
  assert.is(r.offsetOf('10.43.0.256'), undefined);
  assert.is(new IPv4Range('192.168.5.17/24').addressAt(0), '192.168.5.1', 'host bits of the CIDR are ignored');
  assert.throws(() => new IPv4Range('10.43.0.0/31'));
  assert.throws(() => new IPv4Range('nonsense'));
});

test.run();
