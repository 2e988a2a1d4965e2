/**
 * VolumeBinding, as kube-scheduler's plugin of that name:
 * - PreFilter (`planPodVolumes`): every claim the pod mounts must exist and not be terminating, and
 *   an unbound claim must wait for its consumer (WaitForFirstConsumer); an unbound Immediate claim
 *   makes the pod unschedulable until the binder binds it.
 * - Filter (`volumeBindingFilter`): a claim bound to a volume with node affinity (a local or
 *   local-path volume) admits only the nodes that affinity selects; an unbound delayed claim admits
 *   nodes where a matching volume is available or the class's provisioner can make one (for the
 *   built-in local-path, where the node's filesystem is large enough).
 * - After the choice (`claimsToAnnotate`): the delayed claims get `volume.kubernetes.io/selected-node`,
 *   and the binder binds or provisions on that node.
 * Reasons are upstream's, so FailedScheduling reads the same.
 */
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from '../../api/types.js';
import { LOCAL_PATH_PROVISIONER, SELECTED_NODE_ANNOTATION } from '../../api/storage-types.js';
import { claimClass, findMatchingVolume, localPathClaimProblem, localPathNodeProblem, volumeFitsNode } from './volume-match.js';

export const REASON_VOLUME_NODE_CONFLICT = 'node(s) had volume node affinity conflict';
export const REASON_VOLUME_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind";
export const REASON_NOT_ENOUGH_SPACE = 'node(s) did not have enough free storage';
export const REASON_PV_NOT_EXIST = 'node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)';
export const UNBOUND_IMMEDIATE = 'pod has unbound immediate PersistentVolumeClaims';

export interface VolumeListers {
  claim(namespace: string, name: string): PersistentVolumeClaim | undefined;
  volume(name: string): PersistentVolume | undefined;
  volumes(): readonly PersistentVolume[];
  storageClass(name: string): StorageClass | undefined;
}

/** What the filter checks per node, worked out once per pod. */
export interface VolumeNodeCheck {
  /** Volumes the pod's bound claims use (undefined: the claim names a volume that does not exist). */
  bound: (PersistentVolume | undefined)[];
  /** Unbound WaitForFirstConsumer claims, with their class. */
  delayed: { claim: PersistentVolumeClaim; sc: StorageClass | undefined }[];
  /** All volumes, for matching delayed claims. */
  volumes: readonly PersistentVolume[];
}

export type VolumePlan =
  | { kind: 'none' }
  | { kind: 'unresolvable'; message: string }
  | { kind: 'check'; check: VolumeNodeCheck };

/** PreFilter: the pod's claims, or the message that makes it unschedulable on every node. */
export function planPodVolumes(pod: Pod, listers: VolumeListers): VolumePlan {
  const names = (pod.spec.volumes ?? []).map((v) => v.persistentVolumeClaim?.claimName).filter((n): n is string => !!n);
  if (names.length === 0) return { kind: 'none' };
  const ns = pod.metadata.namespace ?? 'default';
  const check: VolumeNodeCheck = { bound: [], delayed: [], volumes: listers.volumes() };
  for (const name of names) {
    const claim = listers.claim(ns, name);
    if (!claim) return { kind: 'unresolvable', message: `persistentvolumeclaim "${name}" not found` };
    if (claim.metadata.deletionTimestamp) return { kind: 'unresolvable', message: `persistentvolumeclaim "${name}" is being deleted` };
    if (claim.spec.volumeName) {
      // Bound (or being bound to a named volume): the volume's node affinity decides.
      check.bound.push(listers.volume(claim.spec.volumeName));
      continue;
    }
    const className = claimClass(claim);
    const sc = className === '' ? undefined : listers.storageClass(className);
    if (sc?.volumeBindingMode !== 'WaitForFirstConsumer') return { kind: 'unresolvable', message: UNBOUND_IMMEDIATE };
    if (sc.provisioner === LOCAL_PATH_PROVISIONER) {
      const problem = localPathClaimProblem(claim, sc);
      if (problem !== undefined) return { kind: 'unresolvable', message: `persistentvolumeclaim "${name}": ${problem}` };
    }
    check.delayed.push({ claim, sc });
  }
  return { kind: 'check', check };
}

/** The part of the snapshot's NodeState the filter reads (structural: snapshot.ts imports this file's types). */
export interface VolumeFilterNode {
  name: string;
  labels: Readonly<Record<string, string>>;
  node: Node;
}

/** Filter: undefined when the pod's volumes allow this node, else upstream's reason. */
export function volumeBindingFilter(node: VolumeFilterNode, check: VolumeNodeCheck): string | undefined {
  for (const pv of check.bound) {
    if (pv === undefined) return REASON_PV_NOT_EXIST;
    if (!volumeFitsNode(pv, node.name, node.labels)) return REASON_VOLUME_NODE_CONFLICT;
  }
  for (const { claim, sc } of check.delayed) {
    const selected = claim.metadata.annotations?.[SELECTED_NODE_ANNOTATION];
    // Already promised to a node (provisioning may be under way): only that node.
    if (selected !== undefined && selected !== node.name) return REASON_VOLUME_BIND_CONFLICT;
    if (findMatchingVolume(claim, check.volumes, (pv) => volumeFitsNode(pv, node.name, node.labels))) continue;
    if (!sc || sc.provisioner === 'kubernetes.io/no-provisioner') return REASON_VOLUME_BIND_CONFLICT;
    if (sc.provisioner === LOCAL_PATH_PROVISIONER && localPathNodeProblem(claim, node.node) !== undefined) return REASON_NOT_ENOUGH_SPACE;
  }
  return undefined;
}

/** After the choice: the delayed claims that still need the chosen node written on them. */
export function claimsToAnnotate(check: VolumeNodeCheck, nodeName: string): PersistentVolumeClaim[] {
  return check.delayed.map((d) => d.claim).filter((c) => c.metadata.annotations?.[SELECTED_NODE_ANNOTATION] !== nodeName);
}
