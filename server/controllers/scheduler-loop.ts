/**
 * The scheduler as a controller: pending pods (no spec.nodeName, our schedulerName, not terminating)
 * are placed by the pure functions in server/scheduler over a snapshot built from the informer caches
 * and kept current incrementally (assume on bind, removePod on delete/finish; rebuilt only when nodes
 * change). Several binds run at once while placement itself stays sequential, so a batch of pods never
 * double-books a node.
 *
 * Pending pods are taken highest priority first. A pod that fits nowhere may preempt: when evicting
 * lower-priority pods on some node would let it in (server/scheduler/preemption.ts), those victims
 * (sparing pods a PodDisruptionBudget protects where it can) get the DisruptionTarget condition, a
 * Preempted event and are deleted, and the pod is nominated to the node (status.nominatedNodeName);
 * while it waits, pods of no higher priority are scheduled as if it already ran there, so they cannot
 * take the room made for it.
 *
 * A pod that fits nowhere gets a FailedScheduling event and PodScheduled=False, and waits in the
 * unschedulable set until something that could help happens (a node added or changed, a pod deleted
 * or finished) — with per-pod back-off, never a busy loop — plus a slow periodic retry as a safety net.
 *
 * Why this file is long: the loop's queue, its assumed-pod cache and preemption's nominations share
 * one snapshot of the cluster; the pure filtering, scoring and preemption choices are in server/scheduler/.
 */
import { deepEqual } from '../../api/object-util.js';
import { requestsDevices } from '../../api/device-resources.js';
import { log } from '../../api/log.js';
import { rfc3339 } from '../../api/meta.js';
import { isConflict, isNotFound } from '../../api/status.js';
import type { Node, Pod, PodDisruptionBudget } from '../../api/types.js';
import { labelSelectorFromObject, matchesLabels, selectorMatchesNothing } from '../../api/selectors.js';
import {
  assume,
  buildSnapshot,
  claimsToAnnotate,
  compilePod,
  findPreemption,
  fitErrorMessage,
  REASON_AFFINITY_CONFLICT,
  planPodVolumes,
  schedulePrepared,
  isTerminated,
  podKey,
  removePod,
  type BoundPod,
  type ClusterSnapshot,
  type DisruptionBudget,
  type PodSchedulingInfo,
  type ScheduleResult,
  type VolumeListers,
} from '../scheduler/index.js';
import { SELECTED_NODE_ANNOTATION, type PersistentVolume, type PersistentVolumeClaim, type StorageClass } from '../../api/storage-types.js';
import type { ControllerContext } from './context.js';
import { createEventRecorder, type EventRecorder } from '../../api/machinery/events.js';
import type { Informer } from '../../api/machinery/informer.js';
import { ItemExponentialRateLimiter } from '../../api/machinery/rate-limiter.js';
import { WorkQueue } from '../../api/machinery/work-queue.js';

export const SCHEDULER_NAME = 'default-scheduler';
const COMPONENT = 'scheduler';

export interface SchedulerLoopOptions {
  /** Scheduling attempts, so binds, in flight at once (default 64). */
  parallelism?: number;
  /** Unschedulable pods are all retried this often even if nothing seems to have changed. */
  periodicRetryMs?: number;
  /** Per-pod retry back-off after a failed attempt: initial and maximum. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/** Whether this scheduler is responsible for the pod now. */
export function needsScheduling(pod: Pod): boolean {
  const name = pod.spec.schedulerName;
  return !pod.spec.nodeName && !pod.metadata.deletionTimestamp && !isTerminated(pod) && (!name || name === SCHEDULER_NAME);
}

/** The parts of a Node that can change a scheduling decision (not heartbeats). */
function nodeSchedulingView(node: Node): unknown {
  return {
    labels: node.metadata.labels,
    taints: node.spec?.taints,
    unschedulable: node.spec?.unschedulable,
    allocatable: node.status?.allocatable,
    ready: node.status?.conditions?.find((c) => c.type === 'Ready')?.status,
  };
}

export class SchedulerLoop {
  private readonly queue: WorkQueue;
  private snapshot: ClusterSnapshot | undefined;
  /** Pods placed in the snapshot whose binding is not yet seen in the informer: key → node. */
  private readonly assumed = new Map<string, { pod: Pod; node: string }>();
  /** Pending pods that fit nowhere at their last attempt: key → attempts so far and when. */
  private readonly unschedulable = new Map<string, { attempts: number; lastMs: number }>();
  private readonly attempts = new Map<string, number>();
  /** Pending pods in the order they were first seen (creation order: timestamps have whole seconds). */
  private readonly seenOrder = new Map<string, number>();
  private seenCounter = 0;
  /** Retry requests so far, and the count when each pod's attempt began (upstream's moveRequestCycle). */
  private moveRequests = 0;
  private readonly attemptStartedAt = new Map<string, number>();
  /** Pods that preempted others and wait for the room: key → the node and the victims still leaving. */
  private readonly nominated = new Map<string, { pod: Pod; node: string; victims: Set<string> }>();
  private readonly events: EventRecorder;
  private readonly parallelism: number;
  private readonly periodicRetryMs: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  /** Counters for tests and benchmarks. */
  readonly stats = { scheduled: 0, unschedulable: 0, bindErrors: 0, snapshotBuilds: 0, preemptions: 0 };

  constructor(
    private readonly ctx: ControllerContext,
    private readonly pods: Informer<Pod>,
    private readonly nodes: Informer<Node>,
    o: SchedulerLoopOptions = {},
    /** Claims, volumes and classes for VolumeBinding; without them pods with claims are not checked. */
    private readonly storage?: { claims: Informer<PersistentVolumeClaim>; volumes: Informer<PersistentVolume>; classes: Informer<StorageClass> },
    /** PodDisruptionBudgets, which preemption tries not to break; without them it ignores budgets. */
    private readonly budgets?: Informer<PodDisruptionBudget>,
  ) {
    // Upstream binds asynchronously, without a bound, after each scheduling cycle. Here an attempt
    // holds its worker until its bind is answered, so this bounds binds in flight; the store's write
    // batcher commits concurrent binds in shared transactions (each answered after its commit). With
    // 16, a 1,000-pod Deployment left the server idle a quarter of the time, waiting on bind round trips.
    this.parallelism = o.parallelism ?? 64;
    this.periodicRetryMs = o.periodicRetryMs ?? 30_000;
    this.initialBackoffMs = o.initialBackoffMs ?? 1000;
    this.maxBackoffMs = o.maxBackoffMs ?? 10_000;
    this.queue = new WorkQueue(
      new ItemExponentialRateLimiter({ initialMs: this.initialBackoffMs, maxMs: this.maxBackoffMs }),
      (key) => this.pods.get(key)?.spec.priority ?? 0,
      COMPONENT,
    );
    this.events = createEventRecorder(ctx.client, SCHEDULER_NAME);
    this.wireHandlers();
  }

  private wireHandlers(): void {
    this.pods.addHandlers({
      onAdd: (pod) => this.podSeen(undefined, pod),
      onUpdate: (old, pod) => this.podSeen(old, pod),
      onDelete: (pod) => this.podGone(pod),
    });
    this.nodes.addHandlers({
      onAdd: () => this.nodesChanged(),
      onUpdate: (old, node) => {
        if (!deepEqual(nodeSchedulingView(old), nodeSchedulingView(node))) this.nodesChanged();
      },
      onDelete: () => {
        this.snapshot = undefined;
      },
    });
    // A claim created, bound or provisioned, or a volume made available, may let a waiting pod in.
    const retry = (): void => this.retryUnschedulable(false);
    this.storage?.claims.addHandlers({ onAdd: retry, onUpdate: retry });
    this.storage?.volumes.addHandlers({ onAdd: retry, onUpdate: retry });
  }

  private volumeListers(): VolumeListers | undefined {
    const s = this.storage;
    if (!s) return undefined;
    return {
      claim: (namespace, name) => s.claims.get(`${namespace}/${name}`),
      volume: (name) => s.volumes.get(name),
      volumes: () => s.volumes.list(),
      storageClass: (name) => s.classes.get(name),
    };
  }

  /** Starts the workers once both caches are filled; returns immediately. */
  start(): void {
    const signal = this.ctx.signal;
    signal.addEventListener('abort', () => this.queue.shutdown(), { once: true });
    void (async () => {
      await Promise.all([
        this.pods.waitForSync(), this.nodes.waitForSync(),
        this.storage?.claims.waitForSync(), this.storage?.volumes.waitForSync(), this.storage?.classes.waitForSync(),
        this.budgets?.waitForSync(),
      ]);
      for (let i = 0; i < this.parallelism; i++) void this.worker(signal);
      const timer = setInterval(() => this.retryUnschedulable(true), this.periodicRetryMs);
      timer.unref();
      signal.addEventListener('abort', () => clearInterval(timer), { once: true });
    })();
  }

  // ------------------------------------------------------------------ cache events

  private podSeen(old: Pod | undefined, pod: Pod): void {
    const key = podKey(pod.metadata);
    const nodeName = pod.spec.nodeName;
    if (nodeName) {
      this.seenOrder.delete(key);
      this.attemptStartedAt.delete(key);
      this.assumed.delete(key);
      this.unschedulable.delete(key);
      this.nominated.delete(key);
      if (!this.snapshot) return; // the next build reads the cache
      if (isTerminated(pod)) {
        if (this.snapshot.pods.has(key)) {
          removePod(this.snapshot, pod);
          this.retryUnschedulable(false);
        }
        return;
      }
      const placed = this.snapshot.pods.get(key);
      const onNode = placed === undefined ? undefined : this.snapshot.nodes[placed.nodeIndex]?.name;
      const changed = onNode !== nodeName || !old || !deepEqual(old.metadata.labels, pod.metadata.labels);
      if (changed && this.snapshot.nodesByName.has(nodeName)) assume(this.snapshot, pod, nodeName);
      return;
    }
    if (!needsScheduling(pod)) {
      this.forgetPending(key, pod);
      return;
    }
    if (!this.seenOrder.has(key)) this.seenOrder.set(key, this.seenCounter++);
    if (this.unschedulable.has(key)) {
      // Our own status write comes back as an update: only a change to what the pod asks for matters.
      if (old && deepEqual(old.spec, pod.spec) && deepEqual(old.metadata.labels, pod.metadata.labels)) return;
      this.unschedulable.delete(key);
    }
    this.queue.add(key);
  }

  private podGone(pod: Pod): void {
    const key = podKey(pod.metadata);
    this.forgetPending(key, pod);
    if (this.snapshot?.pods.has(key)) {
      removePod(this.snapshot, pod);
      this.retryUnschedulable(false);
    }
  }

  private forgetPending(key: string, pod: Pod): void {
    this.seenOrder.delete(key);
    this.attemptStartedAt.delete(key);
    this.nominated.delete(key);
    for (const n of this.nominated.values()) n.victims.delete(key);
    this.unschedulable.delete(key);
    this.attempts.delete(key);
    if (this.assumed.delete(key) && this.snapshot) removePod(this.snapshot, pod);
  }

  private nodesChanged(): void {
    this.snapshot = undefined;
    this.retryUnschedulable(false);
  }

  /**
   * Moves unschedulable pods back to the queue, each after what is left of its back-off (so a stream
   * of cluster changes cannot turn into a busy loop). `all` ignores back-off (the periodic flush).
   */
  private retryUnschedulable(all: boolean): void {
    this.moveRequests++;
    const now = Date.now();
    // Oldest first: among equal priorities the queue keeps arrival order, so pods waiting for the same
    // device (HIL jobs) get it in creation order, and without back-off — they wait for a lease, not
    // for a fault to clear, and the youngest must not slip in while an older one backs off.
    const created = (key: string): string => this.pods.get(key)?.metadata.creationTimestamp ?? '';
    const seen = (key: string): number => this.seenOrder.get(key) ?? Number.MAX_SAFE_INTEGER;
    const entries = [...this.unschedulable].sort(([a], [b]) => (created(a) < created(b) ? -1 : created(a) > created(b) ? 1 : seen(a) - seen(b)));
    for (const [key, u] of entries) {
      this.unschedulable.delete(key);
      const backoff = Math.min(this.initialBackoffMs * 2 ** Math.max(0, u.attempts - 1), this.maxBackoffMs);
      const pod = this.pods.get(key);
      const wait = all || (pod !== undefined && requestsDevices(pod)) ? 0 : u.lastMs + backoff - now;
      if (wait > 0) this.queue.addAfter(key, wait);
      else this.queue.add(key);
    }
  }

  // ------------------------------------------------------------------ scheduling

  private currentSnapshot(): ClusterSnapshot {
    if (this.snapshot) return this.snapshot;
    const snapshot = buildSnapshot(this.nodes.list(), this.pods.list());
    // Bindings in flight are not in the cache yet: keep their places taken.
    for (const [key, a] of this.assumed) {
      if (snapshot.nodesByName.has(a.node)) assume(snapshot, a.pod, a.node);
      else this.assumed.delete(key);
    }
    this.stats.snapshotBuilds++;
    this.snapshot = snapshot;
    return snapshot;
  }

  private async worker(signal: AbortSignal): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined || signal.aborted) return;
      const started = performance.now();
      try {
        const outcome = await this.scheduleOne(key);
        if (outcome) this.ctx.metrics?.schedulingAttempt(outcome, (performance.now() - started) / 1000);
      } catch (err) {
        if (signal.aborted) return;
        this.ctx.metrics?.schedulingAttempt('error', (performance.now() - started) / 1000);
        log.warn(COMPONENT, 'scheduling attempt failed, will retry', { pod: key, error: (err as Error).message });
        this.queue.addRateLimited(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  /** One attempt: how it ended, or undefined when there was nothing to do (the pod went or was bound). */
  private async scheduleOne(key: string): Promise<'scheduled' | 'unschedulable' | undefined> {
    const pod = this.pods.get(key);
    if (!pod || !needsScheduling(pod) || this.assumed.has(key)) return undefined;
    this.attemptStartedAt.set(key, this.moveRequests);
    const snapshot = this.currentSnapshot();
    const listers = this.volumeListers();
    const plan = listers ? planPodVolumes(pod, listers) : { kind: 'none' as const };
    if (plan.kind === 'unresolvable') {
      const message = fitErrorMessage({ totalNodes: snapshot.nodes.length, reasons: [], preFilterMessage: plan.message, resolvableNodes: 0 });
      await this.markUnschedulable(key, pod, message);
      return 'unschedulable';
    }
    const info = compilePod(pod);
    if (plan.kind === 'check') info.volumes = plan.check;
    const result = this.withNominatedPods(snapshot, key, pod, () => schedulePrepared(snapshot, info));
    if (result.nodeName === undefined) {
      await this.markUnschedulable(key, pod, await this.preempt(snapshot, key, pod, info, result));
      return 'unschedulable';
    }
    this.nominated.delete(key);
    const nodeName = result.nodeName;
    assume(snapshot, pod, nodeName);
    this.assumed.set(key, { pod, node: nodeName });
    const ns = pod.metadata.namespace ?? 'default';
    const name = pod.metadata.name ?? '';
    // Delayed claims learn their node first: the binder binds or provisions there (upstream PreBind).
    // A failure (the claim changed meanwhile) un-assumes the pod and retries it with back-off.
    if (plan.kind === 'check') {
      try {
        for (const claim of claimsToAnnotate(plan.check, nodeName)) {
          await this.ctx.client.patch('PersistentVolumeClaim', ns, claim.metadata.name!, {
            metadata: { resourceVersion: claim.metadata.resourceVersion, annotations: { [SELECTED_NODE_ANNOTATION]: nodeName } },
          });
        }
      } catch (err) {
        if (this.assumed.delete(key) && this.snapshot) removePod(this.snapshot, pod);
        throw err;
      }
    }
    try {
      await this.ctx.client.bind(ns, name, nodeName);
    } catch (err) {
      this.stats.bindErrors++;
      if (this.assumed.delete(key) && this.snapshot) removePod(this.snapshot, pod);
      // 404: the pod is gone; 409: someone else bound it or it is being deleted. Either way, done.
      if (isNotFound(err) || isConflict(err)) return undefined;
      throw err;
    }
    this.attempts.delete(key);
    this.stats.scheduled++;
    this.events.record(pod, 'Normal', 'Scheduled', `Successfully assigned ${ns}/${name} to ${nodeName}`);
    return 'scheduled';
  }

  /**
   * Runs `fn` with the pods nominated elsewhere that are at least as important as `pod` counted on
   * their nominated nodes, as upstream's filters do, so the room preemption made is kept for them.
   */
  private withNominatedPods<T>(snapshot: ClusterSnapshot, key: string, pod: Pod, fn: () => T): T {
    const priority = pod.spec.priority ?? 0;
    const placed: Pod[] = [];
    for (const [k, n] of this.nominated) {
      if (k === key || (n.pod.spec.priority ?? 0) < priority || !snapshot.nodesByName.has(n.node) || snapshot.pods.has(k)) continue;
      assume(snapshot, n.pod, n.node);
      placed.push(n.pod);
    }
    try {
      return fn();
    } finally {
      for (const p of placed) removePod(snapshot, p);
    }
  }

  /**
   * Tries to make room for a pod that fits nowhere by preempting lower-priority pods; returns the
   * FailedScheduling message (upstream's, with what preemption found or nothing once it nominated).
   */
  private async preempt(snapshot: ClusterSnapshot, key: string, pod: Pod, info: PodSchedulingInfo, failed: Exclude<ScheduleResult, { nodeName: string }>): Promise<string> {
    const base = { totalNodes: snapshot.nodes.length, reasons: Object.entries(failed.reasons), resolvableNodes: 0 };
    // No nodes, or a pre-filter verdict (affinity terms that select no node): nothing to preempt for.
    if (snapshot.nodes.length === 0 || failed.reasons[REASON_AFFINITY_CONFLICT] !== undefined) return failed.message;
    if (pod.spec.preemptionPolicy === 'Never') return fitErrorMessage({ ...base, preemption: { message: 'not eligible due to preemptionPolicy=Never.' } });
    const waiting = this.nominated.get(key);
    if (waiting && [...waiting.victims].some((v) => snapshot.pods.has(v))) {
      return fitErrorMessage({ ...base, preemption: { message: 'not eligible due to a terminating pod on the nominated node.' } });
    }
    const outcome = this.withNominatedPods(snapshot, key, pod, () => findPreemption(snapshot, info, pod.spec.priority ?? 0, this.disruptionBudgets()));
    if (!outcome.candidate) return fitErrorMessage({ ...base, preemption: { reasons: outcome.reasons } });
    const { nodeName, victims } = outcome.candidate;
    this.nominated.set(key, { pod, node: nodeName, victims: new Set(victims.map((v) => v.key)) });
    this.stats.preemptions++;
    await Promise.all(victims.map((v) => this.evictVictim(v, pod, nodeName)));
    await this.ctx.client.patchStatus('Pod', pod.metadata.namespace, pod.metadata.name ?? '', {
      metadata: { uid: pod.metadata.uid }, status: { nominatedNodeName: nodeName },
    }, 'merge').catch((err: unknown) => { if (!(isNotFound(err) || isConflict(err))) throw err; });
    return fitErrorMessage({ ...base, preemption: 'nominated' });
  }

  /** The PodDisruptionBudgets as preemption weighs them: whom each covers and what it still allows. */
  private disruptionBudgets(): DisruptionBudget[] {
    const out: DisruptionBudget[] = [];
    for (const pdb of this.budgets?.list() ?? []) {
      const selector = pdb.spec?.selector;
      if (!selector || selectorMatchesNothing(selector)) continue;
      let requirements;
      try {
        requirements = labelSelectorFromObject(selector);
      } catch {
        continue;
      }
      const namespace = pdb.metadata.namespace ?? 'default';
      out.push({
        covers: (p) => p.namespace === namespace && matchesLabels(requirements, p.labels),
        disruptionsAllowed: pdb.status?.disruptionsAllowed ?? 0,
      });
    }
    return out;
  }

  /** Marks a victim with the DisruptionTarget condition, records the Preempted event and deletes it. */
  private async evictVictim(victim: BoundPod, preemptor: Pod, nodeName: string): Promise<void> {
    const pod = this.pods.get(victim.key);
    if (!pod || pod.metadata.uid !== victim.uid) return;
    const conditions = (pod.status?.conditions ?? []).filter((c) => c.type !== 'DisruptionTarget');
    conditions.push({
      type: 'DisruptionTarget', status: 'True', reason: 'PreemptionByScheduler',
      message: `${preemptor.spec.schedulerName ?? SCHEDULER_NAME}: preempting to accommodate a higher priority pod`, lastTransitionTime: rfc3339(),
    });
    try {
      await this.ctx.client.patchStatus('Pod', pod.metadata.namespace, pod.metadata.name ?? '', { metadata: { uid: pod.metadata.uid }, status: { conditions } }, 'merge');
      await this.ctx.client.delete('Pod', pod.metadata.namespace, pod.metadata.name ?? '', { preconditions: { uid: victim.uid } });
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return;
      throw err;
    }
    this.events.record(pod, 'Normal', 'Preempted', `Preempted by pod ${preemptor.metadata.uid} on node ${nodeName}`);
  }

  private async markUnschedulable(key: string, pod: Pod, message: string): Promise<void> {
    const attempts = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, attempts);
    this.unschedulable.set(key, { attempts, lastMs: Date.now() });
    // Something that may help (a pod ended, a node changed) happened while this attempt ran, so the
    // retry it triggered missed this pod: try again instead of parking it until the next event.
    const started = this.attemptStartedAt.get(key);
    this.attemptStartedAt.delete(key);
    if (started !== undefined && started !== this.moveRequests) {
      this.unschedulable.delete(key);
      const backoff = Math.min(this.initialBackoffMs * 2 ** Math.max(0, attempts - 1), this.maxBackoffMs);
      this.queue.addAfter(key, requestsDevices(pod) ? 0 : backoff);
    }
    this.stats.unschedulable++;
    this.events.record(pod, 'Warning', 'FailedScheduling', message);
    const previous = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (previous?.status === 'False' && previous.reason === 'Unschedulable' && previous.message === message) return;
    const conditions = (pod.status?.conditions ?? []).filter((c) => c.type !== 'PodScheduled');
    conditions.push({ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastProbeTime: null, lastTransitionTime: rfc3339() });
    try {
      await this.ctx.client.patchStatus('Pod', pod.metadata.namespace, pod.metadata.name ?? '', {
        metadata: { uid: pod.metadata.uid },
        status: { phase: pod.status?.phase ?? 'Pending', conditions },
      }, 'merge');
    } catch (err) {
      if (!(isNotFound(err) || isConflict(err))) throw err;
    }
  }
}

/** Manager entry point. */
export function startScheduler(ctx: ControllerContext): SchedulerLoop {
  const loop = new SchedulerLoop(ctx, ctx.informers.forKind<Pod>('Pod'), ctx.informers.forKind<Node>('Node'), {}, {
    claims: ctx.informers.forKind<PersistentVolumeClaim>('PersistentVolumeClaim'),
    volumes: ctx.informers.forKind<PersistentVolume>('PersistentVolume'),
    classes: ctx.informers.forKind<StorageClass>('StorageClass'),
  }, ctx.informers.forKind<PodDisruptionBudget>('PodDisruptionBudget'));
  loop.start();
  return loop;
}
