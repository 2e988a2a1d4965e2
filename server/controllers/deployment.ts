/**
 * Deployment controller: owns ReplicaSets named `<deployment>-<pod-template-hash>` and moves replicas
 * from old to new ones — RollingUpdate within maxSurge/maxUnavailable, or Recreate (old pods gone
 * before new ones start) — following upstream's algorithm step for step, so `kubectl rollout
 * status|history|undo|restart|pause|resume` read and drive it as they would a real cluster.
 *
 * Rollback needs no special case: `rollout undo` writes an old template back, the ReplicaSet with that
 * template is found by template equality and gets the next revision (its old one goes to
 * revision-history). Scaling mid-rollout is proportional over the active ReplicaSets.
 *
 * Why this file is long: the deployment controller's rollout (rolling update, recreate, proportional
 * scaling, rollback, pause, history) reads and writes one shared view of a Deployment's ReplicaSets,
 * as upstream's one package.
 */
import { log } from '../../api/log.js';
import { rfc3339 } from '../../api/meta.js';
import { clone, deepEqual } from '../../api/object-util.js';
import { labelSelectorFromObject, matchesLabels, selectorMatchesNothing, type LabelRequirement } from '../../api/selectors.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../api/status.js';
import type { Deployment, DeploymentStatus, Pod, ReplicaSet } from '../../api/types.js';
import type { ControllerContext } from './context.js';
import { Controller, type ReconcileResult } from '../../api/machinery/controller.js';
import {
  byCreationOldestFirst,
  bySizeThenAge,
  compareRevisions,
  copiedAnnotations,
  DEFAULT_REVISION_HISTORY_LIMIT,
  deploymentComplete,
  deploymentProgressing,
  DESIRED_REPLICAS,
  getCondition,
  isRollingUpdate,
  MAX_REPLICAS,
  maxReplicas,
  maxRevision,
  msUntilDeadline,
  newCondition,
  POD_TEMPLATE_HASH,
  podTemplateHash,
  progressDeadlineSeconds,
  proportion,
  removeCondition,
  replicasOf,
  resolveFenceposts,
  REVISION,
  REVISION_HISTORY,
  revisionOf,
  setCondition,
  specReplicas,
  statusSum,
  templatesEqualIgnoringHash,
} from './deployment-util.js';
import { createEventRecorder, type EventRecorder } from '../../api/machinery/events.js';
import { objectKeyOf, type Informer } from '../../api/machinery/informer.js';
import { adopt, controllerOf, controllerRef, isControlledBy, ownerRefOf, release } from './pod-control.js';

const COMPONENT = 'deployment-controller';

/** One reconcile's view: the deployment, its ReplicaSets (updated in place as we write), a status draft. */
interface Sync {
  d: Deployment;
  key: string;
  ns: string;
  status: DeploymentStatus;
  newRS: ReplicaSet | undefined;
  oldRSs: ReplicaSet[];
}

class DeploymentController {
  private readonly controller: Controller;
  private readonly events: EventRecorder;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly deployments: Informer<Deployment>,
    private readonly replicaSets: Informer<ReplicaSet>,
    private readonly pods: Informer<Pod>,
  ) {
    this.events = createEventRecorder(ctx.client, COMPONENT);
    this.controller = new Controller({ name: COMPONENT, workers: 2, reconcile: (key) => this.reconcile(key) });
    deployments.addHandlers({
      onAdd: (d) => this.controller.enqueue(objectKeyOf(d)),
      onUpdate: (_o, d) => this.controller.enqueue(objectKeyOf(d)),
      onDelete: (d) => this.controller.enqueue(objectKeyOf(d)),
    });
    replicaSets.addHandlers({
      onAdd: (rs) => this.enqueueOwner(rs),
      onUpdate: (old, rs) => {
        if (controllerOf(old)?.uid !== controllerOf(rs)?.uid || !deepEqual(old.metadata.labels, rs.metadata.labels)) this.enqueueOwner(old);
        this.enqueueOwner(rs);
      },
      onDelete: (rs) => this.enqueueOwner(rs),
    });
    // Recreate waits for the old pods to be gone: their deletion is the signal to go on.
    pods.addHandlers({ onDelete: (p) => this.podDeleted(p) });
  }

  start(): void {
    void (async () => {
      await Promise.all([this.deployments.waitForSync(), this.replicaSets.waitForSync(), this.pods.waitForSync()]);
      await this.controller.run(this.ctx.signal);
    })();
  }

  private selectorOf(d: Deployment): LabelRequirement[] | undefined {
    if (selectorMatchesNothing(d.spec.selector)) return undefined;
    try {
      const reqs = labelSelectorFromObject(d.spec.selector);
      return reqs.length > 0 ? reqs : undefined;
    } catch {
      return undefined;
    }
  }

  private enqueueOwner(rs: ReplicaSet): void {
    const ref = controllerOf(rs);
    const ns = rs.metadata.namespace ?? 'default';
    if (ref) {
      if (ref.kind === 'Deployment') this.controller.enqueue(`${ns}/${ref.name}`);
      return;
    }
    for (const d of this.deployments.listNamespace(ns)) {
      const sel = this.selectorOf(d);
      if (sel && matchesLabels(sel, rs.metadata.labels)) this.controller.enqueue(objectKeyOf(d));
    }
  }

  private podDeleted(pod: Pod): void {
    const ref = controllerOf(pod);
    if (!ref || ref.kind !== 'ReplicaSet') return;
    const rs = this.replicaSets.get(`${pod.metadata.namespace}/${ref.name}`);
    if (!rs) return;
    const dref = controllerOf(rs);
    if (!dref || dref.kind !== 'Deployment') return;
    const d = this.deployments.get(`${pod.metadata.namespace}/${dref.name}`);
    if (d && !isRollingUpdate(d)) this.controller.enqueue(objectKeyOf(d));
  }

  // ------------------------------------------------------------------ reconcile

  private async reconcile(key: string): Promise<ReconcileResult | void> {
    const cached = this.deployments.get(key);
    if (!cached) return;
    const d = clone(cached);
    const ns = d.metadata.namespace ?? 'default';
    const selector = this.selectorOf(d);
    if (!selector) {
      if (d.metadata.generation !== d.status?.observedGeneration) {
        this.events.record(d, 'Warning', 'SelectingAll', 'This deployment is selecting all pods. A non-empty selector is required.');
        await this.writeStatus(d, { ...(d.status ?? {}), observedGeneration: d.metadata.generation ?? 1 });
      }
      return;
    }
    const rsList = await this.claimReplicaSets(d, selector);
    if (d.metadata.deletionTimestamp) {
      const s = this.split(d, key, rsList);
      await this.syncStatusOnly(s);
      return;
    }
    const s = this.split(d, key, rsList);
    await this.checkPausedCondition(s);
    if (d.spec.paused) return this.sync(s, rsList);
    if (this.isScalingEvent(s)) return this.sync(s, rsList);
    return isRollingUpdate(d) ? this.rolloutRolling(s, rsList) : this.rolloutRecreate(s, rsList);
  }

  /** ReplicaSets this deployment controls, adopting matching orphans and releasing ones that stopped matching. */
  private async claimReplicaSets(d: Deployment, selector: LabelRequirement[]): Promise<ReplicaSet[]> {
    const uid = d.metadata.uid ?? '';
    const out: ReplicaSet[] = [];
    for (const rs of this.replicaSets.listNamespace(d.metadata.namespace ?? 'default')) {
      const matches = matchesLabels(selector, rs.metadata.labels);
      const ref = controllerOf(rs);
      try {
        if (ref) {
          if (ref.uid !== uid) continue;
          if (matches) out.push(clone(rs));
          else if (!d.metadata.deletionTimestamp) await release(this.ctx.client, 'ReplicaSet', rs, uid);
          continue;
        }
        if (!matches || d.metadata.deletionTimestamp || rs.metadata.deletionTimestamp) continue;
        out.push(clone(await adopt(this.ctx.client, 'ReplicaSet', rs, ownerRefOf(d, 'apps/v1', 'Deployment')) as ReplicaSet));
      } catch (err) {
        if (!(isNotFound(err) || isConflict(err))) throw err;
      }
    }
    return out;
  }

  /** New ReplicaSet (template equal, oldest if several) and the rest. */
  private split(d: Deployment, key: string, rsList: ReplicaSet[]): Sync {
    const sorted = [...rsList].sort(byCreationOldestFirst);
    const newRS = sorted.find((rs) => templatesEqualIgnoringHash(rs.spec.template, d.spec.template));
    return {
      d,
      key,
      ns: d.metadata.namespace ?? 'default',
      status: clone(d.status ?? {}),
      newRS,
      oldRSs: sorted.filter((rs) => rs !== newRS),
    };
  }

  private allRSs(s: Sync): ReplicaSet[] {
    return s.newRS ? [...s.oldRSs, s.newRS] : [...s.oldRSs];
  }

  // ------------------------------------------------------------------ new ReplicaSet and revisions

  /**
   * Makes sure the new ReplicaSet carries the next revision and current annotations (creating it when
   * `create` is set), and that the deployment's revision annotation matches.
   */
  private async ensureNewReplicaSet(s: Sync, create: boolean): Promise<void> {
    const d = s.d;
    const newRevision = maxRevision(s.oldRSs) + 1n;
    const now = rfc3339();
    if (s.newRS) {
      const rs = s.newRS;
      const annotations = { ...(rs.metadata.annotations ?? {}), ...copiedAnnotations(d) };
      const current = revisionOf(rs);
      if (current < newRevision) {
        if (current > 0n) {
          const history = annotations[REVISION_HISTORY];
          annotations[REVISION_HISTORY] = history ? `${history},${current}` : String(current);
        }
        annotations[REVISION] = String(newRevision);
      }
      // desired/max-replicas change only with the size (scaleReplicaSet): proportional scaling reads them.
      const minReadyChanged = (rs.spec.minReadySeconds ?? 0) !== (d.spec.minReadySeconds ?? 0);
      if (!deepEqual(annotations, rs.metadata.annotations ?? {}) || minReadyChanged) {
        const next = clone(rs);
        next.metadata.annotations = annotations;
        next.spec.minReadySeconds = d.spec.minReadySeconds ?? 0;
        s.newRS = await this.ctx.client.update<ReplicaSet>('ReplicaSet', next);
      }
      if (progressDeadlineSeconds(d) !== undefined && !getCondition(s.status, 'Progressing')) {
        setCondition(s.status, newCondition('Progressing', 'True', 'FoundNewReplicaSet', `Found new replica set "${rs.metadata.name}"`, now));
      }
    } else if (create) {
      await this.createNewReplicaSet(s, newRevision, now);
    }
    if (s.newRS) await this.syncDeploymentRevision(s, String(revisionOf(s.newRS)));
  }

  private async createNewReplicaSet(s: Sync, revision: bigint, now: string): Promise<void> {
    const d = s.d;
    const collisionCount = s.status.collisionCount ?? 0;
    const hash = podTemplateHash(d.spec.template, collisionCount);
    const template = clone(d.spec.template);
    template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH]: hash } };
    const selector = clone(d.spec.selector);
    selector.matchLabels = { ...(selector.matchLabels ?? {}), [POD_TEMPLATE_HASH]: hash };
    const replicas = isRollingUpdate(d) ? this.newRSReplicasForRollingUpdate(s) : 0;
    const rs: ReplicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${d.metadata.name}-${hash}`,
        namespace: s.ns,
        labels: { ...(template.metadata.labels ?? {}) },
        annotations: {
          ...copiedAnnotations(d),
          [REVISION]: String(revision),
          [DESIRED_REPLICAS]: String(replicasOf(d)),
          [MAX_REPLICAS]: String(maxReplicas(d)),
        },
        ownerReferences: [controllerRef(ownerRefOf(d, 'apps/v1', 'Deployment'))],
      },
      spec: { replicas, minReadySeconds: d.spec.minReadySeconds ?? 0, selector, template },
    };
    try {
      s.newRS = await this.ctx.client.create<ReplicaSet>('ReplicaSet', s.ns, rs);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      // Same name exists: ours with an equal template (a cache lagging behind) is the new RS; anything
      // else is a hash collision — bump collisionCount so the next attempt gets another name.
      const existing = await this.ctx.client.get<ReplicaSet>('ReplicaSet', s.ns, rs.metadata.name!);
      if (isControlledBy(existing, d.metadata.uid) && templatesEqualIgnoringHash(existing.spec.template, d.spec.template)) {
        s.newRS = existing;
        return;
      }
      s.status.collisionCount = collisionCount + 1;
      await this.writeStatus(d, s.status);
      throw new Error(`hash collision for replica set ${rs.metadata.name}: collisionCount is now ${collisionCount + 1}`);
    }
    this.events.record(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${s.newRS.metadata.name} from 0 to ${replicas}`);
    if (progressDeadlineSeconds(d) !== undefined) {
      setCondition(s.status, newCondition('Progressing', 'True', 'NewReplicaSetCreated', `Created new replica set "${s.newRS.metadata.name}"`, now));
    }
  }

  private async syncDeploymentRevision(s: Sync, revision: string): Promise<void> {
    if (s.d.metadata.annotations?.[REVISION] === revision) return;
    const updated = await this.ctx.client.patch<Deployment>('Deployment', s.ns, s.d.metadata.name ?? '', {
      metadata: { annotations: { [REVISION]: revision } },
    }, 'merge');
    s.d.metadata.annotations = updated.metadata.annotations ?? {};
    s.d.metadata.resourceVersion = updated.metadata.resourceVersion ?? '';
  }

  /** Upstream NewRSNewReplicas for RollingUpdate: grow the new RS within desired + maxSurge. */
  private newRSReplicasForRollingUpdate(s: Sync): number {
    const desired = replicasOf(s.d);
    const { maxSurge } = resolveFenceposts(s.d);
    const current = specReplicas(this.allRSs(s));
    const newCount = s.newRS?.spec.replicas ?? 0;
    const maxTotal = desired + maxSurge;
    if (current >= maxTotal) return newCount;
    return newCount + Math.max(0, Math.min(maxTotal - current, desired - newCount));
  }

  // ------------------------------------------------------------------ scaling

  /** Sets an RS's size and the desired/max annotations; records the event. Returns whether the size changed. */
  private async scaleReplicaSet(s: Sync, rs: ReplicaSet, size: number): Promise<boolean> {
    const d = s.d;
    const from = rs.spec.replicas ?? 0;
    const sizeChanged = from !== size;
    const desired = String(replicasOf(d));
    const max = String(maxReplicas(d));
    const annotationsChanged = rs.metadata.annotations?.[DESIRED_REPLICAS] !== desired || rs.metadata.annotations?.[MAX_REPLICAS] !== max;
    if (!sizeChanged && !annotationsChanged) return false;
    const next = clone(rs);
    next.spec.replicas = size;
    next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [DESIRED_REPLICAS]: desired, [MAX_REPLICAS]: max };
    const updated = await this.ctx.client.update<ReplicaSet>('ReplicaSet', next);
    if (s.newRS === rs) s.newRS = updated;
    else s.oldRSs = s.oldRSs.map((o) => (o === rs ? updated : o));
    if (sizeChanged) {
      const verb = size > from ? 'up' : 'down';
      this.events.record(d, 'Normal', 'ScalingReplicaSet', `Scaled ${verb} replica set ${rs.metadata.name} from ${from} to ${size}`);
    }
    return sizeChanged;
  }

  /** A replica change of the deployment itself (not a template change): some RS was sized for another count. */
  private isScalingEvent(s: Sync): boolean {
    const desired = String(replicasOf(s.d));
    return this.allRSs(s).some((rs) => (rs.spec.replicas ?? 0) > 0 && rs.metadata.annotations?.[DESIRED_REPLICAS] !== undefined &&
      rs.metadata.annotations[DESIRED_REPLICAS] !== desired);
  }

  /** Upstream `scale`: one active RS takes the whole count; otherwise share the change proportionally. */
  private async scale(s: Sync): Promise<void> {
    const d = s.d;
    const desired = replicasOf(d);
    const active = this.allRSs(s).filter((rs) => (rs.spec.replicas ?? 0) > 0);
    const activeOrLatest = active.length === 1 ? active[0] : active.length === 0 ? (s.newRS ?? [...s.oldRSs].sort(byCreationOldestFirst).at(-1)) : undefined;
    if (activeOrLatest) {
      await this.scaleReplicaSet(s, activeOrLatest, desired);
      return;
    }
    const newRS = s.newRS;
    if (newRS && (newRS.spec.replicas ?? 0) === desired && newRS.metadata.annotations?.[DESIRED_REPLICAS] === String(desired) &&
      (newRS.status?.availableReplicas ?? 0) === desired) {
      for (const rs of s.oldRSs.filter((o) => (o.spec.replicas ?? 0) > 0)) await this.scaleReplicaSet(s, rs, 0);
      return;
    }
    if (!isRollingUpdate(d)) return;
    const allowed = desired > 0 ? desired + resolveFenceposts(d).maxSurge : 0;
    const toAdd = allowed - specReplicas(active);
    const ordered = [...active].sort(bySizeThenAge(toAdd > 0));
    const sizes = new Map<ReplicaSet, number>();
    let added = 0;
    for (const rs of ordered) {
      if (toAdd !== 0) {
        const p = proportion(rs, d, toAdd, added);
        sizes.set(rs, (rs.spec.replicas ?? 0) + p);
        added += p;
      } else {
        sizes.set(rs, rs.spec.replicas ?? 0);
      }
    }
    const first = ordered[0];
    if (toAdd !== 0 && first) sizes.set(first, Math.max(0, (sizes.get(first) ?? 0) + toAdd - added));
    for (const rs of ordered) await this.scaleReplicaSet(s, rs, sizes.get(rs) ?? 0);
  }

  // ------------------------------------------------------------------ strategies

  /** Paused deployments and pure scaling events: resize, tidy up history, report status. */
  private async sync(s: Sync, _rsList: ReplicaSet[]): Promise<ReconcileResult | void> {
    await this.ensureNewReplicaSet(s, false);
    await this.scale(s);
    if (s.d.spec.paused) await this.cleanup(s);
    await this.syncStatusOnly(s);
  }

  private async rolloutRolling(s: Sync, _rsList: ReplicaSet[]): Promise<ReconcileResult | void> {
    await this.ensureNewReplicaSet(s, true);
    if (await this.reconcileNewReplicaSet(s)) return this.syncRolloutStatus(s);
    if (await this.reconcileOldReplicaSets(s)) return this.syncRolloutStatus(s);
    if (deploymentComplete(s.d, this.calculateStatus(s))) await this.cleanup(s);
    return this.syncRolloutStatus(s);
  }

  private async reconcileNewReplicaSet(s: Sync): Promise<boolean> {
    const newRS = s.newRS;
    if (!newRS) return false;
    const desired = replicasOf(s.d);
    const current = newRS.spec.replicas ?? 0;
    if (current === desired) return false;
    if (current > desired) return this.scaleReplicaSet(s, newRS, desired);
    return this.scaleReplicaSet(s, newRS, this.newRSReplicasForRollingUpdate(s));
  }

  /** Scales old RSs down as far as maxUnavailable allows, unhealthy replicas first (upstream). */
  private async reconcileOldReplicaSets(s: Sync): Promise<boolean> {
    const d = s.d;
    const oldCount = specReplicas(s.oldRSs);
    if (oldCount === 0) return false;
    const desired = replicasOf(d);
    const { maxUnavailable } = resolveFenceposts(d);
    const minAvailable = desired - maxUnavailable;
    const newRS = s.newRS;
    const newUnavailable = newRS ? (newRS.spec.replicas ?? 0) - (newRS.status?.availableReplicas ?? 0) : 0;
    const maxScaledDown = specReplicas(this.allRSs(s)) - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return false;

    // Unhealthy old replicas go first: they do not count toward availability anyway.
    let cleaned = 0;
    for (const rs of [...s.oldRSs].sort(byCreationOldestFirst)) {
      if (cleaned >= maxScaledDown) break;
      const replicas = rs.spec.replicas ?? 0;
      const available = rs.status?.availableReplicas ?? 0;
      if (replicas === 0 || replicas === available) continue;
      const down = Math.min(maxScaledDown - cleaned, replicas - available);
      await this.scaleReplicaSet(s, rs, replicas - down);
      cleaned += down;
    }

    // Then healthy ones, as long as enough stay available.
    let scaled = 0;
    const availableNow = statusSum(this.allRSs(s), 'availableReplicas');
    if (availableNow > minAvailable) {
      const total = availableNow - minAvailable;
      for (const rs of [...s.oldRSs].sort(byCreationOldestFirst)) {
        if (scaled >= total) break;
        const replicas = rs.spec.replicas ?? 0;
        if (replicas === 0) continue;
        const down = Math.min(replicas, total - scaled);
        await this.scaleReplicaSet(s, rs, replicas - down);
        scaled += down;
      }
    }
    return cleaned + scaled > 0;
  }

  private async rolloutRecreate(s: Sync, _rsList: ReplicaSet[]): Promise<ReconcileResult | void> {
    await this.ensureNewReplicaSet(s, false);
    let scaledDown = false;
    for (const rs of s.oldRSs.filter((o) => (o.spec.replicas ?? 0) > 0)) scaledDown = (await this.scaleReplicaSet(s, rs, 0)) || scaledDown;
    if (scaledDown || this.oldPodsRunning(s)) return this.syncRolloutStatus(s);
    if (!s.newRS) await this.ensureNewReplicaSet(s, true);
    if (s.newRS && (s.newRS.spec.replicas ?? 0) !== replicasOf(s.d)) {
      await this.scaleReplicaSet(s, s.newRS, replicasOf(s.d));
      return this.syncRolloutStatus(s);
    }
    if (deploymentComplete(s.d, this.calculateStatus(s))) await this.cleanup(s);
    return this.syncRolloutStatus(s);
  }

  /** Whether any pod of an old RS still exists and has not finished (Recreate waits for none). */
  private oldPodsRunning(s: Sync): boolean {
    if (s.oldRSs.some((rs) => (rs.status?.replicas ?? 0) > 0)) return true;
    const oldUids = new Set(s.oldRSs.map((rs) => rs.metadata.uid));
    return this.pods.listNamespace(s.ns).some((p) => {
      const ref = controllerOf(p);
      if (!ref || !oldUids.has(ref.uid)) return false;
      const phase = p.status?.phase;
      return phase !== 'Succeeded' && phase !== 'Failed';
    });
  }

  /** Deletes the oldest zero-size ReplicaSets beyond revisionHistoryLimit. */
  private async cleanup(s: Sync): Promise<void> {
    const limit = s.d.spec.revisionHistoryLimit ?? DEFAULT_REVISION_HISTORY_LIMIT;
    const cleanable = s.oldRSs.filter((rs) => !rs.metadata.deletionTimestamp);
    const excess = cleanable.length - limit;
    if (excess <= 0) return;
    const byRevision = [...cleanable].sort((a, b) => compareRevisions(a, b) || byCreationOldestFirst(a, b));
    for (const rs of byRevision.slice(0, excess)) {
      if ((rs.status?.replicas ?? 0) !== 0 || (rs.spec.replicas ?? 0) !== 0) continue;
      if ((rs.metadata.generation ?? 1) > (rs.status?.observedGeneration ?? 0)) continue;
      try {
        await this.ctx.client.delete('ReplicaSet', s.ns, rs.metadata.name ?? '', { preconditions: { uid: rs.metadata.uid ?? '' }, propagationPolicy: 'Background' });
      } catch (err) {
        if (!(isNotFound(err) || isConflict(err))) throw err;
      }
    }
  }

  // ------------------------------------------------------------------ status

  private calculateStatus(s: Sync): DeploymentStatus {
    const d = s.d;
    const all = this.allRSs(s);
    const available = statusSum(all, 'availableReplicas');
    const desired = replicasOf(d);
    const status: DeploymentStatus = {
      ...s.status,
      observedGeneration: d.metadata.generation ?? 1,
      replicas: statusSum(all, 'replicas'),
      updatedReplicas: s.newRS?.status?.replicas ?? 0,
      readyReplicas: statusSum(all, 'readyReplicas'),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, desired - available),
    };
    if (s.status.conditions) status.conditions = s.status.conditions.map((c) => ({ ...c }));
    const now = rfc3339();
    const minAvailable = desired - (isRollingUpdate(d) ? resolveFenceposts(d).maxUnavailable : 0);
    if (available >= minAvailable) {
      setCondition(status, newCondition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.', now));
    } else {
      setCondition(status, newCondition('Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.', now));
    }
    return status;
  }

  /** Status for paused/scaling syncs: counts and Available, Progressing untouched. */
  private async syncStatusOnly(s: Sync): Promise<void> {
    await this.writeStatus(s.d, this.calculateStatus(s));
  }

  /** Status after a rollout step, including Progressing and the progress deadline. */
  private async syncRolloutStatus(s: Sync): Promise<ReconcileResult | void> {
    const d = s.d;
    const status = this.calculateStatus(s);
    const now = rfc3339();
    const nowMs = Date.now();
    if (progressDeadlineSeconds(d) === undefined) removeCondition(status, 'Progressing');
    const current = getCondition(d.status, 'Progressing');
    const completeBefore = status.replicas === status.updatedReplicas && current?.reason === 'NewReplicaSetAvailable';
    const rsName = s.newRS?.metadata.name ?? '';
    if (progressDeadlineSeconds(d) !== undefined && !completeBefore) {
      if (deploymentComplete(d, status)) {
        setCondition(status, newCondition('Progressing', 'True', 'NewReplicaSetAvailable', `ReplicaSet "${rsName}" has successfully progressed.`, now));
      } else if (deploymentProgressing(d, status)) {
        const cond = newCondition('Progressing', 'True', 'ReplicaSetUpdated', `ReplicaSet "${rsName}" is progressing.`, now);
        const prev = getCondition(status, 'Progressing');
        if (prev?.status === 'True' && prev.lastTransitionTime) cond.lastTransitionTime = prev.lastTransitionTime;
        removeCondition(status, 'Progressing');
        setCondition(status, cond);
      } else {
        const left = msUntilDeadline(d, status, nowMs);
        if (left !== undefined && left <= 0) {
          setCondition(status, newCondition('Progressing', 'False', 'ProgressDeadlineExceeded', `ReplicaSet "${rsName}" has timed out progressing.`, now));
          this.events.record(d, 'Warning', 'ProgressDeadlineExceeded', `Deployment "${d.metadata.name}" has timed out progressing.`);
        }
      }
    }
    await this.writeStatus(d, status);
    // A rollout that is neither done nor timed out must be looked at again when its deadline passes.
    const left = deploymentComplete(d, status) ? undefined : msUntilDeadline(d, status, nowMs);
    if (left !== undefined) return { requeueAfterMs: Math.max(left, 0) + 1000 };
  }

  /** Upstream checkPausedConditions: Progressing=Unknown while paused, "resumed" once resumed. */
  private async checkPausedCondition(s: Sync): Promise<void> {
    if (progressDeadlineSeconds(s.d) === undefined) return;
    const cond = getCondition(s.status, 'Progressing');
    if (cond?.reason === 'ProgressDeadlineExceeded') return;
    const paused = s.d.spec.paused === true;
    const now = rfc3339();
    if (paused && cond?.reason !== 'DeploymentPaused') {
      setCondition(s.status, newCondition('Progressing', 'Unknown', 'DeploymentPaused', 'Deployment is paused', now));
    } else if (!paused && cond?.reason === 'DeploymentPaused') {
      setCondition(s.status, newCondition('Progressing', 'Unknown', 'DeploymentResumed', 'Deployment is resumed', now));
    } else {
      return;
    }
    await this.writeStatus(s.d, s.status);
    s.d.status = clone(s.status);
  }

  private async writeStatus(d: Deployment, status: DeploymentStatus): Promise<void> {
    if (deepEqual(d.status ?? {}, status)) return;
    try {
      await this.ctx.client.patchStatus('Deployment', d.metadata.namespace, d.metadata.name ?? '', { status }, 'merge');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

export function startDeploymentController(ctx: ControllerContext): void {
  const c = new DeploymentController(
    ctx,
    ctx.informers.forKind<Deployment>('Deployment'),
    ctx.informers.forKind<ReplicaSet>('ReplicaSet'),
    ctx.informers.forKind<Pod>('Pod'),
  );
  c.start();
  log.debug(COMPONENT, 'started');
}
