/**
 * A compiled meta/v1 LabelSelector, as pod (anti-)affinity terms use it.
 *
 * Kept local to the scheduler (rather than api/selectors.ts) because the scheduler also needs the
 * selector's equality requirements to look candidate pods up in its label index instead of scanning
 * every pod in the cluster.
 */
import type { LabelSelector } from '../../api/meta.js';

interface Requirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values: ReadonlySet<string>;
}

export interface CompiledLabelSelector {
  /** `false` for an absent selector, which matches nothing (LabelSelectorAsSelector(nil)). */
  readonly matchesAnything: boolean;
  readonly requirements: readonly Requirement[];
  /** key=value pairs every matching object must carry; usable as index lookups. */
  readonly equalities: readonly (readonly [string, string])[];
}

export function compileLabelSelector(selector: LabelSelector | undefined): CompiledLabelSelector {
  if (selector === undefined || selector === null) return { matchesAnything: false, requirements: [], equalities: [] };
  const requirements: Requirement[] = [];
  const equalities: [string, string][] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    requirements.push({ key, operator: 'In', values: new Set([value]) });
    equalities.push([key, value]);
  }
  for (const expr of selector.matchExpressions ?? []) {
    const values = new Set(expr.values ?? []);
    requirements.push({ key: expr.key, operator: expr.operator, values });
    if (expr.operator === 'In' && values.size === 1) equalities.push([expr.key, [...values][0]!]);
  }
  return { matchesAnything: true, requirements, equalities };
}

/** Whether `labels` satisfy every requirement (requirements are ANDed; an empty selector matches all). */
export function selectorMatches(selector: CompiledLabelSelector, labels: Readonly<Record<string, string>> | undefined): boolean {
  if (!selector.matchesAnything) return false;
  for (const r of selector.requirements) {
    const value = labelValue(labels, r.key);
    switch (r.operator) {
      case 'In':
        if (value === undefined || !r.values.has(value)) return false;
        break;
      case 'NotIn':
        if (value !== undefined && r.values.has(value)) return false;
        break;
      case 'Exists':
        if (value === undefined) return false;
        break;
      case 'DoesNotExist':
        if (value !== undefined) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** A label's value, reading own properties only (a label named `constructor` must not hit Object.prototype). */
export function labelValue(labels: Readonly<Record<string, string>> | undefined, key: string): string | undefined {
  return labels !== undefined && Object.hasOwn(labels, key) ? labels[key] : undefined;
}
