/**
 * Reconciles the default ClusterRoles and ClusterRoleBindings at every start, as upstream's
 * bootstrap-roles post-start hook: missing objects are created; existing ones get back what the
 * defaults grant (missing rules, subjects, labels and annotations) unless an administrator marked
 * them `rbac.authorization.kubernetes.io/autoupdate: "false"`. Extra rules or subjects added by
 * people are kept. Aggregated roles get their rules computed at once, so admin/edit/view work
 * before the aggregation controller first runs.
 */
import { clone, deepEqual } from '../../../api/object-util.js';
import { resourceForKind } from '../../../api/resources.js';
import { isAlreadyExists } from '../../../api/status.js';
import type { ClusterRole, ClusterRoleBinding } from '../../../api/types.js';
import type { Registry } from '../../apiserver/registry.js';
import { aggregatedRules } from './aggregation.js';
import { AUTOUPDATE_ANNOTATION, DEFAULT_CLUSTER_ROLE_BINDINGS, DEFAULT_CLUSTER_ROLES } from './bootstrap-policy.js';
import { uncoveredRules } from './rules.js';

/** The stored role made to hold at least what the default grants (undefined: nothing to change). */
export function reconcileClusterRole(existing: ClusterRole, wanted: ClusterRole): ClusterRole | undefined {
  if (existing.metadata.annotations?.[AUTOUPDATE_ANNOTATION] === 'false') return undefined;
  const next: ClusterRole = {
    ...existing,
    metadata: {
      ...existing.metadata,
      labels: { ...existing.metadata.labels, ...wanted.metadata.labels },
      annotations: { ...wanted.metadata.annotations, ...existing.metadata.annotations },
    },
  };
  if (wanted.aggregationRule) {
    const selectors = [...(existing.aggregationRule?.clusterRoleSelectors ?? [])];
    for (const s of wanted.aggregationRule.clusterRoleSelectors ?? []) if (!selectors.some((e) => deepEqual(e, s))) selectors.push(s);
    next.aggregationRule = { clusterRoleSelectors: selectors };
  } else {
    const missing = uncoveredRules(existing.rules ?? [], wanted.rules ?? []);
    if (missing.length > 0) next.rules = [...(existing.rules ?? []), ...missing];
  }
  return deepEqual(next, existing) ? undefined : next;
}

export function reconcileClusterRoleBinding(existing: ClusterRoleBinding, wanted: ClusterRoleBinding): ClusterRoleBinding | undefined {
  if (existing.metadata.annotations?.[AUTOUPDATE_ANNOTATION] === 'false') return undefined;
  const subjects = [...(existing.subjects ?? [])];
  for (const s of wanted.subjects ?? []) if (!subjects.some((e) => e.kind === s.kind && e.name === s.name && (e.namespace ?? '') === (s.namespace ?? ''))) subjects.push(s);
  const next: ClusterRoleBinding = {
    ...existing,
    metadata: {
      ...existing.metadata,
      labels: { ...existing.metadata.labels, ...wanted.metadata.labels },
      annotations: { ...wanted.metadata.annotations, ...existing.metadata.annotations },
    },
    subjects,
  };
  return deepEqual(next, existing) ? undefined : next;
}

export async function reconcileBootstrapPolicy(registry: Registry): Promise<void> {
  const roleInfo = resourceForKind('ClusterRole')!;
  const bindingInfo = resourceForKind('ClusterRoleBinding')!;
  for (const wanted of DEFAULT_CLUSTER_ROLES) {
    const existing = (await registry.tryGet(roleInfo, undefined, wanted.metadata.name!)) as ClusterRole | undefined;
    if (!existing) {
      // create takes ownership of its body: the shared default is copied, never written to.
      await registry.create(roleInfo, undefined, clone(wanted)).catch((err: unknown) => { if (!isAlreadyExists(err)) throw err; });
      continue;
    }
    const next = reconcileClusterRole(existing, wanted);
    if (next) await registry.update(roleInfo, undefined, next.metadata.name!, next);
  }
  for (const wanted of DEFAULT_CLUSTER_ROLE_BINDINGS) {
    const name = wanted.metadata.name!;
    const existing = (await registry.tryGet(bindingInfo, undefined, name)) as ClusterRoleBinding | undefined;
    if (existing && !deepEqual(existing.roleRef, wanted.roleRef) && existing.metadata.annotations?.[AUTOUPDATE_ANNOTATION] !== 'false') {
      // roleRef is immutable: a default binding pointing elsewhere is replaced (as upstream does).
      await registry.delete(bindingInfo, undefined, name);
    } else if (existing) {
      const next = reconcileClusterRoleBinding(existing, wanted);
      if (next) await registry.update(bindingInfo, undefined, name, next);
      continue;
    }
    await registry.create(bindingInfo, undefined, clone(wanted)).catch((err: unknown) => { if (!isAlreadyExists(err)) throw err; });
  }
  // Aggregated roles: fill their rules now rather than after the controller's first pass. Roles may
  // aggregate aggregated roles (admin ⊇ edit ⊇ view), so repeat until nothing changes.
  const all = (await registry.list(roleInfo, undefined)).items as ClusterRole[];
  for (let pass = 0; pass < 5; pass++) {
    let changed = false;
    for (const [i, role] of all.entries()) {
      const rules = aggregatedRules(role, all);
      if (rules === undefined || deepEqual(rules, role.rules ?? [])) continue;
      all[i] = (await registry.update(roleInfo, undefined, role.metadata.name!, { ...role, rules })) as ClusterRole;
      changed = true;
    }
    if (!changed) return;
  }
}
