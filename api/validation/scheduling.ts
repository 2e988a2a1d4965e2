/**
 * Validation of PodTemplate (core/v1), PriorityClass (scheduling.k8s.io/v1) and RuntimeClass
 * (node.k8s.io/v1) as upstream validates them: a template is a pod template with any restart policy;
 * `system-` class names are reserved for the built-in classes, user values stop at one billion, and
 * value and preemptionPolicy are immutable; a RuntimeClass handler is a DNS label and immutable.
 */
import type { KubeObject } from '../meta.js';
import type { StatusCause } from '../status.js';
import {
  HIGHEST_USER_DEFINABLE_PRIORITY, SYSTEM_PRIORITY_CLASS_PREFIX, SYSTEM_PRIORITY_CLASSES, type PriorityClass,
} from '../scheduling-types.js';
import { asString, child, eachInvalid, forbidden, invalid, isRecord, key, notSupported, required } from './field.js';
import { isDNS1123Label, validateLabels } from './names.js';
import { validatePodTemplate, validateResourceName, validateResourceQuantity, validateTolerations } from './podspec.js';

type Obj = Record<string, unknown>;

const IMMUTABLE = 'field is immutable';
const PREEMPTION_POLICIES = ['Never', 'PreemptLowerPriority'];

export function validatePodTemplateObject(obj: KubeObject): StatusCause[] {
  return validatePodTemplate((obj as Obj)['template'], 'template');
}

/** Why a `system-` name is not one of the built-in classes as they are defined, or undefined. */
function systemClassMismatch(pc: PriorityClass): string | undefined {
  const known = SYSTEM_PRIORITY_CLASSES.find((s) => s.metadata.name === pc.metadata.name);
  if (!known) return `${pc.metadata.name} is not a known system priority class`;
  if (known.value !== pc.value) return `value of ${known.metadata.name} PriorityClass must be ${known.value}`;
  if (pc.globalDefault === true) return `globalDefault of ${known.metadata.name} PriorityClass must be false`;
  return undefined;
}

export function validatePriorityClass(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const pc = obj as PriorityClass;
  const out: StatusCause[] = [];
  const value = (pc as unknown as Obj)['value'];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < -2147483648 || value > 2147483647) {
    out.push(invalid('value', value ?? null, 'must be a 32-bit integer'));
  } else if (pc.metadata.name?.startsWith(SYSTEM_PRIORITY_CLASS_PREFIX)) {
    const why = systemClassMismatch(pc);
    if (why) {
      out.push(forbidden('metadata.name', `priority class names with '${SYSTEM_PRIORITY_CLASS_PREFIX}' prefix are reserved for system use only. error: ${why}`));
    }
  } else if (value > HIGHEST_USER_DEFINABLE_PRIORITY) {
    out.push(forbidden('value', `maximum allowed value of a user defined priority is ${HIGHEST_USER_DEFINABLE_PRIORITY}`));
  }
  const policy = pc.preemptionPolicy;
  if (policy !== undefined && policy !== null && !PREEMPTION_POLICIES.includes(policy)) out.push(notSupported('preemptionPolicy', policy, PREEMPTION_POLICIES));
  if (old) {
    const before = old as PriorityClass;
    if (before.value !== pc.value) out.push(forbidden('value', 'may not be changed in an update.'));
    if (before.preemptionPolicy !== pc.preemptionPolicy) out.push(invalid('preemptionPolicy', pc.preemptionPolicy ?? null, IMMUTABLE));
  }
  return out;
}

export function validateRuntimeClass(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const rc = obj as Obj;
  const out: StatusCause[] = [];
  const handler = asString(rc['handler']);
  if (handler === '') out.push(required('handler'));
  else out.push(...eachInvalid('handler', handler, isDNS1123Label(handler)));
  if (old && (old as Obj)['handler'] !== rc['handler']) out.push(invalid('handler', rc['handler'] ?? null, IMMUTABLE));
  const overhead = rc['overhead'];
  if (isRecord(overhead) && isRecord(overhead['podFixed'])) {
    const path = child('overhead', 'podFixed');
    for (const [name, q] of Object.entries(overhead['podFixed'])) {
      out.push(...validateResourceName(name, key(path, name)));
      out.push(...validateResourceQuantity(name, q, key(path, name)));
    }
  }
  const scheduling = rc['scheduling'];
  if (isRecord(scheduling)) {
    out.push(...validateLabels(scheduling['nodeSelector'] as Record<string, string> | undefined, child('scheduling', 'nodeSelector')));
    out.push(...validateTolerations(scheduling['tolerations'], child('scheduling', 'tolerations')));
  }
  return out;
}
