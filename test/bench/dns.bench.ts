/**
 * Cluster DNS benchmark (plain script, needs dnsperf: apt-get install dnsperf). A real `corral server`
 * and one `corral agent` on loopback; the agent's resolver is measured with dnsperf:
 *   - cluster names (A records of N Services): queries/s and p50/p99 latency;
 *   - forwarded names with a warm cache (the upstream is a fake resolver on loopback);
 *   - the agent's RSS before and after the load (what answering costs it);
 *   - the floor: a raw Node.js UDP echo server measured by the same dnsperf in the same run.
 * Usage: node dist/test/bench/dns.bench.js [--quick] [services=200] [seconds=8]
 *   AGENT_NODE_OPTIONS=--max-semi-space-size=1 gives the agent the V8 flag the installed service runs with.
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, ServerProcess } from '../support/server-process.js';
import { AgentProcess } from '../support/agent-process.js';
import { dnsQuery, FakeUpstream } from '../support/dns-client.js';
import { rssMiB } from '../support/fuzz.js';
import { waitUntil } from '../support/wait.js';

const quick = process.argv.includes('--quick');
const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const SERVICES = Number(positional[0] ?? (quick ? 50 : 200));
const SECONDS = Number(positional[1] ?? (quick ? 3 : 8));
const FORWARDED = 20;

interface PerfResult { qps: number; p50: number; p99: number; lost: number; sent: number }

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

/** dnsperf for `seconds` against 127.0.0.1:port with the queries in `file`; latencies from its verbose lines. */
function dnsperf(port: number, file: string, seconds: number): Promise<PerfResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', file, '-l', String(seconds), '-c', '4', '-q', '64', '-v'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const latencies: number[] = [];
    let tail = '';
    let rest = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const text = rest + chunk.toString('utf8');
      const lines = text.split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        // "> NOERROR web-1.bench.svc.cluster.local A 0.000123"
        const m = /^> \S+ \S+ \S+ (\d+\.\d+)$/.exec(line);
        if (m) latencies.push(Number(m[1]) * 1000);
        else tail += `${line}\n`;
      }
    });
    child.on('error', (err) => reject(new Error(`dnsperf: ${err.message} (apt-get install dnsperf)`)));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`dnsperf exited with ${code}: ${tail.slice(-500)}`));
      latencies.sort((a, b) => a - b);
      const qps = Number(/Queries per second:\s+([\d.]+)/.exec(tail)?.[1] ?? NaN);
      const sent = Number(/Queries sent:\s+(\d+)/.exec(tail)?.[1] ?? NaN);
      const lost = Number(/Queries lost:\s+(\d+)/.exec(tail)?.[1] ?? NaN);
      resolve({ qps, p50: percentile(latencies, 50), p99: percentile(latencies, 99), lost, sent });
    });
  });
}

/** The floor: a Node.js UDP server that answers each packet with itself, QR bit set. */
async function echoServer(): Promise<{ port: number; close(): void }> {
  const socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    if (msg.length >= 4) msg[2] = msg[2]! | 0x80;
    socket.send(msg, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, close: () => socket.close() };
}

const fmt = (r: PerfResult): string => `${Math.round(r.qps).toLocaleString('en-US')} q/s, p50 ${r.p50.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms (${r.lost} of ${r.sent} lost)`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-dns-bench-'));
  const records: Record<string, string[]> = {};
  for (let i = 0; i < FORWARDED; i++) records[`host-${i}.example.com`] = [`203.0.113.${i + 1}`];
  const upstream = new FakeUpstream(records);
  const upstreamPort = await upstream.start();
  writeFileSync(join(dir, 'resolv.conf'), `nameserver 127.0.0.1:${upstreamPort}\n`);
  const dnsPort = await freePort();
  const server = await ServerProcess.start({ extraArgs: ['--disable-controllers'] });
  const agent = await AgentProcess.start(server, { nodeName: 'bench-dns', extraArgs: ['--cluster-dns-port', String(dnsPort), '--resolv-conf', join(dir, 'resolv.conf')], ...(process.env['AGENT_NODE_OPTIONS'] ? { env: { NODE_OPTIONS: process.env['AGENT_NODE_OPTIONS'] } } : {}) });
  const echo = await echoServer();
  try {
    await server.client.create('Namespace', undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } });
    for (let i = 0; i < SERVICES; i++) {
      await server.client.create('Service', 'bench', { apiVersion: 'v1', kind: 'Service', metadata: { name: `web-${i}` }, spec: { ports: [{ name: 'http', port: 80 }] } });
    }
    await waitUntil('the last Service resolves', async () => (await dnsQuery(dnsPort, `web-${SERVICES - 1}.bench.svc.cluster.local`, 'A', { timeoutMs: 500 }).catch(() => undefined))?.answers?.length === 1, 60_000);
    const clusterFile = join(dir, 'cluster.txt');
    writeFileSync(clusterFile, Array.from({ length: SERVICES }, (_, i) => `web-${i}.bench.svc.cluster.local A`).join('\n') + '\n');
    const forwardFile = join(dir, 'forward.txt');
    writeFileSync(forwardFile, Array.from({ length: FORWARDED }, (_, i) => `host-${i}.example.com A`).join('\n') + '\n');
    for (let i = 0; i < FORWARDED; i++) await dnsQuery(dnsPort, `host-${i}.example.com`, 'A'); // warm the cache

    const pid = agent.child.pid!;
    const rssIdle = rssMiB(pid);
    const floor = await dnsperf(echo.port, clusterFile, SECONDS);
    const cluster = await dnsperf(dnsPort, clusterFile, SECONDS);
    const forwarded = await dnsperf(dnsPort, forwardFile, Math.max(2, Math.round(SECONDS / 2)));
    const rssAfter = rssMiB(pid);
    await new Promise((r) => setTimeout(r, 5_000));
    const rssSettled = rssMiB(pid);
    const upstreamQueries = upstream.queries.length;
    process.stdout.write([
      `node bench-dns (one agent on loopback, ${SERVICES} Services, dnsperf -c 4 -q 64, ${SECONDS} s runs)`,
      `  floor, raw Node.js UDP echo:   ${fmt(floor)}`,
      `  cluster names (A):             ${fmt(cluster)}  = ${(cluster.qps / floor.qps * 100).toFixed(0)}% of the floor`,
      `  forwarded names, warm cache:   ${fmt(forwarded)}  (upstream asked ${upstreamQueries} times in all)`,
      `  agent RSS: ${rssIdle.toFixed(1)} MiB idle with the caches synced, ${rssAfter.toFixed(1)} MiB right after the load (+${(rssAfter - rssIdle).toFixed(1)} MiB), ${rssSettled.toFixed(1)} MiB 5 s later (+${(rssSettled - rssIdle).toFixed(1)} MiB)`,
      `  goal: >= 10,000 cluster-name q/s on one core, <= 5 MB extra agent memory`,
      '',
    ].join('\n'));
  } finally {
    echo.close();
    await agent.destroy();
    await server.destroy();
    upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
