/**
 * RBAC over corral's default policy without a server: the default ClusterRoles aggregated as the
 * server does at start, and the default ClusterRoleBindings, for tests that build a bare API app or
 * check the chain in process.
 */
import type { ClusterRole } from '../../api/types.js';
import { RbacAuthorizer } from '../../server/auth/rbac/authorizer.js';
import { aggregatedRules } from '../../server/auth/rbac/aggregation.js';
import { DEFAULT_CLUSTER_ROLE_BINDINGS, DEFAULT_CLUSTER_ROLES } from '../../server/auth/rbac/bootstrap-policy.js';

export function aggregatedDefaultRoles(): ClusterRole[] {
  let roles = DEFAULT_CLUSTER_ROLES.map((r) => structuredClone(r));
  // admin ⊇ edit ⊇ view: three passes settle the chain.
  for (let i = 0; i < 3; i++) roles = roles.map((r) => ({ ...r, rules: aggregatedRules(r, roles) ?? r.rules ?? [] }));
  return roles;
}

export function defaultPolicyAuthorizer(): RbacAuthorizer {
  const roles = aggregatedDefaultRoles();
  return new RbacAuthorizer({
    getRole: () => undefined,
    getClusterRole: (name) => roles.find((r) => r.metadata.name === name),
    clusterRoleBindingsFor: () => DEFAULT_CLUSTER_ROLE_BINDINGS,
    roleBindingsFor: () => [],
  });
}
