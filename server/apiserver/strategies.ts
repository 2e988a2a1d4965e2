/**
 * Per-kind REST behaviour (the "strategy" of each Kubernetes registry): what create resets, what an
 * update may change, how deletion is staged. The generic flow is in registry.ts.
 */
import type { KubeObject } from '../../api/meta.js';
import type { Container, Pod, Service } from '../../api/types.js';
import type { CustomResourceBehaviour, ResourceInfo } from '../../api/resources.js';
import type { StatusCause } from '../../api/status.js';
import { clone, deepEqual } from '../../api/object-util.js';
import { compareQuantities } from '../../api/quantity.js';
import { crdStrategy } from './crd/crd-strategy.js';
import { PV_PROTECTION_FINALIZER, PVC_PROTECTION_FINALIZER } from '../../api/storage-types.js';

export interface KindStrategy {
  /** The kind has a status subresource: updates of the main resource keep the stored status. */
  readonly hasStatus: boolean;
  prepareForCreate(obj: KubeObject): void;
  prepareForUpdate(next: KubeObject, old: KubeObject, subresource?: string): void;
  prepareForStatusUpdate(next: KubeObject, old: KubeObject): void;
  /** Kind-specific validation beyond api/validation (e.g. pod spec immutability). */
  validate(obj: KubeObject, old?: KubeObject, subresource?: string): StatusCause[];
  /** Seconds an object stays terminating before it may be removed (0 = remove now). */
  gracePeriod(obj: KubeObject, requested: number | undefined): number;
  /** The object must stay while terminating until something finalizes it (namespaces). */
  holdOnDelete(obj: KubeObject): boolean;
  prepareForDelete(obj: KubeObject): void;
}

const base = (hasStatus: boolean): KindStrategy => ({
  hasStatus,
  prepareForCreate(obj) {
    if (hasStatus) delete obj.status;
  },
  prepareForUpdate() { /* nothing kind-specific */ },
  prepareForStatusUpdate() { /* nothing kind-specific */ },
  validate: () => [],
  gracePeriod: () => 0,
  holdOnDelete: () => false,
  prepareForDelete() { /* nothing kind-specific */ },
});

/** Entries of a list field that are objects (create runs this before validation: anything may be there). */
function objectsIn(list: unknown): Record<string, unknown>[] {
  return Array.isArray(list) ? list.filter((c): c is Record<string, unknown> => c !== null && typeof c === 'object' && !Array.isArray(c)) : [];
}

function quantityMap(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : {};
}

function sameQuantity(a: unknown, b: unknown): boolean {
  if (typeof a !== 'string' && typeof a !== 'number') return false;
  if (typeof b !== 'string' && typeof b !== 'number') return false;
  try {
    return compareQuantities(String(a), String(b)) === 0;
  } catch {
    return false; // an invalid quantity: validation refuses the pod right after
  }
}

export function qosClass(pod: Pod): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const spec = quantityMap(pod.spec);
  const containers = [...objectsIn(spec['initContainers']), ...objectsIn(spec['containers'])];
  let any = false;
  let guaranteed = true;
  for (const c of containers) {
    const resources = quantityMap(c['resources']);
    const req = quantityMap(resources['requests']);
    const lim = quantityMap(resources['limits']);
    if (Object.keys(req).length > 0 || Object.keys(lim).length > 0) any = true;
    for (const r of ['cpu', 'memory']) {
      const l = lim[r];
      const q = req[r] ?? l;
      if (l === undefined || q === undefined || !sameQuantity(l, q)) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** Fields of a pod spec a user may change after creation (as in Kubernetes). */
function podSpecMutableView(spec: Pod['spec']): unknown {
  const copy = clone(spec) as Pod['spec'] & Record<string, unknown>;
  for (const c of [...(copy.containers ?? []), ...(copy.initContainers ?? [])]) delete c.image;
  delete copy.activeDeadlineSeconds;
  delete copy.tolerations;
  delete copy.terminationGracePeriodSeconds;
  return copy;
}

const podStrategy: KindStrategy = {
  ...base(true),
  prepareForCreate(obj) {
    const pod = obj as Pod;
    pod.status = { phase: 'Pending', qosClass: qosClass(pod) };
  },
  prepareForStatusUpdate(next, old) {
    // The status subresource must not move a pod to another node.
    (next as Pod).spec = clone((old as Pod).spec);
  },
  validate(obj, old, subresource) {
    // A status write keeps the old spec (prepareForStatusUpdate): nothing to compare.
    if (!old || subresource === 'binding' || subresource === 'status') return [];
    const a = (obj as Pod).spec;
    const b = (old as Pod).spec;
    if (!a || !b) return [];
    if (!deepEqual(podSpecMutableView(a), podSpecMutableView(b))) {
      return [{
        reason: 'FieldValueForbidden',
        field: 'spec',
        message: 'Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
      }];
    }
    return [];
  },
  gracePeriod(obj, requested) {
    const pod = obj as Pod;
    // A pod no node runs, or one that finished, has nothing to stop: delete at once.
    if (!pod.spec?.nodeName) return 0;
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return 0;
    const grace = requested ?? pod.spec.terminationGracePeriodSeconds ?? 30;
    return Math.max(0, grace);
  },
};

const namespaceStrategy: KindStrategy = {
  ...base(true),
  prepareForCreate(obj) {
    obj.status = { phase: 'Active' };
  },
  prepareForUpdate(next, old, subresource) {
    // spec.finalizers change only through the finalize subresource.
    if (subresource !== 'finalize') {
      const oldSpec = (old.spec ?? {}) as Record<string, unknown>;
      next.spec = { ...((next.spec ?? {}) as Record<string, unknown>), finalizers: oldSpec['finalizers'] ?? [] };
      if ((next.spec as Record<string, unknown>)['finalizers'] === undefined) delete (next.spec as Record<string, unknown>)['finalizers'];
    }
  },
  holdOnDelete(obj) {
    const fin = (obj.spec as { finalizers?: string[] } | undefined)?.finalizers;
    return (fin?.length ?? 0) > 0;
  },
  prepareForDelete(obj) {
    obj.status = { ...((obj.status ?? {}) as Record<string, unknown>), phase: 'Terminating' };
  },
};

const NODE_PORT_TYPES = new Set(['NodePort', 'LoadBalancer']);

const serviceStrategy: KindStrategy = {
  ...base(true),
  prepareForCreate(obj) {
    obj.status = { loadBalancer: {} };
  },
  prepareForUpdate(next, old) {
    const spec = (next as Service).spec;
    const oldSpec = (old as Service).spec;
    if (!spec || !oldSpec) return;
    const toExternalName = oldSpec.type !== 'ExternalName' && spec.type === 'ExternalName';
    // An update that leaves the allocated ClusterIP out keeps it (replace/apply without it).
    if (!spec.clusterIP && oldSpec.clusterIP && spec.type !== 'ExternalName') {
      spec.clusterIP = oldSpec.clusterIP;
      if (oldSpec.clusterIPs) spec.clusterIPs = [...oldSpec.clusterIPs];
    }
    dropTypeDependentFields(spec, oldSpec, toExternalName);
  },
};

/**
 * Upstream's dropTypeDependentFields: a type change drops the fields the new type has no use for,
 * but only those the client sent back unchanged (a value the client changed in the same update is
 * its own and is validated as such). The allocator then releases what was dropped.
 */
function dropTypeDependentFields(spec: Service['spec'], oldSpec: Service['spec'], toExternalName: boolean): void {
  if (toExternalName) {
    if ((spec.clusterIP ?? '') === (oldSpec.clusterIP ?? '') && deepEqual(spec.clusterIPs ?? [], oldSpec.clusterIPs ?? [])) {
      delete spec.clusterIP;
      delete spec.clusterIPs;
    }
    if (deepEqual(spec.ipFamilies ?? [], oldSpec.ipFamilies ?? [])) delete spec.ipFamilies;
    if (spec.ipFamilyPolicy === oldSpec.ipFamilyPolicy) delete spec.ipFamilyPolicy;
    if (spec.internalTrafficPolicy === oldSpec.internalTrafficPolicy) delete spec.internalTrafficPolicy;
  }
  // Leaving LoadBalancer with the Local policy frees the health-check node port (unless the client changed it).
  const hc = (s: Service['spec']): number | undefined => (s as { healthCheckNodePort?: number }).healthCheckNodePort;
  const needsHc = (s: Service['spec']): boolean => s.type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local';
  if (needsHc(oldSpec) && !needsHc(spec) && hc(spec) !== undefined && hc(spec) === hc(oldSpec)) delete (spec as { healthCheckNodePort?: number }).healthCheckNodePort;
  if (NODE_PORT_TYPES.has(oldSpec.type ?? '') && !NODE_PORT_TYPES.has(spec.type ?? 'ClusterIP')) {
    for (const port of spec.ports ?? []) {
      const before = oldSpec.ports?.find((p) => p.port === port.port && (p.protocol ?? 'TCP') === (port.protocol ?? 'TCP'));
      if (port.nodePort !== undefined && port.nodePort === before?.nodePort) delete port.nodePort;
    }
    if (spec.externalTrafficPolicy === oldSpec.externalTrafficPolicy) delete spec.externalTrafficPolicy;
  }
}

const nodeStrategy: KindStrategy = {
  ...base(true),
  // Agents register a Node with its status in one create; keep it.
  prepareForCreate() { /* keep status */ },
};

/**
 * Claims and volumes start Pending and carry their protection finalizer from creation (upstream's
 * StorageObjectInUseProtection admission), so one still in use cannot vanish under a pod.
 */
function storageObjectStrategy(finalizer: string): KindStrategy {
  return {
    ...base(true),
    prepareForCreate(obj) {
      obj.status = { phase: 'Pending' };
      const finalizers = obj.metadata.finalizers ?? [];
      if (!finalizers.includes(finalizer)) obj.metadata.finalizers = [...finalizers, finalizer];
    },
  };
}

const strategies = new Map<string, KindStrategy>([
  ['Pod', podStrategy],
  ['Namespace', namespaceStrategy],
  ['Service', serviceStrategy],
  ['Node', nodeStrategy],
  ['PersistentVolume', storageObjectStrategy(PV_PROTECTION_FINALIZER)],
  ['PersistentVolumeClaim', storageObjectStrategy(PVC_PROTECTION_FINALIZER)],
  ['CustomResourceDefinition', crdStrategy],
]);

const cache = new Map<string, KindStrategy>();

export function strategyFor(info: ResourceInfo): KindStrategy {
  if (info.custom) return customStrategy(info.custom);
  let s = strategies.get(info.kind) ?? cache.get(info.kind);
  if (!s) {
    s = base(info.subresources.some((r) => r.name === 'status'));
    cache.set(info.kind, s);
  }
  return s;
}

const customStrategies = new WeakMap<CustomResourceBehaviour, KindStrategy>();

/** A custom resource: the generic strategy, with its status subresource and schema validation. */
function customStrategy(custom: CustomResourceBehaviour): KindStrategy {
  let s = customStrategies.get(custom);
  if (!s) {
    s = {
      ...base(custom.hasStatus),
      validate: (obj, old) => custom.validate(obj as unknown as Record<string, unknown>, old as unknown as Record<string, unknown> | undefined),
    };
    customStrategies.set(custom, s);
  }
  return s;
}
