import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Node, Pod, Taint, Toleration, ContainerPort, NodeSelectorRequirement, PodAffinityTerm } from '../../api/types.js';
import {
  assume,
  balancedAllocationScore,
  buildSnapshot,
  compilePod,
  findPreemption,
  insufficientResources,
  leastAllocatedScore,
  nodeAffinityFilter,
  nodePortsFilter,
  normalizeScore,
  removePod,
  schedulePod,
  taintFilter,
  unschedulableFilter,
  podRequests,
  type ClusterSnapshot,
  type ScheduleResult,
} from '../../server/scheduler/index.js';

// ------------------------------------------------------------------ fixtures

interface NodeOptions {
  cpu?: string;
  memory?: string;
  pods?: string;
  extra?: Record<string, string>;
  labels?: Record<string, string>;
  taints?: Taint[];
  unschedulable?: boolean;
  ready?: 'True' | 'False' | 'Unknown' | 'missing';
}

function node(name: string, o: NodeOptions = {}): Node {
  const allocatable: Record<string, string> = { cpu: o.cpu ?? '4', memory: o.memory ?? '8Gi', pods: o.pods ?? '110', ...o.extra };
  const ready = o.ready ?? 'True';
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...o.labels } },
    spec: { ...(o.taints ? { taints: o.taints } : {}), ...(o.unschedulable ? { unschedulable: true } : {}) },
    status: {
      allocatable,
      capacity: allocatable,
      conditions: ready === 'missing' ? [] : [{ type: 'Ready', status: ready }],
    },
  };
}

interface PodOptions {
  namespace?: string;
  cpu?: string;
  memory?: string;
  requests?: Record<string, string>;
  limits?: Record<string, string>;
  init?: Record<string, string>[];
  nodeName?: string;
  labels?: Record<string, string>;
  owner?: string;
  tolerations?: Toleration[];
  nodeSelector?: Record<string, string>;
  required?: NodeSelectorRequirement[][];
  requiredFields?: NodeSelectorRequirement[][];
  preferred?: { weight: number; expressions: NodeSelectorRequirement[] }[];
  antiAffinity?: PodAffinityTerm[];
  ports?: ContainerPort[];
  hostNetwork?: boolean;
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  deleting?: boolean;
  priority?: number;
}

function pod(name: string, o: PodOptions = {}): Pod {
  const requests: Record<string, string> = { ...o.requests };
  if (o.cpu !== undefined) requests['cpu'] = o.cpu;
  if (o.memory !== undefined) requests['memory'] = o.memory;
  const resources = {
    ...(Object.keys(requests).length > 0 ? { requests } : {}),
    ...(o.limits ? { limits: o.limits } : {}),
  };
  const terms = [
    ...(o.required ?? []).map((exprs) => ({ matchExpressions: exprs })),
    ...(o.requiredFields ?? []).map((fields) => ({ matchFields: fields })),
  ];
  const affinity = {
    ...(terms.length > 0 || o.preferred
      ? {
          nodeAffinity: {
            ...(terms.length > 0 ? { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } : {}),
            ...(o.preferred
              ? { preferredDuringSchedulingIgnoredDuringExecution: o.preferred.map((p) => ({ weight: p.weight, preference: { matchExpressions: p.expressions } })) }
              : {}),
          },
        }
      : {}),
    ...(o.antiAffinity ? { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: o.antiAffinity } } : {}),
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: o.namespace ?? 'default',
      uid: `uid-${name}`,
      ...(o.labels ? { labels: o.labels } : {}),
      ...(o.owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: o.owner, uid: `rs-${o.owner}`, controller: true }] } : {}),
      ...(o.deleting ? { deletionTimestamp: '2025-01-01T00:00:00Z' } : {}),
    },
    spec: {
      containers: [{ name: 'app', image: 'busybox', resources, ...(o.ports ? { ports: o.ports } : {}) }],
      ...(o.init ? { initContainers: o.init.map((r, i) => ({ name: `init-${i}`, image: 'busybox', resources: { requests: r } })) } : {}),
      ...(o.nodeName ? { nodeName: o.nodeName } : {}),
      ...(o.tolerations ? { tolerations: o.tolerations } : {}),
      ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
      ...(Object.keys(affinity).length > 0 ? { affinity } : {}),
      ...(o.hostNetwork ? { hostNetwork: true } : {}),
      ...(o.priority !== undefined ? { priority: o.priority } : {}),
    },
    status: { phase: o.phase ?? (o.nodeName ? 'Running' : 'Pending') },
  };
}

function placed(result: ScheduleResult): string {
  if (result.nodeName === undefined) throw new Error(`expected a node, got: ${result.message}`);
  return result.nodeName;
}

function failure(result: ScheduleResult): { message: string; reasons: Record<string, number> } {
  if (result.nodeName !== undefined) throw new Error(`expected no fit, got node ${result.nodeName}`);
  return result;
}

function nodeOf(snapshot: ClusterSnapshot, name: string) {
  const n = snapshot.nodesByName.get(name);
  if (n === undefined) throw new Error(`no node ${name}`);
  return n;
}

/** Schedules every pod in order, assuming each placement; returns pod → node. */
function scheduleAll(snapshot: ClusterSnapshot, pods: Pod[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of pods) {
    const name = placed(schedulePod(snapshot, p));
    assume(snapshot, p, name);
    out.set(p.metadata.name!, name);
  }
  return out;
}

// ------------------------------------------------------------------ filters

const filters = suite('scheduler filters');

filters('cordoned nodes are skipped unless the pod tolerates node.kubernetes.io/unschedulable', () => {
  const snap = buildSnapshot([node('a', { unschedulable: true })], []);
  const a = nodeOf(snap, 'a');
  assert.is(unschedulableFilter(a, compilePod(pod('p'))), 'node(s) were unschedulable');
  const tolerant = compilePod(pod('q', { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] }));
  assert.is(unschedulableFilter(a, tolerant), undefined);
  assert.is(failure(schedulePod(snap, pod('p'))).message,
    '0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.');
});

filters('nodes that are not Ready carry the not-ready or unreachable taint', () => {
  const snap = buildSnapshot([node('down', { ready: 'False' }), node('gone', { ready: 'Unknown' }), node('new', { ready: 'missing' })], []);
  const p = compilePod(pod('p'));
  assert.is(taintFilter(nodeOf(snap, 'down'), p), 'node(s) had untolerated taint {node.kubernetes.io/not-ready: }');
  assert.is(taintFilter(nodeOf(snap, 'gone'), p), 'node(s) had untolerated taint {node.kubernetes.io/unreachable: }');
  assert.is(taintFilter(nodeOf(snap, 'new'), p), 'node(s) had untolerated taint {node.kubernetes.io/not-ready: }');
  // The default NoExecute tolerations every pod gets do not tolerate the NoSchedule taint...
  const defaults = compilePod(pod('d', { tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }] }));
  assert.is(taintFilter(nodeOf(snap, 'gone'), defaults), 'node(s) had untolerated taint {node.kubernetes.io/unreachable: }');
  // ...but a toleration without effect does.
  const tolerant = compilePod(pod('t', { tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists' }] }));
  assert.is(taintFilter(nodeOf(snap, 'gone'), tolerant), undefined);
});

filters('taints and tolerations: NoSchedule/NoExecute filter, PreferNoSchedule does not, operators and empty key', () => {
  const snap = buildSnapshot([
    node('gpu', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] }),
    node('drain', { taints: [{ key: 'maintenance', effect: 'NoExecute' }] }),
    node('soft', { taints: [{ key: 'spot', value: 'true', effect: 'PreferNoSchedule' }] }),
  ], []);
  const plain = compilePod(pod('p'));
  assert.is(taintFilter(nodeOf(snap, 'gpu'), plain), 'node(s) had untolerated taint {dedicated: gpu}');
  assert.is(taintFilter(nodeOf(snap, 'drain'), plain), 'node(s) had untolerated taint {maintenance: }');
  assert.is(taintFilter(nodeOf(snap, 'soft'), plain), undefined);

  const equal = compilePod(pod('e', { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }] }));
  assert.is(taintFilter(nodeOf(snap, 'gpu'), equal), undefined);
  const wrongValue = compilePod(pod('w', { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'cpu' }] }));
  assert.ok(taintFilter(nodeOf(snap, 'gpu'), wrongValue));
  const wrongEffect = compilePod(pod('x', { tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }] }));
  assert.ok(taintFilter(nodeOf(snap, 'gpu'), wrongEffect));
  const exists = compilePod(pod('y', { tolerations: [{ key: 'maintenance', operator: 'Exists' }] }));
  assert.is(taintFilter(nodeOf(snap, 'drain'), exists), undefined);
  const everything = compilePod(pod('z', { tolerations: [{ operator: 'Exists' }] }));
  for (const n of snap.nodes) assert.is(taintFilter(n, everything), undefined);
});

filters('nodeSelector and required node affinity (terms ORed, expressions ANDed, all operators)', () => {
  const snap = buildSnapshot([
    node('pi', { labels: { arch: 'arm64', zone: 'attic', cores: '4' } }),
    node('nuc', { labels: { arch: 'amd64', zone: 'desk', cores: '8', ssd: 'yes' } }),
  ], []);
  const pi = nodeOf(snap, 'pi');
  const nuc = nodeOf(snap, 'nuc');
  const check = (o: PodOptions): [boolean, boolean] => {
    const p = compilePod(pod('p', o));
    return [nodeAffinityFilter(pi, p) === undefined, nodeAffinityFilter(nuc, p) === undefined];
  };
  assert.equal(check({ nodeSelector: { arch: 'arm64' } }), [true, false]);
  assert.equal(check({ nodeSelector: { arch: 'arm64', zone: 'desk' } }), [false, false]);
  assert.equal(check({ required: [[{ key: 'arch', operator: 'In', values: ['amd64', 'riscv'] }]] }), [false, true]);
  assert.equal(check({ required: [[{ key: 'zone', operator: 'NotIn', values: ['attic'] }]] }), [false, true]);
  assert.equal(check({ required: [[{ key: 'ssd', operator: 'Exists' }]] }), [false, true]);
  assert.equal(check({ required: [[{ key: 'ssd', operator: 'DoesNotExist' }]] }), [true, false]);
  assert.equal(check({ required: [[{ key: 'cores', operator: 'Gt', values: ['4'] }]] }), [false, true]);
  assert.equal(check({ required: [[{ key: 'cores', operator: 'Lt', values: ['8'] }]] }), [true, false]);
  assert.equal(check({ required: [[{ key: 'cores', operator: 'Gt', values: ['four'] }]] }), [false, false]);
  // ANDed inside a term:
  assert.equal(check({ required: [[{ key: 'arch', operator: 'In', values: ['amd64'] }, { key: 'zone', operator: 'In', values: ['attic'] }]] }), [false, false]);
  // ORed across terms:
  assert.equal(check({ required: [[{ key: 'zone', operator: 'In', values: ['attic'] }], [{ key: 'ssd', operator: 'Exists' }]] }), [true, true]);
  // matchFields on metadata.name:
  assert.equal(check({ requiredFields: [[{ key: 'metadata.name', operator: 'In', values: ['nuc'] }]] }), [false, true]);
  assert.equal(check({ requiredFields: [[{ key: 'metadata.name', operator: 'NotIn', values: ['nuc'] }]] }), [true, false]);
  // nodeSelector and affinity must both hold:
  assert.equal(check({ nodeSelector: { arch: 'arm64' }, required: [[{ key: 'ssd', operator: 'Exists' }]] }), [false, false]);
  assert.is(nodeAffinityFilter(pi, compilePod(pod('p', { nodeSelector: { arch: 'amd64' } }))), "node(s) didn't match Pod's node affinity/selector");
});

filters('resources: allocatable minus bound requests, for cpu, memory, pods, ephemeral-storage and extended resources', () => {
  const nodes = [node('a', { cpu: '2', memory: '4Gi', pods: '3', extra: { 'ephemeral-storage': '10Gi', 'example.com/gpu': '1' } })];
  const bound = [
    pod('web', { nodeName: 'a', cpu: '1500m', memory: '1Gi', requests: { 'ephemeral-storage': '8Gi', 'example.com/gpu': '1' } }),
    pod('idle', { nodeName: 'a' }),
  ];
  const snap = buildSnapshot(nodes, bound);
  const a = nodeOf(snap, 'a');
  assert.is(a.requestedMilliCpu, 1500);
  assert.is(a.requestedMemory, 1024 ** 3);
  assert.is(a.podCount, 2);
  assert.equal(insufficientResources(a, compilePod(pod('fits', { cpu: '500m', memory: '3Gi' }))), []);
  assert.equal(insufficientResources(a, compilePod(pod('cpu', { cpu: '501m' }))), ['Insufficient cpu']);
  assert.equal(insufficientResources(a, compilePod(pod('mem', { memory: '3073Mi' }))), ['Insufficient memory']);
  assert.equal(insufficientResources(a, compilePod(pod('disk', { requests: { 'ephemeral-storage': '3Gi' } }))), ['Insufficient ephemeral-storage']);
  assert.equal(insufficientResources(a, compilePod(pod('gpu', { limits: { 'example.com/gpu': '1' } }))), ['Insufficient example.com/gpu']);
  assert.equal(insufficientResources(a, compilePod(pod('both', { cpu: '1', memory: '4Gi' }))), ['Insufficient cpu', 'Insufficient memory']);
  // A third pod fits the pod count, a fourth does not.
  assume(snap, pod('third', { nodeName: 'a' }), 'a');
  assert.equal(insufficientResources(a, compilePod(pod('fourth'))), ['Too many pods']);
});

filters('init containers count as the max of any init container vs the sum of app containers', () => {
  const p = pod('p', { cpu: '200m', memory: '100Mi', init: [{ cpu: '1', memory: '10Mi' }, { cpu: '300m', memory: '50Mi' }] });
  p.spec.containers.push({ name: 'sidecar', image: 'busybox', resources: { requests: { cpu: '100m', memory: '100Mi' } } });
  const r = podRequests(p);
  assert.is(r.milliCpu, 1000);
  assert.is(r.memory, 200 * 1024 * 1024);
  // Limits stand in for missing requests.
  assert.is(podRequests(pod('l', { limits: { cpu: '250m' } })).milliCpu, 250);
});

filters('terminated pods free their resources; pods being deleted still hold them', () => {
  const nodes = [node('a', { cpu: '1' })];
  const done = pod('done', { nodeName: 'a', cpu: '1', phase: 'Succeeded' });
  const failed = pod('failed', { nodeName: 'a', cpu: '1', phase: 'Failed' });
  assert.is(nodeOf(buildSnapshot(nodes, [done, failed]), 'a').requestedMilliCpu, 0);
  const deleting = pod('deleting', { nodeName: 'a', cpu: '1', deleting: true });
  const snap = buildSnapshot(nodes, [deleting]);
  assert.is(nodeOf(snap, 'a').requestedMilliCpu, 1000);
  assert.is(failure(schedulePod(snap, pod('p', { cpu: '100m' }))).reasons['Insufficient cpu'], 1);
});

filters('host ports: protocol, port and host IP, with 0.0.0.0 clashing with every IP', () => {
  const snap = buildSnapshot([node('a')], [
    pod('dns', { nodeName: 'a', ports: [{ containerPort: 53, hostPort: 53, protocol: 'UDP' }] }),
    pod('web', { nodeName: 'a', ports: [{ containerPort: 80, hostPort: 8080, hostIP: '10.0.0.1' }] }),
  ]);
  const a = nodeOf(snap, 'a');
  const portsOf = (ports: ContainerPort[], hostNetwork = false) => nodePortsFilter(a, compilePod(pod('p', { ports, hostNetwork })));
  assert.is(portsOf([{ containerPort: 53, hostPort: 53, protocol: 'UDP' }]), "node(s) didn't have free ports for the requested pod ports");
  assert.is(portsOf([{ containerPort: 53, hostPort: 53, protocol: 'TCP' }]), undefined);
  assert.is(portsOf([{ containerPort: 80, hostPort: 8080, hostIP: '10.0.0.2' }]), undefined);
  assert.ok(portsOf([{ containerPort: 80, hostPort: 8080, hostIP: '10.0.0.1' }]));
  assert.ok(portsOf([{ containerPort: 80, hostPort: 8080 }]));
  assert.is(portsOf([{ containerPort: 80 }]), undefined);
  // hostNetwork turns container ports into host ports.
  assert.ok(portsOf([{ containerPort: 53, protocol: 'UDP' }], true));
  // Removing the holder frees the port.
  removePod(snap, pod('dns'));
  assert.is(portsOf([{ containerPort: 53, hostPort: 53, protocol: 'UDP' }]), undefined);
});

filters('required pod anti-affinity by hostname and by any topology label, in both directions', () => {
  const nodes = [
    node('a', { labels: { zone: 'z1' } }),
    node('b', { labels: { zone: 'z1' } }),
    node('c', { labels: { zone: 'z2' } }),
  ];
  const byHost: PodAffinityTerm = { labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'kubernetes.io/hostname' };
  const byZone: PodAffinityTerm = { labelSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['db'] }] }, topologyKey: 'zone' };
  const snap = buildSnapshot(nodes, [pod('db-0', { nodeName: 'a', labels: { app: 'db' } })]);

  const hostResult = failure(schedulePod(buildSnapshot(nodes.slice(0, 1), [pod('db-0', { nodeName: 'a', labels: { app: 'db' } })]), pod('db-1', { labels: { app: 'db' }, antiAffinity: [byHost] })));
  assert.equal(hostResult.reasons, { "node(s) didn't match pod anti-affinity rules": 1 });
  assert.is.not(placed(schedulePod(snap, pod('db-1', { labels: { app: 'db' }, antiAffinity: [byHost] }))), 'a');
  assert.is(placed(schedulePod(snap, pod('db-1', { labels: { app: 'db' }, antiAffinity: [byZone] }))), 'c');
  // Other namespaces' pods are not considered unless the term names their namespace.
  const elsewhere = Array.from({ length: 12 }, (_, i) => placed(schedulePod(snap, pod(`x-${i}`, { namespace: 'other', antiAffinity: [byZone] }))));
  assert.ok(elsewhere.includes('a') || elsewhere.includes('b'));
  for (let i = 0; i < 12; i++) {
    assert.is(placed(schedulePod(snap, pod(`y-${i}`, { namespace: 'other', antiAffinity: [{ ...byZone, namespaces: ['default'] }] }))), 'c');
  }

  // Existing pod's anti-affinity repels an incoming pod it selects.
  const guarded = buildSnapshot(nodes, [pod('loner', { nodeName: 'c', labels: { app: 'loner' }, antiAffinity: [{ labelSelector: { matchLabels: { app: 'noisy' } }, topologyKey: 'zone' }] })]);
  assert.is(failure(schedulePod(guarded, pod('noisy', { labels: { app: 'noisy' }, nodeSelector: { zone: 'z2' } }))).reasons["node(s) didn't satisfy existing pods anti-affinity rules"], 1);
  assert.is(placed(schedulePod(guarded, pod('quiet', { labels: { app: 'quiet' }, nodeSelector: { zone: 'z2' } }))), 'c');
});

filters.run();

// ------------------------------------------------------------------ scores

const scores = suite('scheduler scores');

scores('least-allocated prefers the emptier node; balanced allocation prefers even cpu/memory use', () => {
  const snap = buildSnapshot([node('busy', { cpu: '4', memory: '8Gi' }), node('idle', { cpu: '4', memory: '8Gi' })], [
    pod('x', { nodeName: 'busy', cpu: '2', memory: '2Gi' }),
  ]);
  const p = compilePod(pod('p', { cpu: '1', memory: '2Gi' }));
  // busy: cpu (4000-3000)/4000 = 25, memory (8-4)/8 = 50 → 37; idle: 75, 75 → 75.
  assert.is(leastAllocatedScore(nodeOf(snap, 'busy'), p), 37);
  assert.is(leastAllocatedScore(nodeOf(snap, 'idle'), p), 75);
  // busy: cpu 3/4, memory 4/8 → std 0.125 → 87; idle: 1/4 vs 2/8 → 100.
  assert.is(balancedAllocationScore(nodeOf(snap, 'busy'), p), 87);
  assert.is(balancedAllocationScore(nodeOf(snap, 'idle'), p), 100);
  assert.is(placed(schedulePod(snap, pod('p', { cpu: '1', memory: '2Gi' }))), 'idle');
  // Pods without requests are scored with upstream's defaults (100m, 200Mi), so they still spread.
  assert.ok(leastAllocatedScore(nodeOf(snap, 'idle'), compilePod(pod('none'))) < 100);
});

scores('normalisation follows upstream DefaultNormalizeScore', () => {
  assert.is(normalizeScore(0, 0, false), 0);
  assert.is(normalizeScore(0, 0, true), 100);
  assert.is(normalizeScore(3, 4, false), 75);
  assert.is(normalizeScore(1, 3, true), 67);
});

scores('preferred node affinity steers the pod to the heaviest matching node', () => {
  const snap = buildSnapshot([node('a', { labels: { disk: 'hdd' } }), node('b', { labels: { disk: 'ssd' } }), node('c', { labels: { disk: 'ssd', gpu: 'yes' } })], []);
  const p = pod('p', { preferred: [{ weight: 10, expressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] }, { weight: 50, expressions: [{ key: 'gpu', operator: 'Exists' }] }] });
  assert.is(placed(schedulePod(snap, p)), 'c');
  const q = pod('q', { preferred: [{ weight: 1, expressions: [{ key: 'disk', operator: 'In', values: ['hdd'] }] }] });
  assert.is(placed(schedulePod(snap, q)), 'a');
});

scores('PreferNoSchedule taints push pods away unless tolerated', () => {
  const snap = buildSnapshot([node('spot', { taints: [{ key: 'spot', effect: 'PreferNoSchedule' }] }), node('plain')], []);
  for (let i = 0; i < 10; i++) assert.is(placed(schedulePod(snap, pod(`p${i}`))), 'plain');
  // With the taint tolerated the two nodes tie and the tie breaks by pod, so both get used.
  const chosen = new Set<string>();
  for (let i = 0; i < 20; i++) chosen.add(placed(schedulePod(snap, pod(`t${i}`, { tolerations: [{ key: 'spot', operator: 'Exists', effect: 'PreferNoSchedule' }] }))));
  assert.equal([...chosen].sort(), ['plain', 'spot']);
});

scores('a 6-replica owner on 3 equal nodes spreads 2/2/2', () => {
  const snap = buildSnapshot([node('n1'), node('n2'), node('n3')], []);
  const replicas = Array.from({ length: 6 }, (_, i) => pod(`web-${i}`, { owner: 'web', labels: { app: 'web' }, cpu: '100m', memory: '64Mi' }));
  const placement = scheduleAll(snap, replicas);
  const counts: Record<string, number> = {};
  for (const n of placement.values()) counts[n] = (counts[n] ?? 0) + 1;
  assert.equal(counts, { n1: 2, n2: 2, n3: 2 });
  assert.equal(Object.fromEntries([...snap.nodes].map((n) => [n.name, n.ownerCounts.get('uid:rs-web')])), { n1: 2, n2: 2, n3: 2 });
});

scores('pods without a controller spread by identical labels; different labels do not count', () => {
  const snap = buildSnapshot([node('n1'), node('n2')], [
    pod('old', { nodeName: 'n1', labels: { app: 'cache', tier: 'x' } }),
    pod('filler', { nodeName: 'n2', labels: { app: 'other' } }),
  ]);
  // Equal load on both nodes; the pod with the same labels is on n1, so they go to n2.
  for (let i = 0; i < 8; i++) assert.is(placed(schedulePod(snap, pod(`c${i}`, { labels: { tier: 'x', app: 'cache' } }))), 'n2');
  // Same labels in another namespace are another group.
  const other = new Set(Array.from({ length: 16 }, (_, i) => placed(schedulePod(snap, pod(`o${i}`, { namespace: 'dev', labels: { tier: 'x', app: 'cache' } })))));
  assert.equal([...other].sort(), ['n1', 'n2']);
});

scores('owner spreading outweighs a modest resource difference', () => {
  const snap = buildSnapshot([node('big', { cpu: '8', memory: '16Gi' }), node('small', { cpu: '4', memory: '8Gi' })], []);
  const placement = scheduleAll(snap, [0, 1].map((i) => pod(`api-${i}`, { owner: 'api', cpu: '100m', memory: '64Mi' })));
  assert.equal([...placement.values()].sort(), ['big', 'small']);
});

scores('ties are broken per pod, deterministically, not always on the first node', () => {
  const nodes = Array.from({ length: 4 }, (_, i) => node(`n${i}`));
  const snap = buildSnapshot(nodes, []);
  const first = Array.from({ length: 40 }, (_, i) => placed(schedulePod(snap, pod(`solo-${i}`))));
  const again = Array.from({ length: 40 }, (_, i) => placed(schedulePod(buildSnapshot(nodes, []), pod(`solo-${i}`))));
  assert.equal(first, again);
  assert.is(new Set(first).size, 4);
});

scores.run();

// ------------------------------------------------------------------ failure messages

const messages = suite('scheduler failure messages');

messages('the issue example, reasons sorted as upstream sorts them', () => {
  const snap = buildSnapshot([
    node('a', { memory: '1Gi' }),
    node('b', { memory: '1Gi' }),
    node('c', { ready: 'Unknown' }),
  ], []);
  const r = failure(schedulePod(snap, pod('big', { memory: '2Gi' })));
  assert.is(r.message,
    '0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 2 Insufficient memory. ' +
    'preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.');
  assert.equal(r.reasons, { 'Insufficient memory': 2, 'node(s) had untolerated taint {node.kubernetes.io/unreachable: }': 1 });
});

messages('every node rejected by unresolvable plugins; one node can give several resource reasons', () => {
  const snap = buildSnapshot([
    node('a', { cpu: '1', memory: '1Gi' }),
    node('b', { labels: { arch: 'arm64' } }),
    node('c', { unschedulable: true }),
    node('d', { taints: [{ key: 'dedicated', value: 'infra', effect: 'NoExecute' }] }),
  ], [pod('hog', { nodeName: 'b', ports: [{ containerPort: 80, hostPort: 80 }] })]);
  const r = failure(schedulePod(snap, pod('p', { cpu: '2', memory: '2Gi', nodeSelector: { arch: 'amd64' } })));
  assert.is(r.message,
    "0/4 nodes are available: 1 node(s) had untolerated taint {dedicated: infra}, 1 node(s) were unschedulable, 2 node(s) didn't match Pod's node affinity/selector. " +
    'preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.');
  const q = failure(schedulePod(snap, pod('q', { cpu: '2', memory: '2Gi', ports: [{ containerPort: 80, hostPort: 80 }] })));
  assert.is(q.message,
    "0/4 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 node(s) didn't have free ports for the requested pod ports, 1 node(s) had untolerated taint {dedicated: infra}, 1 node(s) were unschedulable. " +
    'preemption: 0/4 nodes are available: 2 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.');
});

messages('counts sort as strings, like upstream ("10 …" before "2 …")', () => {
  const nodes = [
    ...Array.from({ length: 10 }, (_, i) => node(`small-${i}`, { cpu: '1' })),
    node('x', { unschedulable: true }),
    node('y', { unschedulable: true }),
  ];
  const r = failure(schedulePod(buildSnapshot(nodes, []), pod('p', { cpu: '2' })));
  assert.is(r.message,
    '0/12 nodes are available: 10 Insufficient cpu, 2 node(s) were unschedulable. ' +
    'preemption: 0/12 nodes are available: 10 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.');
});

messages('pods pinned to one node by name (DaemonSet style) report the other nodes as upstream does', () => {
  const snap = buildSnapshot([node('a', { cpu: '1' }), node('b'), node('c')], []);
  const ds = pod('ds-a', { cpu: '2', requiredFields: [[{ key: 'metadata.name', operator: 'In', values: ['a'] }]] });
  assert.is(failure(schedulePod(snap, ds)).message,
    "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. " +
    'preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.');
  assert.is(placed(schedulePod(snap, pod('ds-b', { cpu: '2', requiredFields: [[{ key: 'metadata.name', operator: 'In', values: ['b'] }]] }))), 'b');
  const conflict = pod('bad', { requiredFields: [[{ key: 'metadata.name', operator: 'In', values: ['a'] }, { key: 'metadata.name', operator: 'In', values: ['b'] }]] });
  assert.is(failure(schedulePod(snap, conflict)).message,
    '0/3 nodes are available: pod affinity terms conflict. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.');
});

messages('anti-affinity rejections are resolvable by preemption upstream, so they report no victims', () => {
  const snap = buildSnapshot([node('a'), node('b', { taints: [{ key: 'dedicated', value: 'infra', effect: 'NoSchedule' }] })], [
    pod('db-0', { nodeName: 'a', labels: { app: 'db' } }),
  ]);
  const r = failure(schedulePod(snap, pod('db-1', { labels: { app: 'db' }, antiAffinity: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'kubernetes.io/hostname' }] })));
  assert.is(r.message,
    "0/2 nodes are available: 1 node(s) didn't match pod anti-affinity rules, 1 node(s) had untolerated taint {dedicated: infra}. " +
    'preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.');
});

messages('an empty cluster', () => {
  assert.equal(schedulePod(buildSnapshot([], []), pod('p')), { message: 'no nodes available to schedule pods', reasons: {} });
});

messages.run();

// ------------------------------------------------------------------ incremental snapshot

const incremental = suite('scheduler snapshot: assume / removePod');

/** A mixed workload: owners, bare pods, host ports, anti-affinity, extended resources. */
function workload(count: number): Pod[] {
  const pods: Pod[] = [];
  for (let i = 0; i < count; i++) {
    const kind = i % 5;
    if (kind === 0) pods.push(pod(`web-${i}`, { owner: 'web', labels: { app: 'web' }, cpu: '250m', memory: '256Mi' }));
    else if (kind === 1) pods.push(pod(`job-${i}`, { cpu: `${100 + (i % 7) * 50}m`, memory: `${64 * (1 + (i % 4))}Mi` }));
    else if (kind === 2) pods.push(pod(`db-${i}`, { owner: 'db', labels: { app: 'db' }, cpu: '500m', memory: '1Gi', antiAffinity: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'kubernetes.io/hostname' }] }));
    else if (kind === 3) pods.push(pod(`edge-${i}`, { labels: { app: 'edge' }, ports: [{ containerPort: 443, hostPort: 443 }] }));
    else pods.push(pod(`ml-${i}`, { owner: 'ml', requests: { 'example.com/gpu': '1' }, cpu: '1' }));
  }
  return pods;
}

function nodeTotals(snapshot: ClusterSnapshot) {
  return snapshot.nodes.map((n) => ({
    name: n.name,
    cpu: n.requestedMilliCpu,
    memory: n.requestedMemory,
    scalars: Object.fromEntries([...n.requestedScalars].sort()),
    nonZero: [n.nonZeroMilliCpu, n.nonZeroMemory],
    pods: n.podCount,
    ports: Object.fromEntries([...n.usedPorts].map(([k, v]) => [k, Object.fromEntries(v)])),
    owners: Object.fromEntries([...n.ownerCounts].sort()),
    podKeys: [...n.pods].map((p) => p.key).sort(),
  }));
}

const clusterNodes = [
  node('n1', { cpu: '4', memory: '8Gi', extra: { 'example.com/gpu': '2' } }),
  node('n2', { cpu: '2', memory: '4Gi', labels: { zone: 'b' } }),
  node('n3', { cpu: '8', memory: '16Gi', taints: [{ key: 'spot', effect: 'PreferNoSchedule' }] }),
  node('n4', { cpu: '4', memory: '8Gi', extra: { 'example.com/gpu': '1' } }),
];

incremental('scheduling after assume equals scheduling on a rebuilt snapshot, pod by pod', () => {
  const live = buildSnapshot(clusterNodes, []);
  const bound: Pod[] = [];
  let unschedulable = 0;
  for (const p of workload(40)) {
    const fromLive = schedulePod(live, p);
    const fromRebuilt = schedulePod(buildSnapshot(clusterNodes, bound), p);
    assert.equal(fromLive, fromRebuilt, `decision for ${p.metadata.name}`);
    if (fromLive.nodeName === undefined) {
      unschedulable++;
      continue;
    }
    assume(live, p, fromLive.nodeName);
    bound.push({ ...p, spec: { ...p.spec, nodeName: fromLive.nodeName } });
    assert.equal(nodeTotals(live), nodeTotals(buildSnapshot(clusterNodes, bound)));
  }
  assert.ok(unschedulable > 0, 'the workload should exhaust something (gpus, ports, anti-affinity)');
  assert.ok(bound.length > 20);
});

incremental('removePod undoes assume exactly; re-assuming moves a pod', () => {
  const live = buildSnapshot(clusterNodes, []);
  const pods = workload(20);
  const bound: Pod[] = [];
  for (const p of pods) {
    const r = schedulePod(live, p);
    if (r.nodeName === undefined) continue;
    assume(live, p, r.nodeName);
    bound.push({ ...p, spec: { ...p.spec, nodeName: r.nodeName } });
  }
  const removed = bound.filter((_, i) => i % 3 === 0);
  for (const p of removed) removePod(live, p);
  const kept = bound.filter((_, i) => i % 3 !== 0);
  assert.equal(nodeTotals(live), nodeTotals(buildSnapshot(clusterNodes, kept)));
  for (const p of workload(25).slice(20)) assert.equal(schedulePod(live, p), schedulePod(buildSnapshot(clusterNodes, kept), p));

  const mover = kept[0]!;
  const target = live.nodes.find((n) => n.name !== mover.spec.nodeName)!.name;
  assume(live, mover, target);
  const moved = kept.map((p) => (p === mover ? { ...p, spec: { ...p.spec, nodeName: target } } : p));
  assert.equal(nodeTotals(live), nodeTotals(buildSnapshot(clusterNodes, moved)));
  removePod(live, pod('never-bound'));
  assert.equal(nodeTotals(live), nodeTotals(buildSnapshot(clusterNodes, moved)));
});

incremental('assuming onto an unknown node is an error; assuming a terminated pod frees it', () => {
  const live = buildSnapshot(clusterNodes, [pod('w', { nodeName: 'n1', cpu: '1' })]);
  assert.throws(() => assume(live, pod('x'), 'nope'), /unknown node/);
  assume(live, pod('w', { nodeName: 'n1', cpu: '1', phase: 'Succeeded' }), 'n1');
  assert.is(nodeOf(live, 'n1').requestedMilliCpu, 0);
  assert.is(live.pods.size, 0);
});

incremental.run();

// ------------------------------------------------------------------ preemption

const preemption = suite('preemption');

preemption('takes the fewest, least important victims and leaves the snapshot as it was', () => {
  const snapshot = buildSnapshot([node('n1', { cpu: '2' }), node('n2', { cpu: '2' })], [
    pod('a-low', { nodeName: 'n1', cpu: '1', priority: 1 }),
    pod('a-mid', { nodeName: 'n1', cpu: '1', priority: 5 }),
    pod('b-mid', { nodeName: 'n2', cpu: '1', priority: 5 }),
    pod('b-mid2', { nodeName: 'n2', cpu: '1', priority: 5 }),
  ]);
  const before = snapshot.nodes.map((n) => [n.requestedMilliCpu, n.podCount]);
  const incoming = compilePod(pod('big', { cpu: '1', priority: 10 }));
  const outcome = findPreemption(snapshot, incoming, 10);
  assert.ok(outcome.candidate);
  // n1 needs only a-low (priority 1); n2 would need a priority-5 pod.
  assert.is(outcome.candidate!.nodeName, 'n1');
  assert.equal(outcome.candidate!.victims.map((v) => v.key), ['default/a-low']);
  assert.equal(snapshot.nodes.map((n) => [n.requestedMilliCpu, n.podCount]), before);
  assert.is(snapshot.pods.size, 4);
});

preemption('no lower-priority pods, or not enough even without them: the reasons say so', () => {
  const snapshot = buildSnapshot([node('n1', { cpu: '1' }), node('n2', { cpu: '1', taints: [{ key: 'k', effect: 'NoSchedule' }] })], [
    pod('peer', { nodeName: 'n1', cpu: '1', priority: 10 }),
  ]);
  const outcome = findPreemption(snapshot, compilePod(pod('same', { cpu: '1', priority: 10 })), 10);
  assert.is(outcome.candidate, undefined);
  assert.equal(outcome.candidate === undefined ? [...outcome.reasons] : [], [
    ['No preemption victims found for incoming pod', 1], ['Preemption is not helpful for scheduling', 1],
  ]);
  const tooBig = findPreemption(snapshot, compilePod(pod('huge', { cpu: '3', priority: 100 })), 100);
  assert.equal(tooBig.candidate === undefined ? [...tooBig.reasons] : [], [['Insufficient cpu', 1], ['Preemption is not helpful for scheduling', 1]]);
});

preemption('pods a PodDisruptionBudget protects are spared when another victim will do', () => {
  const snapshot = buildSnapshot([node('n1', { cpu: '2' }), node('n2', { cpu: '2' })], [
    pod('guarded', { nodeName: 'n1', cpu: '2', priority: 1, labels: { app: 'db' } }),
    pod('n2-a', { nodeName: 'n2', cpu: '1', priority: 5 }),
    pod('n2-b', { nodeName: 'n2', cpu: '1', priority: 5 }),
  ]);
  const budgets = [{ covers: (p: { labels: Readonly<Record<string, string>> }) => p.labels['app'] === 'db', disruptionsAllowed: 0 }];
  const incoming = compilePod(pod('big', { cpu: '1', priority: 10 }));
  // Without budgets n1's priority-1 pod is the cheapest victim; with a budget protecting it, n2 is chosen.
  assert.is(findPreemption(snapshot, incoming, 10).candidate?.nodeName, 'n1');
  const outcome = findPreemption(snapshot, incoming, 10, budgets);
  assert.is(outcome.candidate?.nodeName, 'n2');
  assert.is(outcome.candidate?.budgetViolations, 0);
  // On a single node the protected pod is spared in favour of the other one.
  const one = buildSnapshot([node('n1', { cpu: '2' })], [
    pod('guarded', { nodeName: 'n1', cpu: '1', priority: 1, labels: { app: 'db' } }),
    pod('other', { nodeName: 'n1', cpu: '1', priority: 5 }),
  ]);
  assert.equal(findPreemption(one, incoming, 10, budgets).candidate?.victims.map((v) => v.key), ['default/other']);
});

preemption.run();
