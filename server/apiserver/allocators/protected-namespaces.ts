/**
 * NamespaceLifecycle's immortal namespaces: default, kube-system, kube-public and kube-node-lease
 * hold what the cluster itself needs (the kubernetes Service, node Leases, kubelet credentials) and
 * cannot be deleted, one by one or through deletecollection (the registry admits every item of a
 * collection before it deletes any).
 */
import type { KubeObject } from '../../../api/meta.js';
import type { ResourceInfo } from '../../../api/resources.js';
import { errors } from '../../../api/status.js';
import type { AdmissionPlugin } from '../registry.js';

export const SYSTEM_NAMESPACES: readonly string[] = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export function protectedNamespacesPlugin(): AdmissionPlugin {
  return {
    name: 'NamespaceLifecycle',
    async admitDelete(info: ResourceInfo, obj: KubeObject) {
      if (info.group !== '' || info.kind !== 'Namespace') return;
      const name = obj.metadata.name ?? '';
      if (SYSTEM_NAMESPACES.includes(name)) {
        throw errors.forbidden(`namespaces "${name}" is forbidden: this namespace may not be deleted`, { name, group: '', kind: 'namespaces' });
      }
    },
  };
}
