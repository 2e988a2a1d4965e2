/**
 * The API server's cross-object admission plugins: Service ClusterIP/NodePort allocation,
 * DefaultTolerationSeconds for pods, the generated Job selector, storage admission, RuntimeClass
 * (overhead and scheduling from the pod's class), Priority (pod priority from its class),
 * DefaultIngressClass,
 * NodeRestriction, the pod IPs a status may carry, the namespaces that cannot be deleted and the
 * admission webhooks (mutating, then validating). `installAdmissionPlugins`
 * rebuilds the allocation bitmaps from the store before returning, so call it before serving.
 */
import type { Registry } from '../registry.js';
import { ServiceAllocator } from './service-allocator.js';
import type { ClusterReservations } from './cluster-reservations.js';
import { defaultTolerationSecondsPlugin } from './default-toleration-seconds.js';
import { jobSelectorPlugin } from './job-selector.js';
import { storageAdmissionPlugin } from './storage-admission.js';
import { priorityAdmissionPlugin } from './priority-admission.js';
import { runtimeClassAdmissionPlugin } from './runtime-class-admission.js';
import { defaultIngressClassPlugin } from './ingress-class-admission.js';
import { limitRangerPlugin } from '../limit-ranger.js';
import { serviceAccountAdmissionPlugin } from '../service-account-admission.js';
import { resourceQuotaPlugin } from '../quota/admission.js';
import { nodeRestrictionPlugin } from './node-restriction.js';
import { podIpsPlugin } from './pod-ips.js';
import { protectedNamespacesPlugin } from './protected-namespaces.js';
import { WebhookDispatcher } from '../webhooks/dispatcher.js';

export { ServiceAllocator } from './service-allocator.js';
export { ensureClusterDnsService, ensureKubernetesService } from './kubernetes-service.js';
export { SYSTEM_NAMESPACES } from './protected-namespaces.js';
export { ensureDefaultStorageClass, hostPathRoots } from './storage-admission.js';
export { ensureSystemPriorityClasses } from './priority-admission.js';
export { ensureDefaultIngressClass } from './ingress-class-admission.js';

export interface AdmissionSettings {
  serviceCidr: string;
  podEvictionTimeoutSeconds: number;
  /** Directories PersistentVolume hostPath/local paths must lie under. */
  pvHostPathRoots: readonly string[];
  /** Several API servers on one store: ClusterIPs and NodePorts are also claimed cluster-wide. */
  reservations?: ClusterReservations;
}

export async function installAdmissionPlugins(registry: Registry, s: AdmissionSettings): Promise<ServiceAllocator> {
  const allocator = new ServiceAllocator(registry, { serviceCidr: s.serviceCidr, ...(s.reservations ? { reservations: s.reservations } : {}) });
  await allocator.rebuild();
  registry.addPlugin(allocator);
  registry.addPlugin(defaultTolerationSecondsPlugin(s.podEvictionTimeoutSeconds));
  registry.addPlugin(jobSelectorPlugin());
  registry.addPlugin(storageAdmissionPlugin(registry, s.pvHostPathRoots));
  registry.addPlugin(runtimeClassAdmissionPlugin(registry));
  registry.addPlugin(priorityAdmissionPlugin(registry));
  registry.addPlugin(defaultIngressClassPlugin(registry));
  registry.addPlugin(nodeRestrictionPlugin(registry));
  registry.addPlugin(podIpsPlugin(registry));
  registry.addPlugin(protectedNamespacesPlugin());
  registry.addPlugin(serviceAccountAdmissionPlugin(registry));
  // LimitRanger's defaults first: the quota charges what the pod will really request.
  registry.addPlugin(limitRangerPlugin(registry));
  registry.addPlugin(resourceQuotaPlugin(registry));
  // Last: webhooks see the object as every built-in step left it.
  registry.addPlugin(new WebhookDispatcher(registry));
  return allocator;
}
