/**
 * Preemption, as upstream's DefaultPreemption: when a pod fits nowhere, find the nodes where evicting
 * pods of lower priority would let it in, with the fewest and least important victims, and pick one.
 * Pure over the snapshot: what-if runs take pods off a node and put them back before returning.
 *
 * Per node: a rejection no eviction can change (taints, affinity, node name, volumes) is "not
 * helpful"; otherwise every lower-priority pod is taken off; if the pod still does not fit, the
 * filter's reasons are reported; if it fits, victims are reprieved one by one, most important first
 * (higher priority, then the one running longer), as long as the pod still fits. Among candidates the
 * node whose most important victim has the lowest priority wins, then the lowest sum of victim
 * priorities, then the fewest victims, then node order. PodDisruptionBudgets are not consulted.
 */
import { FITS, prepareInterPodAffinity, REJECTED, runFilters } from './filters.js';
import { PREEMPTION_NO_VICTIMS, PREEMPTION_NOT_HELPFUL } from './fit-error.js';
import type { PodSchedulingInfo } from './pod-info.js';
import { addToNode, removeFromNode, type BoundPod, type ClusterSnapshot, type NodeState } from './snapshot.js';

export interface PreemptionCandidate {
  nodeName: string;
  victims: BoundPod[];
}

export type PreemptionOutcome =
  | { candidate: PreemptionCandidate }
  | { candidate?: undefined; reasons: Map<string, number> };

function fitsOn(snapshot: ClusterSnapshot, node: NodeState, pod: PodSchedulingInfo, report: (r: string) => void = () => undefined): boolean {
  return runFilters(node, pod, prepareInterPodAffinity(snapshot, pod), report) === FITS;
}

/** Higher priority first, then the pod running longer (upstream's MoreImportantPod). */
function moreImportantFirst(a: BoundPod, b: BoundPod): number {
  return b.priority - a.priority || a.startMs - b.startMs;
}

/** The victims this node would need, or the reason it cannot be a candidate. */
function victimsOn(snapshot: ClusterSnapshot, node: NodeState, pod: PodSchedulingInfo, priority: number): BoundPod[] | string[] {
  if (pod.pinnedNodes !== undefined && !pod.pinnedNodes.has(node.name)) return [PREEMPTION_NOT_HELPFUL];
  const outcome = runFilters(node, pod, prepareInterPodAffinity(snapshot, pod), () => undefined);
  if (outcome !== REJECTED) return [PREEMPTION_NOT_HELPFUL];
  const lower = [...node.pods].filter((p) => p.priority < priority).sort(moreImportantFirst);
  if (lower.length === 0) return [PREEMPTION_NO_VICTIMS];
  for (const p of lower) removeFromNode(snapshot, p);
  const reasons: string[] = [];
  const victims: BoundPod[] = [];
  const putBack: BoundPod[] = [];
  try {
    if (!fitsOn(snapshot, node, pod, (r) => reasons.push(r))) return reasons;
    for (const p of lower) {
      const back = addToNode(snapshot, node, p);
      if (fitsOn(snapshot, node, pod)) {
        putBack.push(back);
      } else {
        removeFromNode(snapshot, back);
        victims.push(p);
      }
    }
    return victims;
  } finally {
    for (const p of putBack) removeFromNode(snapshot, p);
    for (const p of lower) addToNode(snapshot, node, p);
  }
}

/** Orders candidates: least important top victim, lowest priority sum, fewest victims, node order. */
function betterCandidate(a: PreemptionCandidate & { index: number }, b: PreemptionCandidate & { index: number }): number {
  const top = (c: PreemptionCandidate): number => Math.max(...c.victims.map((v) => v.priority));
  const sum = (c: PreemptionCandidate): number => c.victims.reduce((n, v) => n + v.priority, 0);
  return top(a) - top(b) || sum(a) - sum(b) || a.victims.length - b.victims.length || a.index - b.index;
}

/** Finds where `pod` (of `priority`) could run after evicting lower-priority pods. */
export function findPreemption(snapshot: ClusterSnapshot, pod: PodSchedulingInfo, priority: number): PreemptionOutcome {
  const candidates: (PreemptionCandidate & { index: number })[] = [];
  const reasons = new Map<string, number>();
  for (const node of snapshot.nodes) {
    const found = victimsOn(snapshot, node, pod, priority);
    if (found.length > 0 && typeof found[0] !== 'string') {
      candidates.push({ nodeName: node.name, victims: found as BoundPod[], index: node.index });
    } else {
      for (const r of new Set(found as string[])) reasons.set(r, (reasons.get(r) ?? 0) + 1);
    }
  }
  if (candidates.length === 0) return { reasons };
  const best = candidates.sort(betterCandidate)[0]!;
  return { candidate: { nodeName: best.nodeName, victims: best.victims } };
}
