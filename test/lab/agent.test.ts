/**
 * `corral agent` in the lab, against a real `corral server`: three nodes with real containerd, runc
 * and iptables in their own namespaces. Covers the "Must show": a Deployment of busybox httpd
 * behind a NodePort Service (ClusterIP from a pod, NodePort from another host, spread over all pods),
 * restarts after a killed process and a failing liveness probe, readiness taking a pod out of the
 * endpoints, logs (and -f), exec, Jobs, an agent SIGKILL + restart that restarts no pod, a server
 * outage (15 s here instead of a minute, to keep the file short) during which pods keep serving, and
 * node capacity matching nproc and /proc/meminfo.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { createLab, type Lab } from './harness.js';
import { buildBusyboxImage } from './image.js';
import { sleep } from './exec.js';
import { labTierAvailable } from './prerequisites.js';
import { startLabCluster, type LabCluster } from './agent-cluster.js';
import type { Endpoints, Lease, Node, Pod, Service } from '../../api/types.js';
import type { KubeList } from '../../api/meta.js';
import { waitUntil } from '../support/wait.js';

const IMAGE_CACHE = '/tmp/corral-lab-images';
const test = suite('corral agent in the lab');

let lab: Lab | undefined;
let cluster: LabCluster | undefined;
const need = (): { lab: Lab; c: LabCluster } => {
  if (!lab || !cluster) throw new Error('the lab cluster did not come up (see the first test)');
  return { lab, c: cluster };
};

const until = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, stepMs = 300): Promise<T> => waitUntil(what, fn, timeoutMs, stepMs);

function agentLogs(name: string): string {
  const p = cluster?.agents.get(name);
  return p ? readFileSync(p.logFile, 'utf8').slice(-4000) : '';
}

const WEB = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 3
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: httpd
        image: busybox
        imagePullPolicy: IfNotPresent
        command: ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www']
        ports: [{ name: http, containerPort: 80 }]
        readinessProbe: { exec: { command: ['sh', '-c', 'test ! -f /tmp/notready'] }, periodSeconds: 1, failureThreshold: 1 }
        livenessProbe: { httpGet: { path: /index.html, port: http }, periodSeconds: 2, failureThreshold: 3 }
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  type: NodePort
  selector: { app: web }
  ports: [{ port: 80, targetPort: 80, nodePort: 30080 }]
`;

async function webPods(c: LabCluster): Promise<Pod[]> {
  return (await c.getJson<KubeList<Pod>>(['get', 'pods', '-l', 'app=web'])).items.filter((p) => !p.metadata.deletionTimestamp);
}

function ready(p: Pod): boolean {
  return p.status?.phase === 'Running' && (p.status.conditions ?? []).some((x) => x.type === 'Ready' && x.status === 'True');
}

/** Runs a loop of wget in a pod and returns the bodies (one per line). */
async function fromPod(c: LabCluster, pod: string, url: string, times: number): Promise<string[]> {
  const out = await c.kubectlOk(['exec', pod, '--', 'sh', '-c', `for i in $(seq ${times}); do timeout 3 wget -q -O - ${url}; done`]);
  return out.split('\n').map((l) => l.trim()).filter(Boolean);
}

async function fromHost(l: Lab, host: string, url: string, times: number): Promise<string[]> {
  const r = await l.exec(host, ['sh', '-c', `for i in $(seq ${times}); do timeout 3 busybox wget -q -O - ${url}; done`], { timeoutMs: times * 4_000 });
  return r.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
}

if (labTierAvailable(test, 'agent lab test')) {
  test.after(async () => {
    if (lab) {
      const report = await lab.destroy();
      if (report.errors.length > 0) process.stdout.write(`lab teardown errors: ${report.errors.join('; ')}\n`);
    }
  });

  test('three agents register, get pod CIDRs, heartbeat and report the real capacity', async () => {
    lab = await createLab({ name: 'agtest', nodes: 3 });
    const image = await buildBusyboxImage({ dir: IMAGE_CACHE });
    await Promise.all(lab.nodes.map((n) => lab!.importImage(n.name, image)));
    cluster = await startLabCluster(lab, { crashBackoff: '1s' });
    const { c, lab: l } = need();
    const nodes = await until('3 Ready nodes with pod CIDRs', async () => {
      const list = (await c.getJson<KubeList<Node>>(['get', 'nodes'])).items;
      const ok = list.filter((n) => n.spec?.podCIDR && n.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'));
      return ok.length === 3 ? list : undefined;
    }, 60_000).catch((err: unknown) => { throw new Error(`${String(err)}\nagent n1 log:\n${agentLogs('n1')}`); });
    const cidrs = new Set(nodes.map((n) => n.spec!.podCIDR));
    assert.is(cidrs.size, 3, 'every node has its own pod CIDR');
    const n1 = nodes.find((n) => n.metadata.name === 'n1')!;
    const nproc = (await l.exec('n1', ['nproc'])).stdout.trim();
    const memKi = /MemTotal:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'))![1];
    assert.is(n1.status?.capacity?.['cpu'], nproc);
    assert.is(n1.status?.capacity?.['memory'], `${memKi}Ki`);
    assert.equal(n1.status?.addresses?.find((a) => a.type === 'InternalIP')?.address, l.node('n1').ip);
    assert.is(n1.metadata.labels?.['kubernetes.io/hostname'], 'n1');
    const lease = await c.getJson<Lease>(['get', 'lease', '-n', 'kube-node-lease', 'n1']);
    assert.match(lease.spec?.renewTime ?? '', /\.\d{6}Z$/, 'renewTime is a MicroTime');
    assert.is(lease.spec?.holderIdentity, 'n1');
  });

  test('a Deployment of 3 busybox httpd replicas becomes Running and Ready', async () => {
    const { c } = need();
    await c.kubectlOk(['apply', '-f', '-'], WEB);
    const pods = await until('3 ready web pods', async () => {
      const list = await webPods(c);
      return list.length === 3 && list.every(ready) ? list : undefined;
    }, 90_000).catch(async (err: unknown) => { throw new Error(`${String(err)}\n${await c.kubectl(['get', 'pods', '-o', 'wide']).then((r) => r.stdout)}\nagent n1 log:\n${agentLogs('n1')}`); });
    for (const p of pods) {
      assert.match(p.status?.podIP ?? '', /^10\.42\.\d+\.\d+$/);
      assert.is(p.status?.containerStatuses?.[0]?.restartCount, 0);
      assert.match(p.status?.containerStatuses?.[0]?.containerID ?? '', /^containerd:\/\//);
    }
    await until('3 endpoint addresses', async () => {
      const ep = await c.getJson<Endpoints>(['get', 'endpoints', 'web']);
      return (ep.subsets?.[0]?.addresses?.length ?? 0) === 3;
    }, 30_000);
  });

  test('the Service answers on its ClusterIP from a pod and on its NodePort from another host, over all 3 pods', async () => {
    const { c, lab: l } = need();
    const svc = await c.getJson<Service>(['get', 'service', 'web']);
    const pods = await webPods(c);
    const names = new Set(pods.map((p) => p.metadata.name!));
    const viaClusterIp = await fromPod(c, pods[0]!.metadata.name!, `http://${svc.spec.clusterIP}/`, 30);
    assert.is(viaClusterIp.length, 30, `every ClusterIP request answered: ${viaClusterIp.join(',')}`);
    assert.equal(new Set(viaClusterIp), names, 'requests over the ClusterIP reach all 3 pods');
    const viaNodePort = await fromHost(l, 'control', `http://${l.node('n1').ip}:30080/`, 30);
    assert.is(viaNodePort.length, 30, 'every NodePort request from the control host answered');
    assert.equal(new Set(viaNodePort), names, 'NodePort requests reach all 3 pods');
  });

  test('kubectl logs (with --tail and -f) and kubectl exec', async () => {
    const { c } = need();
    await c.kubectlOk(['run', 'talker', '--image=busybox', '--image-pull-policy=IfNotPresent', '--restart=Never', '--', 'sh', '-c', 'i=0; while true; do echo line-$i; i=$((i+1)); sleep 0.2; done']);
    await until('talker running', async () => (await c.getJson<Pod>(['get', 'pod', 'talker'])).status?.phase === 'Running', 30_000);
    await sleep(1_000);
    const logs = await c.kubectlOk(['logs', 'talker']);
    assert.match(logs, /^line-0\nline-1\n/);
    const tail = await c.kubectlOk(['logs', 'talker', '--tail=2']);
    assert.is(tail.trim().split('\n').length, 2);
    const stamped = await c.kubectlOk(['logs', 'talker', '--tail=1', '--timestamps']);
    assert.match(stamped, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line-\d+\n$/);
    const follow = await c.kubectl(['logs', 'talker', '-f', '--request-timeout=3s']);
    const followed = follow.stdout.trim().split('\n');
    const before = logs.trim().split('\n').length;
    assert.ok(followed.length > before + 3, `-f keeps streaming new lines (${followed.length} vs ${before})`);
    const pod = (await webPods(c))[0]!.metadata.name!;
    const hostname = await c.kubectlOk(['exec', pod, '--', 'cat', '/etc/hostname']);
    assert.is(hostname.trim(), pod);
    const failed = await c.kubectl(['exec', pod, '--', 'sh', '-c', 'exit 7']);
    assert.is(failed.code, 7, 'kubectl exec returns the command exit code');
  });

  test('init containers, emptyDir, configMap and secret volumes, env from keys and fieldRef, graceful delete', async () => {
    const { c, lab: l } = need();
    await c.kubectlOk(['apply', '-f', '-'], `
apiVersion: v1
kind: ConfigMap
metadata: { name: settings }
data: { greeting: hello-from-configmap }
---
apiVersion: v1
kind: Secret
metadata: { name: creds }
stringData: { password: s3cret }
---
apiVersion: v1
kind: Pod
metadata: { name: wired }
spec:
  terminationGracePeriodSeconds: 3
  initContainers:
  - { name: prepare, image: busybox, imagePullPolicy: IfNotPresent, command: ['sh', '-c', 'echo from-init > /work/init.txt'], volumeMounts: [{ name: work, mountPath: /work }] }
  containers:
  - name: main
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ['sh', '-c', 'cat /work/init.txt /cfg/greeting; echo; echo "pw=$PASSWORD pod=$POD_NAME ip=$POD_IP"; exec sleep 600']
    env:
    - { name: PASSWORD, valueFrom: { secretKeyRef: { name: creds, key: password } } }
    - { name: POD_NAME, valueFrom: { fieldRef: { fieldPath: metadata.name } } }
    - { name: POD_IP, valueFrom: { fieldRef: { fieldPath: status.podIP } } }
    volumeMounts: [{ name: work, mountPath: /work }, { name: cfg, mountPath: /cfg, readOnly: true }]
  volumes:
  - { name: work, emptyDir: {} }
  - { name: cfg, configMap: { name: settings } }
`);
    const p = await until('wired running', async () => {
      const pod = await c.getJson<Pod>(['get', 'pod', 'wired']);
      return pod.status?.phase === 'Running' ? pod : undefined;
    }, 30_000);
    assert.is(p.status?.initContainerStatuses?.[0]?.state?.terminated?.exitCode, 0);
    assert.ok(p.status?.conditions?.some((x) => x.type === 'Initialized' && x.status === 'True'));
    const out = await until('wired logs', async () => {
      const text = await c.kubectlOk(['logs', 'wired']);
      return text.includes('pw=') ? text : undefined;
    }, 10_000);
    assert.match(out, /from-init\nhello-from-configmap\n/);
    assert.match(out, new RegExp(`pw=s3cret pod=wired ip=${p.status!.podIP!.replace(/\./g, '\\.')}`));
    const node = p.spec.nodeName!;
    const netns = `${l.netnsPrefix}${node}-${p.metadata.uid}`;
    assert.ok((await l.exec(node, ['ip', 'netns', 'list'])).stdout.includes(netns), 'the pod has its netns');
    const t0 = Date.now();
    await c.kubectlOk(['delete', 'pod', 'wired']);
    const took = Date.now() - t0;
    assert.ok(took >= 2_500, `sleep ignores SIGTERM: the delete waits the 3 s grace period (${took} ms)`);
    const left = await l.ctr(node, ['containers', 'ls', '-q']);
    assert.not.ok(left.stdout.includes(p.metadata.uid!.replace(/-/g, '').slice(0, 16)), 'no container of the pod is left');
    assert.not.ok((await l.exec(node, ['ip', 'netns', 'list'])).stdout.includes(netns), 'the pod netns is gone');
  });

  test('a killed container process is restarted and restartCount rises', async () => {
    const { c, lab: l } = need();
    const pod = (await webPods(c)).find((p) => p.spec.nodeName)!;
    const node = pod.spec.nodeName!;
    const id = pod.status!.containerStatuses![0]!.containerID!.replace('containerd://', '');
    const tasks = await l.ctr(node, ['tasks', 'ls']);
    const pid = new RegExp(`^${id}\\s+(\\d+)`, 'm').exec(tasks.stdout)?.[1];
    assert.ok(pid, `task of ${id} in ${tasks.stdout}`);
    await l.exec(node, ['kill', '-9', pid!]);
    const after = await until('restartCount 1 and ready again', async () => {
      const p = await c.getJson<Pod>(['get', 'pod', pod.metadata.name!]);
      const cs = p.status?.containerStatuses?.[0];
      return cs && cs.restartCount >= 1 && ready(p) ? p : undefined;
    }, 30_000);
    const cs = after.status!.containerStatuses![0]!;
    assert.is(cs.lastState?.terminated?.exitCode, 137);
    assert.is.not(cs.containerID, `containerd://${id}`);
  });

  test('an exit the containerd event stream missed is noticed from the task list within the resync period (5 s)', async () => {
    const { c, lab: l } = need();
    const pod = (await webPods(c)).find((p) => p.spec.nodeName && ready(p))!;
    const node = pod.spec.nodeName!;
    const id = pod.status!.containerStatuses![0]!.containerID!.replace('containerd://', '');
    const restarts = pod.status!.containerStatuses![0]!.restartCount;
    const pid = new RegExp(`^${id}\\s+(\\d+)`, 'm').exec((await l.ctr(node, ['tasks', 'ls'])).stdout)?.[1];
    assert.ok(pid, `task of ${id}`);
    // The agent's `ctr events` for this node's containerd: stopped, so it reads nothing, and killed
    // after the container's exit, so that exit is never delivered (the agent starts a new stream).
    const socket = l.node(node).containerdSocket;
    const events = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
      try {
        const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
        return argv.includes('events') && argv.includes(socket) && /(^|\/)ctr$/.test(argv[0] ?? '');
      } catch {
        return false;
      }
    });
    assert.is(events.length, 1, `one ctr events of ${node}'s agent: ${events.join(', ')}`);
    process.kill(Number(events[0]), 'SIGSTOP');
    await l.exec(node, ['kill', '-9', pid!]);
    await sleep(500);
    process.kill(Number(events[0]), 'SIGKILL');
    const t0 = Date.now();
    // Noticed: the status no longer shows the killed attempt running (terminated or in back-off), or it was restarted already.
    await until('the missed exit noticed', async () => {
      const cs = (await c.getJson<Pod>(['get', 'pod', pod.metadata.name!])).status?.containerStatuses?.[0];
      return cs && (!cs.state?.running || cs.restartCount > restarts) ? cs : undefined;
    }, 12_000);
    assert.ok(Date.now() - t0 < 12_000, `noticed after ${Date.now() - t0} ms`);
  });

  test('a failing liveness probe restarts the container', async () => {
    const { c } = need();
    await c.kubectlOk(['apply', '-f', '-'], `
apiVersion: v1
kind: Pod
metadata: { name: sickly }
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ['sh', '-c', 'touch /tmp/healthy; sleep 2; rm /tmp/healthy; exec sleep 600']
    livenessProbe: { exec: { command: ['cat', '/tmp/healthy'] }, periodSeconds: 1, failureThreshold: 2 }
`);
    const p = await until('liveness restart', async () => {
      const pod = await c.getJson<Pod>(['get', 'pod', 'sickly']);
      return (pod.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1 ? pod : undefined;
    }, 40_000);
    assert.ok(p.status?.containerStatuses?.[0]?.lastState?.terminated, 'the killed attempt is in lastState');
    await c.kubectlOk(['delete', 'pod', 'sickly', '--wait=false']);
  });

  test('a failing readiness probe takes the pod out of the endpoints and the service stops sending to it', async () => {
    const { c } = need();
    const pods = await webPods(c);
    const victim = pods[0]!.metadata.name!;
    const other = pods[1]!.metadata.name!;
    await c.kubectlOk(['exec', victim, '--', 'touch', '/tmp/notready']);
    await until('2 ready endpoint addresses', async () => {
      const ep = await c.getJson<Endpoints>(['get', 'endpoints', 'web']);
      return (ep.subsets?.[0]?.addresses?.length ?? 0) === 2;
    }, 20_000);
    await sleep(500); // the proxy batches endpoint changes
    const svc = await c.getJson<Service>(['get', 'service', 'web']);
    const bodies = await fromPod(c, other, `http://${svc.spec.clusterIP}/`, 20);
    assert.is(bodies.length, 20);
    assert.not.ok(bodies.includes(victim), 'no request reaches the unready pod');
    await c.kubectlOk(['exec', victim, '--', 'rm', '/tmp/notready']);
    await until('3 ready endpoint addresses again', async () => {
      const ep = await c.getJson<Endpoints>(['get', 'endpoints', 'web']);
      return (ep.subsets?.[0]?.addresses?.length ?? 0) === 3;
    }, 20_000);
  });

  test('a pod that exits 0 completes; one that exits 3 is restarted per policy with the exit code in its status', async () => {
    const { c } = need();
    await c.kubectlOk(['apply', '-f', '-'], `
apiVersion: batch/v1
kind: Job
metadata: { name: ok }
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{ name: main, image: busybox, imagePullPolicy: IfNotPresent, command: ['sh', '-c', 'echo done; exit 0'] }]
---
apiVersion: batch/v1
kind: Job
metadata: { name: three }
spec:
  backoffLimit: 6
  template:
    spec:
      restartPolicy: OnFailure
      containers: [{ name: main, image: busybox, imagePullPolicy: IfNotPresent, command: ['sh', '-c', 'exit 3'] }]
`);
    const okPod = await until('ok job pod Succeeded', async () => {
      const list = (await c.getJson<KubeList<Pod>>(['get', 'pods', '-l', 'job-name=ok'])).items;
      return list.find((p) => p.status?.phase === 'Succeeded');
    }, 40_000);
    assert.is(okPod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 0);
    assert.is(okPod.status?.containerStatuses?.[0]?.state?.terminated?.reason, 'Completed');
    const threePod = await until('exit-3 pod restarted', async () => {
      const list = (await c.getJson<KubeList<Pod>>(['get', 'pods', '-l', 'job-name=three'])).items;
      return list.find((p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1);
    }, 40_000);
    const cs = threePod.status!.containerStatuses![0]!;
    const code = cs.lastState?.terminated?.exitCode ?? cs.state?.terminated?.exitCode;
    assert.is(code, 3, JSON.stringify(cs));
    const jobs = await c.kubectl(['wait', '--for=condition=complete', 'job/ok', '--timeout=20s']);
    assert.is(jobs.code, 0, `job ok Complete: ${jobs.stderr}`);
    await c.kubectlOk(['delete', 'job', 'three', '--wait=false']);
  });

  test('an agent killed with SIGKILL and restarted adopts its pods without restarting them', async () => {
    const { c } = need();
    const before = new Map((await webPods(c)).map((p) => [p.metadata.name!, p.status!.containerStatuses![0]!]));
    const node = (await webPods(c))[0]!.spec.nodeName!;
    await c.killAgent(node);
    c.startAgent(node);
    await sleep(8_000);
    const after = await webPods(c);
    for (const p of after) {
      const was = before.get(p.metadata.name!);
      assert.ok(was, `pod ${p.metadata.name} existed before`);
      const now = p.status!.containerStatuses![0]!;
      assert.is(now.containerID, was!.containerID, `${p.metadata.name} kept its container`);
      assert.is(now.restartCount, was!.restartCount, `${p.metadata.name} was not restarted`);
      assert.is(now.state?.running?.startedAt, was!.state?.running?.startedAt);
    }
    assert.ok(after.every(ready), 'all pods ready after the agent restart');
  });

  test('with the server stopped for 15 s, pods keep serving and restarting; status catches up afterwards', async () => {
    const { c, lab: l } = need();
    await c.kubectlOk(['run', 'crashy', '--image=busybox', '--image-pull-policy=IfNotPresent', '--restart=Always', '--', 'sh', '-c', 'sleep 2; exit 2']);
    const crashy = await until('crashy running', async () => {
      const p = await c.getJson<Pod>(['get', 'pod', 'crashy']);
      return p.status?.containerStatuses?.[0]?.state?.running ? p : undefined;
    }, 30_000);
    const node = crashy.spec.nodeName!;
    await c.stopServer();
    const t0 = Date.now();
    let answered = 0;
    let asked = 0;
    while (Date.now() - t0 < 15_000) {
      asked += 5;
      answered += (await fromHost(l, 'control', `http://${l.node('n2').ip}:30080/`, 5)).length;
      await sleep(500);
    }
    assert.ok(asked >= 20);
    assert.is(answered, asked, 'the service kept answering during the outage');
    const local = await l.ctr(node, ['containers', 'ls', '-q']);
    const attempts = [...local.stdout.matchAll(/-crashy-[0-9a-f]+-(\d+)$/gm)].map((m) => Number(m[1]));
    const maxAttempt = Math.max(0, ...attempts);
    assert.ok(maxAttempt >= 1, `crashy was restarted without the server (attempts ${attempts.join(',')})`);
    await c.startServer();
    await until('the restarts show in the API', async () => {
      const p = await c.getJson<Pod>(['get', 'pod', 'crashy']);
      return (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= maxAttempt;
    }, 30_000);
    await c.kubectlOk(['delete', 'pod', 'crashy', '--wait=false']);
  });
}

test.run();
