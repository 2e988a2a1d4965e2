/**
 * A meta/v1 LabelSelector prepared for pod (anti-)affinity: parsed and matched by api/selectors.ts,
 * plus the selector's key=value requirements, which the scheduler uses to look candidate pods up in its
 * label index instead of scanning every pod in the cluster.
 */
import type { LabelSelector } from '../../api/meta.js';
import { labelSelectorFromObject, matchesLabels, selectorMatchesNothing, type LabelRequirement } from '../../api/selectors.js';

export interface CompiledLabelSelector {
  /**
   * `false` for an absent selector, which selects nothing (as LabelSelectorAsSelector(nil) does), and
   * for a malformed one: the API server rejects those, and a term that cannot be read cannot select.
   */
  readonly matchesAnything: boolean;
  readonly requirements: readonly LabelRequirement[];
  /** key=value pairs every matching object must carry; usable as index lookups. */
  readonly equalities: readonly (readonly [string, string])[];
}

const NOTHING: CompiledLabelSelector = { matchesAnything: false, requirements: [], equalities: [] };

export function compileLabelSelector(selector: LabelSelector | undefined): CompiledLabelSelector {
  if (selectorMatchesNothing(selector)) return NOTHING;
  let requirements: LabelRequirement[];
  try {
    requirements = labelSelectorFromObject(selector);
  } catch {
    return NOTHING;
  }
  const equalities: [string, string][] = [];
  for (const r of requirements) {
    if ((r.operator === 'Equals' || r.operator === 'In') && r.values.length === 1) equalities.push([r.key, r.values[0]!]);
  }
  return { matchesAnything: true, requirements, equalities };
}

/** Whether `labels` satisfy every requirement (requirements are ANDed; an empty selector matches all). */
export function selectorMatches(selector: CompiledLabelSelector, labels: Readonly<Record<string, string>> | undefined): boolean {
  return selector.matchesAnything && matchesLabels(selector.requirements, labels);
}

/** A label's value, reading own properties only (a label named `constructor` must not hit Object.prototype). */
export function labelValue(labels: Readonly<Record<string, string>> | undefined, key: string): string | undefined {
  return labels !== undefined && Object.hasOwn(labels, key) ? labels[key] : undefined;
}
