/**
 * Stateful apps in the lab (issue 13's "Must show"), three nodes with real containerd, runc and the
 * agents' local-path volumes in each node's own storage dir:
 * - a 3-replica StatefulSet of busybox writing its ordinal and a start counter to its volume is
 *   created in order; a deleted pod comes back on the same node with the same data; scaling to 1 and
 *   back to 3 keeps claims and data; a rolling update goes in reverse order and respects `partition`;
 * - a Deployment with a local-path claim keeps its data across delete and re-create; deleting the
 *   claim (reclaim Delete) removes its directory from its node and nothing else;
 * - a node holding a pod with a local volume is killed: the replacement pod is not started elsewhere,
 *   and FailedScheduling says why;
 * - `kubectl rollout undo daemonset`.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLab, type Lab } from './harness.js';
import { buildBusyboxImage } from './image.js';
import { labTierAvailable } from './prerequisites.js';
import { startLabCluster, type LabCluster } from './agent-cluster.js';
import type { DaemonSet, Event, PersistentVolume, PersistentVolumeClaim, Pod, StatefulSet } from '../../api/types.js';
import type { KubeList } from '../../api/meta.js';
import { waitUntil } from '../support/wait.js';

const IMAGE_CACHE = '/tmp/corral-lab-images';
const test = suite('stateful apps in the lab');

let lab: Lab | undefined;
let cluster: LabCluster | undefined;
const need = (): { lab: Lab; c: LabCluster } => {
  if (!lab || !cluster) throw new Error('the lab cluster did not come up (see the first test)');
  return { lab, c: cluster };
};
const until = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, stepMs = 300): Promise<T> => waitUntil(what, fn, timeoutMs, stepMs);

/** Each start bumps /data/counter and writes the pod's ordinal; ready once both are there. */
const WRITER = `n=$(cat /data/counter 2>/dev/null || echo 0); echo $((n+1)) > /data/counter; echo \${HOSTNAME##*-} > /data/ordinal; exec sleep 3600`;

const APP = `
apiVersion: v1
kind: Service
metadata: { name: app }
spec: { clusterIP: None, selector: { app: app }, ports: [{ port: 80 }] }
---
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: app }
spec:
  replicas: 3
  serviceName: app
  selector: { matchLabels: { app: app } }
  template:
    metadata: { labels: { app: app } }
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: writer
        image: busybox
        imagePullPolicy: IfNotPresent
        command: ['sh', '-c', '${WRITER}']
        env: [{ name: VERSION, value: '1' }]
        readinessProbe: { exec: { command: ['test', '-f', '/data/ordinal'] }, periodSeconds: 1 }
        volumeMounts: [{ name: data, mountPath: /data }]
  volumeClaimTemplates:
  - metadata: { name: data }
    spec: { accessModes: [ReadWriteOnce], resources: { requests: { storage: 64Mi } } }
`;

const DEPLOY = `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: notes }
spec: { accessModes: [ReadWriteOnce], resources: { requests: { storage: 32Mi } } }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: notes }
spec:
  replicas: 1
  selector: { matchLabels: { app: notes } }
  template:
    metadata: { labels: { app: notes } }
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: writer
        image: busybox
        imagePullPolicy: IfNotPresent
        command: ['sh', '-c', 'n=$(cat /data/counter 2>/dev/null || echo 0); echo $((n+1)) > /data/counter; exec sleep 3600']
        volumeMounts: [{ name: notes, mountPath: /data }]
      volumes: [{ name: notes, persistentVolumeClaim: { claimName: notes } }]
`;

const ready = (p: Pod): boolean => p.status?.phase === 'Running' && (p.status.conditions ?? []).some((x) => x.type === 'Ready' && x.status === 'True');
const readySince = (p: Pod): number => Date.parse(p.status?.conditions?.find((x) => x.type === 'Ready')?.lastTransitionTime ?? '');

async function podsOf(c: LabCluster, app: string): Promise<Pod[]> {
  return (await c.getJson<KubeList<Pod>>(['get', 'pods', '-l', `app=${app}`])).items
    .filter((p) => !p.metadata.deletionTimestamp).sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!));
}

async function readyPods(c: LabCluster, app: string, n: number, timeoutMs = 120_000): Promise<Pod[]> {
  return until(`${n} ready ${app} pods`, async () => {
    const pods = await podsOf(c, app);
    return pods.length === n && pods.every(ready) ? pods : undefined;
  }, timeoutMs).catch(async (err: unknown) => {
    const state = (await c.kubectl(['get', 'nodes,pods,pvc', '-o', 'wide'])).stdout;
    const events = (await c.kubectl(['get', 'events', '--sort-by=.lastTimestamp'])).stdout.split('\n').slice(-25).join('\n');
    throw new Error(`${String(err)}\n${state}\n${events}`);
  });
}

async function data(c: LabCluster, pod: string): Promise<{ counter: number; ordinal: string }> {
  const out = (await c.kubectlOk(['exec', pod, '--', 'sh', '-c', 'cat /data/counter; cat /data/ordinal 2>/dev/null || echo -'])).trim().split('\n');
  return { counter: Number(out[0]), ordinal: out[1] ?? '' };
}

/** The node a claim's local-path volume lives on, and its directory there. */
async function volumeOf(c: LabCluster, claim: string): Promise<{ node: string; path: string }> {
  const pvc = await c.getJson<PersistentVolumeClaim>(['get', 'pvc', claim]);
  const pv = await c.getJson<PersistentVolume>(['get', 'pv', pvc.spec.volumeName!]);
  return { node: pv.spec.nodeAffinity!.required!.nodeSelectorTerms[0]!.matchExpressions![0]!.values![0]!, path: pv.spec.hostPath!.path };
}

if (labTierAvailable(test, 'storage lab test')) {
  test.after(async () => {
    if (lab) {
      const report = await lab.destroy();
      if (report.errors.length > 0) process.stdout.write(`lab teardown errors: ${report.errors.join('; ')}\n`);
    }
  });

  test('a 3-replica StatefulSet writing to its volumes is created in order', async () => {
    lab = await createLab({ name: 'stlab', nodes: 3 });
    const image = await buildBusyboxImage({ dir: IMAGE_CACHE });
    await Promise.all(lab.nodes.map((n) => lab!.importImage(n.name, image)));
    cluster = await startLabCluster(lab, { crashBackoff: '1s', nodeMonitorGracePeriod: '20s', podEvictionTimeout: '5s' });
    const { c, lab: l } = need();
    await until('3 Ready nodes', async () => {
      const out = await c.kubectl(['get', 'nodes', '--no-headers']);
      return out.code === 0 && out.stdout.trim().split('\n').filter((line) => / Ready /.test(line)).length === 3;
    }, 60_000);
    await c.kubectlOk(['apply', '-f', '-'], APP);
    const pods = await readyPods(c, 'app', 3);
    assert.ok(Date.parse(pods[1]!.metadata.creationTimestamp!) >= Math.floor(readySince(pods[0]!) / 1000) * 1000, 'app-1 made after app-0 was ready');
    assert.ok(Date.parse(pods[2]!.metadata.creationTimestamp!) >= Math.floor(readySince(pods[1]!) / 1000) * 1000, 'app-2 made after app-1 was ready');
    for (const [i, p] of pods.entries()) {
      assert.equal(await data(c, p.metadata.name!), { counter: 1, ordinal: String(i) });
      const v = await volumeOf(c, `data-app-${i}`);
      assert.is(v.node, p.spec.nodeName, `app-${i} runs where its volume is`);
      // The directory is in that node's own storage dir, with what the pod wrote.
      assert.ok(v.path.startsWith(join(l.node(v.node).dir, 'corral', 'storage', 'pvc-')), v.path);
      assert.is(readFileSync(join(v.path, 'ordinal'), 'utf8').trim(), String(i));
    }
    assert.match(await c.kubectlOk(['get', 'pvc']), /data-app-0\s+Bound\s+pvc-[0-9a-f-]+\s+64Mi\s+RWO\s+local-path/);
  });

  test('a deleted pod comes back on the same node with the same data', async () => {
    const { c } = need();
    const before = (await podsOf(c, 'app')).find((p) => p.metadata.name === 'app-1')!;
    await c.kubectlOk(['delete', 'pod', 'app-1']);
    const pods = await until('app-1 back', async () => {
      const list = await readyPods(c, 'app', 3);
      return list[1]!.metadata.uid !== before.metadata.uid ? list : undefined;
    }, 120_000);
    assert.is(pods[1]!.spec.nodeName, before.spec.nodeName);
    assert.equal(await data(c, 'app-1'), { counter: 2, ordinal: '1' });
  });

  test('scale to 1 and back to 3: the claims and data are still there', async () => {
    const { c } = need();
    await c.kubectlOk(['scale', 'statefulset/app', '--replicas=1']);
    await readyPods(c, 'app', 1);
    assert.match(await c.kubectlOk(['get', 'pvc', 'data-app-1', 'data-app-2', '--no-headers']), /data-app-1\s+Bound[\s\S]*data-app-2\s+Bound/);
    await c.kubectlOk(['scale', 'statefulset/app', '--replicas=3']);
    await readyPods(c, 'app', 3);
    assert.equal(await data(c, 'app-1'), { counter: 3, ordinal: '1' });
    assert.equal(await data(c, 'app-2'), { counter: 2, ordinal: '2' });
    assert.equal(await data(c, 'app-0'), { counter: 1, ordinal: '0' });
  });

  test('a rolling update goes in reverse order and respects partition', async () => {
    const { c } = need();
    await c.kubectlOk(['patch', 'statefulset', 'app', '-p', '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":1}}}}']);
    await c.kubectlOk(['set', 'env', 'statefulset/app', 'VERSION=2']);
    const partial = await c.kubectlOk(['rollout', 'status', 'statefulset/app', '--timeout=120s']);
    assert.match(partial, 'partitioned roll out complete: 2 new pods have been updated...');
    let pods = await readyPods(c, 'app', 3);
    const version = (p: Pod): string | undefined => p.spec.containers[0]!.env?.find((e) => e.name === 'VERSION')?.value;
    assert.equal(pods.map(version), ['1', '2', '2'], 'app-0 is below the partition');
    assert.ok(Date.parse(pods[2]!.metadata.creationTimestamp!) <= Date.parse(pods[1]!.metadata.creationTimestamp!), 'app-2 replaced before app-1');
    await c.kubectlOk(['patch', 'statefulset', 'app', '-p', '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}']);
    await c.kubectlOk(['rollout', 'status', 'statefulset/app', '--timeout=120s']);
    pods = await readyPods(c, 'app', 3);
    assert.equal(pods.map(version), ['2', '2', '2']);
    assert.ok(Date.parse(pods[1]!.metadata.creationTimestamp!) <= Date.parse(pods[0]!.metadata.creationTimestamp!), 'app-1 replaced before app-0');
    assert.equal(await data(c, 'app-0'), { counter: 2, ordinal: '0' });
    const sts = await c.getJson<StatefulSet>(['get', 'statefulset', 'app']);
    await until('update revision current', async () => {
      const s = await c.getJson<StatefulSet>(['get', 'statefulset', 'app']);
      return s.status?.currentRevision === s.status?.updateRevision;
    }, 30_000);
    assert.is(sts.status?.updatedReplicas, 3);
  });

  test('a Deployment\'s local-path data survives delete and re-create; deleting the claim removes only its directory', async () => {
    const { c, lab: l } = need();
    await c.kubectlOk(['apply', '-f', '-'], DEPLOY);
    await readyPods(c, 'notes', 1);
    const [first] = await podsOf(c, 'notes');
    assert.is((await c.kubectlOk(['exec', first!.metadata.name!, '--', 'cat', '/data/counter'])).trim(), '1');
    await c.kubectlOk(['delete', 'deployment', 'notes', '--wait=true']);
    await c.kubectlOk(['apply', '-f', '-'], DEPLOY);
    await readyPods(c, 'notes', 1);
    const [second] = await podsOf(c, 'notes');
    assert.is((await c.kubectlOk(['exec', second!.metadata.name!, '--', 'cat', '/data/counter'])).trim(), '2');
    const volume = await volumeOf(c, 'notes');
    assert.is(second!.spec.nodeName, volume.node);
    const storageDir = join(l.node(volume.node).dir, 'corral', 'storage');
    const others = readdirSync(storageDir).filter((d) => join(storageDir, d) !== volume.path);

    await c.kubectlOk(['delete', 'deployment', 'notes', '--wait=true']);
    await c.kubectlOk(['delete', 'pvc', 'notes', '--wait=true']);
    await until('the volume directory removed', async () => !existsSync(volume.path), 60_000);
    const pvName = volume.path.split('/').pop()!.split('_')[0]!;
    await until('the PersistentVolume gone', async () => (await c.kubectl(['get', 'pv', pvName])).code !== 0, 30_000);
    assert.equal(readdirSync(storageDir).sort(), others.sort(), 'every other volume directory is still there');
  });

  test('a lost node\'s local volume keeps its pod from starting elsewhere, and FailedScheduling says why', async () => {
    const { c } = need();
    await c.kubectlOk(['apply', '-f', '-'], DEPLOY);
    await readyPods(c, 'notes', 1);
    const volume = await volumeOf(c, 'notes');
    await cluster!.killAgent(volume.node);
    // The node goes unreachable, its pod is evicted, and the replacement has nowhere to go.
    const replacement = await until('an unschedulable replacement', async () => {
      const pods = (await c.getJson<KubeList<Pod>>(['get', 'pods', '-l', 'app=notes'])).items;
      return pods.find((p) => !p.metadata.deletionTimestamp && !p.spec.nodeName);
    }, 90_000);
    const event = await until('FailedScheduling', async () => {
      const events = (await c.getJson<KubeList<Event>>(['get', 'events', '--field-selector', `involvedObject.name=${replacement.metadata.name}`])).items;
      return events.find((e) => e.reason === 'FailedScheduling');
    }, 30_000);
    assert.match(event.message ?? '', /^0\/3 nodes are available: 1 node\(s\) had untolerated taint \{node\.kubernetes\.io\/unreachable: \}, 2 node\(s\) had volume node affinity conflict\./);
    const stillPending = await c.getJson<Pod>(['get', 'pod', replacement.metadata.name!]);
    assert.is(stillPending.spec.nodeName, undefined, 'not started elsewhere');
    cluster!.startAgent(volume.node);
    await readyPods(c, 'notes', 1);
    const [back] = await podsOf(c, 'notes');
    assert.is(back!.spec.nodeName, volume.node);
    assert.is((await c.kubectlOk(['exec', back!.metadata.name!, '--', 'cat', '/data/counter'])).trim(), '2');
  });

  test('kubectl rollout undo daemonset', async () => {
    const { c } = need();
    await c.kubectlOk(['apply', '-f', '-'], `
apiVersion: apps/v1
kind: DaemonSet
metadata: { name: beacon }
spec:
  selector: { matchLabels: { app: beacon } }
  template:
    metadata: { labels: { app: beacon } }
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{ name: b, image: busybox, imagePullPolicy: IfNotPresent, command: ['sleep', '3600'], env: [{ name: MODE, value: one }] }]
`);
    await c.kubectlOk(['rollout', 'status', 'daemonset/beacon', '--timeout=120s']);
    await c.kubectlOk(['set', 'env', 'daemonset/beacon', 'MODE=two']);
    await c.kubectlOk(['rollout', 'status', 'daemonset/beacon', '--timeout=120s']);
    assert.match(await c.kubectlOk(['rollout', 'history', 'daemonset/beacon']), /1\s+<none>\n2\s+<none>/);
    assert.match(await c.kubectlOk(['rollout', 'undo', 'daemonset/beacon']), 'daemonset.apps/beacon rolled back');
    await c.kubectlOk(['rollout', 'status', 'daemonset/beacon', '--timeout=120s']);
    const ds = await c.getJson<DaemonSet>(['get', 'daemonset', 'beacon']);
    assert.is(ds.spec.template.spec.containers[0]!.env?.[0]?.value, 'one');
    const pods = await readyPods(c, 'beacon', 3);
    assert.ok(pods.every((p) => p.spec.containers[0]!.env?.[0]?.value === 'one'));
  });
}

test.run();
