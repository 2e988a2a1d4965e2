/**
 * validateObject: the whole admission-time validation of one object, as the API server runs it on
 * create (old undefined) and update (old = the stored object). Defaults must already be applied
 * (api/defaults.ts), as in Kubernetes, where validation always sees the defaulted object.
 */
import type { KubeObject } from '../meta.js';
import type { ResourceInfo } from '../resources.js';
import type { StatusCause } from '../status.js';
import { required } from './field.js';
import { validateObjectMeta } from './meta.js';
import { validatePodSpec } from './podspec.js';
import { validatePodStatusIPs } from './pod-status.js';
import { validateEndpoints, validateService } from './service.js';
import { validateConfigMap, validateSecret } from './config.js';
import { validateEndpointSlice } from './endpoint-slice.js';
import {
  validateControllerRevision, validateCronJob, validateDaemonSet, validateDeployment, validateJob, validateReplicaSet,
  validateReplicationController, validateStatefulSet,
} from './workloads.js';
import { validatePersistentVolume, validatePersistentVolumeClaim, validateStorageClass } from './storage.js';
import {
  validateEvent, validateLease, validateNamespace, validateNode, validatePodDisruptionBudget, validateServiceAccount,
} from './cluster.js';
import { validateMutatingWebhookConfiguration, validateValidatingWebhookConfiguration } from './admission.js';
import { validateIngress, validateIngressClass } from './ingress.js';
import { validatePodTemplateObject, validatePriorityClass, validateRuntimeClass } from './scheduling.js';
import { validateLimitRange, validateResourceQuota } from './quota.js';
import { validateClusterRole, validateClusterRoleBinding, validateRole, validateRoleBinding } from './rbac.js';

export interface ValidateOptions {
  /**
   * The object's spec is the stored one, copied unchanged (a status write before any admission
   * webhook ran): as upstream's ValidatePodStatusUpdate, the spec is not validated again (it was a
   * third of a scheduled pod's spec validations: create, bind, status; each walks every container).
   */
  specFromStore?: boolean;
}

type KindValidator = (obj: KubeObject, old?: KubeObject, o?: ValidateOptions) => StatusCause[];

const validatePod: KindValidator = (obj, _old, o) => [
  ...(o?.specFromStore === true ? [] : validatePodSpec(obj['spec'], 'spec')), ...validatePodStatusIPs(obj['status']),
];

/** Kind-specific rules; kinds not listed get the metadata checks only. */
const KIND_VALIDATORS: ReadonlyMap<string, KindValidator> = new Map<string, KindValidator>([
  ['Pod', validatePod],
  ['Service', validateService],
  ['Endpoints', (obj) => validateEndpoints(obj)],
  ['EndpointSlice', validateEndpointSlice],
  ['ConfigMap', validateConfigMap],
  ['Secret', validateSecret],
  ['Namespace', (obj) => validateNamespace(obj)],
  ['Node', (obj) => validateNode(obj)],
  ['Event', (obj) => validateEvent(obj)],
  ['Lease', (obj) => validateLease(obj)],
  ['ServiceAccount', (obj) => validateServiceAccount(obj)],
  ['PodDisruptionBudget', (obj) => validatePodDisruptionBudget(obj)],
  ['Deployment', validateDeployment],
  ['ReplicaSet', validateReplicaSet],
  ['ReplicationController', (obj) => validateReplicationController(obj)],
  ['DaemonSet', validateDaemonSet],
  ['Job', validateJob],
  ['CronJob', validateCronJob],
  ['StatefulSet', validateStatefulSet],
  ['ControllerRevision', validateControllerRevision],
  ['PersistentVolume', validatePersistentVolume],
  ['PersistentVolumeClaim', validatePersistentVolumeClaim],
  ['StorageClass', validateStorageClass],
  ['PodTemplate', (obj) => validatePodTemplateObject(obj)],
  ['PriorityClass', validatePriorityClass],
  ['RuntimeClass', validateRuntimeClass],
  ['Ingress', (obj) => validateIngress(obj)],
  ['IngressClass', validateIngressClass],
  ['ResourceQuota', (obj) => validateResourceQuota(obj)],
  ['LimitRange', (obj) => validateLimitRange(obj)],
  ['ValidatingWebhookConfiguration', validateValidatingWebhookConfiguration],
  ['MutatingWebhookConfiguration', validateMutatingWebhookConfiguration],
  ['Role', (obj) => validateRole(obj)],
  ['ClusterRole', (obj) => validateClusterRole(obj)],
  ['RoleBinding', validateRoleBinding],
  ['ClusterRoleBinding', validateClusterRoleBinding],
]);

/** All field errors of `obj`; an empty list means the object may be stored. */
export function validateObject(info: ResourceInfo, obj: KubeObject, old?: KubeObject, o: ValidateOptions = {}): StatusCause[] {
  if (typeof obj !== 'object' || obj === null) return [required('metadata')];
  const out = validateObjectMeta(info, obj);
  // A custom resource is validated by its schema (its kind may share a built-in kind's name).
  const kindRules = info.custom ? undefined : KIND_VALIDATORS.get(info.kind);
  if (kindRules) out.push(...kindRules(obj, old, o));
  return out;
}
