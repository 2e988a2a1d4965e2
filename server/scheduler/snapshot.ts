/**
 * The scheduler's view of the cluster: per node, what is allocatable and what the pods bound there
 * already request, which host ports they hold, how many pods of each owner run there, plus a label
 * index over bound pods for pod anti-affinity.
 *
 * Built once from lists (`buildSnapshot`) and then kept current with `assume` / `removePod` after each
 * binding, so a batch of pods is scheduled without rebuilding. Node changes call for a rebuild (cheap:
 * it is linear in nodes + pods).
 */
import type { Node, Pod, Taint } from '../../api/types.js';
import { labelValue } from './label-selector.js';
import { podFacts, podKey, stableHash, type AffinityTermInfo, type PodFacts } from './pod-info.js';
import { nodeAllocatable, type NodeAllocatable } from './resources.js';

export const HOSTNAME_LABEL = 'kubernetes.io/hostname';
export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';

/** A node taint with its scheduler failure reason formatted once, not per pod. */
export interface TaintInfo {
  key: string;
  value: string;
  effect: Taint['effect'];
  /** `node(s) had untolerated taint {key: value}` */
  reason: string;
}

/** A pod bound (or assumed) to a node, with what it takes from that node. */
export interface BoundPod extends PodFacts {
  nodeIndex: number;
}

export interface NodeState {
  index: number;
  name: string;
  node: Node;
  labels: Readonly<Record<string, string>>;
  hash: number;
  ready: boolean;
  unschedulable: boolean;
  /**
   * NoSchedule and NoExecute taints. A node that is not Ready also carries the taint the node lifecycle
   * controller would give it (`not-ready`, or `unreachable` when the status is Unknown), so it is
   * filtered, reported and tolerated exactly as in Kubernetes.
   */
  hardTaints: TaintInfo[];
  /** PreferNoSchedule taints: they only lower the node's score. */
  softTaints: TaintInfo[];
  allocatable: NodeAllocatable;
  requestedMilliCpu: number;
  requestedMemory: number;
  requestedEphemeralStorage: number;
  requestedScalars: Map<string, number>;
  /** CPU/memory requested with the scoring defaults for containers that request nothing. */
  nonZeroMilliCpu: number;
  nonZeroMemory: number;
  podCount: number;
  /** `<protocol>/<port>` → host IP → number of pods holding it. */
  usedPorts: Map<string, Map<string, number>>;
  ownerCounts: Map<string, number>;
  pods: Set<BoundPod>;
}

/** Per-call working arrays, sized to the node count and reused so scoring allocates nothing per node. */
export interface ScoreScratch {
  feasible: Int32Array;
  base: Float64Array;
  affinity: Float64Array;
  taints: Float64Array;
  owners: Float64Array;
}

export interface ClusterSnapshot {
  nodes: NodeState[];
  nodesByName: Map<string, NodeState>;
  pods: Map<string, BoundPod>;
  /** `<namespace>\0<label key>\0<label value>` → bound pods carrying that label. */
  labelIndex: Map<string, Set<BoundPod>>;
  /**
   * Required anti-affinity terms of bound pods, by the first key=value their selector requires
   * (`<namespace>\0<key>\0<value>`, one entry per namespace the term covers), so an incoming pod only
   * meets the terms that could select it. Terms with no such equality are kept under `unindexed`.
   */
  antiAffinityTerms: Map<string, Set<BoundAntiAffinityTerm>>;
  /** Owner key → node index → pods of that owner on the node (for spreading). */
  ownerNodes: Map<string, Map<number, number>>;
  scratch: ScoreScratch;
}

/** One required anti-affinity term of a bound pod. */
export interface BoundAntiAffinityTerm {
  pod: BoundPod;
  term: AffinityTermInfo;
}

/** The `antiAffinityTerms` bucket for terms whose selector has no key=value requirement. */
export const UNINDEXED_TERMS = '';

export function labelIndexKey(namespace: string, key: string, value: string): string {
  return `${namespace}\u0000${key}\u0000${value}`;
}

function taintReason(key: string, value: string): string {
  return `node(s) had untolerated taint {${key}: ${value}}`;
}

function taintInfo(t: Taint): TaintInfo {
  const value = t.value ?? '';
  return { key: t.key, value, effect: t.effect, reason: taintReason(t.key, value) };
}

/** The Ready condition: True, or else the taint key Kubernetes marks such a node with. */
function readiness(node: Node): { ready: true } | { ready: false; taintKey: string } {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status === 'True') return { ready: true };
  return { ready: false, taintKey: ready?.status === 'Unknown' ? TAINT_UNREACHABLE : TAINT_NOT_READY };
}

function nodeState(node: Node, index: number): NodeState {
  const name = node.metadata.name ?? '';
  const hardTaints: TaintInfo[] = [];
  const softTaints: TaintInfo[] = [];
  for (const t of node.spec?.taints ?? []) {
    if (t.effect === 'PreferNoSchedule') softTaints.push(taintInfo(t));
    else if (t.effect === 'NoSchedule' || t.effect === 'NoExecute') hardTaints.push(taintInfo(t));
  }
  const r = readiness(node);
  if (!r.ready && !(node.spec?.taints ?? []).some((t) => t.key === r.taintKey)) {
    hardTaints.push({ key: r.taintKey, value: '', effect: 'NoSchedule', reason: taintReason(r.taintKey, '') });
  }
  return {
    index,
    name,
    node,
    labels: node.metadata.labels ?? {},
    hash: stableHash(name),
    ready: r.ready,
    unschedulable: node.spec?.unschedulable === true,
    hardTaints,
    softTaints,
    allocatable: nodeAllocatable(node),
    requestedMilliCpu: 0,
    requestedMemory: 0,
    requestedEphemeralStorage: 0,
    requestedScalars: new Map(),
    nonZeroMilliCpu: 0,
    nonZeroMemory: 0,
    podCount: 0,
    usedPorts: new Map(),
    ownerCounts: new Map(),
    pods: new Set(),
  };
}

/** The value of a topology label on a node; `kubernetes.io/hostname` falls back to the node name. */
export function topologyValue(node: NodeState, topologyKey: string): string | undefined {
  const value = labelValue(node.labels, topologyKey);
  if (value !== undefined) return value;
  return topologyKey === HOSTNAME_LABEL ? node.name : undefined;
}

/** Succeeded and Failed pods hold no resources; pods being deleted still do until they are gone. */
export function isTerminated(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/** Counts a pod's facts on a node (exported for preemption's what-if runs). */
export function addToNode(snapshot: ClusterSnapshot, node: NodeState, facts: PodFacts): BoundPod {
  const bound: BoundPod = { ...facts, nodeIndex: node.index };
  const r = facts.requests;
  node.requestedMilliCpu += r.milliCpu;
  node.requestedMemory += r.memory;
  node.requestedEphemeralStorage += r.ephemeralStorage;
  node.nonZeroMilliCpu += r.nonZeroMilliCpu;
  node.nonZeroMemory += r.nonZeroMemory;
  for (const s of r.scalars) node.requestedScalars.set(s.name, (node.requestedScalars.get(s.name) ?? 0) + s.value);
  node.podCount += 1;
  for (const claim of facts.hostPorts) {
    let byIp = node.usedPorts.get(claim.key);
    if (byIp === undefined) node.usedPorts.set(claim.key, (byIp = new Map()));
    byIp.set(claim.ip, (byIp.get(claim.ip) ?? 0) + 1);
  }
  if (facts.ownerKey !== undefined) {
    node.ownerCounts.set(facts.ownerKey, (node.ownerCounts.get(facts.ownerKey) ?? 0) + 1);
    let byNode = snapshot.ownerNodes.get(facts.ownerKey);
    if (byNode === undefined) snapshot.ownerNodes.set(facts.ownerKey, (byNode = new Map()));
    byNode.set(node.index, (byNode.get(node.index) ?? 0) + 1);
  }
  node.pods.add(bound);

  snapshot.pods.set(bound.key, bound);
  for (const key of Object.keys(facts.labels)) {
    const indexKey = labelIndexKey(facts.namespace, key, facts.labels[key]!);
    let set = snapshot.labelIndex.get(indexKey);
    if (set === undefined) snapshot.labelIndex.set(indexKey, (set = new Set()));
    set.add(bound);
  }
  for (const term of facts.antiAffinity) {
    for (const key of antiAffinityIndexKeys(term)) {
      let set = snapshot.antiAffinityTerms.get(key);
      if (set === undefined) snapshot.antiAffinityTerms.set(key, (set = new Set()));
      set.add({ pod: bound, term });
    }
  }
  return bound;
}

/** Where a bound pod's anti-affinity term is filed in `antiAffinityTerms`. */
function antiAffinityIndexKeys(term: AffinityTermInfo): string[] {
  if (!term.selector.matchesAnything) return [];
  const first = term.selector.equalities[0];
  if (first === undefined) return [UNINDEXED_TERMS];
  return [...term.namespaces].map((ns) => labelIndexKey(ns, first[0], first[1]));
}

function decrement<K>(map: Map<K, number>, key: K, by: number): void {
  const left = (map.get(key) ?? 0) - by;
  if (left > 0) map.set(key, left);
  else map.delete(key);
}

/** Takes a bound pod off its node (exported for preemption's what-if runs). */
export function removeFromNode(snapshot: ClusterSnapshot, bound: BoundPod): void {
  const node = snapshot.nodes[bound.nodeIndex];
  if (node !== undefined) {
    const r = bound.requests;
    node.requestedMilliCpu -= r.milliCpu;
    node.requestedMemory -= r.memory;
    node.requestedEphemeralStorage -= r.ephemeralStorage;
    node.nonZeroMilliCpu -= r.nonZeroMilliCpu;
    node.nonZeroMemory -= r.nonZeroMemory;
    for (const s of r.scalars) decrement(node.requestedScalars, s.name, s.value);
    node.podCount -= 1;
    for (const claim of bound.hostPorts) {
      const byIp = node.usedPorts.get(claim.key);
      if (byIp === undefined) continue;
      decrement(byIp, claim.ip, 1);
      if (byIp.size === 0) node.usedPorts.delete(claim.key);
    }
    if (bound.ownerKey !== undefined) {
      decrement(node.ownerCounts, bound.ownerKey, 1);
      const byNode = snapshot.ownerNodes.get(bound.ownerKey);
      if (byNode !== undefined) {
        decrement(byNode, node.index, 1);
        if (byNode.size === 0) snapshot.ownerNodes.delete(bound.ownerKey);
      }
    }
    node.pods.delete(bound);
  }
  snapshot.pods.delete(bound.key);
  for (const key of Object.keys(bound.labels)) {
    const indexKey = labelIndexKey(bound.namespace, key, bound.labels[key]!);
    const set = snapshot.labelIndex.get(indexKey);
    if (set === undefined) continue;
    set.delete(bound);
    if (set.size === 0) snapshot.labelIndex.delete(indexKey);
  }
  for (const term of bound.antiAffinity) {
    for (const key of antiAffinityIndexKeys(term)) {
      const set = snapshot.antiAffinityTerms.get(key);
      if (set === undefined) continue;
      for (const entry of set) if (entry.pod === bound) set.delete(entry);
      if (set.size === 0) snapshot.antiAffinityTerms.delete(key);
    }
  }
}

/**
 * Builds the snapshot. Pods count on the node named by `spec.nodeName`; pending pods (no node yet),
 * terminated pods and pods naming an unknown node are left out.
 */
export function buildSnapshot(nodes: readonly Node[], pods: readonly Pod[]): ClusterSnapshot {
  const states = nodes.map(nodeState);
  const n = states.length;
  const snapshot: ClusterSnapshot = {
    nodes: states,
    nodesByName: new Map(states.map((s) => [s.name, s])),
    pods: new Map(),
    labelIndex: new Map(),
    antiAffinityTerms: new Map(),
    ownerNodes: new Map(),
    scratch: {
      feasible: new Int32Array(n),
      base: new Float64Array(n),
      affinity: new Float64Array(n),
      taints: new Float64Array(n),
      owners: new Float64Array(n),
    },
  };
  for (const pod of pods) {
    const nodeName = pod.spec.nodeName;
    if (!nodeName || isTerminated(pod)) continue;
    const node = snapshot.nodesByName.get(nodeName);
    if (node === undefined) continue;
    const existing = snapshot.pods.get(podKey(pod.metadata));
    if (existing !== undefined) removeFromNode(snapshot, existing);
    addToNode(snapshot, node, podFacts(pod));
  }
  return snapshot;
}

/**
 * Records that `pod` is now bound to `nodeName` (right after the scheduler chose it, before the binding
 * is even written), replacing any earlier placement of the same pod. Terminated pods take nothing.
 */
export function assume(snapshot: ClusterSnapshot, pod: Pod, nodeName: string): void {
  const node = snapshot.nodesByName.get(nodeName);
  if (node === undefined) throw new Error(`cannot assume pod ${podKey(pod.metadata)} onto unknown node ${JSON.stringify(nodeName)}`);
  removePod(snapshot, pod);
  if (isTerminated(pod)) return;
  addToNode(snapshot, node, podFacts(pod));
}

/** Forgets a pod (deleted, terminated, or an assumed binding that failed). Unknown pods are ignored. */
export function removePod(snapshot: ClusterSnapshot, pod: Pod): void {
  const bound = snapshot.pods.get(podKey(pod.metadata));
  if (bound !== undefined) removeFromNode(snapshot, bound);
}
