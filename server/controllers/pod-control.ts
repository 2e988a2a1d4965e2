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
