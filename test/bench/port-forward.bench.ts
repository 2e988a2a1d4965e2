/**
 * `kubectl port-forward` throughput, in the lab (lab 'pfbench': server on the control host, agent on
 * n1, a busybox httpd pod serving a 64 MiB file): MB/s of downloads through the tunnel (kubectl
 * 1.32 on the control host → API server → agent → the pod's network namespace), one at a time and 4
 * at once, printed beside the floor measured in the same run — the same downloads straight from the
 * node to the pod's IP — with the ratio. Bounded: 3 rounds of 64 MiB per line (`--quick`: 1).
 *
 *   npm run bench -- port-forward [--quick]
 */
import { readFileSync } from 'node:fs';
import { createLab, type Lab } from '../lab/harness.js';
import { buildBusyboxImage } from '../lab/image.js';
import { KUBECTL, startLabCluster } from '../lab/agent-cluster.js';
import type { Node, Pod } from '../../api/types.js';
import type { KubeList } from '../../api/meta.js';
import { waitUntil } from '../support/wait.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : 3;
const FILE_MIB = 64;
const LOCAL_PORT = 8090;

const POD = `
apiVersion: v1
kind: Pod
metadata: { name: big }
spec:
  nodeName: n1
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ['sh', '-c', 'mkdir -p /www && dd if=/dev/zero of=/www/big bs=1048576 count=${FILE_MIB} 2>/dev/null && touch /www/ready && exec httpd -f -p 80 -h /www']
    readinessProbe: { httpGet: { path: /ready, port: 80 }, periodSeconds: 1 }
`;

/** `parallel` downloads of the file at once from `host`; MB/s (10^6 bytes) over the whole batch. */
async function download(lab: Lab, host: string, url: string, parallel: number): Promise<number> {
  const script = `
    const http = require('node:http');
    const one = () => new Promise((resolve, reject) => {
      http.get(${JSON.stringify(url)}, { agent: false }, (res) => {
        let n = 0;
        res.on('data', (d) => { n += d.length; });
        res.on('end', () => resolve(n));
        res.on('error', reject);
      }).on('error', reject);
    });
    const t0 = process.hrtime.bigint();
    Promise.all(Array.from({ length: ${parallel} }, one)).then((sizes) => {
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      const bytes = sizes.reduce((a, b) => a + b, 0);
      if (bytes !== ${parallel * FILE_MIB * 1024 * 1024}) throw new Error('short download: ' + bytes);
      process.stdout.write(String(bytes / 1e6 / s));
    });
  `;
  const r = await lab.exec(host, [process.execPath, '-e', script], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`download from ${host} failed: ${r.stderr}`);
  return Number(r.stdout);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// The lab's long-running processes are unref'ed: without a handle of its own the script could end
// while it waits for them.
const keepAlive = setInterval(() => undefined, 60_000);
const lab = await createLab({ name: 'pfbench', nodes: 1 });
try {
  await lab.importImage('n1', await buildBusyboxImage({ dir: '/tmp/corral-lab-images' }));
  const c = await startLabCluster(lab);
  await waitUntil('n1 Ready', async () => (await c.getJson<KubeList<Node>>(['get', 'nodes'])).items
    .some((n) => n.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True')), 60_000, 300);
  await c.kubectlOk(['apply', '-f', '-'], POD);
  const pod = await waitUntil('the pod ready', async () => {
    const p = await c.getJson<Pod>(['get', 'pod', 'big']);
    return p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') ? p : undefined;
  }, 90_000, 300);
  const forward = lab.spawn('control', [KUBECTL, '--kubeconfig', c.kubeconfig, 'port-forward', 'pod/big', `${LOCAL_PORT}:80`], { logName: 'port-forward' });
  await waitUntil('kubectl forwarding', async () => readFileSync(forward.logFile, 'utf8').includes(`Forwarding from 127.0.0.1:${LOCAL_PORT}`), 30_000, 100);
  const lines: string[] = [];
  for (const parallel of [1, 4]) {
    const direct: number[] = [];
    const tunnel: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      direct.push(await download(lab, 'n1', `http://${pod.status!.podIP}/big`, parallel));
      tunnel.push(await download(lab, 'control', `http://127.0.0.1:${LOCAL_PORT}/big`, parallel));
    }
    const d = median(direct);
    const t = median(tunnel);
    lines.push(`port-forward ${parallel} download${parallel > 1 ? 's' : ''} of ${FILE_MIB} MiB at once: ${t.toFixed(1)} MB/s through the tunnel `
      + `(direct node → pod: ${d.toFixed(1)} MB/s; ratio ${(t / d).toFixed(2)}; median of ${ROUNDS})`);
  }
  forward.child.kill('SIGINT');
  await forward.exited;
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  const report = await lab.destroy();
  if (report.errors.length > 0) process.stdout.write(`lab teardown errors: ${report.errors.join('; ')}\n`);
  clearInterval(keepAlive);
}
