/**
 * The DNS server over real loopback sockets: cluster records of every kind, NXDOMAIN vs NODATA with
 * SOA, TTLs, forwarding through a fake upstream with its cache and TCP retry, truncation and EDNS0,
 * FORMERR and drops for bad input, and no answers for sources that are not allowed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as dnsPacket from 'dns-packet';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { Endpoint, EndpointSlice, Pod, Service } from '../../api/types.js';
import type { ClusterView } from '../../agent/dns/cluster-zone.js';
import { DnsServer } from '../../agent/dns/dns-server.js';
import { Forwarder } from '../../agent/dns/forwarder.js';
import { AnswerCache, questionLength } from '../../agent/dns/answer-cache.js';
import { dnsQuery, FakeUpstream, sendUdpRaw } from '../support/dns-client.js';

function service(ns: string, name: string, spec: Partial<Service['spec']>): Service {
  return { metadata: { namespace: ns, name }, spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }], ...spec } };
}
function slice(ns: string, svc: string, endpoints: Endpoint[], port = 8080): EndpointSlice {
  return { metadata: { namespace: ns, name: `${svc}-x`, labels: { 'kubernetes.io/service-name': svc } }, addressType: 'IPv4', endpoints, ports: [{ name: 'http', port, protocol: 'TCP' }] };
}
const ep = (ip: string, ready = true, hostname?: string): Endpoint => ({ addresses: [ip], conditions: { ready }, ...(hostname ? { hostname } : {}) });

const services = [
  service('other', 'web', { clusterIP: '10.43.0.20' }),
  service('default', 'db', { clusterIP: 'None' }),
  service('default', 'sts', { clusterIP: 'None' }),
  service('default', 'many', { clusterIP: 'None' }),
  service('default', 'early', { clusterIP: 'None', publishNotReadyAddresses: true }),
  service('default', 'ext', { type: 'ExternalName', externalName: 'api.example.org' }),
  service('default', 'alias', { type: 'ExternalName', externalName: 'web.other.svc.cluster.local' }),
];
const slices = new Map<string, EndpointSlice[]>([
  ['default/db', [slice('default', 'db', [ep('10.42.1.5'), ep('10.42.2.6'), ep('10.42.2.7', false)])]],
  ['default/sts', [slice('default', 'sts', [ep('10.42.1.9', true, 'db-0')])]],
  ['default/many', [slice('default', 'many', Array.from({ length: 60 }, (_, i) => ep(`10.42.3.${i + 1}`)))]],
  ['other/web', [slice('other', 'web', [ep('10.42.1.10')])]],
  ['default/early', [slice('default', 'early', [ep('10.42.4.1'), ep('10.42.4.2', false)])]],
]);
const pods: Pod[] = [{ metadata: { namespace: 'default', name: 'p' }, spec: { containers: [] }, status: { podIP: '10.42.1.77' } }];

const view: ClusterView & { synced(): boolean } = {
  synced: () => true,
  service: (ns, name) => services.find((s) => s.metadata.namespace === ns && s.metadata.name === name),
  slices: (ns, svc) => slices.get(`${ns}/${svc}`) ?? [],
  namespaceKnown: (ns) => services.some((s) => s.metadata.namespace === ns),
  serviceByClusterIp: (ip) => services.find((s) => s.spec.clusterIP === ip),
  endpointByIp: (ip) => {
    for (const [k, list] of slices) {
      for (const s of list) {
        const e = s.endpoints.find((x) => x.addresses[0] === ip);
        if (e) return { service: view.service(k.split('/')[0]!, k.split('/')[1]!)!, endpoint: e };
      }
    }
    return undefined;
  },
  podsByIp: (ip) => pods.filter((p) => p.status?.podIP === ip),
  ownsAddress: (ip) => ip.startsWith('10.42.') || ip.startsWith('10.43.'),
};

const upstream = new FakeUpstream({ 'example.com': ['203.0.113.5'], 'api.example.org': ['203.0.113.9'] }, ['big.example.com']);
let server: DnsServer;
let port = 0;

test.before(async () => {
  const upstreamPort = await upstream.start();
  server = new DnsServer({
    zone: { domain: 'cluster.local', ttl: 5 },
    view,
    forwarder: new Forwarder({ upstreams: [`127.0.0.1:${upstreamPort}`] }),
    addresses: ['127.0.0.1'], port: 0, allowed: () => true,
  });
  await server.start();
  port = server.port;
});

test.after(async () => {
  await server.close();
  upstream.close();
});

/** The data of a record (OPT records have none). */
const dataOf = (a: dnsPacket.Answer): unknown => ('data' in a ? a.data : undefined);
const ips = (r: { answers?: dnsPacket.Answer[] | undefined }): string[] => (r.answers ?? []).filter((a) => a.type === 'A').map((a) => dataOf(a) as string).sort();

test('ClusterIP service: A record with the 5 s TTL, authoritative; AAAA is NODATA with SOA', async () => {
  const r = await dnsQuery(port, 'web.other.svc.cluster.local', 'A');
  assert.is(r.rcode, 'NOERROR');
  assert.ok(r.flag_aa);
  assert.equal(ips(r), ['10.43.0.20']);
  assert.is((r.answers![0] as { ttl: number }).ttl, 5);
  const aaaa = await dnsQuery(port, 'web.other.svc.cluster.local', 'AAAA');
  assert.is(aaaa.rcode, 'NOERROR');
  assert.is(aaaa.answers!.length, 0);
  assert.is(aaaa.authorities![0]!.type, 'SOA');
});

test('a repeated question is answered from the encoded-answer cache with the asker\'s ID and letter case', async () => {
  const first = await dnsQuery(port, 'web.other.svc.cluster.local', 'A');
  const again = await dnsQuery(port, 'WEB.Other.svc.cluster.local', 'A');
  assert.is(again.questions?.[0]?.name, 'WEB.Other.svc.cluster.local');
  assert.equal(ips(again), ips(first));
  assert.ok(again.flag_aa);
});

test('the answer cache drops everything when the view changes', () => {
  const cache = new AnswerCache();
  const query = dnsPacket.encode({ type: 'query', id: 7, questions: [{ name: 'a.b', type: 'A' }] });
  const reply = dnsPacket.encode({ type: 'response', id: 7, questions: [{ name: 'a.b', type: 'A' }], answers: [{ type: 'A', name: 'a.b', data: '10.0.0.1' }] });
  cache.set('k', query, reply, 1);
  const other = dnsPacket.encode({ type: 'query', id: 9, questions: [{ name: 'A.B', type: 'A' }] });
  const hit = cache.get('k', other, 1);
  assert.ok(hit);
  assert.is(dnsPacket.decode(hit!).id, 9);
  assert.is(cache.get('k', other, 2), undefined, 'a new generation misses');
  assert.is(cache.get('k', other, 2), undefined, 'and stays empty');
  const compressed = Buffer.concat([query.subarray(0, 12), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
  assert.is(questionLength(compressed), undefined);
});

test('NXDOMAIN with SOA for names that do not exist; NODATA for a known namespace', async () => {
  for (const name of ['nope.other.svc.cluster.local', 'web.nope.svc.cluster.local', 'x.web.other.svc.cluster.local', 'foo.cluster.local', 'nope.svc.cluster.local']) {
    const r = await dnsQuery(port, name, 'A');
    assert.is(r.rcode, 'NXDOMAIN', name);
    assert.is(r.authorities![0]!.type, 'SOA', name);
  }
  assert.is((await dnsQuery(port, 'other.svc.cluster.local', 'A')).rcode, 'NOERROR');
});

test('headless service: ready endpoints only; hostname records for StatefulSet-style pods', async () => {
  assert.equal(ips(await dnsQuery(port, 'db.default.svc.cluster.local', 'A')), ['10.42.1.5', '10.42.2.6']);
  assert.equal(ips(await dnsQuery(port, 'db-0.sts.default.svc.cluster.local', 'A')), ['10.42.1.9']);
  assert.equal(ips(await dnsQuery(port, '10-42-1-5.db.default.svc.cluster.local', 'A')), ['10.42.1.5']);
  assert.is((await dnsQuery(port, '10-42-2-7.db.default.svc.cluster.local', 'A')).rcode, 'NXDOMAIN', 'not-ready endpoint is not published');
  assert.equal(ips(await dnsQuery(port, 'early.default.svc.cluster.local', 'A')), ['10.42.4.1', '10.42.4.2'], 'publishNotReadyAddresses: every endpoint');
});

test('SRV for a named port, with the targets as additionals', async () => {
  const r = await dnsQuery(port, '_http._tcp.web.other.svc.cluster.local', 'SRV');
  assert.equal(r.answers!.map(dataOf), [{ priority: 0, weight: 100, port: 80, target: 'web.other.svc.cluster.local' }]);
  assert.equal(ips({ answers: r.additionals }), ['10.43.0.20']);
  const headless = await dnsQuery(port, '_http._tcp.sts.default.svc.cluster.local', 'SRV');
  assert.equal(headless.answers!.map(dataOf), [{ priority: 0, weight: 100, port: 8080, target: 'db-0.sts.default.svc.cluster.local' }]);
  assert.is((await dnsQuery(port, '_nope._tcp.web.other.svc.cluster.local', 'SRV')).rcode, 'NXDOMAIN');
});

test('PTR for a ClusterIP, a service endpoint and a pod; unknown cluster addresses are NXDOMAIN', async () => {
  assert.equal((await dnsQuery(port, '20.0.43.10.in-addr.arpa', 'PTR')).answers!.map(dataOf), ['web.other.svc.cluster.local']);
  assert.equal((await dnsQuery(port, '9.1.42.10.in-addr.arpa', 'PTR')).answers!.map(dataOf), ['db-0.sts.default.svc.cluster.local']);
  assert.equal((await dnsQuery(port, '77.1.42.10.in-addr.arpa', 'PTR')).answers!.map(dataOf), ['10-42-1-77.default.pod.cluster.local']);
  assert.is((await dnsQuery(port, '99.9.42.10.in-addr.arpa', 'PTR')).rcode, 'NXDOMAIN');
});

test('pod A records are verified against the pods of the namespace', async () => {
  assert.equal(ips(await dnsQuery(port, '10-42-1-77.default.pod.cluster.local', 'A')), ['10.42.1.77']);
  assert.is((await dnsQuery(port, '10-42-1-78.default.pod.cluster.local', 'A')).rcode, 'NXDOMAIN');
  assert.is((await dnsQuery(port, '10-42-1-77.other.pod.cluster.local', 'A')).rcode, 'NXDOMAIN');
});

test('ExternalName: CNAME with the target resolved in the same answer (upstream or in-cluster)', async () => {
  const r = await dnsQuery(port, 'ext.default.svc.cluster.local', 'A');
  assert.equal(r.answers!.map((a) => [a.type, dataOf(a)]), [['CNAME', 'api.example.org'], ['A', '203.0.113.9']]);
  const alias = await dnsQuery(port, 'alias.default.svc.cluster.local', 'A');
  assert.equal(alias.answers!.map((a) => [a.type, dataOf(a)]), [['CNAME', 'web.other.svc.cluster.local'], ['A', '10.43.0.20']]);
});

test('forwarding: outside names through the upstream, then from the cache', async () => {
  const before = upstream.queries.filter((q) => q.startsWith('udp:example.com:A')).length;
  const r = await dnsQuery(port, 'example.com', 'A');
  assert.equal(ips(r), ['203.0.113.5']);
  assert.not.ok(r.flag_aa);
  const again = await dnsQuery(port, 'Example.COM', 'A');
  assert.equal(ips(again), ['203.0.113.5']);
  assert.is(upstream.queries.filter((q) => q.startsWith('udp:example.com:A')).length, before + 1, 'second answer came from the cache');
  assert.is((await dnsQuery(port, 'missing.example.com', 'A')).rcode, 'NXDOMAIN');
});

test('truncation: a large answer sets TC over plain UDP, fits with EDNS0 or TCP; an upstream TC is retried over TCP', async () => {
  const udp = await dnsQuery(port, 'many.default.svc.cluster.local', 'A');
  assert.ok(udp.flag_tc);
  assert.is(udp.answers!.length, 0);
  const edns = await dnsQuery(port, 'many.default.svc.cluster.local', 'A', { edns: 4096 });
  assert.not.ok(edns.flag_tc);
  assert.is(edns.answers!.length, 60);
  assert.ok(edns.additionals!.some((a) => a.type === 'OPT'), 'EDNS0 answered with an OPT record');
  const tcp = await dnsQuery(port, 'many.default.svc.cluster.local', 'A', { tcp: true });
  assert.is(tcp.answers!.length, 60);
  const big = await dnsQuery(port, 'big.example.com', 'A', { tcp: true });
  assert.is(big.answers!.length, 60);
  assert.ok(upstream.queries.includes('tcp:big.example.com:A'), 'the forwarder retried over TCP');
});

test('bad input: FORMERR for an undecodable query with a header, drops for short packets and responses; still serving', async () => {
  const garbage = Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff]);
  const reply = await sendUdpRaw(port, garbage);
  assert.ok(reply, 'FORMERR answered');
  const decoded = dnsPacket.decode(reply!) as { id?: number; rcode?: string };
  assert.is(decoded.id, 0x1234);
  assert.is(decoded.rcode, 'FORMERR');
  assert.is(await sendUdpRaw(port, Buffer.from([1, 2, 3]), '127.0.0.1', 300), undefined);
  const response = dnsPacket.encode({ type: 'response', id: 1, questions: [{ name: 'x', type: 'A' }] });
  assert.is(await sendUdpRaw(port, response, '127.0.0.1', 300), undefined, 'responses are never answered (no reflection)');
  const twoQuestions = dnsPacket.encode({ type: 'query', id: 2, questions: [{ name: 'a', type: 'A' }, { name: 'b', type: 'A' }] });
  assert.is((dnsPacket.decode((await sendUdpRaw(port, twoQuestions))!) as { rcode?: string }).rcode, 'FORMERR');
  assert.equal(ips(await dnsQuery(port, 'web.other.svc.cluster.local', 'A')), ['10.43.0.20']);
});

test('no open resolver: sources that are not allowed get nothing over UDP or TCP', async () => {
  const closed = new DnsServer({
    zone: { domain: 'cluster.local', ttl: 5 }, view, forwarder: new Forwarder({ upstreams: [] }),
    addresses: ['127.0.0.1'], port: 0, allowed: (ip) => ip !== '127.0.0.1',
  });
  await closed.start();
  try {
    const failed = async (p: Promise<unknown>): Promise<boolean> => p.then(() => false, () => true);
    assert.ok(await failed(dnsQuery(closed.port, 'web.other.svc.cluster.local', 'A', { timeoutMs: 300 })), 'UDP answered');
    assert.ok(await failed(dnsQuery(closed.port, 'web.other.svc.cluster.local', 'A', { tcp: true, timeoutMs: 500 })), 'TCP answered');
    assert.ok(closed.stats.dropped >= 2);
  } finally {
    await closed.close();
  }
});

test('a start that fails half way (port taken) closes what it opened, so a retry can bind', async () => {
  const blocker = createSocket('udp4');
  await new Promise<void>((resolve) => blocker.bind(0, '127.0.0.1', resolve));
  const taken = blocker.address().port;
  const options = { zone: { domain: 'cluster.local', ttl: 5 }, view, forwarder: new Forwarder({ upstreams: [] }), port: taken, allowed: () => true };
  // The loopback address binds first, then the same port on 127.0.0.1 again fails.
  const first = new DnsServer({ ...options, addresses: ['127.0.0.2', '127.0.0.1'] });
  let failed = false;
  await first.start().catch(() => { failed = true; });
  assert.ok(failed, 'the taken port is refused');
  await first.close();
  blocker.close();
  const retry = new DnsServer({ ...options, addresses: ['127.0.0.2', '127.0.0.1'] });
  await retry.start();
  assert.equal(ips(await dnsQuery(taken, 'web.other.svc.cluster.local', 'A')), ['10.43.0.20']);
  await retry.close();
});

test('a TCP port taken under the UDP one: a fixed port fails and gives the UDP port back; port 0 finds another pair', async () => {
  const tcpBlocker = createServer();
  await new Promise<void>((resolve) => tcpBlocker.listen(0, '127.0.0.1', resolve));
  const taken = (tcpBlocker.address() as { port: number }).port;
  const options = { zone: { domain: 'cluster.local', ttl: 5 }, view, forwarder: new Forwarder({ upstreams: [] }), allowed: () => true, addresses: ['127.0.0.1'] };
  const fixed = new DnsServer({ ...options, port: taken });
  let code = '';
  await fixed.start().catch((err: NodeJS.ErrnoException) => { code = err.code ?? ''; });
  assert.is(code, 'EADDRINUSE');
  const probe = createSocket('udp4');
  await new Promise<void>((resolve, reject) => { probe.once('error', reject); probe.bind(taken, '127.0.0.1', resolve); });
  probe.close();
  await fixed.close();
  const any = new DnsServer({ ...options, port: 0 });
  await any.start();
  assert.ok(any.port > 0 && any.port !== taken);
  assert.equal(ips(await dnsQuery(any.port, 'web.other.svc.cluster.local', 'A')), ['10.43.0.20']);
  await any.close();
  tcpBlocker.close();
});

test.run();
