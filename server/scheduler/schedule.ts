/**
 * Picks a node for one pod: prepare the pod once, filter every candidate node, score the feasible ones
 * in two passes (raw values, then normalised weighted sums), and take the best. Pure over the snapshot:
 * it reads it and only writes the snapshot's scratch arrays; the caller `assume`s the result.
 *
 * Every node is evaluated (no percentageOfNodesToScore sampling): at 1,000 nodes the loop is cheap
 * enough, and the failure message must account for every node anyway.
 */
import type { Pod } from '../../api/types.js';
import { fitErrorMessage, NO_NODES_AVAILABLE } from './fit-error.js';
import { FITS, prepareInterPodAffinity, REJECTED, runFilters } from './filters.js';
import { compilePod, mixHashes, type PodSchedulingInfo } from './pod-info.js';
import {
  balancedAllocationScore,
  intolerablePreferNoScheduleTaints,
  leastAllocatedScore,
  normalizeScore,
  preferredAffinityWeight,
  SCORE_WEIGHTS,
} from './scores.js';
import type { ClusterSnapshot, NodeState } from './snapshot.js';

export type ScheduleResult =
  | { nodeName: string }
  | { nodeName?: undefined; message: string; reasons: Record<string, number> };

/** The reason upstream gives nodes left out by NodeAffinity's PreFilter (pods pinned by node name). */
export const REASON_PINNED_ELSEWHERE = "node(s) didn't satisfy plugin(s) [NodeAffinity]";
/** NodeAffinity's PreFilter message when the pod's name-pinned terms select no node at all. */
export const REASON_AFFINITY_CONFLICT = 'pod affinity terms conflict';

export function schedulePod(snapshot: ClusterSnapshot, pod: Pod): ScheduleResult {
  return schedulePrepared(snapshot, compilePod(pod));
}

/** Narrows the candidates to the nodes a pod is pinned to by name (as upstream's NodeAffinity PreFilter). */
function candidateNodes(snapshot: ClusterSnapshot, pod: PodSchedulingInfo): readonly NodeState[] {
  if (pod.pinnedNodes === undefined) return snapshot.nodes;
  const out: NodeState[] = [];
  for (const name of pod.pinnedNodes) {
    const node = snapshot.nodesByName.get(name);
    if (node !== undefined) out.push(node);
  }
  return out;
}

/** Schedules a pod prepared with `compilePod` (lets a caller that retries a pod prepare it once). */
export function schedulePrepared(snapshot: ClusterSnapshot, pod: PodSchedulingInfo): ScheduleResult {
  const nodes = snapshot.nodes;
  const total = nodes.length;
  if (total === 0) return { message: NO_NODES_AVAILABLE, reasons: {} };
  if (pod.pinnedNodes !== undefined && pod.pinnedNodes.size === 0) {
    return {
      message: fitErrorMessage({ totalNodes: total, reasons: [], preFilterMessage: REASON_AFFINITY_CONFLICT, resolvableNodes: 0 }),
      reasons: { [REASON_AFFINITY_CONFLICT]: total },
    };
  }

  const candidates = candidateNodes(snapshot, pod);
  const interPod = prepareInterPodAffinity(snapshot, pod);
  const scratch = snapshot.scratch;
  const scoreAffinity = pod.preferredNodeAffinity.length > 0;
  // Same-owner pod counts, spread into a dense per-node array once instead of a map lookup per node.
  const ownerNodes = pod.ownerKey === undefined ? undefined : snapshot.ownerNodes.get(pod.ownerKey);
  scratch.owners.fill(0);
  if (ownerNodes !== undefined) for (const [index, count] of ownerNodes) scratch.owners[index] = count;

  let reasons: Map<string, number> | undefined;
  const report = (reason: string): void => {
    reasons ??= new Map();
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  };

  let feasibleCount = 0;
  let resolvableNodes = 0;
  let maxAffinity = 0;
  let maxTaints = 0;
  let maxOwners = 0;
  for (let c = 0; c < candidates.length; c++) {
    const node = candidates[c]!;
    const outcome = runFilters(node, pod, interPod, report);
    if (outcome !== FITS) {
      if (outcome === REJECTED) resolvableNodes++;
      continue;
    }
    const i = node.index;
    scratch.feasible[feasibleCount++] = i;
    scratch.base[i] =
      SCORE_WEIGHTS.leastAllocated * leastAllocatedScore(node, pod) +
      SCORE_WEIGHTS.balancedAllocation * balancedAllocationScore(node, pod);
    const affinity = scoreAffinity ? preferredAffinityWeight(node, pod) : 0;
    scratch.affinity[i] = affinity;
    if (affinity > maxAffinity) maxAffinity = affinity;
    const taints = node.softTaints.length > 0 ? intolerablePreferNoScheduleTaints(node, pod) : 0;
    scratch.taints[i] = taints;
    if (taints > maxTaints) maxTaints = taints;
    const owners = scratch.owners[i]!;
    if (owners > maxOwners) maxOwners = owners;
  }

  if (feasibleCount === 0) {
    const absent = total - candidates.length;
    if (absent > 0) {
      reasons ??= new Map();
      reasons.set(REASON_PINNED_ELSEWHERE, (reasons.get(REASON_PINNED_ELSEWHERE) ?? 0) + absent);
    }
    const histogram = reasons ?? new Map<string, number>();
    return {
      message: fitErrorMessage({ totalNodes: total, reasons: histogram, resolvableNodes }),
      reasons: Object.fromEntries(histogram),
    };
  }

  let best = -1;
  let bestScore = -1;
  let bestTie = 0;
  for (let k = 0; k < feasibleCount; k++) {
    const i = scratch.feasible[k]!;
    const score =
      scratch.base[i]! +
      SCORE_WEIGHTS.nodeAffinity * normalizeScore(scratch.affinity[i]!, maxAffinity, false) +
      SCORE_WEIGHTS.taintToleration * normalizeScore(scratch.taints[i]!, maxTaints, true) +
      SCORE_WEIGHTS.ownerSpread * normalizeScore(scratch.owners[i]!, maxOwners, true);
    if (score > bestScore) {
      best = i;
      bestScore = score;
      bestTie = mixHashes(pod.hash, nodes[i]!.hash);
    } else if (score === bestScore) {
      // Equal scores: a per-pod pseudo-random but stable choice, so ties do not all land on one node.
      const tie = mixHashes(pod.hash, nodes[i]!.hash);
      if (tie < bestTie) {
        best = i;
        bestTie = tie;
      }
    }
  }
  return { nodeName: nodes[best]!.name };
}
