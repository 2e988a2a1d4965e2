/**
 * ReplicaSet and ReplicationController: keep exactly `replicas` active pods matching the selector.
 * One implementation serves both kinds (they differ only in selector shape and identity): claim pods
 * (adopt matching orphans, release owned pods that stopped matching), create missing pods in
 * slow-start batches, delete surplus pods cheapest first, and report status. Expectations keep a
 * controller from acting twice on the same change while its informer catches up.
 */
import { log } from '../../api/log.js';
import { rfc3339, type Condition } from '../../api/meta.js';
import { deepEqual } from '../../api/object-util.js';
import { labelRequirement, labelSelectorFromObject, matchesLabels, selectorMatchesNothing, type LabelRequirement } from '../../api/selectors.js';
import { isConflict, isNotFound } from '../../api/status.js';
import type { Pod, PodTemplateSpec, ReplicaSet, ReplicaSetStatus, ReplicationController } from '../../api/types.js';
import type { ControllerContext } from './context.js';
import { Controller } from '../../api/machinery/controller.js';
import { createEventRecorder, type EventRecorder } from '../../api/machinery/events.js';
import { objectKeyOf, type Informer } from '../../api/machinery/informer.js';
import {
  adopt,
  compareForDeletion,
  ControllerExpectations,
  controllerOf,
  createPodFromTemplate,
  isPodActive,
  isPodAvailable,
  isPodReady,
  msUntilAvailable,
  ownerRefOf,
  release,
  slowStartBatch,
} from './pod-control.js';

/** Pods created or deleted per reconcile at most (upstream's burstReplicas). */
const BURST_REPLICAS = 500;

type ReplicaOwner = ReplicaSet | ReplicationController;

/** What differs between the two kinds. */
interface ReplicaKind {
  kind: 'ReplicaSet' | 'ReplicationController';
  apiVersion: string;
  component: string;
  /** The selector as requirements; undefined selects nothing. */
  selector(obj: ReplicaOwner): LabelRequirement[] | undefined;
}

const REPLICASET: ReplicaKind = {
  kind: 'ReplicaSet',
  apiVersion: 'apps/v1',
  component: 'replicaset-controller',
  selector(obj) {
    const sel = (obj as ReplicaSet).spec.selector;
    if (selectorMatchesNothing(sel)) return undefined;
    try {
      return labelSelectorFromObject(sel);
    } catch {
      return undefined;
    }
  },
};

const REPLICATION_CONTROLLER: ReplicaKind = {
  kind: 'ReplicationController',
  apiVersion: 'v1',
  component: 'replication-controller',
  selector(obj) {
    const rc = obj as ReplicationController;
    // An RC without a selector selects its template's labels (API defaulting upstream).
    const sel = rc.spec.selector && Object.keys(rc.spec.selector).length > 0 ? rc.spec.selector : rc.spec.template?.metadata?.labels;
    if (!sel || Object.keys(sel).length === 0) return undefined;
    return Object.entries(sel).map(([k, v]) => labelRequirement(k, 'Equals', [v]));
  },
};

function template(obj: ReplicaOwner): PodTemplateSpec | undefined {
  return obj.spec.template;
}

class ReplicaController {
  private readonly controller: Controller;
  private readonly expectations = new ControllerExpectations();
  private readonly events: EventRecorder;
  /** The status this controller last wrote per key, to tell its own writes from someone else's. */
  private readonly written = new Map<string, ReplicaSetStatus>();

  constructor(
    private readonly ctx: ControllerContext,
    private readonly k: ReplicaKind,
    private readonly owners: Informer<ReplicaOwner>,
    private readonly pods: Informer<Pod>,
  ) {
    this.events = createEventRecorder(ctx.client, k.component);
    this.controller = new Controller({ name: k.component, workers: 4, reconcile: (key) => this.reconcile(key) });
    owners.addHandlers({
      onAdd: (o) => this.controller.enqueue(objectKeyOf(o)),
      // Our own status writes come back as updates: only spec or metadata changes, or a status someone
      // else wrote (it gets the real counts back), need a new look (or a rejected create would be
      // retried at once instead of with back-off).
      onUpdate: (old, o) => {
        const metadataChanged = old.metadata.generation !== o.metadata.generation
          || !deepEqual(old.metadata, { ...o.metadata, resourceVersion: old.metadata.resourceVersion, managedFields: old.metadata.managedFields });
        const foreignStatus = !deepEqual(old.status, o.status) && !sameCounts(o.status, this.written.get(objectKeyOf(o)));
        if (metadataChanged || foreignStatus) this.controller.enqueue(objectKeyOf(o));
      },
      onDelete: (o) => {
        this.expectations.forget(objectKeyOf(o));
        this.written.delete(objectKeyOf(o));
        this.controller.enqueue(objectKeyOf(o));
      },
    });
    pods.addHandlers({
      onAdd: (p) => this.podAdded(p),
      onUpdate: (old, p) => this.podUpdated(old, p),
      onDelete: (p) => this.podDeleted(p),
    });
  }

  start(): void {
    void (async () => {
      await Promise.all([this.owners.waitForSync(), this.pods.waitForSync()]);
      await this.controller.run(this.ctx.signal);
    })();
  }

  // ------------------------------------------------------------------ pod events → owner keys

  /** The owner of this kind a pod's controllerRef names, if it exists with that uid. */
  private ownerKeyOf(pod: Pod): string | undefined {
    const ref = controllerOf(pod);
    if (!ref || ref.kind !== this.k.kind) return undefined;
    const key = `${pod.metadata.namespace}/${ref.name}`;
    const owner = this.owners.get(key);
    return owner && owner.metadata.uid === ref.uid ? key : undefined;
  }

  /** Owners that select an orphan pod (they may adopt it). */
  private selectingOwners(pod: Pod): string[] {
    const out: string[] = [];
    for (const o of this.owners.listNamespace(pod.metadata.namespace ?? 'default')) {
      const sel = this.k.selector(o);
      if (sel && matchesLabels(sel, pod.metadata.labels)) out.push(objectKeyOf(o));
    }
    return out;
  }

  private enqueueFor(pod: Pod): void {
    const ref = controllerOf(pod);
    if (ref) {
      const key = this.ownerKeyOf(pod);
      if (key) this.controller.enqueue(key);
      return;
    }
    for (const key of this.selectingOwners(pod)) this.controller.enqueue(key);
  }

  private podAdded(pod: Pod): void {
    const key = this.ownerKeyOf(pod);
    if (pod.metadata.deletionTimestamp) {
      if (key) this.expectations.deletionObserved(key, pod.metadata.uid);
    } else if (key) {
      this.expectations.creationObserved(key);
    }
    this.enqueueFor(pod);
  }

  private podUpdated(old: Pod, pod: Pod): void {
    if (pod.metadata.deletionTimestamp && !old.metadata.deletionTimestamp) {
      const key = this.ownerKeyOf(pod);
      if (key) this.expectations.deletionObserved(key, pod.metadata.uid);
    }
    const oldRef = controllerOf(old);
    const newRef = controllerOf(pod);
    if (oldRef?.uid !== newRef?.uid || !deepEqual(old.metadata.labels, pod.metadata.labels)) this.enqueueFor(old);
    this.enqueueFor(pod);
  }

  private podDeleted(pod: Pod): void {
    const key = this.ownerKeyOf(pod);
    if (key) this.expectations.deletionObserved(key, pod.metadata.uid);
    this.enqueueFor(pod);
  }

  // ------------------------------------------------------------------ reconcile

  private async reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
    const owner = this.owners.get(key);
    if (!owner) {
      this.expectations.forget(key);
      return;
    }
    const ns = owner.metadata.namespace ?? 'default';
    const selector = this.k.selector(owner);
    const pods = await this.claimPods(owner, selector);
    const satisfied = this.expectations.satisfied(key);
    let failure: ManageFailure | undefined;
    if (satisfied && !owner.metadata.deletionTimestamp) failure = await this.manageReplicas(key, owner, pods);
    const requeue = await this.updateStatus(owner, pods, ns, failure);
    // Retry with back-off; the ReplicaFailure condition already says what went wrong.
    if (failure) throw failure.error;
    return requeue;
  }

  /** Active pods this owner controls after adopting matching orphans and releasing non-matching ones. */
  private async claimPods(owner: ReplicaOwner, selector: LabelRequirement[] | undefined): Promise<Pod[]> {
    const uid = owner.metadata.uid;
    const ownerRef = ownerRefOf(owner, this.k.apiVersion, this.k.kind);
    const deleting = !!owner.metadata.deletionTimestamp;
    const claimed: Pod[] = [];
    for (const pod of this.pods.listNamespace(owner.metadata.namespace ?? 'default')) {
      if (!isPodActive(pod)) continue;
      const matches = selector !== undefined && matchesLabels(selector, pod.metadata.labels);
      const ref = controllerOf(pod);
      if (ref) {
        if (ref.uid !== uid) continue;
        if (matches) {
          claimed.push(pod);
        } else if (!deleting) {
          await this.tolerateGone(release(this.ctx.client, 'Pod', pod, uid ?? ''));
        }
        continue;
      }
      if (!matches || deleting || pod.metadata.deletionTimestamp) continue;
      try {
        const adopted = await adopt(this.ctx.client, 'Pod', pod, ownerRef);
        claimed.push(adopted as Pod);
      } catch (err) {
        // 404: gone; 409: changed under us — the update event will bring us back.
        if (!(isNotFound(err) || isConflict(err))) throw err;
      }
    }
    return claimed;
  }

  private async tolerateGone(p: Promise<unknown>): Promise<void> {
    try {
      await p;
    } catch (err) {
      if (!(isNotFound(err) || isConflict(err))) throw err;
    }
  }

  /** Creates or deletes pods toward `replicas`; a failure is returned (for the status) rather than thrown. */
  private async manageReplicas(key: string, owner: ReplicaOwner, pods: Pod[]): Promise<ManageFailure | undefined> {
    const ns = owner.metadata.namespace ?? 'default';
    const want = owner.spec.replicas ?? 1;
    const diff = pods.length - want;
    const tpl = template(owner);
    if (diff < 0 && tpl) {
      const count = Math.min(-diff, BURST_REPLICAS);
      this.expectations.expectCreations(key, count);
      const ownerRef = ownerRefOf(owner, this.k.apiVersion, this.k.kind);
      const result = await slowStartBatch(count, 1, async () => {
        try {
          const pod = await createPodFromTemplate(this.ctx.client, tpl, ns, ownerRef);
          this.events.record(owner, 'Normal', 'SuccessfulCreate', `Created pod: ${pod.metadata.name}`);
        } catch (err) {
          this.events.record(owner, 'Warning', 'FailedCreate', `Error creating: ${(err as Error).message}`);
          throw err;
        }
      });
      const notCreated = count - result.succeeded;
      if (notCreated > 0) this.expectations.creationsFailed(key, notCreated);
      if (result.error) return { reason: 'FailedCreate', error: result.error };
    } else if (diff > 0) {
      const victims = [...pods].sort(compareForDeletion).slice(0, Math.min(diff, BURST_REPLICAS));
      this.expectations.expectDeletions(key, victims.map((p) => p.metadata.uid ?? ''));
      const results = await Promise.allSettled(victims.map(async (pod) => {
        try {
          await this.ctx.client.delete('Pod', ns, pod.metadata.name ?? '', { preconditions: { uid: pod.metadata.uid ?? '' } });
          this.events.record(owner, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`);
        } catch (err) {
          // The pod will not disappear because of us: stop expecting it.
          this.expectations.deletionObserved(key, pod.metadata.uid);
          if (isNotFound(err)) return;
          this.events.record(owner, 'Warning', 'FailedDelete', `Error deleting: ${(err as Error).message}`);
          throw err;
        }
      }));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) return { reason: 'FailedDelete', error: failed.reason };
    }
    return undefined;
  }

  /** Writes status when it changed; asks for a later look when a ready pod is about to become available. */
  private async updateStatus(owner: ReplicaOwner, pods: Pod[], ns: string, failure: ManageFailure | undefined): Promise<{ requeueAfterMs?: number } | void> {
    const minReady = owner.spec.minReadySeconds ?? 0;
    const templateLabels = template(owner)?.metadata?.labels ?? {};
    const now = Date.now();
    let fullyLabeled = 0;
    let ready = 0;
    let available = 0;
    let nextAvailableMs: number | undefined;
    for (const pod of pods) {
      const labels = pod.metadata.labels ?? {};
      if (Object.entries(templateLabels).every(([k, v]) => labels[k] === v)) fullyLabeled++;
      if (isPodReady(pod)) ready++;
      if (isPodAvailable(pod, minReady, now)) available++;
      else {
        const wait = msUntilAvailable(pod, minReady, now);
        if (wait !== undefined) nextAvailableMs = Math.min(nextAvailableMs ?? wait, wait);
      }
    }
    const prev = owner.status;
    const conditions = replicaFailureConditions(prev?.conditions ?? [], failure);
    const status: ReplicaSetStatus = {
      replicas: pods.length,
      fullyLabeledReplicas: fullyLabeled,
      readyReplicas: ready,
      availableReplicas: available,
      observedGeneration: owner.metadata.generation ?? 1,
    };
    const same = sameCounts(prev, status) && deepEqual(prev?.conditions ?? [], conditions);
    if (!same) {
      this.written.set(objectKeyOf(owner), status);
      try {
        await this.ctx.client.patchStatus(this.k.kind, ns, owner.metadata.name ?? '', {
          status: {
            replicas: status.replicas,
            fullyLabeledReplicas: status.fullyLabeledReplicas,
            readyReplicas: status.readyReplicas,
            availableReplicas: status.availableReplicas,
            observedGeneration: status.observedGeneration,
            conditions: conditions.length > 0 ? conditions : null,
          },
        }, 'merge');
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    if (nextAvailableMs !== undefined) return { requeueAfterMs: nextAvailableMs + 50 };
  }
}

/** Whether two statuses report the same counts and observed generation (conditions aside). */
function sameCounts(a: ReplicaSetStatus | undefined, b: ReplicaSetStatus | undefined): boolean {
  return a !== undefined && b !== undefined &&
    a.replicas === b.replicas &&
    (a.fullyLabeledReplicas ?? 0) === (b.fullyLabeledReplicas ?? 0) &&
    (a.readyReplicas ?? 0) === (b.readyReplicas ?? 0) &&
    (a.availableReplicas ?? 0) === (b.availableReplicas ?? 0) &&
    a.observedGeneration === b.observedGeneration;
}

interface ManageFailure { reason: 'FailedCreate' | 'FailedDelete'; error: unknown }

/** The ReplicaFailure condition: set while creating or deleting pods fails, removed once it works. */
function replicaFailureConditions(previous: readonly Condition[], failure: ManageFailure | undefined): Condition[] {
  const others = previous.filter((c) => c.type !== 'ReplicaFailure');
  if (!failure) return others;
  const message = (failure.error as Error)?.message ?? String(failure.error);
  const old = previous.find((c) => c.type === 'ReplicaFailure');
  if (old && old.status === 'True' && old.reason === failure.reason && old.message === message) return [...previous];
  return [...others, { type: 'ReplicaFailure', status: 'True', reason: failure.reason, message, lastTransitionTime: old?.status === 'True' && old.lastTransitionTime ? old.lastTransitionTime : rfc3339() }];
}

function startKind(ctx: ControllerContext, k: ReplicaKind): void {
  const c = new ReplicaController(ctx, k, ctx.informers.forKind<ReplicaOwner>(k.kind), ctx.informers.forKind<Pod>('Pod'));
  c.start();
  log.debug(k.component, 'started');
}

export function startReplicaSetController(ctx: ControllerContext): void {
  startKind(ctx, REPLICASET);
}

export function startReplicationController(ctx: ControllerContext): void {
  startKind(ctx, REPLICATION_CONTROLLER);
}
