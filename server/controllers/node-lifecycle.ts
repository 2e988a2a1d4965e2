/**
 * Node lifecycle: notices lost nodes and evicts their pods, like kube-controller-manager's
 * node-lifecycle controller and its NoExecute taint manager.
 *
 * - Heartbeats are the node's Lease in kube-node-lease (and its Ready heartbeat). The time a renewal
 *   is *observed* counts, not the time the agent wrote into it, so clock skew does not matter.
 * - No heartbeat for `nodeMonitorGracePeriodSeconds`: the node's conditions become Unknown
 *   (NodeStatusUnknown, "Kubelet stopped posting node status."), its pods are marked not ready,
 *   and it is tainted `node.kubernetes.io/unreachable` NoSchedule + NoExecute. A node whose agent
 *   reports Ready=False gets the `not-ready` taints instead; a cordoned node gets
 *   `node.kubernetes.io/unschedulable:NoSchedule`. Once heartbeats return the taints go; Ready
 *   comes back from the agent's own status.
 * - NoExecute taints evict: a pod that does not tolerate one is deleted at once, one that tolerates
 *   it for `tolerationSeconds` (DefaultTolerationSeconds gives every pod `--pod-eviction-timeout`)
 *   is deleted when that runs out. Pods of a lost node are force-deleted (grace 0): no kubelet is
 *   there to confirm. Their controllers then recreate them elsewhere.
 * - Disruption modes: when ≥55% of the nodes are unreachable at once the server's own network is the
 *   likely culprit, so NoExecute taints (and with them evictions) are added to one node per
 *   10 s only; when every node is unreachable, none are added.
 */
import type { Condition } from '../../api/meta.js';
import { rfc3339 } from '../../api/meta.js';
import { log } from '../../api/log.js';
import { isConflict, isNotFound } from '../../api/status.js';
import type { Lease, Node, Pod, Taint, Toleration } from '../../api/types.js';
import { toleratesTaint } from '../scheduler/filters.js';
import type { ControllerContext } from './context.js';
import { Controller } from '../../api/machinery/controller.js';
import { objectKeyOf, type Informer } from '../../api/machinery/informer.js';
import { NODE_LEASE_NAMESPACE as LEASE_NAMESPACE } from '../../api/node-identity.js';

export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';
const MANAGED_KEYS = new Set([TAINT_NOT_READY, TAINT_UNREACHABLE, TAINT_UNSCHEDULABLE]);
/** Upstream's unhealthyZoneThreshold. */
const PARTIAL_DISRUPTION_RATIO = 0.55;
/** In partial disruption, one node's NoExecute taint per this many ms (upstream secondary rate). */
const PARTIAL_DISRUPTION_INTERVAL_MS = 10_000;
const UNKNOWN_MESSAGE = 'Kubelet stopped posting node status.';

interface Heartbeat {
  leaseRenewTime: string | undefined;
  readyHeartbeat: string | undefined;
  observedAtMs: number;
}

function readyCondition(node: Node): Condition | undefined {
  return node.status?.conditions?.find((c) => c.type === 'Ready');
}

function taintId(t: Pick<Taint, 'key' | 'effect'>): string {
  return `${t.key}:${t.effect}`;
}

/**
 * When a pod has to leave a node with these NoExecute taints: now if one is not tolerated, else when
 * the shortest matching tolerationSeconds (counted from the taint's timeAdded) runs out; undefined
 * if it may stay forever. Exported for tests.
 */
export function evictionTimeMs(tolerations: readonly Toleration[], taints: readonly Taint[], nowMs: number): number | undefined {
  let at: number | undefined;
  for (const taint of taints) {
    if (taint.effect !== 'NoExecute') continue;
    const matching = tolerations.filter((t) => toleratesTaint(t, taint));
    if (matching.length === 0) return nowMs;
    const bounded = matching.map((t) => t.tolerationSeconds).filter((s): s is number => typeof s === 'number');
    if (bounded.length < matching.length) continue; // one toleration without a limit: forever
    const seconds = Math.max(0, Math.min(...bounded));
    const added = taint.timeAdded ? Date.parse(taint.timeAdded) : nowMs;
    const t = (Number.isFinite(added) ? added : nowMs) + seconds * 1000;
    at = at === undefined ? t : Math.min(at, t);
  }
  return at;
}

class NodeLifecycleController {
  private readonly controller: Controller;
  private readonly heartbeats = new Map<string, Heartbeat>();
  private readonly podsByNode = new Map<string, Set<string>>();
  /** When an unreachable NoExecute taint was last added (the partial-disruption limiter). */
  private lastNoExecuteTaintMs = 0;
  private readonly graceMs: number;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly nodes: Informer<Node>,
    private readonly leases: Informer<Lease>,
    private readonly pods: Informer<Pod>,
  ) {
    this.graceMs = ctx.settings.nodeMonitorGracePeriodSeconds * 1000;
    this.controller = new Controller({ name: 'node-lifecycle-controller', workers: 2, reconcile: (key) => this.reconcile(key) });
    nodes.addHandlers({
      onAdd: (n) => this.controller.enqueue(n.metadata.name!),
      onUpdate: (_o, n) => this.controller.enqueue(n.metadata.name!),
      onDelete: (n) => {
        this.heartbeats.delete(n.metadata.name!);
        this.controller.enqueue(n.metadata.name!);
      },
    });
    const leaseChanged = (l: Lease): void => {
      if (l.metadata.namespace === LEASE_NAMESPACE) this.controller.enqueue(l.metadata.name!);
    };
    leases.addHandlers({ onAdd: leaseChanged, onUpdate: (_o, l) => leaseChanged(l) });
    pods.addHandlers({
      onAdd: (p) => this.trackPod(p),
      onUpdate: (old, p) => {
        if (old.spec.nodeName !== p.spec.nodeName) this.untrackPod(old);
        this.trackPod(p);
      },
      onDelete: (p) => this.untrackPod(p),
    });
  }

  start(): void {
    void (async () => {
      await Promise.all([this.nodes.waitForSync(), this.leases.waitForSync(), this.pods.waitForSync()]);
      await this.controller.run(this.ctx.signal);
    })();
  }

  private trackPod(pod: Pod): void {
    const node = pod.spec.nodeName;
    if (!node) return;
    let set = this.podsByNode.get(node);
    if (!set) this.podsByNode.set(node, (set = new Set()));
    const key = objectKeyOf(pod);
    if (!set.has(key)) {
      set.add(key);
      // A pod landing on a tainted node may have to go (or be timed).
      if (this.nodes.get(node)?.spec?.taints?.some((t) => t.effect === 'NoExecute')) this.controller.enqueue(node);
    }
  }

  private untrackPod(pod: Pod): void {
    const node = pod.spec.nodeName;
    if (!node) return;
    const set = this.podsByNode.get(node);
    set?.delete(objectKeyOf(pod));
    if (set && set.size === 0) this.podsByNode.delete(node);
  }

  /** Records a new heartbeat if the lease or the Ready heartbeat moved; returns ms since the last one. */
  private sinceHeartbeat(node: Node, nowMs: number): number {
    const name = node.metadata.name!;
    const lease = this.leases.get(`${LEASE_NAMESPACE}/${name}`);
    const leaseRenewTime = lease?.spec?.renewTime;
    const ready = readyCondition(node);
    const readyHeartbeat = ready && ready.status !== 'Unknown' ? ready.lastHeartbeatTime : undefined;
    const hb = this.heartbeats.get(name);
    if (!hb) {
      // First sight (or after a restart): give the node a full grace period from now.
      this.heartbeats.set(name, { leaseRenewTime, readyHeartbeat, observedAtMs: nowMs });
      return 0;
    }
    if (hb.leaseRenewTime !== leaseRenewTime || hb.readyHeartbeat !== readyHeartbeat) {
      const renewed = (leaseRenewTime !== undefined && hb.leaseRenewTime !== leaseRenewTime)
        || (readyHeartbeat !== undefined && hb.readyHeartbeat !== readyHeartbeat);
      hb.leaseRenewTime = leaseRenewTime;
      hb.readyHeartbeat = readyHeartbeat;
      if (renewed) hb.observedAtMs = nowMs;
    }
    return nowMs - hb.observedAtMs;
  }

  private isLost(name: string, nowMs: number): boolean {
    const hb = this.heartbeats.get(name);
    return !!hb && nowMs - hb.observedAtMs > this.graceMs;
  }

  /** normal / partial (≥55% lost) / full (all lost). */
  private disruption(nowMs: number): 'normal' | 'partial' | 'full' {
    const all = this.nodes.list();
    if (all.length === 0) return 'normal';
    const lost = all.filter((n) => this.isLost(n.metadata.name!, nowMs)).length;
    if (lost === all.length) return 'full';
    return lost / all.length >= PARTIAL_DISRUPTION_RATIO ? 'partial' : 'normal';
  }

  private async reconcile(name: string): Promise<{ requeueAfterMs: number } | void> {
    const node = this.nodes.get(name);
    if (!node) return;
    const nowMs = Date.now();
    const since = this.sinceHeartbeat(node, nowMs);
    const lost = since > this.graceMs;
    let wakeAt: number | undefined = lost ? undefined : nowMs + (this.graceMs - since) + 50;
    const wake = (t: number): void => { wakeAt = wakeAt === undefined ? t : Math.min(wakeAt, t); };

    const current = lost ? await this.markUnknown(node) : node;

    // Desired managed taints.
    const ready = readyCondition(current);
    const desired: Taint[] = [];
    // Decided on the clock of this moment (not of the start of the reconcile, before the awaits):
    // decisions about different nodes then see each other, which the limiter relies on.
    const decideAt = Date.now();
    const mode = lost ? this.disruption(decideAt) : 'normal';
    if (lost) {
      desired.push({ key: TAINT_UNREACHABLE, effect: 'NoSchedule' });
      const has = current.spec?.taints?.some((t) => t.key === TAINT_UNREACHABLE && t.effect === 'NoExecute');
      if (has && mode !== 'full') desired.push({ key: TAINT_UNREACHABLE, effect: 'NoExecute' });
      else if (mode === 'normal') {
        this.lastNoExecuteTaintMs = decideAt;
        desired.push({ key: TAINT_UNREACHABLE, effect: 'NoExecute' });
      } else if (mode === 'partial') {
        // Counted from the last NoExecute taint of any mode: the first lost node may have been
        // tainted a moment before the others were noticed.
        if (decideAt - this.lastNoExecuteTaintMs >= PARTIAL_DISRUPTION_INTERVAL_MS) {
          this.lastNoExecuteTaintMs = decideAt;
          desired.push({ key: TAINT_UNREACHABLE, effect: 'NoExecute' });
          log.warn('node-lifecycle', 'partial disruption: tainting one unreachable node', { node: name });
        } else {
          wake(this.lastNoExecuteTaintMs + PARTIAL_DISRUPTION_INTERVAL_MS);
        }
      } else {
        // full disruption: most likely our own network; keep pods where they are
        wake(nowMs + 1000);
      }
    } else if (ready?.status === 'False') {
      desired.push({ key: TAINT_NOT_READY, effect: 'NoSchedule' }, { key: TAINT_NOT_READY, effect: 'NoExecute' });
    }
    if (current.spec?.unschedulable) desired.push({ key: TAINT_UNSCHEDULABLE, effect: 'NoSchedule' });
    const taints = await this.syncTaints(current, desired);

    // NoExecute eviction.
    const noExecute = taints.filter((t) => t.effect === 'NoExecute');
    for (const key of [...(this.podsByNode.get(name) ?? [])]) {
      const pod = this.pods.get(key);
      if (!pod || pod.spec.nodeName !== name) continue;
      if (pod.metadata.deletionTimestamp) {
        if (lost) await this.deletePod(pod, true);
        continue;
      }
      if (noExecute.length === 0) continue;
      const at = evictionTimeMs(pod.spec.tolerations ?? [], noExecute, nowMs);
      if (at === undefined) continue;
      if (at <= nowMs) await this.deletePod(pod, lost);
      else wake(at);
    }
    if (wakeAt !== undefined) return { requeueAfterMs: Math.max(50, wakeAt - Date.now()) };
  }

  /** Sets every condition to Unknown (once) and marks the node's pods not ready; returns the node as stored. */
  private async markUnknown(node: Node): Promise<Node> {
    const conditions = node.status?.conditions ?? [];
    if (readyCondition(node)?.status === 'Unknown' && readyCondition(node)?.reason === 'NodeStatusUnknown') return node;
    const now = rfc3339();
    const types = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'];
    const next: Condition[] = types.map((type) => {
      const old = conditions.find((c) => c.type === type);
      return {
        type,
        status: 'Unknown',
        reason: 'NodeStatusUnknown',
        message: UNKNOWN_MESSAGE,
        lastHeartbeatTime: old?.lastHeartbeatTime ?? now,
        lastTransitionTime: now,
      };
    });
    for (const c of conditions) if (!types.includes(c.type)) next.push(c);
    const updated = await this.ctx.client.patchStatus<Node>('Node', undefined, node.metadata.name!, {
      metadata: { resourceVersion: node.metadata.resourceVersion }, status: { conditions: next },
    }, 'merge');
    log.info('node-lifecycle', 'node stopped posting status', { node: node.metadata.name });
    for (const key of this.podsByNode.get(node.metadata.name!) ?? []) {
      const pod = this.pods.get(key);
      if (!pod || pod.metadata.deletionTimestamp) continue;
      const podConditions = pod.status?.conditions ?? [];
      if (!podConditions.some((c) => c.type === 'Ready' && c.status === 'True')) continue;
      const notReady = podConditions.map((c) => (c.type === 'Ready' ? { ...c, status: 'False' as const, lastTransitionTime: now } : c));
      await this.ctx.client.patchStatus('Pod', pod.metadata.namespace, pod.metadata.name!, { status: { conditions: notReady } }, 'merge')
        .catch((err: unknown) => { if (!isNotFound(err)) throw err; });
    }
    return updated;
  }

  /** Replaces the taints this controller manages by `desired` (keeping timeAdded); returns the node's taints. */
  private async syncTaints(node: Node, desired: Taint[]): Promise<Taint[]> {
    const current = node.spec?.taints ?? [];
    const wanted = new Set(desired.map(taintId));
    const kept = current.filter((t) => !MANAGED_KEYS.has(t.key) || wanted.has(taintId(t)));
    const have = new Set(kept.map(taintId));
    const now = rfc3339();
    const added = desired.filter((t) => !have.has(taintId(t))).map((t) => (t.effect === 'NoExecute' ? { ...t, timeAdded: now } : { ...t }));
    if (added.length === 0 && kept.length === current.length) return current;
    const next = [...kept, ...added];
    await this.ctx.client.patch('Node', undefined, node.metadata.name!, {
      metadata: { resourceVersion: node.metadata.resourceVersion },
      spec: { taints: next.length > 0 ? next : null },
    }, 'merge');
    return next;
  }

  private async deletePod(pod: Pod, force: boolean): Promise<void> {
    try {
      await this.ctx.client.delete('Pod', pod.metadata.namespace, pod.metadata.name!, {
        preconditions: { uid: pod.metadata.uid! },
        ...(force ? { gracePeriodSeconds: 0 } : {}),
      });
      log.info('node-lifecycle', force ? 'force-deleted pod of a lost node' : 'evicted pod (NoExecute taint)', { pod: objectKeyOf(pod), node: pod.spec.nodeName });
    } catch (err) {
      if (!(isNotFound(err) || isConflict(err))) throw err;
    }
  }
}

export function startNodeLifecycleController(ctx: ControllerContext): void {
  new NodeLifecycleController(
    ctx,
    ctx.informers.forKind<Node>('Node'),
    ctx.informers.forKind<Lease>('Lease'),
    ctx.informers.forKind<Pod>('Pod'),
  ).start();
}
