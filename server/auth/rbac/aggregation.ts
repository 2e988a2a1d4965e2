/**
 * ClusterRole aggregation (upstream's clusterrole-aggregation controller, pure part): an aggregated
 * ClusterRole's rules are the union of the rules of every ClusterRole its selectors match, in name
 * order, each rule once.
 */
import { deepEqual } from '../../../api/object-util.js';
import { labelSelectorFromObject, matchesLabels } from '../../../api/selectors.js';
import type { ClusterRole, PolicyRule } from '../../../api/types.js';

/** The rules `role` should hold, or undefined if it is not aggregated. */
export function aggregatedRules(role: ClusterRole, all: readonly ClusterRole[]): PolicyRule[] | undefined {
  const selectors = role.aggregationRule?.clusterRoleSelectors;
  if (!selectors) return undefined;
  const rules: PolicyRule[] = [];
  const sources = [...all].sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : a.metadata.name! > b.metadata.name! ? 1 : 0));
  for (const selector of selectors) {
    let requirements;
    try {
      requirements = labelSelectorFromObject(selector);
    } catch {
      continue; // validation refuses bad selectors; one stored before that matches nothing
    }
    for (const source of sources) {
      if (source.metadata.name === role.metadata.name || !matchesLabels(requirements, source.metadata.labels)) continue;
      for (const rule of source.rules ?? []) if (!rules.some((r) => deepEqual(r, rule))) rules.push(rule);
    }
  }
  return rules;
}
