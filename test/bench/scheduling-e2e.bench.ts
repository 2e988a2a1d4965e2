/**
 * End-to-end scheduling rate: pods created through the API of a real `corral server` until every one
 * is bound to one of N hollow nodes (which also report the pods Running, as agents would, so the
 * server carries a realistic write load). Two workloads: bare pods created by 20 concurrent clients,
 * and one Deployment scaled to the same count (ReplicaSet controller creating the pods), then a
 * second one on the now warm server. Beside it, the
 * pure scheduler's own rate on the same shape (same nodes, same pods, called directly), and the ratio.
 *
 * Every hollow node has its own HTTPS connection pool, as every agent does: sharing the bench's
 * client would park the 65th node's pod watch (and everything after it) behind the pool's limit.
 *
 * The server is plain `node corral.js server`; BENCH_SERVER_AS_INSTALLED=1 runs it as the installed
 * service does (installer/service.ts's V8 flags and malloc settings, the one-file bundle), whose small
 * young generation makes a burst slower.
 *
 *   node dist/test/bench/scheduling-e2e.bench.js [nodes=100] [pods=1000]
 */
import os from 'node:os';
import type { Node, Pod } from '../../api/types.js';
import { assume, buildSnapshot, schedulePod } from '../../server/scheduler/index.js';
import { HollowNode } from '../support/hollow-node.js';
import { ApiClient } from '../../api/client/client.js';
import { HttpsTransport } from '../../api/client/transport.js';
import { ServerProcess } from '../support/server-process.js';
import { cpuMs } from '../support/proc-stat.js';
import { parseExposition } from '../support/prom-text.js';

const NODE_COUNT = Number(process.argv[2] ?? 100);
const POD_COUNT = Number(process.argv[3] ?? 1000);
const CLIENTS = 20;
// Room for the three rounds (bare pods, two Deployments) on every node, with some to spare.
const CAPACITY = { cpu: '32', memory: '64Gi', pods: Math.ceil((POD_COUNT * 3.5) / NODE_COUNT) + 10 };

function podSpec(): Pod['spec'] {
  return { containers: [{ name: 'c', image: 'registry.local/app:1', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] };
}

function line(label: string, value: string): void {
  process.stdout.write(`${label.padEnd(34)}${value}\n`);
}

/** Resolves when `count` pods of the namespace are bound; returns the time the last one was seen. */
async function watchBindings(server: ServerProcess, namespace: string, count: number, signal: AbortSignal): Promise<number> {
  const bound = new Set<string>();
  for await (const ev of server.client.watch<Pod>('Pod', namespace, { signal })) {
    const items = ev.type === 'RESYNC' ? ev.items : ev.type === 'ADDED' || ev.type === 'MODIFIED' ? [ev.object] : [];
    for (const p of items) if (p.spec.nodeName) bound.add(p.metadata.name ?? '');
    if (bound.size >= count) return performance.now();
  }
  throw new Error('watch ended before every pod was bound');
}

async function barePods(server: ServerProcess): Promise<{ createMs: number; boundMs: number; cpuMsPerPod: number }> {
  const ns = 'bench-pods';
  await server.client.create('Namespace', undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const stop = new AbortController();
  const done = watchBindings(server, ns, POD_COUNT, stop.signal);
  await new Promise((r) => setTimeout(r, 200)); // let the watch start
  const cpu0 = cpuMs(server.child!.pid!);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (next < POD_COUNT) {
      const i = next++;
      await server.client.create('Pod', ns, { apiVersion: 'v1', kind: 'Pod', metadata: { name: `p-${i}`, labels: { app: `app-${i % 50}` } }, spec: podSpec() });
    }
  }));
  const created = performance.now();
  const end = await done;
  stop.abort();
  return { createMs: created - t0, boundMs: end - t0, cpuMsPerPod: (cpuMs(server.child!.pid!) - cpu0) / POD_COUNT };
}

/** Writes the API server answered so far, by `verb resource[/subresource]` (from its /metrics). */
async function writesByResource(server: ServerProcess): Promise<Map<string, number>> {
  const res = await server.client.transport.request({ method: 'GET', path: '/metrics' });
  const counts = new Map<string, number>();
  for (const s of parseExposition(await res.text()).samples) {
    if (s.name !== 'apiserver_request_total' || ['GET', 'LIST', 'WATCH'].includes(s.labels['verb'] ?? '')) continue;
    const key = `${s.labels['verb']} ${s.labels['resource']}${s.labels['subresource'] ? `/${s.labels['subresource']}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + s.value);
  }
  return counts;
}

/** Writes per pod between two readings, largest first, e.g. `POST pods 1.00, POST pods/binding 1.00`. */
function writesPerPod(before: Map<string, number>, after: Map<string, number>): string {
  const rows = [...after].map(([k, v]) => [k, (v - (before.get(k) ?? 0)) / POD_COUNT] as const).filter(([, v]) => v >= 0.005);
  const total = rows.reduce((a, [, v]) => a + v, 0);
  return `${total.toFixed(2)} (${rows.sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')})`;
}

async function deployment(server: ServerProcess, ns: string): Promise<{ boundMs: number; cpuMsPerPod: number; benchCpuMsPerPod: number; writes: string }> {
  await server.client.create('Namespace', undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const stop = new AbortController();
  const done = watchBindings(server, ns, POD_COUNT, stop.signal);
  await new Promise((r) => setTimeout(r, 200));
  const writes0 = await writesByResource(server);
  const cpu0 = cpuMs(server.child!.pid!);
  const benchCpu0 = cpuMs(process.pid);
  const t0 = performance.now();
  await server.client.create('Deployment', ns, {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'big' },
    spec: { replicas: POD_COUNT, selector: { matchLabels: { app: 'big' } }, template: { metadata: { labels: { app: 'big' } }, spec: podSpec() } },
  });
  const end = await done;
  const cpuMsPerPod = (cpuMs(server.child!.pid!) - cpu0) / POD_COUNT;
  const benchCpuMsPerPod = (cpuMs(process.pid) - benchCpu0) / POD_COUNT;
  stop.abort();
  return { boundMs: end - t0, cpuMsPerPod, benchCpuMsPerPod, writes: writesPerPod(writes0, await writesByResource(server)) };
}

/** The pure scheduler on the same shape: the nodes as registered, the same pod spec. */
async function pureRate(server: ServerProcess): Promise<number> {
  const nodes = (await server.client.list<Node>('Node')).items.filter((n) => n.metadata.name?.startsWith('hollow-'));
  const pods: Pod[] = Array.from({ length: POD_COUNT }, (_, i) => ({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: `p-${i}`, namespace: 'pure', labels: { app: `app-${i % 50}` } }, spec: podSpec(),
  }));
  const snapshot = buildSnapshot(nodes, []);
  const t0 = performance.now();
  for (const pod of pods) {
    const r = schedulePod(snapshot, pod);
    if (r.nodeName === undefined) throw new Error(`pure scheduler could not place ${pod.metadata.name}: ${r.message}`);
    assume(snapshot, pod, r.nodeName);
  }
  return (POD_COUNT / (performance.now() - t0)) * 1000;
}

async function main(): Promise<void> {
  const asInstalled = process.env['BENCH_SERVER_AS_INSTALLED'] === '1';
  const server = await ServerProcess.start({ asInstalled });
  const nodes: HollowNode[] = [];
  const transports: HttpsTransport[] = [];
  try {
    for (let i = 0; i < NODE_COUNT; i++) {
      const transport = new HttpsTransport({ server: server.url, caPem: server.caPem, token: server.token });
      transports.push(transport);
      nodes.push(await HollowNode.start(new ApiClient(transport), { name: `hollow-${String(i).padStart(3, '0')}`, capacity: CAPACITY, leaseIntervalMs: 5000 }));
    }
    await new Promise((r) => setTimeout(r, 500));
    process.stdout.write(`scheduling e2e bench: ${NODE_COUNT} hollow nodes × ${POD_COUNT} pods (node ${process.version}, load average ${os.loadavg()[0]!.toFixed(1)}${asInstalled ? ', server as installed' : ''})\n`);
    const pure = await pureRate(server);
    const bare = await barePods(server);
    const barePerS = (POD_COUNT / bare.boundMs) * 1000;
    line('pure scheduler (same shape)', `${Math.round(pure)} pods/s`);
    line(`bare pods, ${CLIENTS} clients: created`, `${Math.round((POD_COUNT / bare.createMs) * 1000)} pods/s (${(bare.createMs / 1000).toFixed(2)} s)`);
    line('bare pods: created → all bound', `${Math.round(barePerS)} pods/s (${(bare.boundMs / 1000).toFixed(2)} s; server CPU ${bare.cpuMsPerPod.toFixed(2)} ms per pod)`);
    // The first Deployment runs on a server whose controller, scheduler and admission code V8 is still
    // compiling (~25 % of the server's CPU goes to TurboFan's threads); the second, in another namespace
    // on the same server, is what a server in use gives.
    const dep = await deployment(server, 'bench-deploy');
    const depPerS = (POD_COUNT / dep.boundMs) * 1000;
    line('Deployment: created → all bound', `${Math.round(depPerS)} pods/s (${(dep.boundMs / 1000).toFixed(2)} s; server CPU ${dep.cpuMsPerPod.toFixed(2)} ms per pod)`);
    line('Deployment: hollow nodes\' CPU', `${dep.benchCpuMsPerPod.toFixed(2)} ms per pod (this process: nodes, bench watch)`);
    line('Deployment: writes per pod', dep.writes);
    const warm = await deployment(server, 'bench-deploy-2');
    line('second Deployment (warm server)', `${Math.round((POD_COUNT / warm.boundMs) * 1000)} pods/s (${(warm.boundMs / 1000).toFixed(2)} s; server CPU ${warm.cpuMsPerPod.toFixed(2)} ms per pod; nodes ${warm.benchCpuMsPerPod.toFixed(2)} ms)`);
    line('e2e / pure (bare pods)', `${((barePerS / pure) * 100).toFixed(1)} %`);
    line('e2e / pure (Deployment)', `${((depPerS / pure) * 100).toFixed(1)} %`);
    line('reference', 'kube-scheduler ~100–300 pods/s');
  } finally {
    for (const n of nodes) n.stop();
    for (const t of transports) t.close();
    // BENCH_SERVER_LOGS=1: the server's warnings and errors (it runs at log level warn).
    if (process.env['BENCH_SERVER_LOGS'] === '1') process.stdout.write(`--- server log\n${server.logs}`);
    await server.destroy();
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
