/**
 * Validation of metav1.LabelSelector objects (unversioned ValidateLabelSelector) and the
 * "does the selector match these labels" question that workload validation asks.
 */
import type { LabelSelector } from '../meta.js';
import type { StatusCause } from '../status.js';
import { labelSelectorFromObject, matchesLabels } from '../selectors.js';
import { asArray, asString, child, eachInvalid, forbidden, index, invalid, isRecord, required } from './field.js';
import { isQualifiedName, isValidLabelValue, validateLabels } from './names.js';

export function validateLabelSelector(sel: unknown, path: string): StatusCause[] {
  if (sel === undefined || sel === null) return [];
  if (!isRecord(sel)) return [invalid(path, String(sel), 'must be a label selector object')];
  const out: StatusCause[] = [];
  if (sel['matchLabels'] !== undefined) {
    out.push(...validateLabels(sel['matchLabels'] as Record<string, string>, child(path, 'matchLabels')));
  }
  asArray(sel['matchExpressions']).forEach((expr, i) => {
    const at = index(child(path, 'matchExpressions'), i);
    if (!isRecord(expr)) {
      out.push(invalid(at, String(expr), 'must be a label selector requirement'));
      return;
    }
    const operator = asString(expr['operator']);
    const values = asArray(expr['values']);
    switch (operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) out.push(required(child(at, 'values'), "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) out.push(forbidden(child(at, 'values'), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
        break;
      default:
        out.push(invalid(child(at, 'operator'), operator, 'not a valid selector operator'));
    }
    const key = asString(expr['key']);
    out.push(...eachInvalid(child(at, 'key'), key, isQualifiedName(key)));
    values.forEach((v, j) => {
      out.push(...eachInvalid(index(child(at, 'values'), j), v, isValidLabelValue(asString(v))));
    });
  });
  return out;
}

/** An empty selector (no matchLabels, no matchExpressions) — invalid for controllers. */
export function isEmptySelector(sel: LabelSelector): boolean {
  return Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0;
}

/**
 * Whether `sel` selects an object with `labels`. A selector that cannot be parsed counts as matching
 * here, so that only its syntax errors (from validateLabelSelector) are reported, as in Kubernetes.
 */
export function selectorMatches(sel: LabelSelector, labels: Record<string, string> | undefined): boolean {
  try {
    return matchesLabels(labelSelectorFromObject(sel), labels);
  } catch {
    return true;
  }
}
