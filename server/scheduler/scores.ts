/**
 * Score plugins: among the nodes that fit, which is best? Each plugin yields 0–100 per node; the
 * scheduler adds them up with the weights below (upstream's defaults where upstream has the plugin).
 *
 * Plugins that rank relative to the other nodes (preferred affinity, PreferNoSchedule taints, owner
 * spreading) produce a raw value here and are normalised over the feasible nodes with `normalizeScore`.
 */
import { toleratesAny } from './filters.js';
import { termMatches } from './node-selector.js';
import type { PodSchedulingInfo } from './pod-info.js';
import type { NodeState } from './snapshot.js';

export const MAX_NODE_SCORE = 100;

export const SCORE_WEIGHTS = {
  taintToleration: 3,
  nodeAffinity: 2,
  ownerSpread: 2,
  leastAllocated: 1,
  balancedAllocation: 1,
} as const;

function leastRequested(requested: number, allocatable: number): number {
  if (requested > allocatable) return 0;
  return Math.floor(((allocatable - requested) * MAX_NODE_SCORE) / allocatable);
}

/**
 * NodeResourcesFit (LeastAllocated): the share of CPU and memory left free once the pod is added,
 * averaged. Uses the scoring defaults for containers without requests so best-effort pods spread too.
 */
export function leastAllocatedScore(node: NodeState, pod: PodSchedulingInfo): number {
  const a = node.allocatable;
  let sum = 0;
  let weights = 0;
  if (a.milliCpu > 0) {
    sum += leastRequested(node.nonZeroMilliCpu + pod.requests.nonZeroMilliCpu, a.milliCpu);
    weights++;
  }
  if (a.memory > 0) {
    sum += leastRequested(node.nonZeroMemory + pod.requests.nonZeroMemory, a.memory);
    weights++;
  }
  return weights === 0 ? 0 : Math.floor(sum / weights);
}

/**
 * NodeResourcesBalancedAllocation: prefers nodes where CPU and memory would be used in equal shares,
 * 100 × (1 − standard deviation of the used fractions); for two resources that is |f_cpu − f_mem| / 2.
 */
export function balancedAllocationScore(node: NodeState, pod: PodSchedulingInfo): number {
  const a = node.allocatable;
  if (a.milliCpu <= 0 || a.memory <= 0) return MAX_NODE_SCORE;
  const cpu = Math.min(1, (node.requestedMilliCpu + pod.requests.milliCpu) / a.milliCpu);
  const memory = Math.min(1, (node.requestedMemory + pod.requests.memory) / a.memory);
  const std = Math.abs(cpu - memory) / 2;
  return Math.floor((1 - std) * MAX_NODE_SCORE);
}

/** NodeAffinity score, raw: the summed weights of the preferred terms this node matches. */
export function preferredAffinityWeight(node: NodeState, pod: PodSchedulingInfo): number {
  let total = 0;
  for (const p of pod.preferredNodeAffinity) {
    if (termMatches(p.term, node.name, node.labels)) total += p.weight;
  }
  return total;
}

/** TaintToleration score, raw: how many PreferNoSchedule taints the pod does not tolerate (fewer is better). */
export function intolerablePreferNoScheduleTaints(node: NodeState, pod: PodSchedulingInfo): number {
  let count = 0;
  for (const taint of node.softTaints) {
    if (!toleratesAny(pod.preferNoScheduleTolerations, taint)) count++;
  }
  return count;
}

/** Owner spreading, raw: pods of the same owner already on the node (fewer is better). */
export function sameOwnerCount(node: NodeState, pod: PodSchedulingInfo): number {
  return pod.ownerKey === undefined ? 0 : (node.ownerCounts.get(pod.ownerKey) ?? 0);
}

/**
 * Scales a raw value to 0–100 against the largest raw value among the feasible nodes (upstream's
 * DefaultNormalizeScore). `reverse` turns "more is worse" counts into scores; when every node's raw
 * value is zero, reversed scores are all 100 and plain ones all 0.
 */
export function normalizeScore(raw: number, max: number, reverse: boolean): number {
  if (max <= 0) return reverse ? MAX_NODE_SCORE : 0;
  const score = Math.floor((MAX_NODE_SCORE * raw) / max);
  return reverse ? MAX_NODE_SCORE - score : score;
}
