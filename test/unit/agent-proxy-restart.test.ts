/**
 * The first sync of a restarted agent: services whose chains are already in the kernel with the
 * right content hash are not rewritten; changed, missing or damaged ones are; stale chains go.
 * The kernel's state is given as iptables-save text, built here from what a previous sync wrote.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { EndpointSlice, Service } from '../../api/types.js';
import { buildNatRuleSet, parseInstalledNat, renderNatRuleSet, renderRestartSync, type NatInput } from '../../agent/proxy/index.js';

/** An EndpointSlice of ready endpoints, as the endpointslice controller writes it. */
function slice(name: string, namespace: string, ips: string[], ports: { name?: string; port: number; protocol?: 'TCP' | 'UDP' }[]): EndpointSlice {
  return {
    metadata: { name: `${name}-x`, namespace, labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4', endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
    ports: ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' })),
  };
}

function world(n: number, changed?: number): NatInput {
  const services: Service[] = [];
  const endpointSlices: EndpointSlice[] = [];
  for (let i = 0; i < n; i++) {
    services.push({ metadata: { name: `s${i}`, namespace: 'ns' }, spec: { clusterIP: `10.43.0.${i + 2}`, ports: [{ name: 'http', port: 80 }] } });
    const last = i === changed ? 99 : 4;
    endpointSlices.push(slice(`s${i}`, 'ns', [`10.42.1.${i + 2}`, `10.42.2.${i + last}`], [{ name: 'http', port: 8080 }]));
  }
  return { services, endpointSlices, nodeIPs: [], podCIDR: '10.42.1.0/24', clusterCIDR: '10.42.0.0/16' };
}

/** What iptables-save prints for the nat table after a full restore of `text` (same line format). */
function saveOf(text: string, extra: string[] = []): string {
  const lines = text.split('\n').filter((l) => l.startsWith(':') || l.startsWith('-A '));
  return ['*nat', ':PREROUTING ACCEPT [0:0]', ...extra, ...lines, 'COMMIT', ''].join('\n');
}

test('after a plain restart only the base chains are rewritten', () => {
  const set = buildNatRuleSet(world(50));
  const installed = parseInstalledNat(saveOf(renderNatRuleSet(set)));
  assert.is(installed.hashes.size, 50, 'every SVC chain carries its hash');
  const r = renderRestartSync(set, installed);
  assert.is(r.rewritten, 0);
  assert.not.match(r.text, /CORRAL-SEP-/, 'no endpoint chain is touched');
  assert.match(r.text, /^:CORRAL-SERVICES - \[0:0\]$/m, 'base chains are always rewritten');
  assert.ok(r.text.split('\n').length < 80, `small restore (${r.text.split('\n').length} lines)`);
});

test('a service changed while the agent was down, one whose chain was damaged, and stale chains', () => {
  const before = buildNatRuleSet(world(10));
  const text = renderNatRuleSet(before);
  const after = buildNatRuleSet(world(9, 3)); // s3 got another endpoint, s9 is gone
  // Someone removed an endpoint chain of s5.
  const s5Sep = before.services.find((s) => s.key === 'ns/s5')!.chains[1]!.name;
  const damaged = text.split('\n').filter((l) => !l.includes(s5Sep)).join('\n');
  const r = renderRestartSync(after, parseInstalledNat(saveOf(damaged, [':DOCKER - [0:0]'])));
  assert.is(r.rewritten, 2, 's3 (new hash) and s5 (missing chain)');
  const s9Chains = before.services.find((s) => s.key === 'ns/s9')!.chains.map((c) => c.name);
  for (const c of s9Chains) assert.match(r.text, new RegExp(`^-X ${c}$`, 'm'), `stale ${c} deleted`);
  assert.not.match(r.text, /DOCKER/, 'never touches chains that are not corral\'s');
  const s3 = after.services.find((s) => s.key === 'ns/s3')!;
  for (const c of s3.chains) for (const rule of c.rules) assert.ok(r.text.includes(rule), 'the changed service is written in full');
});

test('a hash that does not match the rules (same chain names, other content) is rewritten', () => {
  const set = buildNatRuleSet(world(3));
  const forged = renderNatRuleSet(set).replace(/ h=[0-9a-f]{12}"/, ' h=000000000000"');
  assert.is(renderRestartSync(set, parseInstalledNat(saveOf(forged))).rewritten, 1);
});

test.run();
