/**
 * Validation of admissionregistration.k8s.io/v1 Validating- and MutatingWebhookConfigurations as
 * upstream: webhook names are unique, fully qualified (three or more DNS segments); clientConfig has
 * exactly one of an https `url` or a `service`; sideEffects is None or NoneOnDryRun;
 * admissionReviewVersions include v1 or v1beta1; timeoutSeconds lies in 1–30; rules use known
 * operations and scopes; the selectors are valid label selectors.
 */
import type { KubeObject } from '../meta.js';
import type { StatusCause } from '../status.js';
import {
  asArray, asString, child, duplicate, eachInvalid, index, invalid, isRecord, notSupported, required,
} from './field.js';
import { isDNS1123Subdomain } from './names.js';
import { validateLabelSelector } from './selector.js';

const FAILURE_POLICIES = ['Fail', 'Ignore'];
const MATCH_POLICIES = ['Equivalent', 'Exact'];
const SIDE_EFFECTS = ['None', 'NoneOnDryRun'];
const OPERATIONS = ['*', 'CONNECT', 'CREATE', 'DELETE', 'UPDATE'];
const SCOPES = ['*', 'Cluster', 'Namespaced'];
const REINVOCATION = ['IfNeeded', 'Never'];
const REVIEW_VERSIONS = ['v1', 'v1beta1'];

function validateClientConfig(cc: unknown, path: string): StatusCause[] {
  if (!isRecord(cc)) return [required(path)];
  const out: StatusCause[] = [];
  const hasUrl = cc['url'] !== undefined && cc['url'] !== null;
  const hasService = cc['service'] !== undefined && cc['service'] !== null;
  if (hasUrl === hasService) {
    out.push(required(path, 'exactly one of url or service is required'));
    return out;
  }
  if (hasUrl) {
    const url = asString(cc['url']);
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      out.push(invalid(child(path, 'url'), url, 'host must be specified'));
    }
    if (parsed) {
      if (parsed.protocol !== 'https:') out.push(invalid(child(path, 'url'), url, "'https' is the only allowed URL scheme"));
      if (parsed.username || parsed.password) out.push(invalid(child(path, 'url'), url, 'user information is not permitted in the URL'));
      if (parsed.hash) out.push(invalid(child(path, 'url'), url, 'fragments are not permitted in the URL'));
      if (parsed.search) out.push(invalid(child(path, 'url'), url, 'query parameters are not permitted in the URL'));
    }
  } else {
    const svc = cc['service'] as Record<string, unknown>;
    const sp = child(path, 'service');
    if (!asString(svc['name'])) out.push(required(child(sp, 'name'), 'service name is required'));
    if (!asString(svc['namespace'])) out.push(required(child(sp, 'namespace'), 'service namespace is required'));
    const port = svc['port'];
    if (port !== undefined && port !== null && (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)) {
      out.push(invalid(child(sp, 'port'), port, 'port is not valid: must be between 1 and 65535, inclusive'));
    }
    const p = svc['path'];
    if (p !== undefined && p !== null && !asString(p).startsWith('/')) out.push(invalid(child(sp, 'path'), p, "must start with a '/'"));
  }
  return out;
}

function validateRule(rule: unknown, path: string): StatusCause[] {
  if (!isRecord(rule)) return [];
  const out: StatusCause[] = [];
  const ops = asArray(rule['operations']).map(asString);
  if (ops.length === 0) out.push(required(child(path, 'operations')));
  ops.forEach((op, i) => { if (!OPERATIONS.includes(op)) out.push(notSupported(index(child(path, 'operations'), i), op, OPERATIONS)); });
  if (ops.length > 1 && ops.includes('*')) out.push(invalid(child(path, 'operations'), ops, "if '*' is present, must not specify other operations"));
  for (const field of ['apiGroups', 'apiVersions', 'resources']) {
    const list = asArray(rule[field]).map(asString);
    if (list.length === 0) out.push(required(child(path, field)));
    if (list.length > 1 && list.includes('*')) out.push(invalid(child(path, field), list, "if '*' is present, must not specify other " + (field === 'resources' ? 'resources without subresources' : field)));
  }
  const scope = rule['scope'];
  if (scope !== undefined && scope !== null && !SCOPES.includes(asString(scope))) out.push(notSupported(child(path, 'scope'), scope, SCOPES));
  return out;
}

function validateWebhook(hook: unknown, path: string, mutating: boolean): StatusCause[] {
  if (!isRecord(hook)) return [required(path)];
  const out: StatusCause[] = [];
  const name = asString(hook['name']);
  if (name === '') out.push(required(child(path, 'name')));
  else {
    out.push(...eachInvalid(child(path, 'name'), name, isDNS1123Subdomain(name)));
    if (name.split('.').length < 3) out.push(invalid(child(path, 'name'), name, 'should be a domain with at least three segments separated by dots'));
  }
  out.push(...validateClientConfig(hook['clientConfig'], child(path, 'clientConfig')));
  asArray(hook['rules']).forEach((r, i) => out.push(...validateRule(r, index(child(path, 'rules'), i))));
  const fp = hook['failurePolicy'];
  if (fp !== undefined && fp !== null && !FAILURE_POLICIES.includes(asString(fp))) out.push(notSupported(child(path, 'failurePolicy'), fp, FAILURE_POLICIES));
  const mp = hook['matchPolicy'];
  if (mp !== undefined && mp !== null && !MATCH_POLICIES.includes(asString(mp))) out.push(notSupported(child(path, 'matchPolicy'), mp, MATCH_POLICIES));
  const se = hook['sideEffects'];
  if (se === undefined || se === null) out.push(required(child(path, 'sideEffects'), `must specify one of ${SIDE_EFFECTS.join(', ')}`));
  else if (!SIDE_EFFECTS.includes(asString(se))) out.push(notSupported(child(path, 'sideEffects'), se, SIDE_EFFECTS));
  const t = hook['timeoutSeconds'];
  if (t !== undefined && t !== null && (typeof t !== 'number' || t < 1 || t > 30)) out.push(invalid(child(path, 'timeoutSeconds'), t, 'the timeout value must be between 1 and 30 seconds'));
  const versions = asArray(hook['admissionReviewVersions']).map(asString);
  if (versions.length === 0) out.push(required(child(path, 'admissionReviewVersions'), `must specify one of ${REVIEW_VERSIONS.join(', ')}`));
  else if (!versions.some((v) => REVIEW_VERSIONS.includes(v))) {
    out.push(invalid(child(path, 'admissionReviewVersions'), versions, `must include at least one of ${REVIEW_VERSIONS.join(', ')}`));
  }
  for (const sel of ['namespaceSelector', 'objectSelector']) {
    if (hook[sel] !== undefined && hook[sel] !== null) out.push(...validateLabelSelector(hook[sel], child(path, sel)));
  }
  if (mutating) {
    const rp = hook['reinvocationPolicy'];
    if (rp !== undefined && rp !== null && !REINVOCATION.includes(asString(rp))) out.push(notSupported(child(path, 'reinvocationPolicy'), rp, REINVOCATION));
  }
  return out;
}

function validateConfiguration(obj: KubeObject, mutating: boolean): StatusCause[] {
  const out: StatusCause[] = [];
  const seen = new Set<string>();
  asArray((obj as Record<string, unknown>)['webhooks']).forEach((hook, i) => {
    const path = index('webhooks', i);
    out.push(...validateWebhook(hook, path, mutating));
    const name = isRecord(hook) ? asString(hook['name']) : '';
    if (name !== '' && seen.has(name)) out.push(duplicate(child(path, 'name'), name));
    seen.add(name);
  });
  return out;
}

export const validateValidatingWebhookConfiguration = (obj: KubeObject): StatusCause[] => validateConfiguration(obj, false);
export const validateMutatingWebhookConfiguration = (obj: KubeObject): StatusCause[] => validateConfiguration(obj, true);
