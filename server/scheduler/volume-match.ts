/**
 * Which PersistentVolume may serve which claim, and on which node: the matching rules the binder,
 * the local-path provisioner and the scheduler's volume filter share (upstream's
 * FindMatchingVolume and CheckNodeAffinity). Pure functions over objects.
 */
import { compareQuantities } from '../../api/quantity.js';
import { labelSelectorFromObject, matchesLabels } from '../../api/selectors.js';
import type { Node, PersistentVolume, PersistentVolumeClaim, StorageClass } from '../../api/types.js';
import { anyTermMatches, compileNodeSelector } from './node-selector.js';

/** The storage a claim asks for ("0" when missing, which validation does not allow). */
export function claimRequest(claim: PersistentVolumeClaim): string {
  return claim.spec.resources?.requests?.['storage'] ?? '0';
}

export function claimClass(claim: PersistentVolumeClaim): string {
  return claim.spec.storageClassName ?? '';
}

/** A volume's required node affinity allows this node (no affinity: every node). */
export function volumeFitsNode(pv: PersistentVolume, nodeName: string, labels: Readonly<Record<string, string>>): boolean {
  const required = pv.spec.nodeAffinity?.required;
  if (!required) return true;
  return anyTermMatches(compileNodeSelector(required), nodeName, labels);
}

/** The volume is promised to this claim (by uid when it has one, else by name). */
export function volumeReservedFor(pv: PersistentVolume, claim: PersistentVolumeClaim): boolean {
  const ref = pv.spec.claimRef;
  if (!ref?.name) return false;
  if (ref.name !== claim.metadata.name || (ref.namespace ?? '') !== (claim.metadata.namespace ?? '')) return false;
  return !ref.uid || ref.uid === claim.metadata.uid;
}

/** Why a volume cannot serve a claim, ignoring nodes; undefined when it can. */
export function volumeMismatch(pv: PersistentVolume, claim: PersistentVolumeClaim): string | undefined {
  if (pv.metadata.deletionTimestamp) return 'being deleted';
  if (pv.spec.claimRef?.name && !volumeReservedFor(pv, claim)) return 'bound to another claim';
  if ((pv.spec.storageClassName ?? '') !== claimClass(claim)) return 'another storage class';
  if ((pv.spec.volumeMode ?? 'Filesystem') !== (claim.spec.volumeMode ?? 'Filesystem')) return 'another volume mode';
  const modes = pv.spec.accessModes ?? [];
  if (!(claim.spec.accessModes ?? []).every((m) => modes.includes(m))) return 'missing access modes';
  const capacity = pv.spec.capacity?.['storage'];
  if (capacity === undefined || compareQuantities(capacity, claimRequest(claim)) < 0) return 'too small';
  if (claim.spec.selector && !matchesLabels(labelSelectorFromObject(claim.spec.selector), pv.metadata.labels)) return 'labels do not match the selector';
  if (pv.status?.phase === 'Released' || pv.status?.phase === 'Failed') return `phase ${pv.status.phase}`;
  return undefined;
}

/**
 * The best volume for a claim: one already reserved for it, else the smallest that fits. `fitsNode`
 * narrows to volumes usable on a node (WaitForFirstConsumer binding).
 */
export function findMatchingVolume(
  claim: PersistentVolumeClaim,
  volumes: readonly PersistentVolume[],
  fitsNode?: (pv: PersistentVolume) => boolean,
): PersistentVolume | undefined {
  let best: PersistentVolume | undefined;
  for (const pv of volumes) {
    if (volumeMismatch(pv, claim) !== undefined) continue;
    if (fitsNode && !fitsNode(pv)) continue;
    if (volumeReservedFor(pv, claim)) return pv;
    if (!best || compareQuantities(pv.spec.capacity!['storage']!, best.spec.capacity!['storage']!) < 0) best = pv;
  }
  return best;
}

const LOCAL_PATH_MODES = new Set(['ReadWriteOnce', 'ReadWriteOncePod']);

/** Why local-path cannot serve this claim on any node; undefined when it can. */
export function localPathClaimProblem(claim: PersistentVolumeClaim, sc: StorageClass): string | undefined {
  const modes = claim.spec.accessModes ?? [];
  const unsupported = modes.filter((m) => !LOCAL_PATH_MODES.has(m));
  if (unsupported.length > 0) return `local-path volumes only support ReadWriteOnce and ReadWriteOncePod access modes, not ${unsupported.join(', ')}`;
  if ((claim.spec.volumeMode ?? 'Filesystem') !== 'Filesystem') return 'local-path volumes only support volumeMode Filesystem';
  if (sc.volumeBindingMode !== 'WaitForFirstConsumer') {
    return `storage class "${sc.metadata.name}" uses volumeBindingMode ${sc.volumeBindingMode ?? 'Immediate'}: a local-path volume needs WaitForFirstConsumer, so it is made on the node its first pod runs on`;
  }
  return undefined;
}

/** Why local-path cannot put this claim's volume on this node (its filesystem is too small). */
export function localPathNodeProblem(claim: PersistentVolumeClaim, node: Node): string | undefined {
  const available = node.status?.capacity?.['ephemeral-storage'];
  if (available !== undefined && compareQuantities(claimRequest(claim), available) > 0) {
    return `requested storage ${claimRequest(claim)} is more than node "${node.metadata.name}" has (${available})`;
  }
  return undefined;
}
