/**
 * Node lifecycle inside a real `corral server` (`--node-monitor-grace-period 4s
 * --pod-eviction-timeout 5s`) with hollow nodes: a node that stops heartbeating turns Ready=Unknown
 * with unreachable taints and its Deployment pods are recreated on the other nodes (times measured
 * and printed); it comes back clean; cordon/uncordon; `kubectl drain --ignore-daemonsets --force`
 * empties a node but its DaemonSet pod stays; DaemonSets follow nodes, honour nodeSelector and roll
 * out; with most nodes lost at once, NoExecute taints (evictions) are rate-limited.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { DaemonSet, Node, Pod } from '../../api/types.js';
import { HollowNode } from '../support/hollow-node.js';
import { kubectl, ServerProcess } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

const GRACE_S = 4;
const EVICTION_S = 5;
const it = suite<{ server: ServerProcess; nodes: HollowNode[] }>('node-lifecycle');

const waitFor = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> => waitUntil(what, fn, timeoutMs);

async function k(server: ServerProcess, args: string[], input?: string): Promise<string> {
  const r = await kubectl(server, args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout + r.stderr;
}

const ready = (p: Pod): boolean => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
const nodeReady = (n: Node): string | undefined => n.status?.conditions?.find((c) => c.type === 'Ready')?.status;
const hasTaint = (n: Node, key: string, effect: string): boolean => n.spec?.taints?.some((t) => t.key === key && t.effect === effect) === true;

async function pods(server: ServerProcess, selector: string): Promise<Pod[]> {
  return (await server.client.list<Pod>('Pod', 'default', { labelSelector: selector })).items;
}

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start({ extraArgs: ['--node-monitor-grace-period', `${GRACE_S}s`, '--pod-eviction-timeout', `${EVICTION_S}s`] });
  ctx.nodes = [];
  for (const name of ['nl-1', 'nl-2', 'nl-3']) ctx.nodes.push(await HollowNode.start(ctx.server.client, { name, leaseIntervalMs: 1000 }));
});

it.after(async (ctx) => {
  for (const n of ctx.nodes ?? []) n.stop();
  await ctx.server?.destroy();
});

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx
`;

it('a lost node goes Unknown, is tainted, and its pods are recreated elsewhere', async ({ server, nodes }) => {
  await k(server, ['apply', '-f', '-'], DEPLOYMENT);
  const initial = await waitFor('3 ready pods', async () => {
    const ps = (await pods(server, 'app=web')).filter((p) => !p.metadata.deletionTimestamp);
    return ps.length === 3 && ps.every(ready) && ps;
  });
  const tol = initial[0]!.spec.tolerations?.find((t) => t.key === 'node.kubernetes.io/unreachable');
  assert.is(tol?.tolerationSeconds, EVICTION_S, 'DefaultTolerationSeconds uses --pod-eviction-timeout');
  const victimName = initial[0]!.spec.nodeName!;
  const victim = nodes.find((n) => n.name === victimName)!;
  const lostPods = new Set(initial.filter((p) => p.spec.nodeName === victimName).map((p) => p.metadata.uid));

  const t0 = Date.now();
  victim.stop();
  const unknown = await waitFor('node Ready=Unknown', async () => {
    const n = await server.client.get<Node>('Node', undefined, victimName);
    return nodeReady(n) === 'Unknown' && n;
  });
  const tUnknown = (Date.now() - t0) / 1000;
  const ready_ = unknown.status!.conditions!.find((c) => c.type === 'Ready')!;
  assert.is(ready_.reason, 'NodeStatusUnknown');
  assert.is(ready_.message, 'Kubelet stopped posting node status.');
  const tainted = await waitFor('unreachable taints', async () => {
    const n = await server.client.get<Node>('Node', undefined, victimName);
    return hasTaint(n, 'node.kubernetes.io/unreachable', 'NoExecute') && hasTaint(n, 'node.kubernetes.io/unreachable', 'NoSchedule') && n;
  });
  assert.ok(tainted);
  const replaced = await waitFor('pods recreated on the other nodes', async () => {
    const ps = await pods(server, 'app=web');
    const live = ps.filter((p) => !p.metadata.deletionTimestamp);
    const oldLeft = ps.some((p) => lostPods.has(p.metadata.uid));
    return !oldLeft && live.length === 3 && live.every((p) => ready(p) && p.spec.nodeName !== victimName) && live;
  }, 30_000);
  const tRecreated = (Date.now() - t0) / 1000;
  console.log(`  node loss: NotReady (Unknown) after ${tUnknown.toFixed(1)} s (grace ${GRACE_S} s); ` +
    `${lostPods.size} pod(s) recreated elsewhere after ${tRecreated.toFixed(1)} s (grace + eviction timeout = ${GRACE_S + EVICTION_S} s)`);
  assert.ok(tUnknown <= GRACE_S + 3, `NotReady within the grace period (+ lease interval): ${tUnknown} s`);
  assert.ok(tRecreated <= GRACE_S + EVICTION_S + 6, `recreated within grace + eviction timeout: ${tRecreated} s`);
  assert.is(replaced.length, 3);

  // Back again: taints go, Ready comes back from the agent.
  victim.resume();
  await waitFor('node back to Ready without taints', async () => {
    const n = await server.client.get<Node>('Node', undefined, victimName);
    return nodeReady(n) === 'True' && !(n.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/')) && n;
  }, 15_000);
});

it('kubectl cordon / uncordon', async ({ server }) => {
  await k(server, ['cordon', 'nl-3']);
  const cordoned = await waitFor('unschedulable taint', async () => {
    const n = await server.client.get<Node>('Node', undefined, 'nl-3');
    return n.spec?.unschedulable === true && hasTaint(n, 'node.kubernetes.io/unschedulable', 'NoSchedule') && n;
  });
  assert.ok(cordoned);
  assert.match(await k(server, ['get', 'node', 'nl-3']), 'SchedulingDisabled');
  await k(server, ['uncordon', 'nl-3']);
  await waitFor('taint removed', async () => {
    const n = await server.client.get<Node>('Node', undefined, 'nl-3');
    return !n.spec?.unschedulable && !hasTaint(n, 'node.kubernetes.io/unschedulable', 'NoSchedule');
  });
});

const DAEMONSET = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers:
      - name: agent
        image: busybox
`;

it('DaemonSets follow nodes; drain --ignore-daemonsets empties a node but keeps its daemon pod', async ({ server, nodes }) => {
  await k(server, ['apply', '-f', '-'], DAEMONSET);
  const perNode = async (): Promise<Map<string, Pod[]>> => {
    const m = new Map<string, Pod[]>();
    for (const p of await pods(server, 'app=agent')) {
      if (p.metadata.deletionTimestamp) continue;
      m.set(p.spec.nodeName ?? '', [...(m.get(p.spec.nodeName ?? '') ?? []), p]);
    }
    return m;
  };
  await waitFor('one daemon pod per node', async () => {
    const m = await perNode();
    return m.size === 3 && [...m.values()].every((ps) => ps.length === 1 && ready(ps[0]!));
  });
  await k(server, ['rollout', 'status', 'ds/agent', '--timeout=20s']);
  const ds = await server.client.get<DaemonSet>('DaemonSet', 'default', 'agent');
  assert.is(ds.status?.desiredNumberScheduled, 3);
  assert.is(ds.status?.numberReady, 3);

  // A bare pod and the deployment's pods on nl-2, then drain it.
  await server.client.create('Pod', 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bare', labels: { app: 'bare' } }, spec: { nodeName: 'nl-2', containers: [{ name: 'c', image: 'busybox' }] } });
  await waitFor('bare pod running', async () => (await pods(server, 'app=bare')).some(ready));
  const out = await k(server, ['drain', 'nl-2', '--ignore-daemonsets', '--force', '--timeout=30s']);
  assert.match(out, 'drained');
  const onNode = (await server.client.list<Pod>('Pod', undefined, { fieldSelector: 'spec.nodeName=nl-2' })).items.filter((p) => !p.metadata.deletionTimestamp);
  assert.equal(onNode.map((p) => p.metadata.labels?.['app']), ['agent'], 'only the DaemonSet pod is left');
  await waitFor('deployment pods all ready elsewhere', async () => {
    const ps = (await pods(server, 'app=web')).filter((p) => !p.metadata.deletionTimestamp);
    return ps.length === 3 && ps.every((p) => ready(p) && p.spec.nodeName !== 'nl-2');
  });
  await new Promise((r) => setTimeout(r, 500));
  assert.is((await perNode()).get('nl-2')?.length, 1, 'the daemon pod stays on the cordoned node');
  await k(server, ['uncordon', 'nl-2']);

  // A new node gets a daemon pod; a removed node's daemon pod goes.
  const extra = await HollowNode.start(server.client, { name: 'nl-4', leaseIntervalMs: 1000, labels: { disk: 'ssd' } });
  nodes.push(extra);
  await waitFor('daemon pod on the new node', async () => (await perNode()).get('nl-4')?.length === 1);
  await extra.remove();
  await waitFor('daemon pod of the removed node gone', async () => !(await pods(server, 'app=agent')).some((p) => p.spec.nodeName === 'nl-4'));

  // nodeSelector narrows the set; a template change rolls out.
  await k(server, ['patch', 'ds', 'agent', '-p', '{"spec":{"template":{"spec":{"nodeSelector":{"role":"edge"}}}}}']);
  await k(server, ['label', 'node', 'nl-1', 'role=edge']);
  await waitFor('only nl-1 runs the daemon', async () => {
    const m = await perNode();
    return m.size === 1 && m.get('nl-1')?.length === 1 && ready(m.get('nl-1')![0]!);
  });
  await k(server, ['rollout', 'status', 'ds/agent', '--timeout=20s']);
  const after = await server.client.get<DaemonSet>('DaemonSet', 'default', 'agent');
  assert.is(after.status?.desiredNumberScheduled, 1);
  assert.is(after.status?.updatedNumberScheduled, 1);
  assert.is(after.status?.observedGeneration, after.metadata.generation);
});

it('most nodes lost at once: NoExecute taints are rate-limited (partial disruption)', async ({ server, nodes }) => {
  const [a, b] = [nodes[0]!, nodes[1]!];
  a.stop();
  b.stop();
  const lostAt = Date.now();
  await waitFor('both nodes unreachable (NoSchedule)', async () => {
    const ns = await Promise.all([a, b].map((n) => server.client.get<Node>('Node', undefined, n.name)));
    return ns.every((n) => hasTaint(n, 'node.kubernetes.io/unreachable', 'NoSchedule'));
  });
  await new Promise((r) => setTimeout(r, 1500));
  const ns = await Promise.all([a, b].map((n) => server.client.get<Node>('Node', undefined, n.name)));
  const withNoExecute = ns.filter((n) => hasTaint(n, 'node.kubernetes.io/unreachable', 'NoExecute')).length;
  console.log(`  partial disruption (2 of 3 nodes lost): ${withNoExecute} node(s) NoExecute-tainted ${((Date.now() - lostAt) / 1000).toFixed(1)} s after the loss`);
  assert.is(withNoExecute, 1, 'one node at a time while most nodes are unreachable');
  a.resume();
  b.resume();
  await waitFor('nodes recovered', async () => {
    const all = await Promise.all([a, b].map((n) => server.client.get<Node>('Node', undefined, n.name)));
    return all.every((n) => nodeReady(n) === 'True' && !(n.spec?.taints ?? []).some((t) => t.key === 'node.kubernetes.io/unreachable'));
  });
});

it.run();
