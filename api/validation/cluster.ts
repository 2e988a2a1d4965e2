/**
 * Validation of the remaining kinds: Namespace, Node, Event, Lease, PodDisruptionBudget and
 * ServiceAccount (their metadata is checked by meta.ts; these are the spec-level rules).
 */
import type { KubeObject } from '../meta.js';
import type { StatusCause } from '../status.js';
import {
  asArray, asString, child, duplicate, eachInvalid, GoText, index, invalid, isRecord, nonNegative, positive, required,
} from './field.js';
import { isDNS1123Subdomain, isIPv4, isIPv6, isQualifiedName, isValidLabelValue, isValidPercent } from './names.js';
import { validateFinalizerName } from './meta.js';
import { validateTaintEffect } from './podspec.js';
import { validateLabelSelector } from './selector.js';

type Obj = Record<string, unknown>;

function specOf(obj: KubeObject): Obj {
  return isRecord(obj['spec']) ? obj['spec'] : {};
}

export function validateNamespace(obj: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  for (const f of asArray(specOf(obj)['finalizers'])) out.push(...validateFinalizerName(asString(f), 'spec.finalizers'));
  return out;
}

function isCIDR(text: string): boolean {
  const slash = text.indexOf('/');
  if (slash < 0) return false;
  const ip = text.slice(0, slash);
  const bits = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits)) return false;
  if (isIPv4(ip)) return Number(bits) <= 32;
  return isIPv6(ip) && Number(bits) <= 128;
}

export function validateNode(obj: KubeObject): StatusCause[] {
  const spec = specOf(obj);
  const out: StatusCause[] = [];
  const seen = new Set<string>();
  asArray(spec['taints']).forEach((t, i) => {
    const at = index('spec.taints', i);
    if (!isRecord(t)) {
      out.push(invalid(at, String(t), 'must be a taint object'));
      return;
    }
    const k = asString(t['key']);
    if (k === '') out.push(required(child(at, 'key')));
    else out.push(...eachInvalid(child(at, 'key'), k, isQualifiedName(k)));
    const value = asString(t['value']);
    if (value !== '') out.push(...eachInvalid(child(at, 'value'), value, isValidLabelValue(value)));
    out.push(...validateTaintEffect(t['effect'], false, child(at, 'effect')));
    const id = `${k}:${asString(t['effect'])}`;
    if (seen.has(id)) out.push(duplicate(at, new GoText(`core.Taint{Key:${JSON.stringify(k)}, Value:${JSON.stringify(value)}, Effect:${JSON.stringify(asString(t['effect']))}}`)));
    seen.add(id);
  });
  const cidrs = asArray(spec['podCIDRs']).map(asString);
  const podCIDR = asString(spec['podCIDR']);
  if (podCIDR !== '' && !isCIDR(podCIDR)) out.push(invalid('spec.podCIDR', podCIDR, 'must be a valid CIDR'));
  cidrs.forEach((c, i) => {
    if (!isCIDR(c)) out.push(invalid(index('spec.podCIDRs', i), c, 'must be a valid CIDR'));
  });
  if (podCIDR !== '' && cidrs.length > 0 && cidrs[0] !== podCIDR) {
    out.push(invalid('spec.podCIDRs', cidrs, 'first entry must match `podCIDR`'));
  }
  return out;
}

/** Limits on the newer (eventTime-carrying) fields of core/v1 Events. */
const EVENT_LIMITS = { reportingInstance: 128, action: 128, reason: 128, note: 1024 };

/**
 * Events: the involved object is required and must live in the event's namespace. Events that set
 * eventTime (events.k8s.io style) must also name their reporter, action and reason.
 */
export function validateEvent(obj: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const involved = obj['involvedObject'];
  const namespace = asString(obj.metadata.namespace);
  if (!isRecord(involved)) {
    out.push(required('involvedObject'));
  } else {
    const involvedNs = asString(involved['namespace']);
    const eventTime = obj['eventTime'];
    const legacy = eventTime === undefined || eventTime === null || eventTime === '';
    if (legacy) {
      if (involvedNs === '' ? namespace !== '' && namespace !== 'default' : involvedNs !== namespace) {
        out.push(invalid('involvedObject.namespace', involvedNs, 'does not match event.namespace'));
      }
    } else {
      if (involvedNs === '' && namespace !== 'default' && namespace !== 'kube-system') {
        out.push(invalid('involvedObject.namespace', involvedNs, 'does not match event.namespace'));
      }
      const controller = asString(obj['reportingComponent']);
      if (controller === '') out.push(required('reportingComponent'));
      else out.push(...eachInvalid('reportingComponent', controller, isQualifiedName(controller)));
      const instance = asString(obj['reportingInstance']);
      if (instance === '') out.push(required('reportingInstance'));
      else if (instance.length > EVENT_LIMITS.reportingInstance) {
        out.push(invalid('reportingInstance', '', `can have at most ${EVENT_LIMITS.reportingInstance} characters`));
      }
      const action = asString(obj['action']);
      if (action === '') out.push(required('action'));
      else if (action.length > EVENT_LIMITS.action) out.push(invalid('action', '', `can have at most ${EVENT_LIMITS.action} characters`));
      const reason = asString(obj['reason']);
      if (reason === '') out.push(required('reason'));
      else if (reason.length > EVENT_LIMITS.reason) out.push(invalid('reason', '', `can have at most ${EVENT_LIMITS.reason} characters`));
      const type = asString(obj['type']);
      if (type !== '' && type !== 'Normal' && type !== 'Warning') out.push(invalid('type', '', `has invalid value: ${type}`));
      if (asString(obj['message']).length > EVENT_LIMITS.note) {
        out.push(invalid('message', '', `can have at most ${EVENT_LIMITS.note} characters`));
      }
    }
  }
  if (namespace !== '') out.push(...eachInvalid('namespace', namespace, isDNS1123Subdomain(namespace)));
  return out;
}

export function validateLease(obj: KubeObject): StatusCause[] {
  const spec = specOf(obj);
  return [
    ...positive('spec.leaseDurationSeconds', spec['leaseDurationSeconds']),
    ...nonNegative('spec.leaseTransitions', spec['leaseTransitions']),
  ];
}

function validateIntOrPercent(value: unknown, path: string): StatusCause[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'number') return nonNegative(path, value);
  if (typeof value === 'string') {
    const out = eachInvalid(path, new GoText(value), isValidPercent(value));
    if (out.length === 0 && Number(value.slice(0, -1)) > 100) out.push(invalid(path, new GoText(value), 'must not be greater than 100%'));
    return out;
  }
  return [invalid(path, String(value), "must be an integer or percentage (e.g '5%')")];
}

export function validatePodDisruptionBudget(obj: KubeObject): StatusCause[] {
  const spec = specOf(obj);
  const out: StatusCause[] = [];
  const min = spec['minAvailable'];
  const max = spec['maxUnavailable'];
  if (min !== undefined && min !== null && max !== undefined && max !== null) {
    out.push(invalid('spec.minAvailable', new GoText(String(min)), 'minAvailable and maxUnavailable cannot be both set'));
  }
  out.push(...validateIntOrPercent(min, 'spec.minAvailable'));
  out.push(...validateIntOrPercent(max, 'spec.maxUnavailable'));
  out.push(...validateLabelSelector(spec['selector'], 'spec.selector'));
  const policy = spec['unhealthyPodEvictionPolicy'];
  if (policy !== undefined && policy !== null && policy !== 'IfHealthyBudget' && policy !== 'AlwaysAllow') {
    out.push(invalid('spec.unhealthyPodEvictionPolicy', policy, 'supported values: "IfHealthyBudget", "AlwaysAllow"'));
  }
  return out;
}

export function validateServiceAccount(obj: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  for (const list of ['secrets', 'imagePullSecrets']) {
    asArray(obj[list]).forEach((ref, i) => {
      const name = isRecord(ref) ? asString(ref['name']) : '';
      if (name !== '') out.push(...eachInvalid(child(index(list, i), 'name'), name, isDNS1123Subdomain(name)));
    });
  }
  return out;
}
