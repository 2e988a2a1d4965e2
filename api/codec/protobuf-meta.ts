/**
 * Field tables for apimachinery meta/v1 messages (k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto)
 * and the shared core/v1 references that several kinds embed.
 */
import { KEEP, LIST, MAP, field, message } from './protobuf-schema.js';

export const OWNER_REFERENCE = message('OwnerReference', {
  1: field('kind', 'string', KEEP),
  3: field('name', 'string', KEEP),
  4: field('uid', 'string', KEEP),
  5: field('apiVersion', 'string', KEEP),
  6: field('controller', 'bool', KEEP),
  7: field('blockOwnerDeletion', 'bool', KEEP),
});

/**
 * ObjectMeta. `managedFields` (17) is not decoded: the API server owns it and rewrites it on every
 * write, and kubectl never sends it in these bodies. `selfLink` (4) is deprecated and ignored too.
 */
export const OBJECT_META = message('ObjectMeta', {
  1: field('name', 'string'),
  2: field('generateName', 'string'),
  3: field('namespace', 'string'),
  5: field('uid', 'string'),
  6: field('resourceVersion', 'string'),
  7: field('generation', 'int64'),
  8: field('creationTimestamp', 'time'),
  9: field('deletionTimestamp', 'time'),
  10: field('deletionGracePeriodSeconds', 'int64', KEEP),
  11: field('labels', 'string', MAP),
  12: field('annotations', 'string', MAP),
  13: field('ownerReferences', OWNER_REFERENCE, LIST),
  14: field('finalizers', 'string', LIST),
});

export const LABEL_SELECTOR_REQUIREMENT = message('LabelSelectorRequirement', {
  1: field('key', 'string', KEEP),
  2: field('operator', 'string', KEEP),
  3: field('values', 'string', LIST),
});

export const LABEL_SELECTOR = message('LabelSelector', {
  1: field('matchLabels', 'string', MAP),
  2: field('matchExpressions', LABEL_SELECTOR_REQUIREMENT, LIST),
});

/** metav1.Condition (used by Service status and others). */
export const META_CONDITION = message('Condition', {
  1: field('type', 'string', KEEP),
  2: field('status', 'string', KEEP),
  3: field('observedGeneration', 'int64'),
  4: field('lastTransitionTime', 'time'),
  5: field('reason', 'string', KEEP),
  6: field('message', 'string', KEEP),
});

export const PRECONDITIONS = message('Preconditions', {
  1: field('uid', 'string', KEEP),
  2: field('resourceVersion', 'string', KEEP),
});

export const DELETE_OPTIONS = message('DeleteOptions', {
  1: field('gracePeriodSeconds', 'int64', KEEP),
  2: field('preconditions', PRECONDITIONS),
  3: field('orphanDependents', 'bool', KEEP),
  4: field('propagationPolicy', 'string', KEEP),
  5: field('dryRun', 'string', LIST),
  6: field('ignoreStoreReadErrorWithClusterBreakingPotential', 'bool', KEEP),
});

/** core/v1 ObjectReference (ServiceAccount secrets, CronJob status.active). */
export const OBJECT_REFERENCE = message('ObjectReference', {
  1: field('kind', 'string'),
  2: field('namespace', 'string'),
  3: field('name', 'string'),
  4: field('uid', 'string'),
  5: field('apiVersion', 'string'),
  6: field('resourceVersion', 'string'),
  7: field('fieldPath', 'string'),
});

/** core/v1 LocalObjectReference: `{name}`; inlined into the key selectors that embed it. */
export const LOCAL_OBJECT_REFERENCE = message('LocalObjectReference', {
  1: field('name', 'string'),
});
