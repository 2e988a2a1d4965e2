/**
 * Preemption, as upstream's DefaultPreemption: when a pod fits nowhere, find the nodes where evicting
 * pods of lower priority would let it in, with the fewest and least important victims, and pick one.
 * Pure over the snapshot: what-if runs take pods off a node and put them back before returning.
 *
 * Per node: a rejection no eviction can change (taints, affinity, node name, volumes) is "not
 * helpful"; otherwise every lower-priority pod is taken off; if the pod still does not fit, the
 * filter's reasons are reported; if it fits, victims are reprieved one by one, most important first
 * (higher priority, then the one running longer), as long as the pod still fits — pods whose eviction
 * would break a PodDisruptionBudget are tried first, so they are spared when possible. Among
 * candidates the node with the fewest budget violations wins, then the one whose most important
 * victim has the lowest priority, then the lowest sum of victim priorities, then the fewest victims,
 * then node order.
 */
import { FITS, prepareInterPodAffinity, REJECTED, runFilters } from './filters.js';
import { PREEMPTION_NO_VICTIMS, PREEMPTION_NOT_HELPFUL } from './fit-error.js';
import type { PodSchedulingInfo } from './pod-info.js';
import { addToNode, removeFromNode, type BoundPod, type ClusterSnapshot, type NodeState } from './snapshot.js';

export interface PreemptionCandidate {
  nodeName: string;
  victims: BoundPod[];
  /** Victims whose eviction goes beyond what their PodDisruptionBudget allows. */
  budgetViolations: number;
}

/** A PodDisruptionBudget as preemption sees it: whom it covers and how many may go now. */
export interface DisruptionBudget {
  covers(pod: BoundPod): boolean;
  disruptionsAllowed: number;
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

/**
 * Splits pods (in order) into those whose eviction stays within their budgets and those that would
 * break one (upstream's filterPodsWithPDBViolation: each covered pod spends one allowed disruption).
 */
function splitByBudget(pods: readonly BoundPod[], budgets: readonly DisruptionBudget[]): { violating: BoundPod[]; fine: BoundPod[] } {
  const left = budgets.map((b) => b.disruptionsAllowed);
  const violating: BoundPod[] = [];
  const fine: BoundPod[] = [];
  for (const p of pods) {
    let breaks = false;
    budgets.forEach((b, i) => {
      if (!b.covers(p)) return;
      left[i]! -= 1;
      if (left[i]! < 0) breaks = true;
    });
    (breaks ? violating : fine).push(p);
  }
  return { violating, fine };
}

/** The victims this node would need, or the reason it cannot be a candidate. */
function victimsOn(snapshot: ClusterSnapshot, node: NodeState, pod: PodSchedulingInfo, priority: number, budgets: readonly DisruptionBudget[]): { victims: BoundPod[]; budgetViolations: number } | string[] {
  if (pod.pinnedNodes !== undefined && !pod.pinnedNodes.has(node.name)) return [PREEMPTION_NOT_HELPFUL];
  const outcome = runFilters(node, pod, prepareInterPodAffinity(snapshot, pod), () => undefined);
  if (outcome !== REJECTED) return [PREEMPTION_NOT_HELPFUL];
  const lower = [...node.pods].filter((p) => p.priority < priority).sort(moreImportantFirst);
  if (lower.length === 0) return [PREEMPTION_NO_VICTIMS];
  for (const p of lower) removeFromNode(snapshot, p);
  const reasons: string[] = [];
  const victims: BoundPod[] = [];
  const putBack: BoundPod[] = [];
  let budgetViolations = 0;
  try {
    if (!fitsOn(snapshot, node, pod, (r) => reasons.push(r))) return reasons;
    const { violating, fine } = splitByBudget(lower, budgets);
    const reprieve = (p: BoundPod): boolean => {
      const back = addToNode(snapshot, node, p);
      if (fitsOn(snapshot, node, pod)) {
        putBack.push(back);
        return true;
      }
      removeFromNode(snapshot, back);
      victims.push(p);
      return false;
    };
    for (const p of violating) if (!reprieve(p)) budgetViolations++;
    for (const p of fine) reprieve(p);
    return { victims, budgetViolations };
  } finally {
    for (const p of putBack) removeFromNode(snapshot, p);
    for (const p of lower) addToNode(snapshot, node, p);
  }
}

/** Orders candidates: least important top victim, lowest priority sum, fewest victims, node order. */
function betterCandidate(a: PreemptionCandidate & { index: number }, b: PreemptionCandidate & { index: number }): number {
  const top = (c: PreemptionCandidate): number => Math.max(...c.victims.map((v) => v.priority));
  const sum = (c: PreemptionCandidate): number => c.victims.reduce((n, v) => n + v.priority, 0);
  return a.budgetViolations - b.budgetViolations || top(a) - top(b) || sum(a) - sum(b) || a.victims.length - b.victims.length || a.index - b.index;
}

/** Finds where `pod` (of `priority`) could run after evicting lower-priority pods. */
export function findPreemption(snapshot: ClusterSnapshot, pod: PodSchedulingInfo, priority: number, budgets: readonly DisruptionBudget[] = []): PreemptionOutcome {
  const candidates: (PreemptionCandidate & { index: number })[] = [];
  const reasons = new Map<string, number>();
  for (const node of snapshot.nodes) {
    const found = victimsOn(snapshot, node, pod, priority, budgets);
    if (!Array.isArray(found)) {
      if (found.victims.length > 0) candidates.push({ nodeName: node.name, ...found, index: node.index });
    } else {
      for (const r of new Set(found)) reasons.set(r, (reasons.get(r) ?? 0) + 1);
    }
  }
  if (candidates.length === 0) return { reasons };
  const { index: _index, ...best } = candidates.sort(betterCandidate)[0]!;
  return { candidate: best };
}
