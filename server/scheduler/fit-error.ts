/**
 * The FailedScheduling message, in kube-scheduler v1.32's exact shape:
 *
 *   0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 2 Insufficient memory.
 *   preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.
 *
 * (one line). Each reason is prefixed with the number of nodes that gave it and the entries are sorted
 * as plain strings, count included, as upstream's FitError does ("10 …" sorts before "2 …").
 *
 * The second sentence is what upstream's DefaultPreemption adds after a failure. corral never preempts,
 * so every node whose rejection preemption could in principle lift gets "No preemption victims found
 * for incoming pod" (true: corral looks for none), and nodes rejected for reasons no eviction can change
 * get "Preemption is not helpful for scheduling", as upstream reports them.
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
  const preemption = histogram([
    [PREEMPTION_NO_VICTIMS, input.resolvableNodes],
    [PREEMPTION_NOT_HELPFUL, n - input.resolvableNodes],
  ]);
  message += ` preemption: 0/${n} nodes are available: ${preemption.join(', ')}.`;
  return message;
}
