/**
 * DaemonSet: one pod per eligible node. A node is eligible when the pod template's nodeSelector and
 * required node affinity match it and its NoSchedule/NoExecute taints are tolerated (DaemonSet pods
 * get upstream's standard tolerations for not-ready, unreachable, pressure and unschedulable, so they
 * stay on cordoned and lost nodes). Pods are bound here, by setting `spec.nodeName` (plus the
 * `metadata.name` node-affinity term upstream writes): a daemon pod must land on its node even when
 * the node is cordoned or the scheduler is busy, and there is exactly one node it may go to anyway.
 *
 * Rolling update: pods carry the template hash in `controller-revision-hash`; old pods are replaced
 * node by node within `maxUnavailable` (or, with `maxSurge`, the new pod starts first and the old one
 * goes once the new one is available). OnDelete only uses the new template for pods that are gone.
 * Status carries what `kubectl rollout status ds` reads.
 */
import { createHash } from 'node:crypto';
import { deepEqual, compareStrings } from '../../api/object-util.js';
import { labelSelectorFromObject, matchesLabels, selectorMatchesNothing } from '../../api/selectors.js';
import { isConflict, isForbidden, isNotFound } from '../../api/status.js';
import type { ControllerRevision, DaemonSet, DaemonSetStatus, IntOrString, Node, Pod, PodTemplateSpec, Taint, Toleration } from '../../api/types.js';
import { toleratesTaint } from '../scheduler/filters.js';
import { anyTermMatches, compileNodeSelector } from '../scheduler/node-selector.js';
import type { ControllerContext } from './context.js';
import { ControllerHistory, REVISION_LABEL, type HistoryOwner } from './controller-history.js';
import { Controller } from '../../api/machinery/controller.js';
import { createEventRecorder, type EventRecorder } from '../../api/machinery/events.js';
import { objectKeyOf, splitKey, type Informer } from '../../api/machinery/informer.js';
import { controllerOf, isPodAvailable, isPodReady, ownerRefOf, podFromTemplate } from './pod-control.js';

export const REVISION_HASH_LABEL = REVISION_LABEL;
export const TEMPLATE_GENERATION_LABEL = 'pod-template-generation';
/** How long a create or delete we issued is assumed in flight before the cache shows it. */
const EXPECTATION_TTL_MS = 30_000;

/** The tolerations upstream adds to every DaemonSet pod. */
export function daemonPodTolerations(hostNetwork: boolean): Toleration[] {
  const t: Toleration[] = [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
    { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
  ];
  if (hostNetwork) t.push({ key: 'node.kubernetes.io/network-unavailable', operator: 'Exists', effect: 'NoSchedule' });
  return t;
}

function withDaemonTolerations(spec: Pod['spec']): Toleration[] {
  const own = spec.tolerations ?? [];
  const extra = daemonPodTolerations(spec.hostNetwork === true)
    .filter((d) => !own.some((t) => t.key === d.key && (t.effect ?? '') === d.effect));
  return [...own, ...extra];
}

/** A short stable hash of the pod template (what ControllerRevisions are named by upstream). */
export function templateHash(template: PodTemplateSpec): string {
  return createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 10);
}

/** Whether a daemon pod should be started on / may keep running on a node. Exported for tests. */
export function nodePlacement(ds: DaemonSet, node: Node): { shouldRun: boolean; shouldContinue: boolean } {
  const spec = ds.spec.template.spec;
  const labels = node.metadata.labels ?? {};
  const no = { shouldRun: false, shouldContinue: false };
  if (node.metadata.deletionTimestamp) return no;
  for (const [k, v] of Object.entries(spec.nodeSelector ?? {})) if (labels[k] !== v) return no;
  const required = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (required && !anyTermMatches(compileNodeSelector(required), node.metadata.name!, labels)) return no;
  const tolerations = withDaemonTolerations(spec);
  let shouldRun = true;
  for (const taint of node.spec?.taints ?? []) {
    if (taint.effect === 'PreferNoSchedule') continue;
    if (tolerations.some((t) => toleratesTaint(t, taint as Taint))) continue;
    if (taint.effect === 'NoExecute') return no;
    shouldRun = false; // NoSchedule: no new pod, an existing one stays
  }
  return { shouldRun, shouldContinue: true };
}

function resolveIntOrPercent(v: IntOrString | undefined, total: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (m) return Math.ceil((Number(m[1]) * total) / 100);
  return /^\d+$/.test(v) ? Number(v) : fallback;
}

function byAge(a: Pod, b: Pod): number {
  return compareStrings(a.metadata.creationTimestamp ?? '', b.metadata.creationTimestamp ?? '') || compareStrings(a.metadata.name ?? '', b.metadata.name ?? '');
}

class DaemonSetController {
  private readonly controller: Controller;
  private readonly events: EventRecorder;
  /** ControllerRevisions: what `kubectl rollout history/undo daemonset` reads and applies. */
  private readonly history: ControllerHistory;
  /** `dsUid/node` → expiry of a create not yet seen in the cache. */
  private readonly pendingCreates = new Map<string, number>();
  /** pod uid → expiry of a delete not yet seen in the cache. */
  private readonly pendingDeletes = new Map<string, number>();

  constructor(
    private readonly ctx: ControllerContext,
    private readonly sets: Informer<DaemonSet>,
    private readonly pods: Informer<Pod>,
    private readonly nodes: Informer<Node>,
    private readonly revisions: Informer<ControllerRevision>,
  ) {
    this.history = new ControllerHistory(ctx.client, revisions);
    this.events = createEventRecorder(ctx.client, 'daemonset-controller');
    this.controller = new Controller({ name: 'daemonset-controller', workers: 2, reconcile: (key) => this.reconcile(key) });
    const enqueue = (ds: DaemonSet): void => this.controller.enqueue(objectKeyOf(ds));
    sets.addHandlers({ onAdd: enqueue, onUpdate: (_o, n) => enqueue(n), onDelete: enqueue });
    const podChanged = (p: Pod): void => {
      const ref = controllerOf(p);
      if (ref?.kind === 'DaemonSet') this.controller.enqueue(`${p.metadata.namespace}/${ref.name}`);
    };
    pods.addHandlers({ onAdd: podChanged, onUpdate: (_o, p) => podChanged(p), onDelete: podChanged });
    const allSets = (): void => { for (const ds of sets.list()) enqueue(ds); };
    nodes.addHandlers({
      onAdd: allSets,
      onUpdate: (o, n) => {
        if (!deepEqual(o.metadata.labels, n.metadata.labels) || !deepEqual(o.spec?.taints, n.spec?.taints) || !!o.metadata.deletionTimestamp !== !!n.metadata.deletionTimestamp) allSets();
      },
      onDelete: allSets,
    });
  }

  start(): void {
    void (async () => {
      await Promise.all([this.sets.waitForSync(), this.pods.waitForSync(), this.nodes.waitForSync(), this.revisions.waitForSync()]);
      await this.controller.run(this.ctx.signal);
    })();
  }

  private pendingCreate(key: string, nowMs: number): boolean {
    const exp = this.pendingCreates.get(key);
    if (exp === undefined) return false;
    if (exp < nowMs) {
      this.pendingCreates.delete(key);
      return false;
    }
    return true;
  }

  private deleting(pod: Pod, nowMs: number): boolean {
    if (pod.metadata.deletionTimestamp) return true;
    const exp = this.pendingDeletes.get(pod.metadata.uid ?? '');
    return exp !== undefined && exp >= nowMs;
  }

  private async reconcile(key: string): Promise<{ requeueAfterMs: number } | void> {
    const ds = this.sets.get(key);
    const { namespace } = splitKey(key);
    if (!ds || ds.metadata.deletionTimestamp) return; // its pods go through the garbage collector
    const nowMs = Date.now();
    for (const [uid, exp] of this.pendingDeletes) if (exp < nowMs) this.pendingDeletes.delete(uid);
    const uid = ds.metadata.uid!;
    const hash = templateHash(ds.spec.template);
    const owner: HistoryOwner = { obj: ds, apiVersion: 'apps/v1', kind: 'DaemonSet', template: ds.spec.template, revisionHistoryLimit: ds.spec.revisionHistoryLimit };
    await this.history.ensureUpdateRevision(owner, `${ds.metadata.name}-${hash}`);
    const selector = selectorMatchesNothing(ds.spec.selector) ? undefined : labelSelectorFromObject(ds.spec.selector);

    const byNode = new Map<string, Pod[]>();
    for (const pod of this.pods.listNamespace(namespace ?? 'default')) {
      if (controllerOf(pod)?.uid !== uid) continue;
      if (selector && !matchesLabels(selector, pod.metadata.labels)) continue;
      const n = pod.spec.nodeName ?? '';
      const list = byNode.get(n) ?? [];
      list.push(pod);
      byNode.set(n, list);
    }

    const nodes = this.nodes.list();
    const nodeNames = new Set(nodes.map((n) => n.metadata.name!));
    const creates: string[] = [];
    const deletes: { pod: Pod; force: boolean }[] = [];
    const status: DaemonSetStatus = {
      currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0,
      updatedNumberScheduled: 0, numberAvailable: 0, numberUnavailable: 0, observedGeneration: ds.metadata.generation ?? 1,
    };
    const minReady = ds.spec.minReadySeconds ?? 0;
    let requeueMs: number | undefined;
    /** Nodes that should run a pod, with their live pods (for the rolling update). */
    const eligible: { node: string; live: Pod[] }[] = [];

    for (const node of nodes) {
      const name = node.metadata.name!;
      const { shouldRun, shouldContinue } = nodePlacement(ds, node);
      const all = byNode.get(name) ?? [];
      const live = all.filter((p) => !this.deleting(p, nowMs)).sort(byAge);
      const pendingKey = `${uid}/${name}`;
      if (all.length > 0) this.pendingCreates.delete(pendingKey);
      if (shouldRun) status.desiredNumberScheduled++;
      if (!shouldContinue) {
        if (live.length > 0) status.numberMisscheduled++;
        for (const p of live) deletes.push({ pod: p, force: false });
        continue;
      }
      const failed = live.filter((p) => p.status?.phase === 'Failed');
      for (const p of failed) deletes.push({ pod: p, force: false });
      const running = live.filter((p) => p.status?.phase !== 'Failed');
      if (!shouldRun) {
        if (running.length > 0) status.numberMisscheduled++;
        continue;
      }
      // A failed pod is deleted first; its replacement comes once it is gone.
      if (all.length === 0 && !this.pendingCreate(pendingKey, nowMs)) creates.push(name);
      // More than one pod of the same revision on a node: keep the oldest.
      const current = running.filter((p) => p.metadata.labels?.[REVISION_HASH_LABEL] === hash);
      const old = running.filter((p) => p.metadata.labels?.[REVISION_HASH_LABEL] !== hash);
      for (const p of current.slice(1)) deletes.push({ pod: p, force: false });
      for (const p of old.slice(1)) deletes.push({ pod: p, force: false });
      if (running.length > 0) status.currentNumberScheduled++;
      const newest = current[0] ?? old[0];
      if (newest && isPodReady(newest)) status.numberReady++;
      const available = running.some((p) => isPodAvailable(p, minReady, nowMs));
      if (available) status.numberAvailable!++;
      else if (newest && isPodReady(newest) && minReady > 0) {
        requeueMs = Math.min(requeueMs ?? Infinity, 1000);
      }
      if (current.length > 0) status.updatedNumberScheduled!++;
      eligible.push({ node: name, live: [current[0], old[0]].filter((p): p is Pod => !!p) });
    }
    // Pods on nodes that no longer exist: nobody runs them any more.
    for (const [n, pods] of byNode) {
      if (n !== '' && nodeNames.has(n)) continue;
      for (const p of pods) if (!p.metadata.deletionTimestamp) deletes.push({ pod: p, force: n !== '' });
    }
    status.numberUnavailable = Math.max(0, status.desiredNumberScheduled - status.numberAvailable!);

    if ((ds.spec.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate') {
      this.rollingUpdate(ds, hash, eligible, status, nowMs, deletes, creates);
    }

    for (const node of creates) await this.createPod(ds, node, hash);
    for (const d of deletes) await this.deletePod(d.pod, d.force);
    const live = new Set<string>([`${ds.metadata.name}-${hash}`]);
    for (const pods of byNode.values()) for (const p of pods) live.add(`${ds.metadata.name}-${p.metadata.labels?.[REVISION_HASH_LABEL] ?? ''}`);
    await this.history.truncate(owner, live);
    await this.writeStatus(ds, status);
    if (requeueMs !== undefined) return { requeueAfterMs: requeueMs };
  }

  /** Chooses old pods to replace (and, with maxSurge, new pods to start next to them). */
  private rollingUpdate(
    ds: DaemonSet, hash: string, eligible: { node: string; live: Pod[] }[], status: DaemonSetStatus, nowMs: number,
    deletes: { pod: Pod; force: boolean }[], creates: string[],
  ): void {
    const rolling = ds.spec.updateStrategy?.rollingUpdate;
    const desired = status.desiredNumberScheduled;
    const maxSurge = resolveIntOrPercent(rolling?.maxSurge, desired, 0);
    const maxUnavailable = resolveIntOrPercent(rolling?.maxUnavailable, desired, maxSurge > 0 ? 0 : 1);
    const minReady = ds.spec.minReadySeconds ?? 0;
    const isNew = (p: Pod): boolean => p.metadata.labels?.[REVISION_HASH_LABEL] === hash;
    const scheduledForDeletion = new Set(deletes.map((d) => d.pod.metadata.uid));
    if (maxSurge > 0 && maxUnavailable === 0) {
      let surging = eligible.filter((e) => e.live.some(isNew) && e.live.some((p) => !isNew(p))).length;
      for (const e of eligible) {
        const oldPod = e.live.find((p) => !isNew(p));
        const newPod = e.live.find(isNew);
        if (!oldPod || scheduledForDeletion.has(oldPod.metadata.uid)) continue;
        if (newPod) {
          if (isPodAvailable(newPod, minReady, nowMs)) deletes.push({ pod: oldPod, force: false });
        } else if (!isPodAvailable(oldPod, minReady, nowMs)) {
          deletes.push({ pod: oldPod, force: false }); // not serving anyway
        } else if (surging < maxSurge && !this.pendingCreate(`${ds.metadata.uid}/${e.node}`, nowMs)) {
          surging++;
          creates.push(e.node);
        }
      }
      return;
    }
    let unavailable = eligible.filter((e) => !e.live.some((p) => isPodAvailable(p, minReady, nowMs))).length
      + (status.desiredNumberScheduled - eligible.length);
    for (const e of eligible) {
      const oldPod = e.live.find((p) => !isNew(p));
      if (!oldPod || e.live.some(isNew) || scheduledForDeletion.has(oldPod.metadata.uid)) continue;
      if (!isPodAvailable(oldPod, minReady, nowMs)) {
        deletes.push({ pod: oldPod, force: false });
      } else if (unavailable < maxUnavailable) {
        unavailable++;
        deletes.push({ pod: oldPod, force: false });
      }
    }
  }

  private async createPod(ds: DaemonSet, nodeName: string, hash: string): Promise<void> {
    const pod = podFromTemplate(ds.spec.template, ds.metadata.namespace!, ownerRefOf(ds, 'apps/v1', 'DaemonSet'));
    pod.metadata.labels = {
      ...(pod.metadata.labels ?? {}),
      [REVISION_HASH_LABEL]: hash,
      [TEMPLATE_GENERATION_LABEL]: String(ds.metadata.generation ?? 1),
    };
    pod.spec.nodeName = nodeName;
    pod.spec.tolerations = withDaemonTolerations(pod.spec);
    // Upstream's shape: the node affinity names exactly this node.
    pod.spec.affinity = {
      ...(pod.spec.affinity ?? {}),
      nodeAffinity: {
        ...(pod.spec.affinity?.nodeAffinity ?? {}),
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodeName] }] }],
        },
      },
    };
    this.pendingCreates.set(`${ds.metadata.uid}/${nodeName}`, Date.now() + EXPECTATION_TTL_MS);
    try {
      const created = await this.ctx.client.create<Pod>('Pod', ds.metadata.namespace, pod);
      this.events.record(ds, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`);
    } catch (err) {
      this.pendingCreates.delete(`${ds.metadata.uid}/${nodeName}`);
      if (isForbidden(err)) return; // namespace terminating
      this.events.record(ds, 'Warning', 'FailedCreate', `Error creating: ${(err as Error).message}`);
      throw err;
    }
  }

  private async deletePod(pod: Pod, force: boolean): Promise<void> {
    this.pendingDeletes.set(pod.metadata.uid!, Date.now() + EXPECTATION_TTL_MS);
    try {
      await this.ctx.client.delete('Pod', pod.metadata.namespace, pod.metadata.name!, {
        preconditions: { uid: pod.metadata.uid! }, ...(force ? { gracePeriodSeconds: 0 } : {}),
      });
    } catch (err) {
      this.pendingDeletes.delete(pod.metadata.uid!);
      if (!(isNotFound(err) || isConflict(err))) throw err;
    }
  }

  private async writeStatus(ds: DaemonSet, status: DaemonSetStatus): Promise<void> {
    const prev = ds.status ?? {};
    const next = { ...prev, ...status };
    if (deepEqual(prev, next)) return;
    try {
      await this.ctx.client.patchStatus('DaemonSet', ds.metadata.namespace, ds.metadata.name!, { status: next }, 'merge');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

export function startDaemonSetController(ctx: ControllerContext): void {
  new DaemonSetController(
    ctx,
    ctx.informers.forKind<DaemonSet>('DaemonSet'),
    ctx.informers.forKind<Pod>('Pod'),
    ctx.informers.forKind<Node>('Node'),
    ctx.informers.forKind<ControllerRevision>('ControllerRevision'),
  ).start();
}
