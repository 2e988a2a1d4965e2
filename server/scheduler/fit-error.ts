/**
 * The FailedScheduling message, in kube-scheduler v1.32's exact shape:
 *
 *   0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 2 Insufficient memory.
 *   preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.
 *
 * (one line). Each reason is prefixed with the number of nodes that gave it and the entries are sorted
 * as plain strings, count included, as upstream's FitError does ("10 …" sorts before "2 …").
 *
 * The second sentence is what upstream's DefaultPreemption adds after a failure: per node, why
 * evicting lower-priority pods would not help ("Preemption is not helpful for scheduling" for reasons
 * no eviction changes, "No preemption victims found for incoming pod" where there is nothing to
 * evict, or the filter's reason when even evicting every lower-priority pod is not enough), or a
 * whole sentence (a pod that may not preempt). It is left out when preemption nominated a node.
 */

export const NO_NODES_AVAILABLE = 'no nodes available to schedule pods';
export const PREEMPTION_NO_VICTIMS = 'No preemption victims found for incoming pod';
export const PREEMPTION_NOT_HELPFUL = 'Preemption is not helpful for scheduling';

function histogram(reasons: Iterable<readonly [string, number]>): string[] {
  const entries: string[] = [];
  for (const [reason, count] of reasons) if (count > 0) entries.push(`${count} ${reason}`);
  return entries.sort();
}

export interface FitErrorInput {
  totalNodes: number;
  /** Filter reasons and how many nodes gave each (a node may give several, e.g. cpu and memory). */
  reasons: Iterable<readonly [string, number]>;
  /** A message from the pre-filter stage, which replaces the per-node reasons (as upstream). */
  preFilterMessage?: string;
  /** Nodes whose rejection eviction could lift (upstream status Unschedulable). */
  resolvableNodes: number;
  /**
   * What preemption found, when it ran: per-node reasons, one message for the whole attempt, or a
   * nominated node (no sentence). Without it, resolvable nodes count as having no victims.
   */
  preemption?: { reasons: Iterable<readonly [string, number]> } | { message: string } | 'nominated';
}

export function fitErrorMessage(input: FitErrorInput): string {
  const n = input.totalNodes;
  let message = `0/${n} nodes are available:`;
  if (input.preFilterMessage !== undefined) {
    message += ` ${input.preFilterMessage}.`;
  } else {
    const filter = histogram(input.reasons);
    if (filter.length > 0) message += ` ${filter.join(', ')}.`;
  }
  const p = input.preemption;
  if (p === 'nominated') return message;
  if (p !== undefined && 'message' in p) return `${message} preemption: ${p.message}`;
  const preemption = histogram(p?.reasons ?? [
    [PREEMPTION_NO_VICTIMS, input.resolvableNodes],
    [PREEMPTION_NOT_HELPFUL, n - input.resolvableNodes],
  ]);
  message += ` preemption: 0/${n} nodes are available: ${preemption.join(', ')}.`;
  return message;
}
