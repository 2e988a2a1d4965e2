/**
 * Validation of ResourceQuota and LimitRange (pkg/apis/core/validation): non-negative amounts,
 * supported and non-conflicting quota scopes, limit types, and min ≤ default request ≤ default ≤ max.
 */
import type { KubeObject } from '../meta.js';
import { compareQuantities, isValidQuantity } from '../quantity.js';
import type { StatusCause } from '../status.js';
import { asArray, asString, child, forbidden, index, invalid, isRecord, key, notSupported, required } from './field.js';

const SCOPES = ['Terminating', 'NotTerminating', 'BestEffort', 'NotBestEffort', 'PriorityClass', 'CrossNamespacePodAffinity'];
const CONFLICTS: [string, string][] = [['Terminating', 'NotTerminating'], ['BestEffort', 'NotBestEffort']];

function amounts(list: unknown, path: string): StatusCause[] {
  if (!isRecord(list)) return [];
  const out: StatusCause[] = [];
  for (const [name, q] of Object.entries(list)) {
    const text = String(q);
    if (isValidQuantity(text) && compareQuantities(text, '0') < 0) out.push(invalid(key(path, name), text, 'must be greater than or equal to 0'));
  }
  return out;
}

export function validateResourceQuota(obj: KubeObject): StatusCause[] {
  const spec = isRecord(obj['spec']) ? obj['spec'] : {};
  const out = amounts(spec['hard'], 'spec.hard');
  const scopes = asArray(spec['scopes']).map(asString);
  scopes.forEach((s, i) => { if (!SCOPES.includes(s)) out.push(invalid(index('spec.scopes', i), s, 'unsupported scope')); });
  for (const [a, b] of CONFLICTS) if (scopes.includes(a) && scopes.includes(b)) out.push(invalid('spec.scopes', scopes, 'conflicting scopes'));
  return out;
}

export function validateLimitRange(obj: KubeObject): StatusCause[] {
  const spec = isRecord(obj['spec']) ? obj['spec'] : {};
  const out: StatusCause[] = [];
  asArray(spec['limits']).forEach((raw, i) => {
    const at = index('spec.limits', i);
    const item = isRecord(raw) ? raw : {};
    const type = asString(item['type']);
    if (type === '') out.push(required(child(at, 'type')));
    else if (!['Pod', 'Container', 'PersistentVolumeClaim'].includes(type)) out.push(notSupported(child(at, 'type'), type, ['Container', 'Pod', 'PersistentVolumeClaim']));
    for (const f of ['max', 'min', 'default', 'defaultRequest', 'maxLimitRequestRatio']) out.push(...amounts(item[f], child(at, f)));
    if (type === 'Pod') {
      for (const f of ['default', 'defaultRequest']) if (isRecord(item[f]) && Object.keys(item[f]).length > 0) out.push(forbidden(child(at, f), `may not be specified when \`type\` is 'Pod'`));
    }
    const max = isRecord(item['max']) ? item['max'] : {};
    const min = isRecord(item['min']) ? item['min'] : {};
    for (const [r, lo] of Object.entries(min)) {
      const hi = max[r];
      if (hi !== undefined && isValidQuantity(String(lo)) && isValidQuantity(String(hi)) && compareQuantities(String(lo), String(hi)) > 0) {
        out.push(invalid(key(child(at, 'min'), r), String(lo), `min value ${String(lo)} is greater than max value ${String(hi)}`));
      }
    }
  });
  return out;
}
