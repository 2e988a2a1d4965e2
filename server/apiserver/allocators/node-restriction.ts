/**
 * Upstream's NodeRestriction admission: what the Node authorizer cannot see in a URL. A node
 * credential creates only its own Node (without a pod CIDR: the server assigns it), its own Lease and
 * its own kubelet-credentials Secret; never changes its Node's spec (pod CIDR, taints, unschedulable:
 * a node that rewrote its pod CIDR would take another node's traffic); deletes only pods bound to it;
 * and of PersistentVolumes pinned to it by node affinity only removes finalizers (the local-path
 * cleanup's, once the node removed the volume's directory). LoadBalancer address Leases
 * (`kube-system/corral-lb-*`) a node writes only naming itself as the holder, or releasing its own hold.
 * A join token may change a Node's metadata
 * (the installer's identity annotation), not its spec.
 */
import type { KubeObject } from '../../../api/meta.js';
import { KUBELET_CREDENTIALS_NAMESPACE, kubeletCredentialsSecretName, LB_LEASE_NAMESPACE, LB_LEASE_PREFIX, NODE_LEASE_NAMESPACE } from '../../../api/node-identity.js';
import { deepEqual } from '../../../api/object-util.js';
import { qualifiedResource, resourceForKind, type ResourceInfo } from '../../../api/resources.js';
import { errors } from '../../../api/status.js';
import type { Lease, Node, PersistentVolume, Pod } from '../../../api/types.js';
import { BOOTSTRAPPERS_GROUP, nodeNameOf } from '../../auth/authorizer.js';
import type { AdmissionPlugin, Registry, WriteOptions } from '../registry.js';

function forbidden(info: ResourceInfo, name: string, reason: string): Error {
  return errors.forbidden(`${qualifiedResource(info)} "${name}" is forbidden: ${reason}`, { name, group: info.group, kind: info.plural });
}

function isLbLease(info: ResourceInfo, obj: KubeObject): boolean {
  return info.group === 'coordination.k8s.io' && info.kind === 'Lease' && obj.metadata.namespace === LB_LEASE_NAMESPACE && (obj.metadata.name ?? '').startsWith(LB_LEASE_PREFIX);
}

/** A node takes an LB address Lease for itself, or gives up its own; it never names another holder. */
function admitLbLease(info: ResourceInfo, node: string, lease: Lease, old: Lease | undefined): void {
  const holder = lease.spec?.holderIdentity ?? '';
  const before = old?.spec?.holderIdentity ?? '';
  if (holder === node || (holder === '' && before === node) || (holder === before && old !== undefined && deepEqual(lease.spec ?? {}, old.spec ?? {}))) return;
  throw forbidden(info, lease.metadata.name ?? '', `node "${node}" may only hold a load balancer address lease itself or release its own`);
}

function actingNode(opts: WriteOptions): string | undefined {
  return opts.user ? nodeNameOf(opts.user) : undefined;
}

const HOSTNAME_LABEL = 'kubernetes.io/hostname';

/** Whether the volume's required node affinity names this hostname (how local volumes are pinned). */
function pinnedTo(pv: PersistentVolume, hostname: string): boolean {
  const terms = pv.spec?.nodeAffinity?.required?.nodeSelectorTerms ?? [];
  return terms.some((t) => t.matchExpressions?.some((e) => e.key === HOSTNAME_LABEL && e.operator === 'In' && (e.values ?? []).includes(hostname)));
}

/** The object without what a finalizer removal changes. */
function withoutFinalizers(obj: KubeObject): unknown {
  const { finalizers: _f, resourceVersion: _rv, managedFields: _mf, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

export function nodeRestrictionPlugin(registry: Registry): AdmissionPlugin {
  const nodes = resourceForKind('Node')!;
  /** A node credential may only remove finalizers of a volume pinned to its node. */
  const admitVolumeUpdate = async (info: ResourceInfo, node: string, pv: PersistentVolume, old: PersistentVolume): Promise<void> => {
    const self = (await registry.tryGet(nodes, undefined, node)) as Node | undefined;
    const hostname = self?.metadata.labels?.[HOSTNAME_LABEL] ?? node;
    const name = old.metadata.name ?? '';
    if (!pinnedTo(old, hostname)) throw forbidden(info, name, `node "${node}" may only change volumes pinned to it by node affinity`);
    const kept = new Set(old.metadata.finalizers ?? []);
    if (!(pv.metadata.finalizers ?? []).every((f) => kept.has(f)) || !deepEqual(withoutFinalizers(pv), withoutFinalizers(old))) {
      throw forbidden(info, name, `node "${node}" may only remove finalizers of a volume`);
    }
  };
  return {
    name: 'NodeRestriction',
    async admitCreate(info: ResourceInfo, obj: KubeObject, opts: WriteOptions) {
      const node = actingNode(opts);
      if (node === undefined) return;
      const name = obj.metadata.name ?? '';
      if (info.group === '' && info.kind === 'Node') {
        if (name !== node) throw forbidden(info, name, `node "${node}" is not allowed to modify node "${name}"`);
        const spec = (obj as Node).spec ?? {};
        if (spec.podCIDR || (spec.podCIDRs ?? []).length > 0) throw forbidden(info, name, `node "${node}" is not allowed to set its own pod CIDR`);
      } else if (isLbLease(info, obj)) {
        admitLbLease(info, node, obj as Lease, undefined);
      } else if (info.group === 'coordination.k8s.io' && info.kind === 'Lease') {
        if (obj.metadata.namespace !== NODE_LEASE_NAMESPACE || name !== node) {
          throw forbidden(info, name, 'can only access node lease with the same name as the requesting node');
        }
      } else if (info.group === '' && info.kind === 'Secret') {
        if (obj.metadata.namespace !== KUBELET_CREDENTIALS_NAMESPACE || name !== kubeletCredentialsSecretName(node)) {
          throw forbidden(info, name, `node "${node}" may only create its own kubelet credentials Secret ${KUBELET_CREDENTIALS_NAMESPACE}/${kubeletCredentialsSecretName(node)}`);
        }
      }
    },
    async admitUpdate(info: ResourceInfo, obj: KubeObject, old: KubeObject, opts: WriteOptions) {
      // A join token records a Node's identity annotation; its spec (pod CIDR: routes) is not its business.
      if (opts.user?.groups.includes(BOOTSTRAPPERS_GROUP) && info.group === '' && info.kind === 'Node'
        && !deepEqual((obj as Node).spec ?? {}, (old as Node).spec ?? {})) {
        throw forbidden(info, obj.metadata.name ?? '', `user "${opts.user.name}" may only change a node's metadata`);
      }
      const node = actingNode(opts);
      if (node === undefined) return;
      if (isLbLease(info, old)) return admitLbLease(info, node, obj as Lease, old as Lease);
      if (info.group !== '') return;
      if (info.kind === 'PersistentVolume') return admitVolumeUpdate(info, node, obj as PersistentVolume, old as PersistentVolume);
      if (info.kind !== 'Node') return;
      if (!deepEqual((obj as Node).spec ?? {}, (old as Node).spec ?? {})) {
        throw forbidden(info, obj.metadata.name ?? '', `node "${node}" is not allowed to modify its spec (pod CIDR, taints, unschedulable)`);
      }
    },
    async admitDelete(info: ResourceInfo, obj: KubeObject, opts: WriteOptions) {
      const node = actingNode(opts);
      if (node === undefined || info.group !== '') return;
      const name = obj.metadata.name ?? '';
      if (info.kind === 'Pod' && (obj as Pod).spec?.nodeName !== node) {
        throw forbidden(info, name, `node "${node}" can only delete pods with spec.nodeName set to itself`);
      }
      if (info.kind === 'Node' && name !== node) throw forbidden(info, name, `node "${node}" is not allowed to modify node "${name}"`);
    },
  };
}
