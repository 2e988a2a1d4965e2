/**
 * StatefulSet, as upstream's StatefulSetControl:
 * - stable identities: pod `<set>-<ordinal>` with `hostname` = its name and `subdomain` = serviceName,
 *   labelled with its revision, `statefulset.kubernetes.io/pod-name` and `apps.kubernetes.io/pod-index`;
 * - one claim per volumeClaimTemplate and ordinal, `<template>-<set>-<ordinal>`, made before its pod
 *   and kept when the pod goes (persistentVolumeClaimRetentionPolicy decides what scale-down and
 *   deletion of the set do to them);
 * - OrderedReady: pods are created in ordinal order, each only once the one before is Running and
 *   Ready (and available after minReadySeconds), and removed in reverse order; Parallel does both at once;
 * - RollingUpdate replaces pods from the highest ordinal down to `partition`, at most `maxUnavailable`
 *   (default 1) unavailable at a time; OnDelete uses the new template only for pods that are gone;
 * - revisions are ControllerRevisions (controller-history.ts); status carries currentRevision /
 *   updateRevision and the replica counts `kubectl rollout status` reads.
 * Failed or Succeeded pods are deleted and made again under the same name.
 */
import type { OwnerReference } from '../../api/meta.js';
import { clone, deepEqual } from '../../api/object-util.js';
import { labelSelectorFromObject, matchesLabels, selectorMatchesNothing } from '../../api/selectors.js';
import { isAlreadyExists, isConflict, isForbidden, isNotFound } from '../../api/status.js';
import type {
  ControllerRevision, IntOrString, PersistentVolumeClaim, Pod, PodTemplateSpec, StatefulSet, StatefulSetStatus,
} from '../../api/types.js';
import { Controller } from '../../api/machinery/controller.js';
import { createEventRecorder, type EventRecorder } from '../../api/machinery/events.js';
import { objectKeyOf, splitKey, type Informer } from '../../api/machinery/informer.js';
import type { ControllerContext } from './context.js';
import { ControllerHistory, REVISION_LABEL, revisionHashOf, templateOfRevision, type HistoryOwner } from './controller-history.js';
import { controllerOf, isPodAvailable, isPodReady, msUntilAvailable, ownerRefOf, podFromTemplate } from './pod-control.js';

export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';

/** The ordinal in `<set>-<n>`, or undefined when the name is not one of the set's. */
export function ordinalOf(setName: string, podName: string): number | undefined {
  const prefix = `${setName}-`;
  if (!podName.startsWith(prefix)) return undefined;
  const rest = podName.slice(prefix.length);
  return /^(0|[1-9][0-9]*)$/.test(rest) ? Number(rest) : undefined;
}

export function claimName(templateName: string, setName: string, ordinal: number): string {
  return `${templateName}-${setName}-${ordinal}`;
}

function resolveIntOrPercent(v: IntOrString | undefined, total: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  return m ? Math.max(1, Math.floor((Number(m[1]) * total) / 100)) : fallback;
}

const isTerminating = (p: Pod): boolean => !!p.metadata.deletionTimestamp;
const isFinished = (p: Pod): boolean => p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded';
const isRunningAndReady = (p: Pod): boolean => p.status?.phase === 'Running' && isPodReady(p);

/** The pod for one ordinal from a template (not yet created). */
export function statefulPod(set: StatefulSet, template: PodTemplateSpec, ordinal: number, revision: string): Pod {
  const name = `${set.metadata.name}-${ordinal}`;
  const pod = podFromTemplate(template, set.metadata.namespace!, ownerRefOf(set, 'apps/v1', 'StatefulSet'));
  delete pod.metadata.generateName;
  pod.metadata.name = name;
  pod.metadata.labels = { ...(pod.metadata.labels ?? {}), [REVISION_LABEL]: revision, [POD_NAME_LABEL]: name, [POD_INDEX_LABEL]: String(ordinal) };
  pod.spec.hostname = name;
  if (set.spec.serviceName) pod.spec.subdomain = set.spec.serviceName;
  const volumes = (pod.spec.volumes ?? []).filter((v) => !(set.spec.volumeClaimTemplates ?? []).some((t) => t.metadata.name === v.name));
  for (const t of set.spec.volumeClaimTemplates ?? []) {
    volumes.push({ name: t.metadata.name!, persistentVolumeClaim: { claimName: claimName(t.metadata.name!, set.metadata.name!, ordinal) } });
  }
  if (volumes.length > 0) pod.spec.volumes = volumes;
  return pod;
}

class StatefulSetController {
  private readonly controller: Controller;
  private readonly events: EventRecorder;
  private readonly history: ControllerHistory;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly sets: Informer<StatefulSet>,
    private readonly pods: Informer<Pod>,
    private readonly claims: Informer<PersistentVolumeClaim>,
    revisions: Informer<ControllerRevision>,
  ) {
    this.events = createEventRecorder(ctx.client, 'statefulset-controller');
    this.history = new ControllerHistory(ctx.client, revisions);
    this.controller = new Controller({ name: 'statefulset-controller', workers: 2, reconcile: (key) => this.reconcile(key) });
    const enqueue = (s: StatefulSet): void => this.controller.enqueue(objectKeyOf(s));
    sets.addHandlers({ onAdd: enqueue, onUpdate: (_o, s) => enqueue(s), onDelete: enqueue });
    const owned = (o: Pod | ControllerRevision): void => {
      const ref = controllerOf(o);
      if (ref?.kind === 'StatefulSet') this.controller.enqueue(`${o.metadata.namespace}/${ref.name}`);
    };
    pods.addHandlers({ onAdd: owned, onUpdate: (_o, p) => owned(p), onDelete: owned });
    revisions.addHandlers({ onDelete: owned });
  }

  start(): void {
    void Promise.all([this.sets.waitForSync(), this.pods.waitForSync(), this.claims.waitForSync()])
      .then(() => this.controller.run(this.ctx.signal));
  }

  private async reconcile(key: string): Promise<{ requeueAfterMs: number } | void> {
    const set = this.sets.get(key);
    if (!set || set.metadata.deletionTimestamp) return; // pods (and Delete-retained claims) go through the garbage collector
    const { namespace } = splitKey(key);
    const owner: HistoryOwner = {
      obj: set, apiVersion: 'apps/v1', kind: 'StatefulSet', template: set.spec.template, revisionHistoryLimit: set.spec.revisionHistoryLimit,
    };
    const update = await this.history.ensureUpdateRevision(owner, `${set.metadata.name}-${revisionHashOf(set.spec.template)}`);
    const updateRevision = update.metadata.name!;
    const revisions = this.history.owned(set);
    const current = revisions.find((r) => r.metadata.name === set.status?.currentRevision) ?? update;
    const currentRevision = current.metadata.name!;
    const currentTemplate = templateOfRevision(current) ?? set.spec.template;

    const selector = selectorMatchesNothing(set.spec.selector) ? undefined : labelSelectorFromObject(set.spec.selector);
    const start = set.spec.ordinals?.start ?? 0;
    const replicaCount = set.spec.replicas ?? 1;
    const end = start + replicaCount;
    const replicas = new Map<number, Pod>();
    const condemned: Pod[] = [];
    for (const pod of this.pods.listNamespace(namespace ?? 'default')) {
      if (controllerOf(pod)?.uid !== set.metadata.uid) continue;
      if (selector && !matchesLabels(selector, pod.metadata.labels)) continue;
      const ord = ordinalOf(set.metadata.name!, pod.metadata.name!);
      if (ord === undefined) continue;
      if (ord >= start && ord < end) replicas.set(ord, pod);
      else condemned.push(pod);
    }
    condemned.sort((a, b) => ordinalOf(set.metadata.name!, b.metadata.name!)! - ordinalOf(set.metadata.name!, a.metadata.name!)!);

    const monotonic = (set.spec.podManagementPolicy ?? 'OrderedReady') === 'OrderedReady';
    const minReady = set.spec.minReadySeconds ?? 0;
    const rolling = (set.spec.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
    const partition = rolling ? (set.spec.updateStrategy?.rollingUpdate?.partition ?? 0) : 0;
    const templateFor = (ord: number): { template: PodTemplateSpec; revision: string } =>
      rolling && ord < start + partition ? { template: currentTemplate, revision: currentRevision } : { template: set.spec.template, revision: updateRevision };

    const status = this.computeStatus(set, [...replicas.values(), ...condemned], currentRevision, updateRevision);
    const result = await this.syncPods(set, { replicas, condemned, start, end, monotonic, minReady, rolling, partition, updateRevision, templateFor });
    await this.deleteScaledDownClaims(set, replicas, condemned, end);

    const live = new Set([currentRevision, updateRevision]);
    for (const p of [...replicas.values(), ...condemned]) { const r = p.metadata.labels?.[REVISION_LABEL]; if (r) live.add(r); }
    await this.history.truncate(owner, live);
    await this.writeStatus(set, status);
    const nowMs = Date.now();
    const waits = [...replicas.values()].map((p) => msUntilAvailable(p, minReady, nowMs)).filter((ms): ms is number => ms !== undefined);
    const wait = Math.min(result.requeueAfterMs ?? Infinity, ...waits.map((ms) => ms + 50));
    if (Number.isFinite(wait)) return { requeueAfterMs: wait };
  }

  private computeStatus(set: StatefulSet, pods: Pod[], currentRevision: string, updateRevision: string): StatefulSetStatus {
    const minReady = set.spec.minReadySeconds ?? 0;
    const nowMs = Date.now();
    const counted = pods.filter((p) => !isTerminating(p));
    const status: StatefulSetStatus = {
      observedGeneration: set.metadata.generation ?? 1,
      replicas: counted.length,
      readyReplicas: counted.filter(isRunningAndReady).length,
      availableReplicas: counted.filter((p) => isRunningAndReady(p) && isPodAvailable(p, minReady, nowMs)).length,
      currentReplicas: counted.filter((p) => p.metadata.labels?.[REVISION_LABEL] === currentRevision).length,
      updatedReplicas: counted.filter((p) => p.metadata.labels?.[REVISION_LABEL] === updateRevision).length,
      currentRevision,
      updateRevision,
      collisionCount: set.status?.collisionCount ?? 0,
    };
    // A finished rolling update makes the update revision current (upstream completeRollingUpdate).
    const rolling = (set.spec.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
    if (rolling && status.updatedReplicas === status.replicas && status.readyReplicas === status.replicas && status.replicas === (set.spec.replicas ?? 1)) {
      status.currentReplicas = status.updatedReplicas;
      status.currentRevision = updateRevision;
    }
    return status;
  }

  private async syncPods(set: StatefulSet, s: {
    replicas: Map<number, Pod>; condemned: Pod[]; start: number; end: number; monotonic: boolean; minReady: number;
    rolling: boolean; partition: number; updateRevision: string;
    templateFor: (ord: number) => { template: PodTemplateSpec; revision: string };
  }): Promise<{ requeueAfterMs?: number }> {
    const nowMs = Date.now();
    const healthy = (p: Pod): boolean => isRunningAndReady(p) && !isTerminating(p) && isPodAvailable(p, s.minReady, nowMs);
    // Finished pods are replaced under the same name.
    for (const [, pod] of s.replicas) {
      if (isFinished(pod) && !isTerminating(pod)) await this.deletePod(set, pod);
    }
    for (let ord = s.start; ord < s.end; ord++) {
      const pod = s.replicas.get(ord);
      if (!pod) {
        const { template, revision } = s.templateFor(ord);
        await this.createClaims(set, ord);
        await this.createPod(set, statefulPod(set, template, ord, revision));
        if (s.monotonic) return {};
        continue;
      }
      if (isTerminating(pod) || isFinished(pod)) {
        if (s.monotonic) return {};
        continue;
      }
      await this.createClaims(set, ord); // a claim deleted under a live pod comes back for its next start
      if (s.monotonic && !healthy(pod)) return {};
    }
    // Scale down: highest ordinal first; OrderedReady one at a time, and only with every replica healthy.
    for (const pod of s.condemned) {
      if (isTerminating(pod)) {
        if (s.monotonic) return {};
        continue;
      }
      if (s.monotonic && [...s.replicas.values()].some((p) => !healthy(p))) return {};
      await this.deletePod(set, pod);
      if (s.monotonic) return {};
    }
    if (!s.rolling) return {};
    // Rolling update from the highest ordinal down to the partition.
    const count = s.end - s.start;
    const maxUnavailable = resolveIntOrPercent(set.spec.updateStrategy?.rollingUpdate?.maxUnavailable, count, 1);
    let unavailable = 0;
    for (let ord = s.start; ord < s.end; ord++) {
      const pod = s.replicas.get(ord);
      if (!pod || !healthy(pod)) unavailable++;
    }
    for (let ord = s.end - 1; ord >= s.start + s.partition; ord--) {
      const pod = s.replicas.get(ord);
      if (!pod || isTerminating(pod) || pod.metadata.labels?.[REVISION_LABEL] === s.updateRevision) continue;
      const wasHealthy = healthy(pod);
      if (wasHealthy && unavailable >= maxUnavailable) break;
      await this.deletePod(set, pod);
      if (wasHealthy) unavailable++;
    }
    return {};
  }

  /** The set's claims for one ordinal, made from its templates when missing. */
  private async createClaims(set: StatefulSet, ordinal: number): Promise<void> {
    const ns = set.metadata.namespace!;
    const retention = set.spec.persistentVolumeClaimRetentionPolicy;
    for (const t of set.spec.volumeClaimTemplates ?? []) {
      const name = claimName(t.metadata.name!, set.metadata.name!, ordinal);
      const existing = this.claims.get(`${ns}/${name}`);
      if (existing && !existing.metadata.deletionTimestamp) continue;
      if (existing) throw new Error(`claim ${name} is being deleted; waiting to make it again`);
      const owners: OwnerReference[] = retention?.whenDeleted === 'Delete'
        ? [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: set.metadata.name!, uid: set.metadata.uid!, blockOwnerDeletion: true, controller: true }]
        : [];
      const claim: PersistentVolumeClaim = {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: {
          name,
          namespace: ns,
          labels: { ...(t.metadata.labels ?? {}), ...(set.spec.selector.matchLabels ?? {}) },
          ...(t.metadata.annotations ? { annotations: { ...t.metadata.annotations } } : {}),
          ...(owners.length > 0 ? { ownerReferences: owners } : {}),
        },
        spec: clone(t.spec),
      };
      try {
        await this.ctx.client.create('PersistentVolumeClaim', ns, claim);
        this.events.record(set, 'Normal', 'SuccessfulCreate', `create Claim ${name} Pod ${set.metadata.name}-${ordinal} in StatefulSet ${set.metadata.name} success`);
      } catch (err) {
        if (isAlreadyExists(err)) continue;
        this.events.record(set, 'Warning', 'FailedCreate', `create Claim ${name} for Pod ${set.metadata.name}-${ordinal} in StatefulSet ${set.metadata.name} failed error: ${(err as Error).message}`);
        throw err;
      }
    }
  }

  /** whenScaled: Delete removes the claims of ordinals scaled away once their pod is gone. */
  private async deleteScaledDownClaims(set: StatefulSet, replicas: Map<number, Pod>, condemned: Pod[], end: number): Promise<void> {
    if (set.spec.persistentVolumeClaimRetentionPolicy?.whenScaled !== 'Delete') return;
    const ns = set.metadata.namespace!;
    const podOrdinals = new Set([...replicas.keys(), ...condemned.map((p) => ordinalOf(set.metadata.name!, p.metadata.name!)!)]);
    for (const t of set.spec.volumeClaimTemplates ?? []) {
      const prefix = `${t.metadata.name}-${set.metadata.name}-`;
      for (const c of this.claims.listNamespace(ns)) {
        const name = c.metadata.name!;
        if (!name.startsWith(prefix) || c.metadata.deletionTimestamp) continue;
        const ord = /^\d+$/.test(name.slice(prefix.length)) ? Number(name.slice(prefix.length)) : undefined;
        if (ord === undefined || ord < end || podOrdinals.has(ord)) continue;
        try {
          await this.ctx.client.delete('PersistentVolumeClaim', ns, name, { preconditions: { uid: c.metadata.uid! } });
          this.events.record(set, 'Normal', 'SuccessfulDelete', `delete Claim ${name} in StatefulSet ${set.metadata.name} successful`);
        } catch (err) {
          if (!isNotFound(err) && !isConflict(err)) throw err;
        }
      }
    }
  }

  private async createPod(set: StatefulSet, pod: Pod): Promise<void> {
    try {
      await this.ctx.client.create('Pod', pod.metadata.namespace, pod);
      this.events.record(set, 'Normal', 'SuccessfulCreate', `create Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} successful`);
    } catch (err) {
      if (isAlreadyExists(err) || isForbidden(err)) return; // the old pod is still going, or the namespace is
      this.events.record(set, 'Warning', 'FailedCreate', `create Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} failed error: ${(err as Error).message}`);
      throw err;
    }
  }

  private async deletePod(set: StatefulSet, pod: Pod): Promise<void> {
    try {
      await this.ctx.client.delete('Pod', pod.metadata.namespace, pod.metadata.name!, { preconditions: { uid: pod.metadata.uid! } });
      this.events.record(set, 'Normal', 'SuccessfulDelete', `delete Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} successful`);
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }

  private async writeStatus(set: StatefulSet, status: StatefulSetStatus): Promise<void> {
    const prev = set.status ?? { replicas: 0 };
    const next = { ...prev, ...status };
    if (deepEqual(prev, next)) return;
    try {
      await this.ctx.client.patchStatus('StatefulSet', set.metadata.namespace, set.metadata.name!, { status: next }, 'merge');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

/** Manager entry point. */
export function startStatefulSetController(ctx: ControllerContext): void {
  new StatefulSetController(
    ctx,
    ctx.informers.forKind<StatefulSet>('StatefulSet'),
    ctx.informers.forKind<Pod>('Pod'),
    ctx.informers.forKind<PersistentVolumeClaim>('PersistentVolumeClaim'),
    ctx.informers.forKind<ControllerRevision>('ControllerRevision'),
  ).start();
}
