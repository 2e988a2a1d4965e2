/**
 * The server's footprint (prints figures, asserts nothing, ends by itself):
 *
 *   node dist/test/bench/footprint.bench.js [--quick]
 *   (the server runs as the installed service does, with installer/service.ts's V8 flags and malloc
 *    settings; BENCH_SERVER_PLAIN=1 runs plain `node corral.js server` for comparison)
 *
 * Against a real `corral server` process on loopback (controllers and scheduler on, no local agent):
 * - RSS of the started server with no nodes and nothing but its defaults stored;
 * - idle CPU and RSS with 3 hollow nodes (Lease every 10 s, as agents renew) and 100 pods bound and
 *   Running, beside a bare Node.js process's RSS from the same run (the floor no server gets under);
 * - cold start to /readyz with 10,000 objects stored, beside the same server's start on an empty data
 *   dir and a bare `node -e` start, from the same run.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { ApiClient } from '../../api/client/client.js';
import { HttpsTransport } from '../../api/client/transport.js';
import type { Pod } from '../../api/types.js';
import { HollowNode } from '../support/hollow-node.js';
import { ServerProcess } from '../support/server-process.js';
import { cpuMs } from '../support/proc-stat.js';
import { waitUntil } from '../support/wait.js';
import { dropShellCaVariables } from '../support/service-env.js';

const quick = process.argv.includes('--quick');
const IDLE_SECONDS = quick ? 10 : 30;
const STORED_OBJECTS = 10_000;

function line(label: string, value: string): void {
  process.stdout.write(`${label.padEnd(58)} ${value}\n`);
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** RSS of a bare Node.js process that has loaded nothing (the floor). */
function bareNodeRssMiB(): number {
  const r = spawnSync(process.execPath, ['-e', 'setTimeout(() => { const m = /VmRSS:\\s+(\\d+) kB/.exec(require("fs").readFileSync("/proc/self/status", "utf8")); console.log(m[1]); }, 300)'], { encoding: 'utf8' });
  return Number(r.stdout.trim()) / 1024;
}

function bareNodeStartMs(): number {
  const t0 = performance.now();
  spawnSync(process.execPath, ['-e', '0']);
  return performance.now() - t0;
}

/** Time from spawning the server to /readyz answering ok (ServerProcess polls every 100 ms). */
async function timedRestart(server: ServerProcess): Promise<number> {
  await server.stop();
  const t0 = performance.now();
  await server.launch();
  return performance.now() - t0;
}

async function idle(): Promise<void> {
  const server = await ServerProcess.start({ asInstalled: !process.env['BENCH_SERVER_PLAIN'] });
  const pid = server.child!.pid!;
  const nodes: HollowNode[] = [];
  const transports: HttpsTransport[] = [];
  try {
    await new Promise((r) => setTimeout(r, quick ? 5_000 : 10_000)); // past start-up's garbage
    line('server RSS idle, no nodes, defaults only (MiB)', `${rssMiB(pid).toFixed(1)}  (bare node process: ${bareNodeRssMiB().toFixed(1)} MiB)`);
    for (let i = 0; i < 3; i++) {
      const transport = new HttpsTransport({ server: server.url, caPem: server.caPem, token: server.token });
      transports.push(transport);
      nodes.push(await HollowNode.start(new ApiClient(transport), { name: `idle-${i}`, capacity: { cpu: '8', memory: '16Gi', pods: 110 }, leaseIntervalMs: 10_000 }));
    }
    await server.client.create('Namespace', undefined, { metadata: { name: 'idle' } });
    await server.client.create('Deployment', 'idle', {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
      spec: { replicas: 100, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'registry.local/web:1', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] } } },
    });
    await waitUntil('100 pods Running', async () => (await server.client.list<Pod>('Pod', 'idle')).items.filter((p) => p.status?.phase === 'Running').length === 100, 120_000, 500);
    await new Promise((r) => setTimeout(r, 5_000)); // let controllers and GC settle
    const cpu0 = cpuMs(pid);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const share = (cpuMs(pid) - cpu0) / (performance.now() - t0);
    const floor = bareNodeRssMiB();
    line(`server idle CPU, 3 nodes + 100 pods (${IDLE_SECONDS} s)`, `${(share * 100).toFixed(2)} % of one core (clock tick 10 ms)`);
    line('server RSS, 3 nodes + 100 pods (MiB)', `${rssMiB(pid).toFixed(1)}  (bare node process: ${floor.toFixed(1)} MiB, server = ${(rssMiB(pid) / floor).toFixed(1)}× the floor)`);
  } finally {
    for (const n of nodes) n.stop();
    for (const t of transports) t.close();
    await server.destroy();
  }
}

async function coldStart(): Promise<void> {
  const server = await ServerProcess.start({ extraArgs: ['--disable-controllers'], asInstalled: !process.env['BENCH_SERVER_PLAIN'] });
  try {
    const empty = await timedRestart(server);
    await server.client.create('Namespace', undefined, { metadata: { name: 'cold' } });
    let next = 0;
    await Promise.all(Array.from({ length: 50 }, async () => {
      while (next < STORED_OBJECTS) {
        const i = next++;
        await server.client.create('ConfigMap', 'cold', { metadata: { name: `cm-${i}`, labels: { app: 'cold' } }, data: { key: `value-${i}`.repeat(20) } });
      }
    }));
    const full = await timedRestart(server);
    const node = bareNodeStartMs();
    line(`cold start to /readyz, ${STORED_OBJECTS.toLocaleString('en')} objects stored (ms)`, `${full.toFixed(0)}  (empty store: ${empty.toFixed(0)} ms; bare \`node -e 0\`: ${node.toFixed(0)} ms; full/empty = ${(full / empty).toFixed(2)})`);
    line('server RSS after the cold start (MiB)', rssMiB(server.child!.pid!).toFixed(1));
  } finally {
    await server.destroy();
  }
}

process.stdout.write(`footprint bench (node ${process.version}, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})\n`);
// The server runs without the shell's CA settings, as its service does (test/support/service-env.ts).
dropShellCaVariables();
await idle();
await coldStart();
process.exit(0);
