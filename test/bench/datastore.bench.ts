/**
 * SQLite beside etcd, in the same run (prints figures, asserts nothing, ends by itself):
 *
 *   node dist/test/bench/datastore.bench.js [--quick]
 *
 * Two real `corral server` processes on loopback (HTTPS, admin token, controllers off): one on its
 * SQLite file, one on a single-member etcd (Debian's etcd-server) on the same disk. For each: creates
 * per second with 1 and with 50 concurrent clients, and watch delivery latency p50/p99 (create
 * acknowledged → event received). The SQLite figures are the baseline; the ratio is what to read.
 */
import { performance } from 'node:perf_hooks';
import { ServerProcess } from '../support/server-process.js';
import { EtcdCluster } from '../support/etcd-process.js';
import { HttpsTransport } from '../../api/client/transport.js';
import { ApiClient } from '../../api/client/client.js';

const quick = process.argv.includes('--quick');
const SEQ = quick ? 200 : 600;
const CONC_CLIENTS = 50;
const CONC_TOTAL = quick ? 1000 : 3000;
const WATCH_SAMPLES = quick ? 100 : 300;

interface Figures { seq: number; conc: number; p50: number; p99: number }

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

async function measure(server: ServerProcess, label: string): Promise<Figures> {
  const client = server.client;
  let t = performance.now();
  for (let i = 0; i < SEQ; i++) await client.create('ConfigMap', 'default', { metadata: { name: `${label}-s${i}` }, data: { i: String(i) } });
  const seq = SEQ / ((performance.now() - t) / 1000);
  const transports = Array.from({ length: CONC_CLIENTS }, () => new HttpsTransport({ server: server.url, caPem: server.caPem, token: server.token }));
  let next = 0;
  t = performance.now();
  await Promise.all(transports.map(async (tr) => {
    const c = new ApiClient(tr);
    for (let i = next++; i < CONC_TOTAL; i = next++) await c.create('ConfigMap', 'default', { metadata: { name: `${label}-c${i}` } });
  }));
  const conc = CONC_TOTAL / ((performance.now() - t) / 1000);
  for (const tr of transports) tr.close();
  // Watch latency: each create is acknowledged, then its event is awaited.
  const abort = new AbortController();
  const arrived = new Map<string, () => void>();
  const watching = (async () => {
    for await (const ev of client.watch('Secret', 'default', { signal: abort.signal })) {
      if (ev.type === 'ADDED') arrived.get(ev.object.metadata.name!)?.();
    }
  })().catch(() => undefined);
  await new Promise((r) => setTimeout(r, 300));
  const latencies: number[] = [];
  for (let i = 0; i < WATCH_SAMPLES; i++) {
    const name = `${label}-w${i}`;
    const seen = new Promise<void>((resolve) => arrived.set(name, resolve));
    await client.create('Secret', 'default', { metadata: { name } });
    const acked = performance.now();
    await seen;
    latencies.push(performance.now() - acked);
  }
  abort.abort();
  await watching;
  latencies.sort((a, b) => a - b);
  return { seq, conc, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function main(): Promise<void> {
  const etcd = await EtcdCluster.start(1);
  const servers: ServerProcess[] = [];
  try {
    const sqlite = await ServerProcess.start({ extraArgs: ['--disable-controllers'] });
    servers.push(sqlite);
    const onEtcd = await ServerProcess.start({ extraArgs: ['--disable-controllers', '--datastore-endpoint', etcd.endpoints.join(',')], env: { CORRAL_TOKEN: 'bench-cluster-secret-000000' } });
    servers.push(onEtcd);
    const base = await measure(sqlite, 'sq');
    const e = await measure(onEtcd, 'et');
    const row = (name: string, a: number, b: number, unit: string, digits = 0): string =>
      `${name.padEnd(34)} ${a.toFixed(digits).padStart(9)} ${b.toFixed(digits).padStart(9)} ${unit.padEnd(6)} ${(b / a).toFixed(2)}x`;
    process.stdout.write([
      `datastores, same run, loopback HTTPS, controllers off (${quick ? 'quick' : 'full'}); load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)}`,
      `${'measure'.padEnd(34)} ${'sqlite'.padStart(9)} ${'etcd'.padStart(9)} ${''.padEnd(6)} etcd/sqlite`,
      row(`creates/s, 1 client (${SEQ})`, base.seq, e.seq, '/s'),
      row(`creates/s, ${CONC_CLIENTS} clients (${CONC_TOTAL})`, base.conc, e.conc, '/s'),
      row(`watch delivery p50 (${WATCH_SAMPLES})`, base.p50, e.p50, 'ms', 2),
      row(`watch delivery p99 (${WATCH_SAMPLES})`, base.p99, e.p99, 'ms', 2),
      '',
    ].join('\n'));
  } finally {
    for (const s of servers) await s.destroy();
    await etcd.stop();
  }
}

await main();
