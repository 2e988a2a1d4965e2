/** The `--lb-pool` parser: ranges, CIDRs, single addresses, membership, first free address, bad input. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { firstFreeAddress, ipv4ToNumber, numberToIpv4, parseLbPool, poolContains } from '../../server/controllers/lb-pool.js';

const spans = (text: string): string[] => parseLbPool(text).ranges.map((r) => `${numberToIpv4(r.first)}-${numberToIpv4(r.last)}`);

test('IPv4 addresses as numbers and back', () => {
  assert.is(ipv4ToNumber('192.168.1.240'), 0xc0a801f0);
  assert.is(ipv4ToNumber('255.255.255.255'), 0xffffffff);
  assert.is(numberToIpv4(0xc0a801f0), '192.168.1.240');
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1.2.3.-4', 'a.b.c.d', '::1', '1.2.3.4/32']) assert.is(ipv4ToNumber(bad), undefined, bad);
});

test('ranges, CIDRs and single addresses, comma separated with spaces, sorted', () => {
  assert.equal(spans('192.168.1.240-192.168.1.250'), ['192.168.1.240-192.168.1.250']);
  // A CIDR leaves out its network and broadcast addresses; a /31 and a /32 have none.
  assert.equal(spans('192.168.1.224/28'), ['192.168.1.225-192.168.1.238']);
  assert.equal(spans('10.0.0.2/31'), ['10.0.0.2-10.0.0.3']);
  assert.equal(spans('10.0.0.7/32'), ['10.0.0.7-10.0.0.7']);
  assert.equal(spans(' 192.168.1.250 , 192.168.1.240-192.168.1.241,10.1.0.0/30 '), ['10.1.0.1-10.1.0.2', '192.168.1.240-192.168.1.241', '192.168.1.250-192.168.1.250']);
  assert.is(parseLbPool(' 192.168.1.250 ,192.168.1.240-192.168.1.241').text, '192.168.1.250,192.168.1.240-192.168.1.241');
});

test('membership and the lowest free address across ranges', () => {
  const pool = parseLbPool('192.168.1.240-192.168.1.241,192.168.1.244/31');
  assert.ok(poolContains(pool, '192.168.1.241'));
  assert.ok(poolContains(pool, '192.168.1.245'));
  assert.not.ok(poolContains(pool, '192.168.1.242'));
  assert.not.ok(poolContains(pool, 'not-an-ip'));
  assert.is(firstFreeAddress(pool, new Set()), '192.168.1.240');
  assert.is(firstFreeAddress(pool, new Set(['192.168.1.240', '192.168.1.241'])), '192.168.1.244');
  assert.is(firstFreeAddress(pool, new Set(['192.168.1.240', '192.168.1.241', '192.168.1.244', '192.168.1.245'])), undefined);
});

test('bad input: a clear message naming the entry', () => {
  const cases: [string, RegExp][] = [
    ['', /--lb-pool is empty: give IPv4 ranges or CIDRs/],
    [' , ', /--lb-pool is empty/],
    ['192.168.1.250-192.168.1.240', /invalid --lb-pool entry "192\.168\.1\.250-192\.168\.1\.240": the range ends before it starts/],
    ['192.168.1.240-192.168.1.300', /invalid --lb-pool entry "192\.168\.1\.240-192\.168\.1\.300": expected a range such as 192\.168\.1\.240-192\.168\.1\.250/],
    ['192.168.1.240-', /invalid --lb-pool entry "192\.168\.1\.240-": expected a range/],
    ['192.168.1.0/33', /invalid --lb-pool entry "192\.168\.1\.0\/33": expected an IPv4 CIDR such as 192\.168\.1\.240\/28/],
    ['192.168.1.0/x', /expected an IPv4 CIDR/],
    ['192.168.1.0/', /expected an IPv4 CIDR/],
    ['192.168.1.241/28', /invalid --lb-pool entry "192\.168\.1\.241\/28": host bits are set \(did you mean 192\.168\.1\.240\/28\?\)/],
    ['grafana.home.lan', /invalid --lb-pool entry "grafana\.home\.lan": expected an IPv4 range, CIDR or address/],
    ['fd00::1-fd00::9', /invalid --lb-pool entry "fd00::1-fd00::9": expected a range/],
    ['192.168.1.240-192.168.1.250,192.168.1.248/29', /--lb-pool entries overlap at 192\.168\.1\.249/],
    ['10.0.0.5,10.0.0.5', /--lb-pool entries overlap at 10\.0\.0\.5/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseLbPool(text), message, `"${text}"`);
  }
});

test.run();
