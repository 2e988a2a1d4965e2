/**
 * Agent benchmark (plain script, root): in a 1-node lab with a real `corral server` and `corral agent`,
 *   - pod start latency, create → Running seen by the API, p50/p99 over 30 pods (image present),
 *     beside raw `ctr run -d` of the same image on the same containerd in the same run, and the ratio;
 *   - agent RSS idle (5 s after the Node is Ready, and steady: sampled 15-25 s after Ready, once V8's memory
 *     reducer has run; with PSS and the anonymous part) and with the 30 pods, the agent run with the installed service's V8 flags
 *     (AGENT_V8_FLAGS, which `corral agent` sets on itself; CORRAL_AGENT_V8_FLAGS replaces them, '' runs
 *     it with V8's defaults), the service's Node.js options (AGENT_NODE_OPTIONS; BENCH_AGENT_NODE_ARGS replaces
 *     them, for the bundle and the bare process) and its malloc settings (AGENT_MALLOC_ENVIRONMENT; MALLOC_* variables set
 *     for the bench win), beside a bare Node.js process with the same flags and settings and where each one's RSS is;
 *     the agent runs as installed, the one-file bundle (BENCH_AGENT=cli: `corral agent` from dist/, as in the lab tests);
 *   - service sync through the agent: 1,000 services × 3 endpoints, the full iptables-restore after an
 *     agent restart, and the delta for one changed service (figures from the agent's own sync log).
 * Usage: node dist/test/bench/agent.bench.js [pods=30] [services=1000]
 * (BENCH_HEAP_SNAPSHOTS: see below, where the idle RSS is read.)
 * The API calls run in a worker started inside the lab's control host (rule zero: the runner itself
 * talks to no lab address).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../../api/client/client.js';
import { HttpsTransport } from '../../api/client/transport.js';
import type { Endpoints, Pod, Service } from '../../api/types.js';
import { AGENT_MALLOC_ENVIRONMENT, AGENT_NODE_OPTIONS, AGENT_V8_FLAGS } from '../../installer/agent-service.js';
import { buildAgentBundle } from '../../installer/bundle.js';
import { tmpdir } from 'node:os';
import { smapsParts } from '../support/proc-stat.js';
import { dropShellCaVariables } from '../support/service-env.js';

const WORKER = process.argv[2] === '--worker';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function worker(job: { url: string; caFile: string; tokenFile: string; action: string; n: number }): Promise<void> {
  const client = new ApiClient(new HttpsTransport({ server: job.url, caPem: readFileSync(job.caFile, 'utf8'), token: readFileSync(job.tokenFile, 'utf8').trim() }));
  const out: Record<string, unknown> = {};
  if (job.action === 'pods') {
    const latencies: number[] = [];
    for (let i = 0; i < job.n; i++) {
      const t0 = performance.now();
      await client.create('Pod', 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name: `bench-${i}` }, spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'main', image: 'busybox', imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }] } });
      for (;;) {
        const p = await client.get<Pod>('Pod', 'default', `bench-${i}`);
        if (p.status?.phase === 'Running') break;
        await new Promise((r) => setTimeout(r, 10));
      }
      latencies.push(performance.now() - t0);
    }
    out['latencies'] = latencies;
  } else if (job.action === 'services') {
    const make = async (i: number): Promise<void> => {
      const name = `svc-${i}`;
      await client.create<Service>('Service', 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { ports: [{ name: 'http', port: 80 }] } });
      await client.create<Endpoints>('Endpoints', 'default', { apiVersion: 'v1', kind: 'Endpoints', metadata: { name }, subsets: [{ addresses: [0, 1, 2].map((k) => ({ ip: `10.42.${100 + ((i * 3 + k) % 100)}.${((i * 3 + k) % 250) + 2}` })), ports: [{ name: 'http', port: 8080 }] }] });
    };
    for (let i = 0; i < job.n; i += 20) await Promise.all(Array.from({ length: Math.min(20, job.n - i) }, (_, k) => make(i + k)));
  } else if (job.action === 'change') {
    const ep = await client.get<Endpoints>('Endpoints', 'default', 'svc-7');
    ep.subsets![0]!.addresses![0]!.ip = '10.42.250.250';
    await client.update('Endpoints', ep);
  }
  process.stdout.write(JSON.stringify(out));
}

async function main(): Promise<void> {
  const podCount = Number(process.argv[2] ?? 30);
  const serviceCount = Number(process.argv[3] ?? 1000);
  process.env['CORRAL_LOG_LEVEL'] = 'debug';
  // The agent, its server and the bare process below run without the shell's CA settings, as a service does.
  dropShellCaVariables();
  const { createLab } = await import('../lab/harness.js');
  const { buildBusyboxImage, DEFAULT_IMAGE_REF } = await import('../lab/image.js');
  const { startLabCluster, API_PORT } = await import('../lab/agent-cluster.js');
  const { sleep } = await import('../lab/exec.js');
  const lab = await createLab({ name: 'agbench', nodes: 1 });
  try {
    await lab.importImage('n1', await buildBusyboxImage({ dir: '/tmp/corral-lab-images' }));
    // As installer/agent-service.ts starts the agent.
    const v8Flags = process.env['CORRAL_AGENT_V8_FLAGS'] ?? AGENT_V8_FLAGS.join(' ');
    // The service's Node.js options (BENCH_AGENT_NODE_ARGS replaces them, '' runs without).
    const nodeArgs = (process.env['BENCH_AGENT_NODE_ARGS'] ?? AGENT_NODE_OPTIONS.join(' ')).split(' ').filter((f) => f !== '');
    const flags = [...nodeArgs, ...v8Flags.split(' ').filter((f) => f !== '')];
    // Extra NODE_OPTIONS of the agent (a heap snapshot signal, below).
    const agentNodeOptions = process.env['BENCH_AGENT_NODE_OPTIONS'] ?? '';
    // The agent as installed: the one-file bundle with the V8 flags on its command line (BENCH_AGENT=cli runs
    // `node dist/cli/corral.js agent`, which sets the same flags on itself, as the lab tests do).
    const asCli = process.env['BENCH_AGENT'] === 'cli';
    // BENCH_AGENT_BUNDLE: a bundle built otherwise (a variant being measured) instead of this checkout's.
    const agentProgram = asCli ? undefined : [process.execPath, ...flags, process.env['BENCH_AGENT_BUNDLE'] ?? (await buildAgentBundle(join(tmpdir(), 'corral-bench-agent.cjs'))).path];
    // BENCH_AGENT_ARGS: more `corral agent` flags (BENCH_AGENT=cli), e.g. '--disable-ingress' to see what a part costs.
    const agentArgs = (process.env['BENCH_AGENT_ARGS'] ?? '').split(' ').filter((a) => a !== '');
    const c = await startLabCluster(lab, { ...(agentNodeOptions ? { agentNodeOptions } : {}), ...(agentProgram ? { agentProgram } : {}), agentArgs });
    const job = { url: `https://127.0.0.1:${API_PORT}`, caFile: join(c.serverData, 'server', 'tls', 'ca.crt'), tokenFile: join(c.serverData, 'server', 'admin-token') };
    const runWorker = async (action: string, n: number): Promise<Record<string, unknown>> => {
      const r = await lab.exec('control', [process.execPath, fileURLToPath(import.meta.url), '--worker', JSON.stringify({ ...job, action, n })], { timeoutMs: 900_000 });
      if (r.code !== 0) throw new Error(`worker ${action}: ${r.stderr}`);
      return JSON.parse(r.stdout) as Record<string, unknown>;
    };
    const rss = (): number => {
      const pid = c.agents.get('n1')!.pid;
      return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
    };
    const rssParts = (): string => smapsParts(readFileSync(`/proc/${c.agents.get('n1')!.pid}/smaps`, 'utf8'));
    // PSS (file pages shared with other processes counted in part) and the anonymous part, beside RSS.
    const rollup = (): string => {
      const text = readFileSync(`/proc/${c.agents.get('n1')!.pid}/smaps_rollup`, 'utf8');
      const kib = (field: string): string => (Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)![1]) / 1024).toFixed(1);
      return `PSS ${kib('Pss')}, anonymous ${kib('Anonymous')}`;
    };
    for (let i = 0; i < 600; i++) {
      const r = await c.kubectl(['get', 'node', 'n1', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
      if (r.stdout.trim() === 'True') break;
      await sleep(200);
    }
    const readyAt = performance.now();
    // BENCH_IDLE_MS: how long after Ready the idle reading is taken (5 s by default, the figure the targets use).
    await sleep(Number(process.env['BENCH_IDLE_MS'] ?? 5_000));
    const rssIdle = rss();
    const partsIdle = rssParts();
    const rollupIdle = rollup();
    // BENCH_AGENT_NODE_OPTIONS='--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=DIR'
    // with BENCH_HEAP_SNAPSHOTS=1 writes heap snapshots of the idle agent and of the agent with pods.
    const snapshot = (): void => { if (process.env['BENCH_HEAP_SNAPSHOTS']) process.kill(c.agents.get('n1')!.pid, 'SIGUSR2'); };
    snapshot();
    // The floor: a Node.js process with the same flags and malloc settings that loads nothing.
    const bare = await lab.exec('n1', [process.execPath, ...flags, '-e',
      "setTimeout(() => process.stdout.write(JSON.stringify({ rss: process.memoryUsage().rss, smaps: require('fs').readFileSync('/proc/self/smaps', 'utf8') })), 500)"],
    { env: { ...AGENT_MALLOC_ENVIRONMENT, ...process.env } });
    const bareReading = JSON.parse(bare.stdout) as { rss: number; smaps: string };
    const bareRss = bareReading.rss / 1048576;

    // Steady idle: V8's memory reducer makes its first memory-reducing GCs ~8 s after the start's last full
    // GC (postponed while the agent is still busy): they give back the young generation the start grew
    // (2 MiB) and its garbage. The 5 s reading above comes before them; this one is sampled once a second
    // from 15 to 25 s after Ready (BENCH_STEADY_MS moves the start), where the young generation still fills
    // and empties (the sawtooth is the min-max).
    await sleep(Math.max(0, readyAt + Number(process.env['BENCH_STEADY_MS'] ?? 15_000) - performance.now()));
    const steady: number[] = [];
    for (let i = 0; i < 10; i++) {
      if (i > 0) await sleep(1_000);
      steady.push(rss());
    }
    const partsSteady = rssParts();
    const rollupSteady = rollup();

    // Raw ctr run -d of the same image on the same containerd.
    const raw: number[] = [];
    for (let i = 0; i < podCount; i++) {
      const t0 = performance.now();
      const r = await lab.ctr('n1', ['run', '-d', '--null-io', DEFAULT_IMAGE_REF, `raw-${i}`, 'sleep', '3600']);
      raw.push(performance.now() - t0);
      if (r.code !== 0) throw new Error(`ctr run: ${r.stderr}`);
    }
    for (let i = 0; i < podCount; i++) {
      await lab.ctr('n1', ['tasks', 'kill', '-s', 'SIGKILL', `raw-${i}`]);
    }
    await sleep(500);
    for (let i = 0; i < podCount; i++) {
      await lab.ctr('n1', ['tasks', 'rm', '-f', `raw-${i}`]);
      await lab.ctr('n1', ['containers', 'rm', `raw-${i}`]);
    }

    const pods = (await runWorker('pods', podCount))['latencies'] as number[];
    await sleep(5_000);
    const rssPods = rss();
    const partsPods = rssParts();
    snapshot();
    await c.kubectlOk(['delete', 'pods', '--all', '--grace-period=0', '--force', '--wait=false']);

    await runWorker('services', serviceCount);
    // Let the running agent catch up with every service before it is killed (a clean restart).
    const firstAgentLog = c.agents.get('n1')!.logFile;
    const synced = (): number => readFileSync(firstAgentLog, 'utf8').split('\n').filter((l) => l.includes('"iptables synced"')).length;
    for (let i = 0, last = -1, still = 0; i < 1500 && still < 25; i++) {
      const n = synced();
      still = n === last ? still + 1 : 0;
      last = n;
      await sleep(200);
    }
    const starts = readFileSync(firstAgentLog, 'utf8').split('\n').filter((l) => l.includes('"container started"')).map((l) => JSON.parse(l) as { startMs: number; sinceSeenMs: number });
    // A restarted agent finds every chain in place and rewrites only what differs.
    await c.killAgent('n1');
    const agent = c.startAgent('n1');
    const syncLines = (): { mode: string; ms: number }[] => readFileSync(agent.logFile, 'utf8').split('\n')
      .filter((l) => l.includes('"iptables synced"')).map((l) => JSON.parse(l) as { mode: string; ms: number; totalMs?: number; rewrittenServices?: number });
    let full: { mode: string; ms: number; totalMs?: number; rewrittenServices?: number } | undefined;
    for (let i = 0; i < 600 && !full; i++) {
      full = syncLines().find((s) => s.mode === 'full');
      if (!full) await sleep(100);
    }
    const seen = syncLines().length;
    await runWorker('change', 1);
    let delta: { mode: string; ms: number } | undefined;
    for (let i = 0; i < 300 && !delta; i++) {
      delta = syncLines().slice(seen).find((s) => s.mode === 'delta');
      if (!delta) await sleep(100);
    }

    if (!full || !delta || process.env['BENCH_VERBOSE']) {
      process.stdout.write(`agent log (proxy lines):\n${readFileSync(agent.logFile, 'utf8').split('\n').filter((l) => l.includes('proxy') || l.includes('error')).slice(-15).join('\n')}\n`);
    }
    const sortedPods = [...pods].sort((a, b) => a - b);
    const sortedRaw = [...raw].sort((a, b) => a - b);
    const p50 = percentile(sortedPods, 50);
    const rawP50 = percentile(sortedRaw, 50);
    const f = (n: number): string => n.toFixed(0);
    const malloc = Object.keys(AGENT_MALLOC_ENVIRONMENT).map((k) => `${k}=${process.env[k] ?? AGENT_MALLOC_ENVIRONMENT[k]}`).join(' ');
    process.stdout.write([
      `pod start (create -> Running seen by the API), ${podCount} pods: p50 ${f(p50)} ms, p99 ${f(percentile(sortedPods, 99))} ms`,
      `raw ctr run -d (same image, same containerd):   p50 ${f(rawP50)} ms, p99 ${f(percentile(sortedRaw, 99))} ms`,
      `overhead ratio (p50 pod / p50 raw): ${(p50 / rawP50).toFixed(2)}x`,
      starts.length === 0 ? 'inside the agent: no start timings logged' : `inside the agent (first sight of the pod -> container started), p50 ${f(percentile(starts.map((s) => s.sinceSeenMs).sort((a, b) => a - b), 50))} ms; of which image check + create + start p50 ${f(percentile(starts.map((s) => s.startMs).sort((a, b) => a - b), 50))} ms`,
      `agent RSS idle: ${rssIdle.toFixed(1)} MiB, with ${podCount} pods: ${rssPods.toFixed(1)} MiB (${asCli ? 'dist/cli/corral.js' : 'the one-file bundle'}, node options: ${nodeArgs.join(' ') || 'none'}, V8 flags: ${v8Flags || 'defaults'}, ${malloc}; a bare Node.js process: ${bareRss.toFixed(1)} MiB)`,
      `  idle: ${partsIdle}, ${rollupIdle}; with pods: ${partsPods}; bare: ${smapsParts(bareReading.smaps)} (MiB)`,
      `agent RSS idle, steady (once a second from ${((Number(process.env['BENCH_STEADY_MS'] ?? 15_000)) / 1000).toFixed(0)} s after Ready, after V8's memory reducer): mean ${(steady.reduce((a, b) => a + b, 0) / steady.length).toFixed(1)} MiB (${Math.min(...steady).toFixed(1)}-${Math.max(...steady).toFixed(1)})`,
      `  steady: ${partsSteady}, ${rollupSteady} (MiB, last sample)`,
      `service sync through the agent, ${serviceCount} services x 3 endpoints: full ${full ? `${f(full.ms)} ms iptables-restore${full.totalMs !== undefined ? ` (${f(full.totalMs)} ms with iptables-save, rule build and jumps; ${full.rewrittenServices ?? 'all'} services rewritten)` : ''}` : 'not seen'}, one changed service ${delta ? `${f(delta.ms)} ms` : 'not seen'}`,
      '',
    ].join('\n'));
  } finally {
    await lab.destroy();
  }
}

if (WORKER) {
  void worker(JSON.parse(process.argv[3]!) as Parameters<typeof worker>[0]).catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  });
} else {
  void main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
