/**
 * The agent records Events like kubelet, and kubectl shows them: in a 1-node lab (real containerd,
 * real `corral server` and `corral agent`, kubectl v1.32), `kubectl describe pod` of a pod whose image
 * cannot be pulled shows Pulling, Failed (with the reason) and BackOff; of a pod failing its liveness
 * probe shows Pulled, Created, Started, Unhealthy and Killing; `kubectl events` lists them too, and
 * `kubectl describe node` shows the node's Starting and NodeReady.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { createLab, type Lab } from './harness.js';
import { buildBusyboxImage } from './image.js';
import { labTierAvailable } from './prerequisites.js';
import { startLabCluster, type LabCluster } from './agent-cluster.js';
import type { Event, Node } from '../../api/types.js';
import type { KubeList } from '../../api/meta.js';
import { waitUntil } from '../support/wait.js';

const test = suite('agent Events in kubectl describe');
const IMAGE_CACHE = '/tmp/corral-lab-images';

let lab: Lab | undefined;
let cluster: LabCluster | undefined;
const need = (): LabCluster => {
  if (!cluster) throw new Error('the lab cluster did not come up (see the first test)');
  return cluster;
};
const agentLog = (): string => {
  const p = cluster?.agents.get('n1');
  return p ? readFileSync(p.logFile, 'utf8').slice(-3000) : '';
};

/** Waits until `kubectl describe pod NAME` shows every pattern; returns the output. */
async function describeShows(c: LabCluster, kind: string, name: string, patterns: RegExp[], timeoutMs: number): Promise<string> {
  let last = '';
  return waitUntil(`describe ${kind} ${name} shows ${patterns.map(String).join(', ')}`, async () => {
    last = await c.kubectlOk(['describe', kind, name]);
    return patterns.every((p) => p.test(last)) ? last : undefined;
  }, timeoutMs, 500).catch((err: unknown) => { throw new Error(`${String(err)}\nlast describe:\n${last}\nagent log:\n${agentLog()}`); });
}

/** The Events section of `kubectl describe`, one row per line. */
function eventRows(describe: string): string[] {
  const i = describe.indexOf('\nEvents:');
  return i < 0 ? [] : describe.slice(i).split('\n').slice(1).map((l) => l.trim()).filter(Boolean);
}

if (labTierAvailable(test, 'agent events lab test')) {
  test.after(async () => {
    if (lab) {
      const report = await lab.destroy();
      if (report.errors.length > 0) process.stdout.write(`lab teardown errors: ${report.errors.join('; ')}\n`);
    }
  });

  test('the node records Starting and NodeReady (kubectl describe node)', async () => {
    lab = await createLab({ name: 'kitevents', nodes: 1 });
    await lab.importImage('n1', await buildBusyboxImage({ dir: IMAGE_CACHE }));
    cluster = await startLabCluster(lab, { crashBackoff: '1s' });
    const c = need();
    await waitUntil('n1 Ready', async () => {
      const n = (await c.getJson<KubeList<Node>>(['get', 'nodes'])).items.find((x) => x.metadata.name === 'n1');
      return n?.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True');
    }, 60_000, 300).catch((err: unknown) => { throw new Error(`${String(err)}\nagent log:\n${agentLog()}`); });
    const out = await describeShows(c, 'node', 'n1', [/Starting\s+.*Starting kubelet\./, /NodeReady\s+.*Node n1 status is now: NodeReady/], 30_000);
    const rows = eventRows(out);
    assert.ok(rows.some((r) => /kubelet/.test(r)), `From is kubelet:\n${rows.join('\n')}`);
    assert.ok(rows.some((r) => /NodeHasSufficientMemory/.test(r)), `memory condition event:\n${rows.join('\n')}`);
  });

  test('a pod with a wrong image: describe shows Pulling, Failed with the reason, and BackOff', async () => {
    const c = need();
    // Nothing listens on port 1 of the node's loopback: the pull fails at once, and no packet leaves.
    await c.kubectlOk(['apply', '-f', '-'], `
apiVersion: v1
kind: Pod
metadata: { name: bad-image }
spec:
  nodeName: n1
  terminationGracePeriodSeconds: 0
  containers: [{ name: main, image: '127.0.0.1:1/no/such-image:1.0', command: ['sleep', '3600'] }]
`);
    const out = await describeShows(c, 'pod', 'bad-image', [
      /Normal\s+Pulling\s+.*kubelet\s+Pulling image "127\.0\.0\.1:1\/no\/such-image:1\.0"/,
      /Warning\s+Failed\s+.*kubelet\s+Failed to pull image "127\.0\.0\.1:1\/no\/such-image:1\.0": /,
      /Warning\s+Failed\s+.*kubelet\s+Error: ErrImagePull/,
      /Normal\s+BackOff\s+.*kubelet\s+Back-off pulling image "127\.0\.0\.1:1\/no\/such-image:1\.0"/,
      /Warning\s+Failed\s+.*kubelet\s+Error: ImagePullBackOff/,
    ], 60_000);
    assert.match(out, /Reason:\s+(ErrImagePull|ImagePullBackOff)/, 'the container status says why too');
    // kubectl events (v1.32) lists the same Events for the pod.
    const events = await c.kubectlOk(['events', '--for', 'pod/bad-image']);
    assert.match(events, /Pulling\s+Pod\/bad-image\s+Pulling image/);
    assert.match(events, /Failed\s+Pod\/bad-image\s+Failed to pull image/);
    // The container is named in the reference, as kubelet does.
    const list = await c.getJson<KubeList<Event>>(['get', 'events', '--field-selector', 'involvedObject.name=bad-image']);
    const pulling = list.items.find((e) => e.reason === 'Pulling');
    assert.is(pulling?.involvedObject.fieldPath, 'spec.containers{main}');
    assert.is(pulling?.source?.host, 'n1');
    await c.kubectlOk(['delete', 'pod', 'bad-image', '--wait=false']);
  });

  test('a pod failing its liveness probe: describe shows Created, Started, Unhealthy and Killing', async () => {
    const c = need();
    await c.kubectlOk(['apply', '-f', '-'], `
apiVersion: v1
kind: Pod
metadata: { name: sick }
spec:
  nodeName: n1
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ['sleep', '3600']
    livenessProbe: { exec: { command: ['cat', '/tmp/healthy'] }, periodSeconds: 1, failureThreshold: 2 }
`);
    const out = await describeShows(c, 'pod', 'sick', [
      /Normal\s+Pulled\s+.*kubelet\s+Container image "busybox" already present on machine/,
      /Normal\s+Created\s+.*kubelet\s+Created container: main/,
      /Normal\s+Started\s+.*kubelet\s+Started container main/,
      /Warning\s+Unhealthy\s+.*kubelet\s+Liveness probe failed: command exited 1/,
      /Normal\s+Killing\s+.*kubelet\s+Container main failed liveness probe, will be restarted/,
    ], 60_000);
    // Repeats are counted on one Event (kubectl prints "(x2 over …)"), not written again and again.
    const list = await c.getJson<KubeList<Event>>(['get', 'events', '--field-selector', 'involvedObject.name=sick']);
    const unhealthy = list.items.filter((e) => e.reason === 'Unhealthy');
    assert.is(unhealthy.length, 1, `one Unhealthy Event, counted: ${JSON.stringify(unhealthy.map((e) => e.count))}`);
    assert.ok((unhealthy[0]!.count ?? 0) >= 2, `count ${unhealthy[0]!.count}`);
    assert.ok(eventRows(out).length >= 5, out);
  });
}

test.run();
