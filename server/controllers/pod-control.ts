/**
 * What every workload controller does to pods: create one from a template (generateName, labels,
 * annotations, a controller ownerReference), and take or give up ownership of existing objects by
 * patching their ownerReferences (guarded by uid and resourceVersion, so a stale cache cannot clobber
 * a concurrent change).
 */
import type { ApiClient } from '../../api/client/client.js';
import type { KubeObject, OwnerReference } from '../../api/meta.js';
import type { Pod, PodTemplateSpec } from '../../api/types.js';
import { clone } from '../../api/object-util.js';

/** The owner's identity as it appears in ownerReferences. */
export interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

export function ownerRefOf(owner: KubeObject, apiVersion: string, kind: string): OwnerRef {
  return { apiVersion, kind, name: owner.metadata.name ?? '', uid: owner.metadata.uid ?? '' };
}

export function controllerRef(owner: OwnerRef): OwnerReference {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true };
}

/** The ownerReference marked `controller: true`, if any. */
export function controllerOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

/** Whether `obj` is controlled by the object with this uid. */
export function isControlledBy(obj: KubeObject, uid: string | undefined): boolean {
  return uid !== undefined && controllerOf(obj)?.uid === uid;
}

/** The generateName prefix upstream uses: `<owner>-`, shortened so the random suffix still fits 63. */
export function generateNamePrefix(ownerName: string): string {
  const max = 58;
  const prefix = `${ownerName}-`;
  return prefix.length > max ? prefix.slice(0, max) : prefix;
}

/** A pod built from a template, owned by `owner` (not yet created). */
export function podFromTemplate(template: PodTemplateSpec, namespace: string, owner: OwnerRef): Pod {
  const meta = template.metadata ?? {};
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: generateNamePrefix(owner.name),
      namespace,
      labels: { ...(meta.labels ?? {}) },
      ownerReferences: [controllerRef(owner)],
    },
    spec: clone(template.spec),
  };
  if (meta.annotations && Object.keys(meta.annotations).length > 0) pod.metadata.annotations = { ...meta.annotations };
  if (meta.finalizers && meta.finalizers.length > 0) pod.metadata.finalizers = [...meta.finalizers];
  return pod;
}

export async function createPodFromTemplate(client: ApiClient, template: PodTemplateSpec, namespace: string, owner: OwnerRef): Promise<Pod> {
  return client.create<Pod>('Pod', namespace, podFromTemplate(template, namespace, owner));
}

/**
 * Adopts an orphan: adds a controller ownerReference. Fails with 409 when the object changed since
 * it was read (the controller then re-reads and decides again).
 */
export async function adopt(client: ApiClient, kind: string, obj: KubeObject, owner: OwnerRef): Promise<KubeObject> {
  const refs = [...(obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== owner.uid), controllerRef(owner)];
  return client.patch(kind, obj.metadata.namespace, obj.metadata.name ?? '', {
    metadata: { ownerReferences: refs, uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion },
  }, 'merge');
}

/** Releases an object the owner no longer selects: drops its ownerReference to `ownerUid`. */
export async function release(client: ApiClient, kind: string, obj: KubeObject, ownerUid: string): Promise<KubeObject> {
  const refs = (obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== ownerUid);
  return client.patch(kind, obj.metadata.namespace, obj.metadata.name ?? '', {
    metadata: { ownerReferences: refs.length > 0 ? refs : null, uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion },
  }, 'merge');
}

/** Pods that are going away or are done: controllers neither count nor delete them. */
export function isPodActive(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return !pod.metadata.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed';
}

export function isPodReady(pod: Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

/** Ready for at least `minReadySeconds` (by the Ready condition's lastTransitionTime). */
export function isPodAvailable(pod: Pod, minReadySeconds: number, nowMs = Date.now()): boolean {
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True') return false;
  if (minReadySeconds <= 0) return true;
  const since = ready.lastTransitionTime ? Date.parse(ready.lastTransitionTime) : NaN;
  return Number.isFinite(since) && since + minReadySeconds * 1000 <= nowMs;
}

/** Milliseconds until a ready pod turns available (for a requeue), or undefined if not pending. */
export function msUntilAvailable(pod: Pod, minReadySeconds: number, nowMs = Date.now()): number | undefined {
  if (minReadySeconds <= 0) return undefined;
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True' || !ready.lastTransitionTime) return undefined;
  const at = Date.parse(ready.lastTransitionTime) + minReadySeconds * 1000;
  return at > nowMs ? at - nowMs : undefined;
}

/**
 * Runs `count` calls in growing batches (1, 2, 4, …) and stops at the first batch with a failure, so
 * a template the server rejects costs one failed request, not hundreds (client-go's slowStartBatch).
 * Returns how many calls succeeded and the first error, if any; calls never started are `skipped`.
 */
export async function slowStartBatch(count: number, initialBatch: number, call: (index: number) => Promise<void>): Promise<{ succeeded: number; skipped: number; error?: unknown }> {
  let started = 0;
  let succeeded = 0;
  for (let batch = Math.min(count, initialBatch); batch > 0 && started < count; batch = Math.min(batch * 2, count - started)) {
    const results = await Promise.allSettled(Array.from({ length: batch }, (_, i) => call(started + i)));
    started += batch;
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    succeeded += results.filter((r) => r.status === 'fulfilled').length;
    if (failure) return { succeeded, skipped: count - started, error: failure.reason };
  }
  return { succeeded, skipped: count - started };
}

interface Expectation { adds: number; deletes: Set<string>; setAtMs: number }

/**
 * What a controller expects its informer to show after its own creates and deletes. Until the cache
 * has caught up it must not act again, or it would create the same replicas twice (client-go's
 * ControllerExpectations). Expectations expire, so a lost watch event cannot wedge a controller.
 */
export class ControllerExpectations {
  private readonly byKey = new Map<string, Expectation>();

  constructor(private readonly ttlMs = 2 * 60_000) {}

  expectCreations(key: string, n: number): void {
    const e = this.entry(key);
    e.adds += n;
    e.setAtMs = Date.now();
  }

  /** Pod uids about to be deleted. */
  expectDeletions(key: string, uids: readonly string[]): void {
    const e = this.entry(key);
    for (const uid of uids) e.deletes.add(uid);
    e.setAtMs = Date.now();
  }

  creationObserved(key: string): void {
    const e = this.byKey.get(key);
    if (e && e.adds > 0) e.adds -= 1;
  }

  /** Lowers the expectation for creates that failed or never started. */
  creationsFailed(key: string, n: number): void {
    const e = this.byKey.get(key);
    if (e) e.adds = Math.max(0, e.adds - n);
  }

  deletionObserved(key: string, uid: string | undefined): void {
    if (uid !== undefined) this.byKey.get(key)?.deletes.delete(uid);
  }

  satisfied(key: string): boolean {
    const e = this.byKey.get(key);
    if (!e) return true;
    if (e.adds <= 0 && e.deletes.size === 0) return true;
    return Date.now() - e.setAtMs > this.ttlMs;
  }

  forget(key: string): void {
    this.byKey.delete(key);
  }

  private entry(key: string): Expectation {
    let e = this.byKey.get(key);
    if (!e || this.satisfied(key)) {
      e = { adds: 0, deletes: new Set(), setAtMs: Date.now() };
      this.byKey.set(key, e);
    }
    return e;
  }
}

/** Ready condition's lastTransitionTime in ms, if the pod is ready. */
function readySinceMs(pod: Pod): number | undefined {
  const c = pod.status?.conditions?.find((x) => x.type === 'Ready');
  if (c?.status !== 'True') return undefined;
  const t = c.lastTransitionTime ? Date.parse(c.lastTransitionTime) : NaN;
  return Number.isFinite(t) ? t : 0;
}

const PHASE_RANK: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

function restarts(pod: Pod): number {
  let n = 0;
  for (const c of pod.status?.containerStatuses ?? []) n = Math.max(n, c.restartCount);
  return n;
}

/**
 * Orders pods cheapest-to-delete first, as Kubernetes' ActivePods: unassigned before assigned,
 * Pending before Unknown before Running, not ready before ready, ready for less time before longer,
 * more restarts before fewer, newer before older.
 */
export function compareForDeletion(a: Pod, b: Pod): number {
  const assignedA = a.spec.nodeName ? 1 : 0;
  const assignedB = b.spec.nodeName ? 1 : 0;
  if (assignedA !== assignedB) return assignedA - assignedB;
  const phaseA = PHASE_RANK[a.status?.phase ?? 'Pending'] ?? 0;
  const phaseB = PHASE_RANK[b.status?.phase ?? 'Pending'] ?? 0;
  if (phaseA !== phaseB) return phaseA - phaseB;
  const readyA = readySinceMs(a);
  const readyB = readySinceMs(b);
  if ((readyA === undefined) !== (readyB === undefined)) return readyA === undefined ? -1 : 1;
  if (readyA !== undefined && readyB !== undefined && readyA !== readyB) return readyB - readyA;
  const restartsA = restarts(a);
  const restartsB = restarts(b);
  if (restartsA !== restartsB) return restartsB - restartsA;
  const createdA = Date.parse(a.metadata.creationTimestamp ?? '') || 0;
  const createdB = Date.parse(b.metadata.creationTimestamp ?? '') || 0;
  if (createdA !== createdB) return createdB - createdA;
  return (a.metadata.name ?? '') < (b.metadata.name ?? '') ? 1 : -1;
}
