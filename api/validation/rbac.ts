/**
 * Validation of rbac.authorization.k8s.io/v1: policy rules, aggregation rules, role references and
 * subjects, with upstream's field paths and messages (pkg/apis/rbac/validation).
 */
import type { KubeObject } from '../meta.js';
import { RBAC_GROUP } from '../resources.js';
import type { StatusCause } from '../status.js';
import { deepEqual } from '../object-util.js';
import { asArray, asString, child, eachInvalid, GoText, index, invalid, isRecord, notSupported, required } from './field.js';
import { isDNS1123Label, isDNS1123Subdomain } from './names.js';
import type { NameValidator } from './names.js';
import { validateLabelSelector } from './selector.js';

/** RBAC object names are URL path segments (`system:aggregate-to-view` is valid), not DNS names. */
export const nameIsPathSegment: NameValidator = (name, prefix) => {
  const out: string[] = [];
  if (!prefix && (name === '.' || name === '..')) out.push(`may not be '${name}'`);
  for (const bad of ['/', '%']) if (name.includes(bad)) out.push(`may not contain '${bad}'`);
  return out;
};

function validatePolicyRule(rule: unknown, namespaced: boolean, path: string): StatusCause[] {
  const r = isRecord(rule) ? rule : {};
  const out: StatusCause[] = [];
  if (asArray(r['verbs']).length === 0) out.push(required(child(path, 'verbs'), 'verbs must contain at least one value'));
  const urls = asArray(r['nonResourceURLs']);
  if (urls.length > 0) {
    if (namespaced) out.push(invalid(child(path, 'nonResourceURLs'), urls, 'namespaced rules cannot apply to non-resource URLs'));
    if (asArray(r['apiGroups']).length > 0 || asArray(r['resources']).length > 0) {
      out.push(invalid(child(path, 'nonResourceURLs'), urls, 'rules cannot apply to both regular resources and non-resource URLs'));
    }
    return out;
  }
  if (asArray(r['apiGroups']).length === 0) out.push(required(child(path, 'apiGroups'), 'resource rules must supply at least one api group'));
  if (asArray(r['resources']).length === 0) out.push(required(child(path, 'resources'), 'resource rules must supply at least one resource'));
  return out;
}

function validateRules(obj: KubeObject, namespaced: boolean): StatusCause[] {
  return asArray(obj['rules']).flatMap((rule, i) => validatePolicyRule(rule, namespaced, index('rules', i)));
}

export function validateRole(obj: KubeObject): StatusCause[] {
  return validateRules(obj, true);
}

export function validateClusterRole(obj: KubeObject): StatusCause[] {
  const out = validateRules(obj, false);
  const agg = obj['aggregationRule'];
  if (isRecord(agg)) {
    const selectors = asArray(agg['clusterRoleSelectors']);
    if (selectors.length === 0) {
      out.push(required('aggregationRule.clusterRoleSelectors', 'at least one clusterRoleSelector required if aggregationRule is non-nil'));
    }
    selectors.forEach((sel, i) => out.push(...validateLabelSelector(sel, index('aggregationRule.clusterRoleSelectors', i))));
  }
  return out;
}

function validateSubject(subject: unknown, namespaced: boolean, path: string): StatusCause[] {
  const s = isRecord(subject) ? subject : {};
  const out: StatusCause[] = [];
  const name = asString(s['name']);
  const kind = asString(s['kind']);
  const apiGroup = asString(s['apiGroup']);
  if (name === '') out.push(required(child(path, 'name')));
  switch (kind) {
    case 'ServiceAccount':
      if (name !== '') out.push(...eachInvalid(child(path, 'name'), name, isDNS1123Subdomain(name)));
      if (apiGroup !== '') out.push(notSupported(child(path, 'apiGroup'), apiGroup, ['']));
      if (!namespaced && asString(s['namespace']) === '') out.push(required(child(path, 'namespace')));
      break;
    case 'User':
    case 'Group':
      if (apiGroup !== RBAC_GROUP) out.push(notSupported(child(path, 'apiGroup'), apiGroup, [RBAC_GROUP]));
      break;
    default:
      out.push(notSupported(child(path, 'kind'), kind, ['ServiceAccount', 'User', 'Group']));
  }
  const ns = asString(s['namespace']);
  if (kind === 'ServiceAccount' && ns !== '') out.push(...eachInvalid(child(path, 'namespace'), ns, isDNS1123Label(ns)));
  return out;
}

function validateBinding(obj: KubeObject, old: KubeObject | undefined, namespaced: boolean): StatusCause[] {
  const out: StatusCause[] = [];
  const ref = isRecord(obj['roleRef']) ? obj['roleRef'] : {};
  const kinds = namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole'];
  if (asString(ref['apiGroup']) !== RBAC_GROUP) out.push(notSupported('roleRef.apiGroup', asString(ref['apiGroup']), [RBAC_GROUP]));
  if (!kinds.includes(asString(ref['kind']))) out.push(notSupported('roleRef.kind', asString(ref['kind']), kinds));
  const name = asString(ref['name']);
  if (name === '') out.push(required('roleRef.name'));
  else out.push(...eachInvalid('roleRef.name', name, nameIsPathSegment(name, false)));
  asArray(obj['subjects']).forEach((s, i) => out.push(...validateSubject(s, namespaced, index('subjects', i))));
  if (old && !deepEqual(old['roleRef'], obj['roleRef'])) {
    const shown = `rbac.RoleRef{APIGroup:${JSON.stringify(asString(ref['apiGroup']))}, Kind:${JSON.stringify(asString(ref['kind']))}, Name:${JSON.stringify(name)}}`;
    out.push(invalid('roleRef', new GoText(shown), 'cannot change roleRef'));
  }
  return out;
}

export function validateRoleBinding(obj: KubeObject, old?: KubeObject): StatusCause[] {
  return validateBinding(obj, old, true);
}

export function validateClusterRoleBinding(obj: KubeObject, old?: KubeObject): StatusCause[] {
  return validateBinding(obj, old, false);
}
