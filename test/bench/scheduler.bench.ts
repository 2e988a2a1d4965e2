/**
 * Scheduler throughput: 1,000 nodes × 10,000 pods through the full filter and score set, each pod
 * assumed onto its node before the next is scheduled (as the scheduler loop does).
 *
 *   node dist/test/bench/scheduler.bench.js [nodes] [pods]
 *
 * Prints pods/s and per-pod latency percentiles. For reference, kube-scheduler sustains roughly
 * 100–300 pods/s on clusters of this size. The workload is generated from a fixed seed, so runs compare.
 */
import type { Node, Pod, Taint, Toleration } from '../../api/types.js';
import { assume, buildSnapshot, schedulePod } from '../../server/scheduler/index.js';

const NODE_COUNT = Number(process.argv[2] ?? 1000);
const POD_COUNT = Number(process.argv[3] ?? 10_000);

/** mulberry32: a tiny seeded PRNG so every run schedules the same workload. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = rng(42);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

const ZONES = ['zone-a', 'zone-b', 'zone-c', 'zone-d', 'zone-e'];

function makeNodes(count: number): Node[] {
  const nodes: Node[] = [];
  for (let i = 0; i < count; i++) {
    const name = `node-${String(i).padStart(4, '0')}`;
    const size = pick([
      { cpu: '4', memory: '8Gi' },
      { cpu: '8', memory: '16Gi' },
      { cpu: '16', memory: '64Gi' },
    ]);
    const allocatable: Record<string, string> = { ...size, pods: '110', 'ephemeral-storage': '100Gi' };
    if (i % 20 === 0) allocatable['example.com/gpu'] = '2';
    const taints: Taint[] = [];
    if (i % 33 === 0) taints.push({ key: 'dedicated', value: 'infra', effect: 'NoSchedule' });
    if (i % 50 === 1) taints.push({ key: 'spot', value: 'true', effect: 'PreferNoSchedule' });
    const ready = i % 100 === 7 ? 'Unknown' : 'True';
    nodes.push({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        labels: {
          'kubernetes.io/hostname': name,
          'kubernetes.io/arch': i % 4 === 0 ? 'arm64' : 'amd64',
          'topology.kubernetes.io/zone': ZONES[i % ZONES.length]!,
          ...(i % 10 === 0 ? { disk: 'ssd' } : {}),
        },
      },
      spec: { taints, ...(i % 100 === 3 ? { unschedulable: true } : {}) },
      status: { allocatable, capacity: allocatable, conditions: [{ type: 'Ready', status: ready }] },
    });
  }
  return nodes;
}

function makePods(count: number): Pod[] {
  const pods: Pod[] = [];
  const infraToleration: Toleration = { key: 'dedicated', operator: 'Equal', value: 'infra', effect: 'NoSchedule' };
  for (let i = 0; i < count; i++) {
    const app = `app-${Math.floor(i / 10)}`; // owners of 10 replicas each
    const roll = random();
    const cpu = pick(['50m', '100m', '250m', '500m', '1']);
    const memory = pick(['64Mi', '128Mi', '256Mi', '512Mi', '1Gi']);
    const pod: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${app}-${i}`,
        namespace: i % 3 === 0 ? 'team-a' : 'team-b',
        labels: { app },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: app, uid: `uid-${app}`, controller: true }],
      },
      spec: { containers: [{ name: 'main', image: 'registry.local/app:1', resources: { requests: { cpu, memory } } }] },
    };
    if (roll < 0.1) pod.spec.nodeSelector = { 'kubernetes.io/arch': pick(['arm64', 'amd64']) };
    else if (roll < 0.15) {
      pod.spec.affinity = {
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app } }, topologyKey: 'kubernetes.io/hostname' }],
        },
      };
    } else if (roll < 0.2) pod.spec.tolerations = [infraToleration];
    else if (roll < 0.22) pod.spec.containers[0]!.resources = { requests: { cpu, memory }, limits: { 'example.com/gpu': '1' } };
    else if (roll < 0.24) pod.spec.containers[0]!.ports = [{ containerPort: 9100, hostPort: 9100 }];
    else if (roll < 0.3) {
      pod.spec.affinity = {
        nodeAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, preference: { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] } }],
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'NotIn', values: ['zone-e'] }] }],
          },
        },
      };
    }
    pods.push(pod);
  }
  return pods;
}

function percentile(sorted: Float64Array, p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

function main(): void {
  const nodes = makeNodes(NODE_COUNT);
  const pods = makePods(POD_COUNT);

  let t = performance.now();
  const snapshot = buildSnapshot(nodes, []);
  const buildEmptyMs = performance.now() - t;

  const latencies = new Float64Array(pods.length);
  const bound: Pod[] = [];
  let scheduled = 0;
  let unschedulable = 0;
  const started = performance.now();
  for (let i = 0; i < pods.length; i++) {
    const pod = pods[i]!;
    const t0 = performance.now();
    const result = schedulePod(snapshot, pod);
    if (result.nodeName !== undefined) {
      assume(snapshot, pod, result.nodeName);
      scheduled++;
    } else {
      unschedulable++;
    }
    latencies[i] = performance.now() - t0;
    if (result.nodeName !== undefined) bound.push({ ...pod, spec: { ...pod.spec, nodeName: result.nodeName } });
  }
  const totalMs = performance.now() - started;

  t = performance.now();
  buildSnapshot(nodes, bound);
  const buildFullMs = performance.now() - t;

  latencies.sort();
  const perNodeCounts = snapshot.nodes.map((n) => n.podCount).sort((a, b) => a - b);
  const line = (label: string, value: string): void => void process.stdout.write(`${label.padEnd(28)}${value}\n`);
  process.stdout.write(`scheduler bench: ${NODE_COUNT} nodes × ${POD_COUNT} pods (node ${process.version})\n`);
  line('scheduled / unschedulable', `${scheduled} / ${unschedulable}`);
  line('throughput', `${Math.round((pods.length / totalMs) * 1000)} pods/s (${(totalMs / 1000).toFixed(2)} s total)`);
  line('per-pod latency p50', `${(percentile(latencies, 50) * 1000).toFixed(0)} µs`);
  line('per-pod latency p99', `${(percentile(latencies, 99) * 1000).toFixed(0)} µs`);
  line('per-pod latency max', `${(latencies[latencies.length - 1]! * 1000).toFixed(0)} µs`);
  line('buildSnapshot (no pods)', `${buildEmptyMs.toFixed(1)} ms`);
  line(`buildSnapshot (${bound.length} pods)`, `${buildFullMs.toFixed(1)} ms`);
  line('pods per node min/median/max', `${perNodeCounts[0]} / ${perNodeCounts[Math.floor(perNodeCounts.length / 2)]} / ${perNodeCounts[perNodeCounts.length - 1]}`);
  line('reference', 'kube-scheduler ~100–300 pods/s');
}

main();
