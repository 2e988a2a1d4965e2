/**
 * LIST and watch benchmark (prints figures, asserts nothing, ends by itself):
 *
 *   node dist/test/bench/list-watch.bench.js [--quick]
 *
 * Against a real `corral server` process on loopback (HTTPS, admin token, SQLite, controllers off),
 * each figure beside its floor from the same run:
 * - LIST of 10,000 pods as JSON: time until the whole response has arrived, beside a bare Node.js
 *   HTTPS server (bare-https-floor.ts, its own process, same certificate) answering the very same
 *   bytes from a prebuilt buffer to the same client; and `JSON.stringify` of the same 10,000 objects
 *   in this process (what building the body from objects costs). The client's own `JSON.parse` of the
 *   body is printed apart: it is the client's work, not the server's. The same for a label-selected
 *   LIST (tier=a: 910 of the pods), beside the floor serving the same selected bytes.
 * - watch delivery p50 / p99 to 100 watchers (time from sending a ConfigMap create to each watch
 *   receiving its event, after 20 unmeasured warm-up creates; the watchers are read by this one
 *   process), beside the same 100 watches on the bare server, which writes each created object,
 *   serialised once, to every open watch. The create's own round trip (the write path) is printed
 *   beside it.
 * Server CPU (from /proc/<pid>/stat) per LIST and per delivered event is printed beside the floor
 * process's: on a shared machine that ratio moves far less than the latencies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { setMaxListeners } from 'node:events';
import { ServerProcess } from '../support/server-process.js';
import { HttpsTransport } from '../../api/client/transport.js';
import { ApiClient } from '../../api/client/client.js';
import { sleep } from '../../api/async-util.js';
import { cpuMs } from '../support/proc-stat.js';

const quick = process.argv.includes('--quick');
const LIST_PODS = 10_000;
const LIST_RUNS = quick ? 3 : 5;
const WATCHERS = 100;
const WATCH_SAMPLES = quick ? 100 : 300;
const WARMUP = 20;

function line(label: string, value: string): void {
  process.stdout.write(`${label.padEnd(60)} ${value}\n`);
}
const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
// CPU readings tick in 10 ms: a floor that used less than one tick has no ratio.
const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}x the floor` : 'floor below the 10 ms clock tick');

const pod = (name: string): unknown => ({
  metadata: { name, labels: { app: 'bench', tier: name.length % 2 ? 'a' : 'b' } },
  spec: { containers: [{ name: 'web', image: 'busybox:1.35', command: ['httpd', '-f', '-p', '8080'], resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
});

/** Best time of `runs` GETs of `path` until the last byte arrived, and the last body. */
async function timedGet(transport: HttpsTransport, path: string, runs: number, pid: number): Promise<{ ms: number; body: Buffer; cpuMsEach: number }> {
  let best = Infinity;
  const cpu0 = cpuMs(pid);
  let body = Buffer.alloc(0);
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const res = await transport.request({ method: 'GET', path });
    const parts: Buffer[] = [];
    for await (const c of res.body) parts.push(Buffer.from(c));
    best = Math.min(best, performance.now() - t0);
    body = Buffer.concat(parts);
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${body.toString('utf8').slice(0, 200)}`);
  }
  return { ms: best, body, cpuMsEach: (cpuMs(pid) - cpu0) / runs };
}

async function startFloor(server: ServerProcess, listBody: Buffer, selectedBody: Buffer, dir: string): Promise<{ child: ChildProcess; url: string }> {
  const bodyFile = join(dir, 'list.json');
  writeFileSync(bodyFile, listBody);
  const selectedFile = join(dir, 'selected.json');
  writeFileSync(selectedFile, selectedBody);
  const tls = join(server.dataDir, 'server', 'tls');
  const script = join(dirname(fileURLToPath(import.meta.url)), 'bare-https-floor.js');
  const child = spawn(process.execPath, [script, join(tls, 'server.key'), join(tls, 'server.crt'), bodyFile, selectedFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`floor server exited with ${code}`)));
    child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
  });
  return { child, url: `https://127.0.0.1:${port}` };
}

/** Delivery latencies (sorted) of WATCH_SAMPLES creates to WATCHERS watches, and the creates' round trips. */
async function watchLatency(url: string, caPem: string, token: string, pid: number): Promise<{ delivery: number[]; creates: number[]; cpuUsPerDelivery: number }> {
  const client = new ApiClient(new HttpsTransport({ server: url, caPem, token }));
  const abort = new AbortController();
  setMaxListeners(WATCHERS + 10, abort.signal);
  const sent = new Map<string, number>();
  const delivery: number[] = [];
  const creates: number[] = [];
  // Each watch on its own connection, as each informer of a cluster has; 50 per client pool.
  const transports = Array.from({ length: Math.ceil(WATCHERS / 50) }, () => new HttpsTransport({ server: url, caPem, token }));
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => { resolveDone = r; });
  const start = await client.list('ConfigMap', 'bench', { limit: 1 });
  let warm = 0;
  for (let w = 0; w < WATCHERS; w++) {
    const watcher = new ApiClient(transports[Math.floor(w / 50)]!);
    void (async () => {
      for await (const ev of watcher.watchOnce('ConfigMap', 'bench', { resourceVersion: start.metadata.resourceVersion ?? '0', signal: abort.signal })) {
        if (ev.object.metadata.name?.startsWith('w-warmup-')) warm++;
        const t = sent.get(ev.object.metadata.name!);
        if (t !== undefined) delivery.push(performance.now() - t);
        if (delivery.length >= WATCH_SAMPLES * WATCHERS) resolveDone();
      }
    })().catch(() => undefined);
  }
  // Warm-up objects every watcher must see before the clock starts (so the first measured creates do
  // not pay for compiling the write path; the floor server gets the same).
  for (let i = 0; i < WARMUP; i++) await client.create('ConfigMap', 'bench', { metadata: { name: `w-warmup-${i}` } });
  const warmDeadline = Date.now() + 10_000;
  while (Date.now() < warmDeadline && warm < WATCHERS * WARMUP) await sleep(100);
  const cpu0 = cpuMs(pid);
  for (let i = 0; i < WATCH_SAMPLES; i++) {
    const name = `w-${i}`;
    const t0 = performance.now();
    sent.set(name, t0);
    await client.create('ConfigMap', 'bench', { metadata: { name } });
    creates.push(performance.now() - t0);
    await sleep(5); // a steady stream, not a burst
  }
  await Promise.race([done, sleep(20_000)]);
  const cpuUsPerDelivery = ((cpuMs(pid) - cpu0) * 1000) / delivery.length;
  abort.abort();
  for (const t of transports) t.close();
  delivery.sort((a, b) => a - b);
  creates.sort((a, b) => a - b);
  return { delivery, creates, cpuUsPerDelivery };
}

async function main(): Promise<void> {
  process.stdout.write(`list-watch bench (node ${process.version}, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})\n`);
  const dir = mkdtempSync(join(tmpdir(), 'corral-lw-'));
  const server = await ServerProcess.start({ extraArgs: ['--disable-controllers'] });
  const transport = new HttpsTransport({ server: server.url, caPem: server.caPem, token: server.token });
  const client = new ApiClient(transport);
  let floor: { child: ChildProcess; url: string } | undefined;
  try {
    await client.create('Namespace', undefined, { metadata: { name: 'bench' } });
    let next = 0;
    await Promise.all(Array.from({ length: 50 }, async () => {
      while (next < LIST_PODS) {
        const i = next++;
        await client.create('Pod', 'bench', pod(`pod-${i}`));
      }
    }));

    const path = '/api/v1/namespaces/bench/pods';
    const pid = server.child!.pid!;
    const corral = await timedGet(transport, path, LIST_RUNS, pid);
    const t0 = performance.now();
    const list = JSON.parse(corral.body.toString('utf8')) as { items: unknown[] };
    const parseMs = performance.now() - t0;
    if (list.items.length !== LIST_PODS) throw new Error(`listed ${list.items.length} pods`);
    const t1 = performance.now();
    JSON.stringify(list);
    const stringifyMs = performance.now() - t1;

    const selectedPath = `${path}?labelSelector=tier%3Da`;
    const selected = await timedGet(transport, selectedPath, LIST_RUNS, pid);
    floor = await startFloor(server, corral.body, selected.body, dir);
    const floorTransport = new HttpsTransport({ server: floor.url, caPem: server.caPem, token: server.token });
    const bare = await timedGet(floorTransport, path, LIST_RUNS, floor.child.pid!);
    const bareSelected = await timedGet(floorTransport, selectedPath, LIST_RUNS, floor.child.pid!);
    floorTransport.close();
    const mb = (corral.body.length / 1e6).toFixed(1);
    line(`LIST ${LIST_PODS.toLocaleString('en')} pods, JSON, response received (ms, best of ${LIST_RUNS})`, `${corral.ms.toFixed(0)}  (${mb} MB; ${ratio(corral.ms, bare.ms)})`);
    line('  floor: bare HTTPS server, same bytes prebuilt (ms)', bare.ms.toFixed(0));
    line('  server CPU per LIST, corral / floor (ms)', `${corral.cpuMsEach.toFixed(0)} / ${bare.cpuMsEach.toFixed(0)}  (${ratio(corral.cpuMsEach, bare.cpuMsEach)})`);
    line('  JSON.stringify of the same 10,000 objects (ms)', stringifyMs.toFixed(0));
    line('  the client\'s JSON.parse of the body, not counted above (ms)', parseMs.toFixed(0));
    line('LIST with labelSelector tier=a, response received (ms)', `${selected.ms.toFixed(0)}  (${(JSON.parse(selected.body.toString('utf8')) as { items: unknown[] }).items.length} pods, ${(selected.body.length / 1e6).toFixed(1)} MB; ${ratio(selected.ms, bareSelected.ms)})`);
    line('  floor: bare HTTPS server, same bytes prebuilt (ms)', bareSelected.ms.toFixed(0));
    line('  server CPU per LIST, corral / floor (ms)', `${selected.cpuMsEach.toFixed(0)} / ${bareSelected.cpuMsEach.toFixed(0)}  (${ratio(selected.cpuMsEach, bareSelected.cpuMsEach)})`);

    const w = await watchLatency(server.url, server.caPem, server.token, pid);
    const f = await watchLatency(floor.url, server.caPem, server.token, floor.child.pid!);
    line(`watch delivery p50 / p99, ${WATCHERS} watchers (ms)`, `${pct(w.delivery, 50).toFixed(2)} / ${pct(w.delivery, 99).toFixed(2)}  (${w.delivery.length} deliveries; p99 ${ratio(pct(w.delivery, 99), pct(f.delivery, 99))})`);
    line('  floor: bare HTTPS server, same 100 watches (ms)', `${pct(f.delivery, 50).toFixed(2)} / ${pct(f.delivery, 99).toFixed(2)}  (${f.delivery.length} deliveries)`);
    line('  server CPU per delivery, incl. its share of the create (µs)', `${w.cpuUsPerDelivery.toFixed(1)} / ${f.cpuUsPerDelivery.toFixed(1)}  (${ratio(w.cpuUsPerDelivery, f.cpuUsPerDelivery)})`);
    line('  the create\'s round trip p50 / p99, corral / floor (ms)', `${pct(w.creates, 50).toFixed(2)} / ${pct(w.creates, 99).toFixed(2)}, ${pct(f.creates, 50).toFixed(2)} / ${pct(f.creates, 99).toFixed(2)}`);
  } finally {
    floor?.child.kill();
    transport.close();
    await server.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
