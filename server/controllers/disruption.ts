/**
 * PodDisruptionBudget status (policy/v1), as upstream's disruption controller: for each budget,
 * count the pods it selects that are expected to exist (the owners' replicas), those currently
 * healthy (Ready, not terminating, not just evicted), how many must stay healthy, and so how many
 * voluntary disruptions are allowed now. The eviction subresource reads that number and lowers it
 * itself (recording the pod in `disruptedPods`) so concurrent evictions cannot overdraw the budget;
 * this controller forgets such a record once the pod is seen terminating or it grows stale.
 */
import { log } from '../../api/log.js';
import { rfc3339, type Condition, type KubeObject } from '../../api/meta.js';
import { deepEqual } from '../../api/object-util.js';
import { labelSelectorFromObject, matchesLabels, selectorMatchesNothing, type LabelRequirement } from '../../api/selectors.js';
import type { Deployment, IntOrString, Pod, PodDisruptionBudget, ReplicaSet, ReplicationController } from '../../api/types.js';
import type { ControllerContext } from './context.js';
import { Controller, type ReconcileResult } from '../../api/machinery/controller.js';
import { objectKeyOf, splitKey, type Informer } from '../../api/machinery/informer.js';
import { controllerOf, isPodReady } from './pod-control.js';

/** An evicted pod not seen terminating after this long is counted again (upstream's DeletionTimeout). */
const DISRUPTED_POD_TIMEOUT_MS = 2 * 60 * 1000;

type PdbStatus = NonNullable<PodDisruptionBudget['status']>;

/** `n` or `p%` of `total` (percentages rounded up, as upstream's GetScaledValueFromIntOrPercent with roundUp). */
export function scaledValue(value: IntOrString, total: number): number {
  if (typeof value === 'number') return value;
  const m = /^(\d+)%$/.exec(value);
  if (!m) throw new Error(`invalid value for IntOrString: invalid value ${JSON.stringify(value)}`);
  return Math.ceil((Number(m[1]) * total) / 100);
}

/** The pods a budget selects: an empty selector selects every pod of the namespace, a missing one none. */
export function budgetSelector(pdb: PodDisruptionBudget): LabelRequirement[] | undefined {
  if (selectorMatchesNothing(pdb.spec?.selector)) return undefined;
  try {
    return labelSelectorFromObject(pdb.spec.selector);
  } catch {
    return undefined;
  }
}

/** How many pods must stay healthy and how many are expected, from minAvailable or maxUnavailable. */
export function desiredAndExpected(pdb: PodDisruptionBudget, podCount: number, expectedScale: () => number): { desiredHealthy: number; expectedPods: number } {
  const { minAvailable, maxUnavailable } = pdb.spec ?? {};
  if (maxUnavailable !== undefined && maxUnavailable !== null) {
    const expectedPods = expectedScale();
    return { expectedPods, desiredHealthy: Math.max(0, expectedPods - scaledValue(maxUnavailable, expectedPods)) };
  }
  if (typeof minAvailable === 'number') return { expectedPods: podCount, desiredHealthy: minAvailable };
  if (typeof minAvailable === 'string') {
    const expectedPods = expectedScale();
    return { expectedPods, desiredHealthy: scaledValue(minAvailable, expectedPods) };
  }
  return { expectedPods: podCount, desiredHealthy: 0 };
}

/** The DisruptionAllowed condition, keeping its transition time while the status stays the same. */
function disruptionCondition(previous: Condition[] | undefined, generation: number, allowed: boolean, reason: string, message: string): Condition[] {
  const status = allowed ? 'True' : 'False';
  const old = previous?.find((c) => c.type === 'DisruptionAllowed');
  const cond: Condition = {
    type: 'DisruptionAllowed',
    status,
    reason,
    ...(message ? { message } : {}),
    observedGeneration: generation,
    lastTransitionTime: old && old.status === status && old.lastTransitionTime ? old.lastTransitionTime : rfc3339(),
  };
  return [...(previous ?? []).filter((c) => c.type !== 'DisruptionAllowed'), cond];
}

class DisruptionController {
  private readonly controller: Controller;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly pdbs: Informer<PodDisruptionBudget>,
    private readonly pods: Informer<Pod>,
    private readonly replicaSets: Informer<ReplicaSet>,
    private readonly deployments: Informer<Deployment>,
    private readonly rcs: Informer<ReplicationController>,
  ) {
    this.controller = new Controller({ name: 'disruption', workers: 2, reconcile: (key) => this.reconcile(key) });
  }

  start(): void {
    const enqueue = (pdb: PodDisruptionBudget): void => this.controller.enqueue(objectKeyOf(pdb));
    this.pdbs.addHandlers({ onAdd: enqueue, onUpdate: (_o, n) => enqueue(n), onDelete: () => undefined });
    const forPod = (pod: Pod): void => this.enqueueBudgetsOf(pod);
    this.pods.addHandlers({
      onAdd: forPod,
      onUpdate: (o, n) => {
        forPod(n);
        if (!deepEqual(o.metadata.labels, n.metadata.labels)) forPod(o);
      },
      onDelete: forPod,
    });
    // A changed replica count changes the expected pods of every budget that counts by scale.
    const forOwner = (o: KubeObject): void => this.enqueueNamespace(o.metadata.namespace);
    for (const inf of [this.replicaSets, this.deployments, this.rcs] as Informer<KubeObject>[]) {
      inf.addHandlers({ onAdd: forOwner, onUpdate: (_o, n) => forOwner(n), onDelete: forOwner });
    }
    void (async () => {
      await Promise.all([this.pdbs.waitForSync(), this.pods.waitForSync()]);
      await this.controller.run(this.ctx.signal);
    })();
  }

  private enqueueBudgetsOf(pod: Pod): void {
    for (const pdb of this.pdbs.listNamespace(pod.metadata.namespace ?? '')) {
      const sel = budgetSelector(pdb);
      if (sel && matchesLabels(sel, pod.metadata.labels)) this.controller.enqueue(objectKeyOf(pdb));
    }
  }

  private enqueueNamespace(namespace: string | undefined): void {
    if (!namespace) return;
    for (const pdb of this.pdbs.listNamespace(namespace)) this.controller.enqueue(objectKeyOf(pdb));
  }

  /** The replicas of the workload that controls `ref`'s pods, following ReplicaSets up to their Deployment. */
  private async ownerScale(namespace: string, ref: { kind: string; name: string; uid: string }): Promise<{ uid: string; replicas: number } | undefined> {
    const key = `${namespace}/${ref.name}`;
    if (ref.kind === 'ReplicaSet') {
      const rs = this.replicaSets.get(key);
      if (!rs || rs.metadata.uid !== ref.uid) return undefined;
      const parent = controllerOf(rs);
      if (parent?.kind === 'Deployment') {
        const d = this.deployments.get(`${namespace}/${parent.name}`);
        if (d && d.metadata.uid === parent.uid) return { uid: d.metadata.uid!, replicas: d.spec.replicas ?? 1 };
        return undefined;
      }
      return { uid: rs.metadata.uid!, replicas: rs.spec.replicas ?? 1 };
    }
    if (ref.kind === 'ReplicationController') {
      const rc = this.rcs.get(key);
      return rc && rc.metadata.uid === ref.uid ? { uid: ref.uid, replicas: rc.spec.replicas ?? 1 } : undefined;
    }
    // Any other scalable controller (a StatefulSet, a custom kind): read its spec.replicas live.
    try {
      const owner = await this.ctx.client.tryGet(ref.kind, namespace, ref.name);
      const replicas = (owner?.spec as { replicas?: unknown } | undefined)?.replicas;
      if (owner && owner.metadata.uid === ref.uid && typeof replicas === 'number') return { uid: ref.uid, replicas };
    } catch {
      // an unknown kind: the pod counts as one, below
    }
    return undefined;
  }

  /** Upstream's getExpectedScale: the sum of the distinct controllers' replicas; pods without a scalable controller count once each. */
  private async expectedScale(namespace: string, pods: Pod[]): Promise<number> {
    const scales = new Map<string, number>();
    let uncontrolled = 0;
    for (const pod of pods) {
      const ref = controllerOf(pod);
      const scale = ref ? await this.ownerScale(namespace, { kind: ref.kind, name: ref.name, uid: ref.uid }) : undefined;
      if (scale) scales.set(scale.uid, scale.replicas);
      else uncontrolled++;
    }
    let sum = uncontrolled;
    for (const n of scales.values()) sum += n;
    return sum;
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const pdb = this.pdbs.get(key);
    if (!pdb) return;
    const namespace = splitKey(key).namespace ?? '';
    const sel = budgetSelector(pdb);
    const pods = sel ? this.pods.listNamespace(namespace).filter((p) => matchesLabels(sel, p.metadata.labels)) : [];
    const generation = pdb.metadata.generation ?? 1;
    const nowMs = Date.now();

    // Keep eviction records only for pods still present, not yet terminating, and not stale.
    const byName = new Map(pods.map((p) => [p.metadata.name!, p]));
    const disrupted: Record<string, string> = {};
    let recheckMs: number | undefined;
    for (const [name, at] of Object.entries(pdb.status?.disruptedPods ?? {})) {
      const pod = byName.get(name);
      if (!pod || pod.metadata.deletionTimestamp) continue;
      const expiresMs = Date.parse(at) + DISRUPTED_POD_TIMEOUT_MS;
      if (!(expiresMs > nowMs)) {
        log.info('disruption', 'evicted pod was not deleted in time, counting it again', { pdb: key, pod: name });
        continue;
      }
      disrupted[name] = at;
      recheckMs = Math.min(recheckMs ?? Infinity, expiresMs - nowMs);
    }

    const currentHealthy = pods.filter((p) => !p.metadata.deletionTimestamp && !(p.metadata.name! in disrupted) && isPodReady(p)).length;
    let next: PdbStatus;
    try {
      const scale = await this.expectedScale(namespace, pods);
      const { desiredHealthy, expectedPods } = desiredAndExpected(pdb, pods.length, () => scale);
      const disruptionsAllowed = Math.max(0, currentHealthy - desiredHealthy);
      const allowed = disruptionsAllowed > 0;
      next = {
        observedGeneration: generation,
        disruptionsAllowed,
        currentHealthy,
        desiredHealthy,
        expectedPods,
        conditions: disruptionCondition(pdb.status?.conditions, generation, allowed, allowed ? 'SufficientPods' : 'InsufficientPods', ''),
      };
    } catch (err) {
      // A budget we cannot evaluate allows nothing (upstream's failSafe).
      next = {
        observedGeneration: generation,
        disruptionsAllowed: 0,
        currentHealthy,
        desiredHealthy: pdb.status?.desiredHealthy ?? 0,
        expectedPods: pdb.status?.expectedPods ?? 0,
        conditions: disruptionCondition(pdb.status?.conditions, generation, false, 'SyncFailed', (err as Error).message),
      };
    }
    if (Object.keys(disrupted).length > 0) next.disruptedPods = disrupted;

    if (!deepEqual(next, pdb.status ?? {})) {
      await this.ctx.client.updateStatus('PodDisruptionBudget', { ...pdb, status: next } as KubeObject);
    }
    return recheckMs !== undefined ? { requeueAfterMs: recheckMs + 100 } : undefined;
  }
}

export function startDisruptionController(ctx: ControllerContext): void {
  new DisruptionController(
    ctx,
    ctx.informers.forKind<PodDisruptionBudget>('PodDisruptionBudget'),
    ctx.informers.forKind<Pod>('Pod'),
    ctx.informers.forKind<ReplicaSet>('ReplicaSet'),
    ctx.informers.forKind<Deployment>('Deployment'),
    ctx.informers.forKind<ReplicationController>('ReplicationController'),
  ).start();
}
