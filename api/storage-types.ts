/**
 * Storage object types: core/v1 PersistentVolume and PersistentVolumeClaim, storage.k8s.io/v1
 * StorageClass, and apps/v1 ControllerRevision (the template history of StatefulSets and DaemonSets),
 * with the well-known annotation and finalizer names the binder, provisioner and scheduler share.
 */
import type { Condition, KubeObject, LabelSelector } from './meta.js';
import type { NodeSelector, ObjectReference, Quantity } from './reference-types.js';

export type PersistentVolumeAccessMode = 'ReadWriteOnce' | 'ReadOnlyMany' | 'ReadWriteMany' | 'ReadWriteOncePod';
export const ACCESS_MODES: readonly PersistentVolumeAccessMode[] = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'];
export type ReclaimPolicy = 'Retain' | 'Delete' | 'Recycle';
export type VolumeBindingMode = 'Immediate' | 'WaitForFirstConsumer';

export interface PersistentVolumeSpec {
  capacity?: Record<string, Quantity>;
  accessModes?: PersistentVolumeAccessMode[];
  claimRef?: ObjectReference;
  persistentVolumeReclaimPolicy?: ReclaimPolicy;
  storageClassName?: string;
  mountOptions?: string[];
  volumeMode?: 'Filesystem' | 'Block';
  nodeAffinity?: { required?: NodeSelector };
  hostPath?: { path: string; type?: string };
  local?: { path: string; fsType?: string };
  [source: string]: unknown;
}

export type PersistentVolumePhase = 'Pending' | 'Available' | 'Bound' | 'Released' | 'Failed';

export interface PersistentVolume extends KubeObject {
  spec: PersistentVolumeSpec;
  status?: { phase?: PersistentVolumePhase; message?: string; reason?: string; lastPhaseTransitionTime?: string };
}

export interface PersistentVolumeClaimSpec {
  accessModes?: PersistentVolumeAccessMode[];
  selector?: LabelSelector;
  resources?: { requests?: Record<string, Quantity>; limits?: Record<string, Quantity> };
  volumeName?: string;
  storageClassName?: string;
  volumeMode?: 'Filesystem' | 'Block';
}

export type PersistentVolumeClaimPhase = 'Pending' | 'Bound' | 'Lost';

export interface PersistentVolumeClaim extends KubeObject {
  spec: PersistentVolumeClaimSpec;
  status?: {
    phase?: PersistentVolumeClaimPhase;
    accessModes?: PersistentVolumeAccessMode[];
    capacity?: Record<string, Quantity>;
    conditions?: Condition[];
  };
}

export interface StorageClass extends KubeObject {
  provisioner: string;
  parameters?: Record<string, string>;
  reclaimPolicy?: ReclaimPolicy;
  mountOptions?: string[];
  allowVolumeExpansion?: boolean;
  volumeBindingMode?: VolumeBindingMode;
  allowedTopologies?: unknown[];
}

export interface ControllerRevision extends KubeObject {
  /** The serialized state of the owner at this revision (a patch holding `spec.template`). */
  data?: unknown;
  revision: number;
}

/** Marks the StorageClass that claims without `storageClassName` get. */
export const DEFAULT_CLASS_ANNOTATION = 'storageclass.kubernetes.io/is-default-class';
/** The node the scheduler chose for a WaitForFirstConsumer claim (set on the claim). */
export const SELECTED_NODE_ANNOTATION = 'volume.kubernetes.io/selected-node';
/** The provisioner asked to create a volume for a claim (set on the claim by the binder). */
export const STORAGE_PROVISIONER_ANNOTATION = 'volume.kubernetes.io/storage-provisioner';
/** On a PV: the provisioner that created it (so only it deletes it). */
export const PROVISIONED_BY_ANNOTATION = 'pv.kubernetes.io/provisioned-by';
/** On a claim and its volume: the binding was completed by the binder. */
export const BIND_COMPLETED_ANNOTATION = 'pv.kubernetes.io/bind-completed';
export const BOUND_BY_CONTROLLER_ANNOTATION = 'pv.kubernetes.io/bound-by-controller';
export const PVC_PROTECTION_FINALIZER = 'kubernetes.io/pvc-protection';
export const PV_PROTECTION_FINALIZER = 'kubernetes.io/pv-protection';
/** Held by the node agent on a local-path PV until it has removed the volume's directory. */
export const LOCAL_PATH_CLEANUP_FINALIZER = 'corral.dev/local-path-cleanup';
/** The built-in provisioner's name and its default class. */
export const LOCAL_PATH_PROVISIONER = 'rancher.io/local-path';
export const LOCAL_PATH_CLASS = 'local-path';
/** On a Node: the directory its agent keeps local-path volumes in (`corral agent --storage-dir`). */
export const NODE_STORAGE_DIR_ANNOTATION = 'storage.corral.dev/local-path-dir';
