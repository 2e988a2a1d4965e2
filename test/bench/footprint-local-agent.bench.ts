/**
 * The server's footprint with its local agent (plain script, root; prints figures, asserts nothing):
 *
 *   node dist/test/bench/footprint-local-agent.bench.js [idle-seconds=30] [steady-seconds=idle-seconds]
 *   (the server runs as the installed service does: the server bundle (installer/server-bundle.ts) with
 *    installer/service.ts's V8 flags and malloc settings; BENCH_SERVER_PLAIN=1 runs plain `node` without
 *    those flags and settings, BENCH_SERVER=cli runs dist/cli/corral.js instead of the bundle;
 *    BENCH_SERVER_NODE_OPTIONS: more Node.js flags for the server process;
 *    BENCH_HEAPSNAPSHOT_DIR=DIR: after the idle period the server writes a heap snapshot there;
 *    BENCH_LAB=NAME: another lab name, so two people can run it at once;
 *    BENCH_SERVER_LOG=FILE: keeps a copy of the server's log)
 *
 * In a 1-node lab ('fpbench'), `corral server` runs on n1 as installed on a single machine: with its
 * local agent inside the same process (real containerd). Two hollow nodes, run by a worker in the
 * lab's control host (rule zero: the runner itself talks to no lab address), make three nodes; a
 * 100-replica Deployment of busybox is spread over them and every pod is Running. Then, idle:
 * - the server process's RSS (server + local agent), beside a bare Node.js process on the same host;
 * - the server process's CPU over the idle period (the agent's loops included), and over a second,
 *   steady period right after it (the first holds V8's memory-reducing GCs after the burst); the RSS
 *   is read after both.
 * footprint.bench.ts measures the server without its agent on loopback.
 */
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../../api/client/client.js';
import { HttpsTransport } from '../../api/client/transport.js';
import { sleep } from '../../api/async-util.js';
import type { Node, Pod } from '../../api/types.js';
import { cpuMs, smapsParts, threadCpuDelta, threadCpuMs } from '../support/proc-stat.js';
import { SERVER_MALLOC_ENVIRONMENT, SERVER_V8_FLAGS } from '../../installer/service.js';
import { serverBundle } from '../../installer/server-bundle.js';
import { dropShellCaVariables } from '../support/service-env.js';

const WORKER = process.argv[2] === '--worker';
const REPLICAS = 100;

interface WorkerJob { url: string; caFile: string; tokenFile: string; image: string; holdMs: number; nodeIP: string }

/** In the control host: two hollow nodes and the Deployment; prints `ready <pods per node>` and holds the nodes. */
async function worker(job: WorkerJob): Promise<void> {
  const { HollowNode } = await import('../support/hollow-node.js');
  for (let i = 0; i < 600 && !existsSync(job.tokenFile); i++) await sleep(200);
  const client = new ApiClient(new HttpsTransport({ server: job.url, caPem: readFileSync(job.caFile, 'utf8'), token: readFileSync(job.tokenFile, 'utf8').trim() }));
  for (let i = 0; ; i++) {
    try {
      await client.list('Namespace', undefined, { limit: 1 });
      break;
    } catch (err) {
      if (i > 300) throw err;
      await sleep(200);
    }
  }
  // The hollow nodes get n1's capacity, so the scheduler spreads the pods evenly over the three. Their
  // InternalIP is the control host's (reachable from n1), so the local agent's routes to their pod
  // CIDRs can be installed as on a real cluster instead of failing and being retried for ever.
  let n1: Node | undefined;
  for (let i = 0; !n1; i++) {
    const found = (await client.list<Node>('Node', undefined)).items.find((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    if (found) n1 = found;
    else if (i > 600) throw new Error('the local agent\'s node is not Ready after 2 minutes');
    else await sleep(200);
  }
  const capacity = n1.status?.capacity ?? {};
  const nodes = [];
  for (let i = 0; i < 2; i++) {
    nodes.push(await HollowNode.start(client, { name: `hollow-${i}`, capacity: { cpu: capacity['cpu'] ?? '2', memory: capacity['memory'] ?? '4Gi', pods: capacity['pods'] ?? 110 }, leaseIntervalMs: 10_000, nodeIP: job.nodeIP }));
  }
  await client.create('Namespace', undefined, { metadata: { name: 'idle' } });
  await client.create('Deployment', 'idle', {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
    spec: {
      replicas: REPLICAS, selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: job.image, imagePullPolicy: 'IfNotPresent', command: ['sleep', '36000'], resources: { requests: { cpu: '10m', memory: '16Mi' } } }] } },
    },
  });
  for (let i = 0; ; i++) {
    const pods = (await client.list<Pod>('Pod', 'idle')).items;
    const running = pods.filter((p) => p.status?.phase === 'Running');
    if (running.length === REPLICAS) {
      const perNode: Record<string, number> = {};
      for (const p of running) perNode[p.spec!.nodeName!] = (perNode[p.spec!.nodeName!] ?? 0) + 1;
      process.stdout.write(`ready ${JSON.stringify(perNode)}\n`);
      break;
    }
    if (i > 1200) throw new Error(`only ${running.length} of ${REPLICAS} pods Running after 4 minutes`);
    await sleep(200);
  }
  // Writes while idle: pods whose resourceVersion moved within 10 s (an idle cluster should have none).
  const before = new Map((await client.list<Pod>('Pod', 'idle')).items.map((p) => [p.metadata.name!, p]));
  await sleep(10_000);
  const moved = (await client.list<Pod>('Pod', 'idle')).items.filter((p) => before.get(p.metadata.name!)?.metadata.resourceVersion !== p.metadata.resourceVersion);
  const movedPerNode: Record<string, number> = {};
  for (const p of moved) movedPerNode[p.spec!.nodeName!] = (movedPerNode[p.spec!.nodeName!] ?? 0) + 1;
  process.stdout.write(`moved ${JSON.stringify(movedPerNode)}\n`);
  if (moved[0]) process.stderr.write(`a moved pod's status, before and after:\n${JSON.stringify(before.get(moved[0].metadata.name!)?.status)}\n${JSON.stringify(moved[0].status)}\n`);
  await sleep(job.holdMs);
  for (const n of nodes) n.stop();
  process.exit(0);
}

async function main(): Promise<void> {
  // The server runs without the shell's CA settings, as its service does (test/support/service-env.ts).
  dropShellCaVariables();
  const idleSeconds = Number(process.argv[2] ?? 30);
  // A second window right after the first: the first holds V8's one-off memory-reducing GCs after the
  // burst of 100 pods, the second is the steady idle a server sitting on a shelf shows.
  const steadySeconds = Number(process.argv[3] ?? idleSeconds);
  const { createLab } = await import('../lab/harness.js');
  const { buildBusyboxImage, DEFAULT_IMAGE_REF } = await import('../lab/image.js');
  // The installed service runs the server bundle; BENCH_SERVER=cli runs dist/cli/corral.js as the lab tests do.
  const CLI = process.env['BENCH_SERVER'] === 'cli' ? join(fileURLToPath(import.meta.url), '..', '..', '..', 'cli', 'corral.js') : await serverBundle();
  const lab = await createLab({ name: process.env['BENCH_LAB'] ?? 'fpbench', nodes: 1 });
  try {
    await lab.importImage('n1', await buildBusyboxImage({ dir: '/tmp/corral-lab-images' }));
    const n1 = lab.node('n1');
    const serverData = join(n1.dir, 'corral');
    // BENCH_SERVER_NODE_OPTIONS passes Node.js flags to the server (e.g. --cpu-prof --cpu-prof-dir=DIR).
    const plain = Boolean(process.env['BENCH_SERVER_PLAIN']);
    const nodeOptions = [...(plain ? [] : SERVER_V8_FLAGS), ...(process.env['BENCH_SERVER_NODE_OPTIONS'] ?? '').split(' ').filter((f) => f !== '')];
    // A heap snapshot on SIGUSR2 (sent after the readings below); it opens in Chrome DevTools (Memory).
    const snapshotDir = process.env['BENCH_HEAPSNAPSHOT_DIR'];
    if (snapshotDir) nodeOptions.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshotDir}`);
    const server = lab.spawn('n1', [process.execPath, ...nodeOptions, CLI, 'server', '--data-dir', serverData, '--port', '6443', '--bind-address', '0.0.0.0',
      '--advertise-address', n1.ip, '--tls-san', n1.ip, '--node-ip', n1.ip, '--containerd-address', n1.containerdSocket,
      '--netns-prefix', `${lab.netnsPrefix}n1-`], { logName: 'server', env: { ...process.env, ...(plain ? {} : SERVER_MALLOC_ENVIRONMENT), CORRAL_LOG_LEVEL: 'info' } });
    const job: WorkerJob = {
      url: `https://${n1.ip}:6443`, caFile: join(serverData, 'server', 'tls', 'ca.crt'), tokenFile: join(serverData, 'server', 'admin-token'),
      image: DEFAULT_IMAGE_REF, holdMs: (idleSeconds + steadySeconds + 30) * 1000, nodeIP: lab.controlIp,
    };
    const work = lab.spawn('control', [process.execPath, fileURLToPath(import.meta.url), '--worker', JSON.stringify(job)], { logName: 'worker' });
    let ready: string | undefined;
    for (let i = 0; i < 1800 && !ready; i++) {
      ready = /^ready (.*)$/m.exec(readFileSync(work.logFile, 'utf8'))?.[1];
      if (!ready) {
        if (work.child.exitCode !== null) throw new Error(`worker exited:\n${readFileSync(work.logFile, 'utf8').slice(-2000)}\nserver:\n${readFileSync(server.logFile, 'utf8').slice(-2000)}`);
        await sleep(200);
      }
    }
    if (!ready) throw new Error(`pods not Running in 6 minutes:\n${readFileSync(work.logFile, 'utf8').slice(-2000)}`);
    for (let i = 0; i < 150 && !/^moved /m.test(readFileSync(work.logFile, 'utf8')); i++) await sleep(100);
    const moved = /^moved (.*)$/m.exec(readFileSync(work.logFile, 'utf8'))?.[1] ?? 'not seen';
    const serverGone = (): void => {
      if (server.child.exitCode !== null || server.child.signalCode !== null) throw new Error(`the server exited (${server.child.exitCode ?? server.child.signalCode}):\n${readFileSync(server.logFile, 'utf8').slice(-4000)}`);
    };
    serverGone();
    const cpu0 = cpuMs(server.pid);
    const threads0 = threadCpuMs(server.pid);
    const t0 = performance.now();
    await sleep(idleSeconds * 1000);
    serverGone();
    const cpu1 = cpuMs(server.pid);
    const t1 = performance.now();
    const share = (cpu1 - cpu0) / (t1 - t0);
    const perThread = threadCpuDelta(threads0, threadCpuMs(server.pid));
    const threads1 = threadCpuMs(server.pid);
    if (steadySeconds > 0) await sleep(steadySeconds * 1000);
    serverGone();
    const steadyShare = steadySeconds > 0 ? (cpuMs(server.pid) - cpu1) / (performance.now() - t1) : undefined;
    const steadyPerThread = steadySeconds > 0 ? threadCpuDelta(threads1, threadCpuMs(server.pid)) : undefined;
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))![1]) / 1024;
    const rssParts = smapsParts(readFileSync(`/proc/${server.pid}/smaps`, 'utf8'));
    const bare = await lab.exec('n1', [process.execPath, '-e',
      "setTimeout(() => process.stdout.write(JSON.stringify({ rss: process.memoryUsage().rss, smaps: require('fs').readFileSync('/proc/self/smaps', 'utf8') })), 500)"]);
    const bareReading = JSON.parse(bare.stdout) as { rss: number; smaps: string };
    const bareRss = bareReading.rss / 1048576;
    process.stdout.write(`footprint with the local agent (node ${process.version}${plain ? ', plain' : ` ${SERVER_V8_FLAGS.join(' ')}, ${Object.entries(SERVER_MALLOC_ENVIRONMENT).map(([k, v]) => `${k}=${v}`).join(' ')}`}, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})\n`);
    process.stdout.write(`pods Running per node: ${ready}\n`);
    process.stdout.write(`pods whose resourceVersion moved in 10 s of idle, per node: ${moved}\n`);
    if (process.env['BENCH_VERBOSE']) process.stdout.write(`${readFileSync(work.logFile, 'utf8').slice(-6000)}\n`);
    process.stdout.write(`server + local agent RSS, 3 nodes + ${REPLICAS} pods (MiB)  ${rss.toFixed(1)}  (bare node process: ${bareRss.toFixed(1)} MiB, ${(rss / bareRss).toFixed(1)}x the floor)\n`);
    process.stdout.write(`  server: ${rssParts}; bare: ${smapsParts(bareReading.smaps)} (MiB)\n`);
    process.stdout.write(`server + local agent idle CPU (${idleSeconds} s)              ${(share * 100).toFixed(2)} % of one core (clock tick 10 ms)\n`);
    process.stdout.write(`  per thread (ms; threads that ended meanwhile are missing): ${perThread}\n`);
    if (steadyShare !== undefined) {
      process.stdout.write(`server + local agent steady idle CPU (the next ${steadySeconds} s) ${(steadyShare * 100).toFixed(2)} % of one core\n`);
      process.stdout.write(`  per thread (ms): ${steadyPerThread}\n`);
    }
    if (snapshotDir) {
      process.kill(server.pid, 'SIGUSR2');
      // Written synchronously by the server's main thread; the file is complete once its size stops changing.
      let size = -1;
      for (let i = 0; i < 600; i++) {
        await sleep(500);
        const file = readdirSync(snapshotDir).find((f) => f.endsWith('.heapsnapshot') && f.includes(`.${server.pid}.`));
        const now = file ? statSync(join(snapshotDir, file)).size : -1;
        if (now > 0 && now === size) {
          process.stdout.write(`heap snapshot: ${join(snapshotDir, file!)}\n`);
          break;
        }
        size = now;
      }
    }
    // A clean stop (a profile is written at exit); destroy kills whatever is left.
    process.kill(server.pid, 'SIGTERM');
    const stopped = await Promise.race([server.exited.then(() => true), sleep(30_000).then(() => false)]);
    if (!stopped) process.stdout.write('the server did not stop within 30 s of SIGTERM (a CPU profile would be lost)\n');
    // BENCH_SERVER_LOG=FILE keeps a copy of the server's log (the lab's own logs go with the lab).
    const keepLog = process.env['BENCH_SERVER_LOG'];
    if (keepLog) copyFileSync(server.logFile, keepLog);
  } finally {
    await lab.destroy();
  }
}

if (WORKER) {
  void worker(JSON.parse(process.argv[3]!) as WorkerJob).catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
} else {
  void main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
