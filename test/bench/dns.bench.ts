/**
 * Cluster DNS benchmark (plain script, root, needs dnsperf: apt-get install dnsperf). A 2-node lab
 * with a real `corral server` and a `corral agent` per node; the outside resolver is a fake DNS server
 * on the lab's control host. On every node, dnsperf (run in the node's namespace, through the cluster
 * DNS IP and the node-local DNAT, as a pod's queries go) measures:
 *   - cluster names (A records of N Services): queries/s and p50/p99 latency;
 *   - forwarded names with a warm cache;
 *   - the agent's RSS before and a few seconds after the load, beside the echo floor's own growth
 *     under its load (Node.js itself grows by several MiB when it answers UDP at these rates);
 *   - the floor: a raw Node.js UDP echo server on the same node, same dnsperf, same run.
 * Usage: node dist/test/bench/dns.bench.js [--quick] [services=200] [seconds=6]
 */
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileSync } from 'node:fs';
import { createLab, type Lab } from '../lab/harness.js';
import { startLabCluster, type LabCluster } from '../lab/agent-cluster.js';
import { rssMiB } from '../support/fuzz.js';
import { waitUntil } from '../support/wait.js';
import { sleep } from '../../api/async-util.js';

const quick = process.argv.includes('--quick');
const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const SERVICES = Number(positional[0] ?? (quick ? 50 : 200));
const SECONDS = Number(positional[1] ?? (quick ? 3 : 6));
const FORWARDED = 20;
const CLUSTER_DNS = '10.43.0.10';
const ECHO_PORT = 5399;
/** RSS is read after this much idle time, so garbage of the run itself is not counted as kept memory. */
const SETTLE_MS = 3_000;
const FAKE_DNS = join(dirname(fileURLToPath(import.meta.url)), '..', 'lab', 'fake-dns.js');

/** The floor: answers each packet with itself, QR bit set (run with `node -e` inside a node's namespace). */
const ECHO = `const s=require('node:dgram').createSocket('udp4');s.on('message',(m,r)=>{if(m.length>=4)m[2]|=0x80;s.send(m,r.port,r.address)});s.bind(${ECHO_PORT},'127.0.0.1');`;

interface PerfResult { qps: number; p50: number; p99: number; lost: number; sent: number }

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

/** dnsperf inside `node`'s namespace; latencies from its verbose per-query lines. */
async function dnsperf(lab: Lab, node: string, server: string, port: number, file: string, seconds: number): Promise<PerfResult> {
  const r = await lab.exec(node, ['dnsperf', '-s', server, '-p', String(port), '-d', file, '-l', String(seconds), '-c', '4', '-q', '64', '-v'], { timeoutMs: (seconds + 30) * 1000 });
  if (r.code !== 0) throw new Error(`dnsperf on ${node} exited with ${r.code}: ${r.stderr.slice(-500)}`);
  const latencies: number[] = [];
  for (const m of r.stdout.matchAll(/^> \S+ \S+ \S+ (\d+\.\d+)$/gm)) latencies.push(Number(m[1]) * 1000);
  latencies.sort((a, b) => a - b);
  const num = (re: RegExp): number => Number(re.exec(r.stdout)?.[1] ?? NaN);
  return { qps: num(/Queries per second:\s+([\d.]+)/), p50: percentile(latencies, 50), p99: percentile(latencies, 99), lost: num(/Queries lost:\s+(\d+)/), sent: num(/Queries sent:\s+(\d+)/) };
}

const fmt = (r: PerfResult): string => `${Math.round(r.qps).toLocaleString('en-US')} q/s, p50 ${r.p50.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms (${r.lost} of ${r.sent} lost)`;

async function main(): Promise<void> {
  const lab = await createLab({ name: 'dnsbench', nodes: 2 });
  let cluster: LabCluster | undefined;
  try {
    const records: Record<string, string[]> = {};
    for (let i = 0; i < FORWARDED; i++) records[`host-${i}.example.com`] = [`203.0.113.${i + 1}`];
    lab.spawn('control', [process.execPath, FAKE_DNS, lab.controlIp, '53', JSON.stringify(records)], { logName: 'fake-dns' });
    const resolvConf = join(lab.dir, 'upstream-resolv.conf');
    writeFileSync(resolvConf, `nameserver ${lab.controlIp}\n`);
    // The agents run with the Node.js option the installed service has (installer/agent-service.ts).
    cluster = await startLabCluster(lab, { agentArgs: ['--resolv-conf', resolvConf], agentNodeOptions: '--max-semi-space-size=1' });
    const c = cluster;
    const manifest = Array.from({ length: SERVICES }, (_, i) => `apiVersion: v1\nkind: Service\nmetadata: { name: web-${i}, namespace: default }\nspec: { ports: [{ name: http, port: 80 }] }\n`).join('---\n');
    await c.kubectlOk(['apply', '-f', '-'], manifest);
    const clusterFile = join(lab.dir, 'cluster-names.txt');
    writeFileSync(clusterFile, Array.from({ length: SERVICES }, (_, i) => `web-${i}.default.svc.cluster.local A`).join('\n') + '\n');
    const forwardFile = join(lab.dir, 'forward-names.txt');
    writeFileSync(forwardFile, Array.from({ length: FORWARDED }, (_, i) => `host-${i}.example.com A`).join('\n') + '\n');
    const lines: string[] = [`cluster DNS, ${SERVICES} Services, 2 nodes, dnsperf -c 4 -q 64 in each node's namespace, ${SECONDS} s runs; agents run as installed (node --max-semi-space-size=1)`];
    for (const node of lab.nodes.map((n) => n.name)) {
      await waitUntil(`the last Service resolves on ${node}`, async () => {
        const r = await lab.exec(node, ['dig', '+short', '+time=1', '+tries=1', `@${CLUSTER_DNS}`, `web-${SERVICES - 1}.default.svc.cluster.local`]);
        return /^10\.43\./.test(r.stdout.trim());
      }, 120_000, 500);
      for (let i = 0; i < FORWARDED; i++) await lab.exec(node, ['dig', '+short', `@${CLUSTER_DNS}`, `host-${i}.example.com`]); // warm the cache
      const echo = lab.spawn(node, [process.execPath, '-e', ECHO], { logName: `echo-${node}` });
      await waitUntil(`the echo server on ${node}`, async () => (await lab.exec(node, ['sh', '-c', `ss -lun | grep -q 127.0.0.1:${ECHO_PORT}`])).code === 0, 10_000, 100);
      const pid = c.agents.get(node)!.child.pid!;
      const echoPid = echo.child.pid!;
      const echoIdle = rssMiB(echoPid);
      const floor = await dnsperf(lab, node, '127.0.0.1', ECHO_PORT, clusterFile, SECONDS);
      await sleep(SETTLE_MS);
      const echoAfter = rssMiB(echoPid);
      echo.child.kill('SIGTERM');
      const rssIdle = rssMiB(pid);
      const names = await dnsperf(lab, node, CLUSTER_DNS, 53, clusterFile, SECONDS);
      const forwarded = await dnsperf(lab, node, CLUSTER_DNS, 53, forwardFile, SECONDS);
      await sleep(SETTLE_MS);
      const rssAfter = rssMiB(pid);
      const agentGrowth = rssAfter - rssIdle;
      const floorGrowth = echoAfter - echoIdle;
      lines.push(
        `node ${node}`,
        `  floor, raw Node.js UDP echo:   ${fmt(floor)}`,
        `  cluster names (A):             ${fmt(names)}  = ${(names.qps / floor.qps * 100).toFixed(0)}% of the floor`,
        `  forwarded names, warm cache:   ${fmt(forwarded)}`,
        `  agent RSS: ${rssIdle.toFixed(1)} MiB before, ${rssAfter.toFixed(1)} MiB ${SETTLE_MS / 1000} s after the load (+${agentGrowth.toFixed(1)} MiB)`,
        `  floor RSS, the raw echo process under its own run: ${echoIdle.toFixed(1)} -> ${echoAfter.toFixed(1)} MiB (+${floorGrowth.toFixed(1)} MiB)`,
        `  agent growth beyond the floor's: ${(agentGrowth - floorGrowth).toFixed(1)} MiB`,
      );
    }
    lines.push(
      'goal: >= 10,000 cluster-name q/s on one core, <= 5 MB extra agent memory',
      '(a bare Node.js process answering UDP at these rates grows by several MiB itself: the floor line shows how much)',
      '',
    );
    process.stdout.write(lines.join('\n'));
  } finally {
    await lab.destroy();
  }
}

await main();
