/**
 * The pure core of RBAC: what a request asks for (its attributes, as upstream's authorizer.Attributes),
 * whether one PolicyRule allows it, and whether a set of rules covers another (escalation checks).
 * Matching follows upstream exactly: `*` matches every verb, group and resource; `*\/scale` matches the
 * scale subresource of any resource; an empty resourceNames matches every name; a non-resource URL
 * ending in `*` is a prefix.
 */
import type { PolicyRule } from '../../../api/types.js';

export interface UserInfo {
  name: string;
  groups: readonly string[];
}

/** One request as the authorizers see it. */
export interface RequestAttributes {
  user: UserInfo;
  /** get list watch create update patch delete deletecollection, or the HTTP verb of a non-resource request. */
  verb: string;
  resourceRequest: boolean;
  /** The URL path (what non-resource rules match). */
  path: string;
  namespace: string;
  apiGroup: string;
  resource: string;
  subresource: string;
  name: string;
}

const has = (list: readonly string[] | undefined, value: string): boolean => list !== undefined && list.includes(value);

export function verbMatches(rule: PolicyRule, verb: string): boolean {
  return has(rule.verbs, '*') || has(rule.verbs, verb);
}

export function apiGroupMatches(rule: PolicyRule, group: string): boolean {
  return has(rule.apiGroups, '*') || has(rule.apiGroups, group);
}

/** `combined` is `pods` or `pods/log`. */
export function resourceMatches(rule: PolicyRule, combined: string, subresource: string): boolean {
  for (const r of rule.resources ?? []) {
    if (r === '*' || r === combined) return true;
    if (subresource !== '' && r === `*/${subresource}`) return true;
  }
  return false;
}

export function resourceNameMatches(rule: PolicyRule, name: string): boolean {
  const names = rule.resourceNames ?? [];
  return names.length === 0 || names.includes(name);
}

export function nonResourceURLMatches(rule: PolicyRule, path: string): boolean {
  for (const u of rule.nonResourceURLs ?? []) {
    if (u === '*' || u === path) return true;
    if (u.endsWith('*') && path.startsWith(u.slice(0, -1))) return true;
  }
  return false;
}

/** Whether `rule` allows the request (upstream's RuleAllows). */
export function ruleAllows(a: Omit<RequestAttributes, 'user'>, rule: PolicyRule): boolean {
  if (!a.resourceRequest) return verbMatches(rule, a.verb) && nonResourceURLMatches(rule, a.path);
  const combined = a.subresource === '' ? a.resource : `${a.resource}/${a.subresource}`;
  return verbMatches(rule, a.verb) && apiGroupMatches(rule, a.apiGroup) && resourceMatches(rule, combined, a.subresource)
    && resourceNameMatches(rule, a.name);
}

// ------------------------------------------------------------------------------------ covering

/** Splits a rule into rules of one verb, one group, one resource and at most one name (or one URL). */
export function breakdownRule(rule: PolicyRule): PolicyRule[] {
  const out: PolicyRule[] = [];
  for (const verb of rule.verbs ?? []) {
    for (const group of rule.apiGroups ?? []) {
      for (const resource of rule.resources ?? []) {
        const names = rule.resourceNames ?? [];
        if (names.length === 0) out.push({ verbs: [verb], apiGroups: [group], resources: [resource] });
        for (const name of names) out.push({ verbs: [verb], apiGroups: [group], resources: [resource], resourceNames: [name] });
      }
    }
    for (const url of rule.nonResourceURLs ?? []) out.push({ verbs: [verb], nonResourceURLs: [url] });
  }
  return out;
}

function resourceCovers(owner: readonly string[], wanted: string): boolean {
  if (owner.includes('*') || owner.includes(wanted)) return true;
  const slash = wanted.indexOf('/');
  return slash >= 0 && owner.includes(`*${wanted.slice(slash)}`);
}

function urlCovers(owner: readonly string[], wanted: string): boolean {
  return owner.some((u) => u === wanted || (u.endsWith('*') && wanted.startsWith(u.slice(0, -1))));
}

/** Whether `owner` covers the simple rule `wanted` (one of breakdownRule's). */
function ruleCovers(owner: PolicyRule, wanted: PolicyRule): boolean {
  const verb = wanted.verbs[0]!;
  if (!has(owner.verbs, '*') && !has(owner.verbs, verb)) return false;
  const url = wanted.nonResourceURLs?.[0];
  if (url !== undefined) return urlCovers(owner.nonResourceURLs ?? [], url);
  const group = wanted.apiGroups?.[0] ?? '';
  if (!has(owner.apiGroups, '*') && !has(owner.apiGroups, group)) return false;
  if (!resourceCovers(owner.resources ?? [], wanted.resources?.[0] ?? '')) return false;
  const ownerNames = owner.resourceNames ?? [];
  const name = wanted.resourceNames?.[0];
  return ownerNames.length === 0 || (name !== undefined && ownerNames.includes(name));
}

/** The parts of `wanted` that no rule of `owner` covers (empty: owner holds everything wanted). */
export function uncoveredRules(owner: readonly PolicyRule[], wanted: readonly PolicyRule[]): PolicyRule[] {
  const missing: PolicyRule[] = [];
  for (const rule of wanted) {
    for (const simple of breakdownRule(rule)) {
      if (!owner.some((o) => ruleCovers(o, simple))) missing.push(simple);
    }
  }
  return compactRules(missing);
}

/** Merges simple rules that differ only in their verb (upstream's CompactRules). */
export function compactRules(rules: readonly PolicyRule[]): PolicyRule[] {
  const byTarget = new Map<string, PolicyRule>();
  for (const r of rules) {
    const key = JSON.stringify([r.apiGroups, r.resources, r.resourceNames, r.nonResourceURLs]);
    const seen = byTarget.get(key);
    if (seen) {
      for (const v of r.verbs) if (!seen.verbs.includes(v)) seen.verbs.push(v);
    } else {
      byTarget.set(key, { ...r, verbs: [...r.verbs] });
    }
  }
  return [...byTarget.values()];
}

/** `{APIGroups:[""], Resources:["pods"], Verbs:["get"]}` (upstream's PolicyRule CompactString). */
export function compactString(rule: PolicyRule): string {
  const q = (list: readonly string[]): string => `[${list.map((s) => JSON.stringify(s)).join(' ')}]`;
  const parts: string[] = [];
  if (rule.apiGroups?.length) parts.push(`APIGroups:${q(rule.apiGroups)}`);
  if (rule.resources?.length) parts.push(`Resources:${q(rule.resources)}`);
  if (rule.resourceNames?.length) parts.push(`ResourceNames:${q(rule.resourceNames)}`);
  if (rule.nonResourceURLs?.length) parts.push(`NonResourceURLs:${q(rule.nonResourceURLs)}`);
  parts.push(`Verbs:${q(rule.verbs)}`);
  return `{${parts.join(', ')}}`;
}
