/**
 * API server benchmark (prints figures, asserts nothing, ends by itself):
 *
 *   node dist/test/bench/api.bench.js [--quick]
 *
 * Against a real `corral server` process on loopback (HTTPS, admin token, SQLite on the local disk):
 * creates per second with 1 and 50 concurrent clients (after a timed warm-up of the fresh server), each
 * over HTTP/1.1 (HttpsTransport: a connection per request in flight) and then over HTTP/2 (one
 * connection, 50 streams: kubectl's and client-go's protocol; into their own namespace), a
 * LIST of 10,000 pods (JSON and Table), watch delivery latency p50/p99 to 100 watchers, server RSS
 * idle and after 10,000 objects, bytes written to the database files while idle with heartbeating
 * nodes — and, in the same run on the same disk, the floor: raw `sqlite3` INSERTs of the same JSON
 * (one per transaction and batched 50 per transaction).
 */
import { mkdtempSync, readFileSync, rmSync, statSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setMaxListeners } from 'node:events';
import { ServerProcess } from '../support/server-process.js';
import { cpuMs } from '../support/proc-stat.js';
import { HttpsTransport } from '../../api/client/transport.js';
import { H2Transport } from '../support/h2.js';
import { ApiClient } from '../../api/client/client.js';
import { microTime } from '../../api/meta.js';
import { SqliteConnection } from '../../server/store/sqlite-db.js';

const quick = process.argv.includes('--quick');
const SEQ = quick ? 300 : 1000;
/**
 * Creates by one client before the measured ones, timed as the cold figure: a fresh server needs
 * 2,000–3,000 pod creates before V8 has compiled its hot paths (server CPU per create falls from
 * ~1.1 to ~0.5 ms over them), and a running server is warm.
 */
const WARMUP = 3000;
/** The same for the concurrent path (batched transactions, many sockets), before its measured run. */
const CONC_WARMUP = quick ? 3000 : 1000;
const CONC_CLIENTS = 50;
const CONC_TOTAL = quick ? 2500 : 5000;
/** Creates over HTTP/2 before its measured runs (the server is warm; this warms the h2 path). */
const H2_WARMUP = quick ? 1000 : 2000;
const LIST_PODS = 10_000;
const WATCH_SAMPLES = quick ? 100 : 300;
const WATCHERS = 100;
const IDLE_SECONDS = quick ? 20 : 60;

function line(label: string, value: string): void {
  process.stdout.write(`${label.padEnd(56)} ${value}\n`);
}
const perSec = (n: number, ms: number): number => Math.round((n / ms) * 1000);
const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Bytes the process wrote to storage (includes WAL and checkpoints), from /proc/<pid>/io. */
function writeBytes(pid: number): number {
  const m = /write_bytes:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

function dbBytes(dir: string): number {
  const d = join(dir, 'server', 'db');
  return readdirSync(d).reduce((sum, f) => sum + statSync(join(d, f)).size, 0);
}

const pod = (name: string): unknown => ({
  metadata: { name, labels: { app: 'bench', tier: name.length % 2 ? 'a' : 'b' } },
  spec: { containers: [{ name: 'web', image: 'busybox:1.35', command: ['httpd', '-f', '-p', '8080'], resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
});

async function rawFloor(): Promise<{ single: number; batched: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-raw-'));
  const db = await SqliteConnection.open(join(dir, 'raw.db'));
  await db.all('PRAGMA journal_mode = WAL');
  await db.exec('PRAGMA synchronous = NORMAL; CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, value TEXT)');
  const value = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', ...(pod('raw-0') as object) });
  const ins = await db.prepare('insert', 'INSERT INTO t (name, value) VALUES (?, ?)');
  let t0 = performance.now();
  for (let i = 0; i < SEQ; i++) await ins.run([`/raw/${i}`, value]);
  const single = perSec(SEQ, performance.now() - t0);
  t0 = performance.now();
  for (let b = 0; b < CONC_TOTAL / 50; b++) {
    await db.exec('BEGIN');
    for (let i = 0; i < 50; i++) await ins.run([`/rawb/${b}/${i}`, value]);
    await db.exec('COMMIT');
  }
  const batched = perSec(CONC_TOTAL, performance.now() - t0);
  await db.close();
  rmSync(dir, { recursive: true, force: true });
  return { single, batched };
}

/** `total` pod creates by CONC_CLIENTS concurrent callers sharing `client`. */
async function concurrently(client: ApiClient, namespace: string, prefix: string, total: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: CONC_CLIENTS }, async () => {
    while (next < total) {
      const i = next++;
      await client.create('Pod', namespace, pod(`${prefix}-${i}`));
    }
  }));
}

async function main(): Promise<void> {
  process.stdout.write(`api bench (node ${process.version}, ${new Date().toISOString()}, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})\n`);
  const server = await ServerProcess.start({ extraArgs: ['--disable-controllers'] });
  const pid = server.child!.pid!;
  const transport = new HttpsTransport({ server: server.url, caPem: server.caPem, token: server.token });
  const client = new ApiClient(transport);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    line('server RSS idle (MiB)', rssMiB(pid).toFixed(1));

    const floor = await rawFloor();

    await client.create('Namespace', undefined, { metadata: { name: 'bench' } });
    let cpu0 = cpuMs(pid);
    let t0 = performance.now();
    for (let i = 0; i < WARMUP; i++) await client.create('Pod', 'bench', pod(`warm-${i}`));
    line(`creates/s, 1 client, cold server (first ${WARMUP})`, `${perSec(WARMUP, performance.now() - t0)}  (server CPU ${(((cpuMs(pid) - cpu0) / WARMUP) * 1000).toFixed(0)} µs per create)`);

    cpu0 = cpuMs(pid);
    t0 = performance.now();
    for (let i = 0; i < SEQ; i++) await client.create('Pod', 'bench', pod(`seq-${i}`));
    const seq = perSec(SEQ, performance.now() - t0);
    line('creates/s, 1 client (pods over HTTPS, warm)', `${seq}  (server CPU ${(((cpuMs(pid) - cpu0) / SEQ) * 1000).toFixed(0)} µs per create)`);
    line('  raw sqlite3 INSERT/s, 1 per transaction (floor)', `${floor.single}  (corral = ${((seq / floor.single) * 100).toFixed(1)}% of floor)`);

    // The same over HTTP/2, into its own namespace (the LIST below stays at 10,000 pods).
    const h2 = new H2Transport({ port: server.port, caPem: server.caPem, token: server.token });
    const h2Client = new ApiClient(h2);
    await client.create('Namespace', undefined, { metadata: { name: 'bench-h2' } });
    await concurrently(h2Client, 'bench-h2', 'warm-h2', H2_WARMUP);
    cpu0 = cpuMs(pid);
    t0 = performance.now();
    for (let i = 0; i < SEQ; i++) await h2Client.create('Pod', 'bench-h2', pod(`seq-${i}`));
    const seqH2 = perSec(SEQ, performance.now() - t0);
    line('creates/s, 1 client over HTTP/2 (warm)', `${seqH2}  (server CPU ${(((cpuMs(pid) - cpu0) / SEQ) * 1000).toFixed(0)} µs per create; ${((seqH2 / floor.single) * 100).toFixed(1)}% of floor)`);

    await concurrently(client, 'bench', 'warm-conc', CONC_WARMUP);
    // HTTP/1.1 and HTTP/2 alternately, twice: the machine's load moves between minutes. The first
    // HTTP/1.1 round goes into `bench` (the LIST below counts on it), the second beside it.
    await client.create('Namespace', undefined, { metadata: { name: 'bench-more' } });
    const rates: Record<'h1' | 'h2', number[]> = { h1: [], h2: [] };
    for (let round = 0; round < 2; round++) {
      for (const protocol of ['h1', 'h2'] as const) {
        const [c, ns] = protocol === 'h1' ? [client, round === 0 ? 'bench' : 'bench-more'] : [h2Client, 'bench-h2'];
        cpu0 = cpuMs(pid);
        t0 = performance.now();
        await concurrently(c, ns, `conc-${round}`, CONC_TOTAL);
        const rate = perSec(CONC_TOTAL, performance.now() - t0);
        rates[protocol].push(rate);
        const label = protocol === 'h1' ? `creates/s, ${CONC_CLIENTS} concurrent clients (warm)` : `creates/s, ${CONC_CLIENTS} streams on 1 HTTP/2 connection (warm)`;
        line(label, `${rate}  (server CPU ${(((cpuMs(pid) - cpu0) / CONC_TOTAL) * 1000).toFixed(0)} µs per create)`);
      }
    }
    h2.close();
    const ofFloor = (r: number[]): string => r.map((x) => `${((x / floor.batched) * 100).toFixed(1)}%`).join(', ');
    line('  raw sqlite3 INSERT/s, 50 per transaction (floor)', `${floor.batched}  (corral = ${ofFloor(rates.h1)} of floor over HTTP/1.1, ${ofFloor(rates.h2)} over HTTP/2)`);

    const existing = WARMUP + SEQ + CONC_WARMUP + CONC_TOTAL;
    let next = existing;
    await Promise.all(Array.from({ length: CONC_CLIENTS }, async () => {
      while (next < LIST_PODS) {
        const i = next++;
        await client.create('Pod', 'bench', pod(`fill-${i}`));
      }
    }));
    await new Promise((r) => setTimeout(r, 500));
    line('server RSS after 10,000 pods (MiB)', rssMiB(pid).toFixed(1));

    const listTimes: number[] = [];
    for (let i = 0; i < 3; i++) {
      t0 = performance.now();
      const list = await client.list('Pod', 'bench');
      listTimes.push(performance.now() - t0);
      if (list.items.length < LIST_PODS) throw new Error(`listed ${list.items.length} pods`);
    }
    line('LIST 10,000 pods, JSON (ms, best of 3)', Math.min(...listTimes).toFixed(0));
    const tableTimes: number[] = [];
    for (let i = 0; i < 3; i++) {
      t0 = performance.now();
      const res = await transport.request({ method: 'GET', path: '/api/v1/namespaces/bench/pods', headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' } });
      await res.text();
      tableTimes.push(performance.now() - t0);
    }
    line('LIST 10,000 pods, Table as kubectl asks (ms, best of 3)', Math.min(...tableTimes).toFixed(0));
    t0 = performance.now();
    const page = await client.list('Pod', 'bench', { limit: 500 });
    line('LIST first page of 500 (ms)', (performance.now() - t0).toFixed(0));
    void page;

    // Watch latency: time from sending a create to each of WATCHERS open watches receiving its event
    // (each watch on its own connection, as each informer of a cluster has; 50 per client pool).
    const abort = new AbortController();
    setMaxListeners(WATCHERS + 10, abort.signal);
    const sent = new Map<string, number>();
    const latencies: number[] = [];
    const watchTransports = Array.from({ length: Math.ceil(WATCHERS / 50) }, () => new HttpsTransport({ server: server.url, caPem: server.caPem, token: server.token }));
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => { resolveDone = r; });
    const start = await client.list('ConfigMap', 'bench', { limit: 1 });
    let opened = 0;
    for (let w = 0; w < WATCHERS; w++) {
      const watcher = new ApiClient(watchTransports[Math.floor(w / 50)]!);
      void (async () => {
        for await (const ev of watcher.watchOnce('ConfigMap', 'bench', { resourceVersion: start.metadata.resourceVersion!, signal: abort.signal })) {
          const t = sent.get(ev.object.metadata.name!);
          if (t !== undefined) latencies.push(performance.now() - t);
          if (latencies.length >= WATCH_SAMPLES * WATCHERS) resolveDone();
        }
      })().catch(() => undefined);
      opened++;
    }
    // A warm-up object every watcher must see before the clock starts.
    await client.create('ConfigMap', 'bench', { metadata: { name: 'w-warmup' } });
    await new Promise((r) => setTimeout(r, 1000));
    for (let i = 0; i < WATCH_SAMPLES; i++) {
      const name = `w-${i}`;
      sent.set(name, performance.now());
      await client.create('ConfigMap', 'bench', { metadata: { name } });
      await new Promise((r) => setTimeout(r, 5)); // a steady stream, not a burst
    }
    await Promise.race([done, new Promise((r) => setTimeout(r, 20_000))]);
    abort.abort();
    for (const t of watchTransports) t.close();
    latencies.sort((a, b) => a - b);
    line(`watch delivery latency p50 / p99, ${opened} watchers (ms)`, `${pct(latencies, 50).toFixed(2)} / ${pct(latencies, 99).toFixed(2)}  (${latencies.length} deliveries)`);

    // Idle with 3 heartbeating "nodes": Lease renewals every 10 s must not reach the disk.
    for (const n of ['n1', 'n2', 'n3']) {
      await client.create('Lease', 'kube-node-lease', { metadata: { name: n }, spec: { holderIdentity: n, leaseDurationSeconds: 40, renewTime: microTime() } });
    }
    const dbBefore = dbBytes(server.dataDir);
    const ioBefore = writeBytes(pid);
    const idleEnd = Date.now() + IDLE_SECONDS * 1000;
    while (Date.now() < idleEnd) {
      for (const n of ['n1', 'n2', 'n3']) await client.patch('Lease', 'kube-node-lease', n, { spec: { renewTime: microTime() } });
      await new Promise((r) => setTimeout(r, 2_000)); // 5× the real rate, to make writes show
    }
    const ioDelta = writeBytes(pid) - ioBefore;
    line(`bytes written in ${IDLE_SECONDS} s idle, 3 nodes heartbeating every 2 s`, `${ioDelta} (db files grew ${dbBytes(server.dataDir) - dbBefore} B)`);
    line('  projected per idle hour', `${Math.round((ioDelta * 3600) / IDLE_SECONDS)} B`);
    line('server RSS at the end (MiB)', rssMiB(pid).toFixed(1));
  } finally {
    transport.close();
    await server.destroy();
  }
}

await main();
