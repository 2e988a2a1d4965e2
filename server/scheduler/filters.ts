/**
 * Filter plugins: can this pod run on this node at all?
 *
 * Each filter mirrors a kube-scheduler plugin and returns that plugin's exact failure reason, so the
 * "0/N nodes are available: ..." message reads like upstream's. `runFilters` applies them in upstream's
 * default order and stops at the first plugin that rejects the node, as the framework does.
 */
import type { Taint, Toleration } from '../../api/types.js';
import { labelValue, selectorMatches } from './label-selector.js';
import { volumeBindingFilter } from './volume-binding.js';
import { anyTermMatches } from './node-selector.js';
import { BIND_ALL_HOST_IP, type AffinityTermInfo, type PodSchedulingInfo } from './pod-info.js';
import {
  labelIndexKey,
  TAINT_UNSCHEDULABLE,
  topologyValue,
  UNINDEXED_TERMS,
  type BoundAntiAffinityTerm,
  type BoundPod,
  type ClusterSnapshot,
  type NodeState,
} from './snapshot.js';

export const REASON_UNSCHEDULABLE = 'node(s) were unschedulable';
export const REASON_NODE_NAME = "node(s) didn't match the requested node name";
export const REASON_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector";
export const REASON_NODE_PORTS = "node(s) didn't have free ports for the requested pod ports";
export const REASON_TOO_MANY_PODS = 'Too many pods';
export const REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules";
export const REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules";

export function insufficientReason(resource: string): string {
  return `Insufficient ${resource}`;
}

/** Upstream's toleration rule: effect and key match when set; Exists ignores the value, Equal compares it. */
export function toleratesTaint(toleration: Toleration, taint: Pick<Taint, 'key' | 'value' | 'effect'>): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  const operator = toleration.operator ?? 'Equal';
  if (operator === 'Exists') return true;
  if (operator === 'Equal') return (toleration.value ?? '') === (taint.value ?? '');
  return false;
}

export function toleratesAny(tolerations: readonly Toleration[], taint: Pick<Taint, 'key' | 'value' | 'effect'>): boolean {
  for (const t of tolerations) if (toleratesTaint(t, taint)) return true;
  return false;
}

const UNSCHEDULABLE_TAINT = { key: TAINT_UNSCHEDULABLE, value: '', effect: 'NoSchedule' } as const;

/** NodeUnschedulable: a cordoned node takes only pods tolerating `node.kubernetes.io/unschedulable:NoSchedule`. */
export function unschedulableFilter(node: NodeState, pod: PodSchedulingInfo): string | undefined {
  if (!node.unschedulable || toleratesAny(pod.tolerations, UNSCHEDULABLE_TAINT)) return undefined;
  return REASON_UNSCHEDULABLE;
}

/** NodeName: a pod naming a node in `spec.nodeName` fits only there. */
export function nodeNameFilter(node: NodeState, pod: PodSchedulingInfo): string | undefined {
  return pod.requestedNodeName === undefined || pod.requestedNodeName === node.name ? undefined : REASON_NODE_NAME;
}

/** TaintToleration: the first NoSchedule/NoExecute taint (including not-ready/unreachable) the pod does not tolerate. */
export function taintFilter(node: NodeState, pod: PodSchedulingInfo): string | undefined {
  for (const taint of node.hardTaints) {
    if (!toleratesAny(pod.tolerations, taint)) return taint.reason;
  }
  return undefined;
}

/** NodeAffinity: `spec.nodeSelector` labels and the required node affinity terms. */
export function nodeAffinityFilter(node: NodeState, pod: PodSchedulingInfo): string | undefined {
  for (const [key, value] of pod.nodeSelector) {
    if (labelValue(node.labels, key) !== value) return REASON_NODE_AFFINITY;
  }
  const required = pod.requiredNodeAffinity;
  if (required !== undefined && !anyTermMatches(required, node.name, node.labels)) return REASON_NODE_AFFINITY;
  return undefined;
}

/** NodePorts: every host port the pod binds must be free on the node (0.0.0.0 conflicts with every IP). */
export function nodePortsFilter(node: NodeState, pod: PodSchedulingInfo): string | undefined {
  for (const claim of pod.hostPorts) {
    const byIp = node.usedPorts.get(claim.key);
    if (byIp === undefined) continue;
    if (claim.ip === BIND_ALL_HOST_IP || byIp.has(BIND_ALL_HOST_IP) || byIp.has(claim.ip)) return REASON_NODE_PORTS;
  }
  return undefined;
}

/**
 * NodeResourcesFit: reports every resource that does not fit (pod count, cpu, memory,
 * ephemeral-storage, extended resources) through `report`, and returns how many did not.
 */
export function resourcesFilter(node: NodeState, pod: PodSchedulingInfo, report: (reason: string) => void): number {
  const a = node.allocatable;
  const r = pod.requests;
  let failures = 0;
  if (node.podCount + 1 > a.pods) {
    report(REASON_TOO_MANY_PODS);
    failures++;
  }
  if (r.milliCpu > 0 && r.milliCpu > a.milliCpu - node.requestedMilliCpu) {
    report(insufficientReason('cpu'));
    failures++;
  }
  if (r.memory > 0 && r.memory > a.memory - node.requestedMemory) {
    report(insufficientReason('memory'));
    failures++;
  }
  if (r.ephemeralStorage > 0 && r.ephemeralStorage > a.ephemeralStorage - node.requestedEphemeralStorage) {
    report(insufficientReason('ephemeral-storage'));
    failures++;
  }
  for (const s of r.scalars) {
    if (s.value > (a.scalars.get(s.name) ?? 0) - (node.requestedScalars.get(s.name) ?? 0)) {
      report(insufficientReason(s.name));
      failures++;
    }
  }
  return failures;
}

/** The reasons NodeResourcesFit gives for this node, as a list (for callers outside the hot loop). */
export function insufficientResources(node: NodeState, pod: PodSchedulingInfo): string[] {
  const reasons: string[] = [];
  resourcesFilter(node, pod, (reason) => reasons.push(reason));
  return reasons;
}

/** Topology domains (values of one topology label) that a pod may not enter. */
export interface ForbiddenDomains {
  topologyKey: string;
  values: Set<string>;
}

/** Pod anti-affinity worked out once per pod against the whole snapshot (InterPodAffinity's PreFilter). */
export interface InterPodState {
  /** Domains holding pods that the incoming pod's own required anti-affinity terms select. */
  incoming: ForbiddenDomains[];
  /** Domains of existing pods whose required anti-affinity terms select the incoming pod. */
  existing: ForbiddenDomains[];
}

function domainsFor(list: ForbiddenDomains[], topologyKey: string): Set<string> {
  let entry = list.find((d) => d.topologyKey === topologyKey);
  if (entry === undefined) list.push((entry = { topologyKey, values: new Set() }));
  return entry.values;
}

/** Bound pods that may match a term: the smallest label-index bucket of its equalities, else every pod. */
function candidatesFor(snapshot: ClusterSnapshot, term: AffinityTermInfo, namespace: string): Iterable<BoundPod> {
  let best: Set<BoundPod> | undefined;
  for (const [key, value] of term.selector.equalities) {
    const bucket = snapshot.labelIndex.get(labelIndexKey(namespace, key, value));
    if (bucket === undefined) return [];
    if (best === undefined || bucket.size < best.size) best = bucket;
  }
  return best ?? snapshot.pods.values();
}

/**
 * Prepares the anti-affinity check for one pod; `undefined` when neither the pod's terms nor any
 * existing pod's terms can reject a node (the usual case, and then the filter costs nothing).
 */
export function prepareInterPodAffinity(snapshot: ClusterSnapshot, pod: PodSchedulingInfo): InterPodState | undefined {
  const state: InterPodState = { incoming: [], existing: [] };
  for (const term of pod.antiAffinity) {
    if (!term.selector.matchesAnything) continue;
    const forbidden = domainsFor(state.incoming, term.topologyKey);
    for (const namespace of term.namespaces) {
      for (const other of candidatesFor(snapshot, term, namespace)) {
        if (other.namespace !== namespace || other.key === pod.key) continue;
        if (!selectorMatches(term.selector, other.labels)) continue;
        const node = snapshot.nodes[other.nodeIndex];
        const value = node === undefined ? undefined : topologyValue(node, term.topologyKey);
        if (value !== undefined) forbidden.add(value);
      }
    }
  }
  const consider = (entries: Set<BoundAntiAffinityTerm> | undefined): void => {
    if (entries === undefined) return;
    for (const { pod: other, term } of entries) {
      if (other.key === pod.key) continue;
      if (!term.namespaces.has(pod.namespace) || !selectorMatches(term.selector, pod.labels)) continue;
      const node = snapshot.nodes[other.nodeIndex];
      const value = node === undefined ? undefined : topologyValue(node, term.topologyKey);
      if (value !== undefined) domainsFor(state.existing, term.topologyKey).add(value);
    }
  };
  if (snapshot.antiAffinityTerms.size > 0) {
    for (const key of Object.keys(pod.labels)) consider(snapshot.antiAffinityTerms.get(labelIndexKey(pod.namespace, key, pod.labels[key]!)));
    consider(snapshot.antiAffinityTerms.get(UNINDEXED_TERMS));
  }
  state.incoming = state.incoming.filter((d) => d.values.size > 0);
  return state.incoming.length === 0 && state.existing.length === 0 ? undefined : state;
}

function entersForbidden(node: NodeState, domains: readonly ForbiddenDomains[]): boolean {
  for (const d of domains) {
    const value = topologyValue(node, d.topologyKey);
    if (value !== undefined && d.values.has(value)) return true;
  }
  return false;
}

/** InterPodAffinity (required anti-affinity, both directions). */
export function interPodAffinityFilter(node: NodeState, state: InterPodState | undefined): string | undefined {
  if (state === undefined) return undefined;
  if (entersForbidden(node, state.incoming)) return REASON_ANTI_AFFINITY;
  if (entersForbidden(node, state.existing)) return REASON_EXISTING_ANTI_AFFINITY;
  return undefined;
}

/** Outcome of filtering one node, and whether preemption could in principle help (upstream's status codes). */
export const FITS = 0;
/** Rejected by a plugin whose verdict evicting pods could change (Unschedulable). */
export const REJECTED = 1;
/** Rejected by a plugin whose verdict no eviction can change (UnschedulableAndUnresolvable). */
export const REJECTED_UNRESOLVABLE = 2;
export type FilterOutcome = typeof FITS | typeof REJECTED | typeof REJECTED_UNRESOLVABLE;

/**
 * Runs the filters in kube-scheduler's default order (NodeUnschedulable, NodeName, TaintToleration,
 * NodeAffinity, NodePorts, NodeResourcesFit, InterPodAffinity); the first rejecting plugin's reasons
 * go to `report`.
 */
export function runFilters(
  node: NodeState,
  pod: PodSchedulingInfo,
  interPod: InterPodState | undefined,
  report: (reason: string) => void,
): FilterOutcome {
  let reason = unschedulableFilter(node, pod) ?? nodeNameFilter(node, pod) ?? taintFilter(node, pod) ?? nodeAffinityFilter(node, pod);
  if (reason !== undefined) {
    report(reason);
    return REJECTED_UNRESOLVABLE;
  }
  reason = nodePortsFilter(node, pod);
  if (reason !== undefined) {
    report(reason);
    return REJECTED;
  }
  if (resourcesFilter(node, pod, report) > 0) return REJECTED;
  reason = pod.volumes === undefined ? undefined : volumeBindingFilter(node, pod.volumes);
  if (reason !== undefined) {
    report(reason);
    return REJECTED_UNRESOLVABLE;
  }
  reason = interPodAffinityFilter(node, interPod);
  if (reason !== undefined) {
    report(reason);
    return REJECTED;
  }
  return FITS;
}
