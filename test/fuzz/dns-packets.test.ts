/**
 * Fuzz: hostile DNS packets against the node-local DNS server of a real `corral agent` (UDP and TCP):
 * random bytes, valid queries with flipped bits, cut short or with lying section counts, compression
 * pointer loops, oversized labels and names, odd classes, types, opcodes and EDNS versions, responses
 * instead of queries, and TCP frames with absurd lengths. Forwarded names go to a fake upstream on
 * loopback (the agent's --resolv-conf), never to the network. Passes when the agent is alive,
 * logged nothing at error level for DNS, answers a real query afterwards, and its RSS came back
 * under a bound.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dnsPacket from 'dns-packet';
import { freePort, ServerProcess } from '../support/server-process.js';
import { AgentProcess } from '../support/agent-process.js';
import { fuzzCount, fuzzSeed, Rng, rssMiB, runCases } from '../support/fuzz.js';
import { dnsQuery, FakeUpstream, sendUdpRaw } from '../support/dns-client.js';
import { waitUntil } from '../support/wait.js';

interface Ctx { server: ServerProcess; agent: AgentProcess; upstream: FakeUpstream; dnsPort: number; dir: string }
const it = suite<Ctx>('fuzz-dns-packets');
const RSS_GROWTH_BOUND_MIB = 60;

it.before(async (ctx) => {
  ctx.upstream = new FakeUpstream({ 'example.com': ['203.0.113.5'] }, ['big.example.com']);
  const upstreamPort = await ctx.upstream.start();
  ctx.dir = mkdtempSync(join(tmpdir(), 'corral-dns-fuzz-'));
  const resolvConf = join(ctx.dir, 'resolv.conf');
  writeFileSync(resolvConf, `nameserver 127.0.0.1:${upstreamPort}\n`);
  ctx.dnsPort = await freePort();
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'] });
  ctx.agent = await AgentProcess.start(ctx.server, { nodeName: 'fuzz-dns', extraArgs: ['--cluster-dns-port', String(ctx.dnsPort), '--resolv-conf', resolvConf] });
  await waitUntil('the agent\'s DNS answers', async () => (await dnsQuery(ctx.dnsPort, 'kubernetes.default.svc.cluster.local', 'A', { timeoutMs: 300 }).catch(() => undefined))?.rcode === 'NOERROR', 30_000);
});

it.after(async (ctx) => {
  await ctx.agent?.destroy();
  await ctx.server?.destroy();
  ctx.upstream?.close();
  if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
});

const NAMES = ['kubernetes.default.svc.cluster.local', 'default.svc.cluster.local', 'svc.cluster.local', 'cluster.local',
  '_https._tcp.kubernetes.default.svc.cluster.local', '1-2-3-4.default.pod.cluster.local', '1.0.43.10.in-addr.arpa',
  '9.9.9.9.in-addr.arpa', 'example.com', 'big.example.com', 'missing.example.com', '', '.', 'a..b', '*.cluster.local',
  `${'a'.repeat(63)}.cluster.local`, 'x.y.z.w.v.default.svc.cluster.local', '\u00e9.cluster.local'];
const TYPES = ['A', 'AAAA', 'SRV', 'PTR', 'CNAME', 'SOA', 'NS', 'TXT', 'MX', 'ANY', 'AXFR', 'OPT', 'NULL'] as const;

/** A well-formed query (often with EDNS0) — the seed the mutators start from. */
function validQuery(rng: Rng): Buffer {
  const packet: dnsPacket.Packet = {
    type: 'query', id: rng.int(65536), flags: rng.chance(0.8) ? dnsPacket.RECURSION_DESIRED : rng.int(0x7fff),
    questions: [{ name: rng.pick(NAMES), type: rng.pick(TYPES) as dnsPacket.RecordType, class: rng.chance(0.9) ? 'IN' : rng.pick(['CH', 'HS', 'ANY'] as const) }],
  };
  if (rng.chance(0.5)) {
    packet.additionals = [{
      type: 'OPT', name: '.', udpPayloadSize: rng.pick([0, 1, 512, 1232, 4096, 65535]), extendedRcode: 0,
      ednsVersion: rng.chance(0.8) ? 0 : rng.int(256), flags: 0, flag_do: rng.chance(0.3), options: [],
    }];
  }
  try {
    return dnsPacket.encode(packet);
  } catch {
    return dnsPacket.encode({ type: 'query', id: 1, questions: [{ name: 'cluster.local', type: 'A' }] });
  }
}

/** One hostile packet. */
function hostile(rng: Rng): Buffer {
  const base = validQuery(rng);
  switch (rng.int(10)) {
    case 0: return rng.bytes(rng.int(600));
    case 1: { // flipped bits
      const b = Buffer.from(base);
      for (let i = rng.range(1, 6); i > 0; i--) b[rng.int(b.length)]! ^= 1 << rng.int(8);
      return b;
    }
    case 2: return base.subarray(0, rng.int(base.length)); // cut short
    case 3: { // section counts that lie
      const b = Buffer.from(base);
      b.writeUInt16BE(rng.int(65536), 4 + 2 * rng.int(4));
      return b;
    }
    case 4: { // a compression pointer pointing at itself or past the end
      const head = Buffer.from(base.subarray(0, 12));
      const ptr = Buffer.from([0xc0 | rng.int(64), rng.pick([12, 0, 255])]);
      return Buffer.concat([head, ptr, Buffer.from([0, 1, 0, 1])]);
    }
    case 5: { // labels longer than 63, names longer than 255
      const head = Buffer.from(base.subarray(0, 12));
      const labels = Array.from({ length: rng.range(1, 10) }, () => { const n = rng.pick([63, 64, 127, 200]); return Buffer.concat([Buffer.from([n]), Buffer.alloc(n, 0x61)]); });
      return Buffer.concat([head, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
    }
    case 6: { // a response, or another opcode
      const b = Buffer.from(base);
      b.writeUInt16BE(rng.chance(0.5) ? (b.readUInt16BE(2) | 0x8000) : ((b.readUInt16BE(2) & 0x87ff) | (rng.range(1, 15) << 11)), 2);
      return b;
    }
    case 7: return Buffer.concat([base, rng.bytes(rng.int(5000))]); // trailing garbage, sometimes oversized
    case 8: return rng.bytes(rng.int(12)); // shorter than a header
    default: return base;
  }
}

/** Writes TCP frames: well-formed, lying lengths, zero lengths, or a stream cut mid-frame. */
function tcpExchange(port: number, rng: Rng): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (): void => { clearTimeout(timer); socket.destroy(); resolve(); };
    const timer = setTimeout(done, 800);
    socket.on('error', done);
    socket.on('close', done);
    socket.on('data', () => undefined);
    socket.on('connect', () => {
      const frames: Buffer[] = [];
      for (let i = rng.range(1, 3); i > 0; i--) {
        const body = hostile(rng);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(rng.chance(0.7) ? body.length : rng.pick([0, 1, 65535, body.length + 10, rng.int(65536)]), 0);
        frames.push(len, body);
      }
      let bytes = Buffer.concat(frames);
      if (rng.chance(0.2)) bytes = bytes.subarray(0, rng.int(bytes.length));
      socket.write(bytes);
      if (rng.chance(0.5)) socket.end();
    });
  });
}

it('hostile packets over UDP and TCP: agent alive, still answering, no DNS errors, memory bounded', async ({ agent, dnsPort }) => {
  const seed = fuzzSeed('dns-packets');
  const count = fuzzCount(2000);
  const rng = new Rng(seed);
  const pid = agent.child.pid!;
  const rssBefore = rssMiB(pid);
  await runCases(rng, count, 16, async (r) => {
    if (r.chance(0.15)) await tcpExchange(dnsPort, r);
    else await sendUdpRaw(dnsPort, hostile(r), '127.0.0.1', 150);
  });
  assert.ok(agent.alive, `seed ${seed}: the agent exited:\n${agent.logs.slice(-3000)}`);
  const errors = agent.logs.split('\n').filter((l) => l.includes('"level":"error"') && l.includes('"component":"dns"'));
  assert.equal(errors, [], `seed ${seed}: error-level DNS log lines:\n${errors.slice(0, 5).join('\n')}`);
  const after = await dnsQuery(dnsPort, 'kubernetes.default.svc.cluster.local', 'A');
  assert.is(after.rcode, 'NOERROR', `seed ${seed}: a real query afterwards`);
  assert.equal(after.answers?.map((a) => ('data' in a ? a.data : undefined)), ['10.43.0.1'], `seed ${seed}: the kubernetes Service`);
  const outside = await dnsQuery(dnsPort, 'example.com', 'A');
  assert.equal(outside.answers?.map((a) => ('data' in a ? a.data : undefined)), ['203.0.113.5'], `seed ${seed}: forwarding still works`);
  const rss = await waitUntil('the agent\'s RSS to come back under the bound', async () => {
    const now = rssMiB(pid);
    return now < rssBefore + RSS_GROWTH_BOUND_MIB ? now : undefined;
  }, 30_000, 500).catch(() => rssMiB(pid));
  assert.ok(rss < rssBefore + RSS_GROWTH_BOUND_MIB, `RSS ${rss.toFixed(0)} MiB after the run, ${rssBefore.toFixed(0)} MiB before`);
});

it.run();
