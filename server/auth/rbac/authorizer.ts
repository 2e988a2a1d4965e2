/**
 * The RBAC authorizer, last in the chain (Node, built-in roles, RBAC — upstream's `Node,RBAC`): a
 * request is allowed when a rule of a role bound to the user allows it — ClusterRoleBindings
 * everywhere, RoleBindings in their namespace. It never denies: without a matching rule it has no
 * opinion (the chain then refuses), exactly as upstream's RBACAuthorizer.
 * Policy is read through a PolicySource (the informer-backed cache in the server, plain arrays in tests).
 */
import type { ClusterRole, ClusterRoleBinding, PolicyRule, RbacSubject, Role, RoleBinding } from '../../../api/types.js';
import { ruleAllows, type RequestAttributes, type UserInfo } from './rules.js';
import { ALLOW, NO_OPINION, type Authorizer, type Decision } from '../authorizer.js';

export interface PolicySource {
  getRole(namespace: string, name: string): Role | undefined;
  getClusterRole(name: string): ClusterRole | undefined;
  /** ClusterRoleBindings that may name this user (a superset is fine). */
  clusterRoleBindingsFor(user: UserInfo): Iterable<ClusterRoleBinding>;
  /** RoleBindings of one namespace that may name this user (a superset is fine). */
  roleBindingsFor(user: UserInfo, namespace: string): Iterable<RoleBinding>;
}


/** `system:serviceaccount:<ns>:<name>` for a ServiceAccount subject. */
export function serviceAccountUsername(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/** Whether a binding's subject names the user (a ServiceAccount subject defaults to the binding's namespace). */
export function subjectMatches(subject: RbacSubject, user: UserInfo, bindingNamespace: string): boolean {
  switch (subject.kind) {
    case 'User': return subject.name === user.name;
    case 'Group': return user.groups.includes(subject.name);
    case 'ServiceAccount': {
      const ns = subject.namespace || bindingNamespace;
      return ns !== '' && user.name === serviceAccountUsername(ns, subject.name);
    }
    default: return false;
  }
}

function bindsUser(binding: RoleBinding | ClusterRoleBinding, user: UserInfo): boolean {
  const ns = binding.metadata.namespace ?? '';
  return (binding.subjects ?? []).some((s) => subjectMatches(s, user, ns));
}

/** How Go's utilerrors.Aggregate prints: one message bare, several in brackets. */
function aggregateMessage(messages: string[]): string {
  return messages.length === 1 ? messages[0]! : `[${messages.join(', ')}]`;
}

/** Upstream's RBAC authorizer: allows what a bound rule grants, otherwise has no opinion (never denies). */
export class RbacAuthorizer implements Authorizer {
  readonly name = 'RBAC';

  constructor(private readonly policy: PolicySource) {}

  /**
   * Calls `visit` with every rule that applies to the user in `namespace` ('' = cluster-scoped rules
   * only) until it returns true. Missing roles are reported through `onError`.
   */
  visitRules(user: UserInfo, namespace: string, visit: (rule: PolicyRule) => boolean, onError: (msg: string) => void = () => {}): boolean {
    for (const crb of this.policy.clusterRoleBindingsFor(user)) {
      if (!bindsUser(crb, user)) continue;
      const rules = this.rulesOf(crb.roleRef.kind, '', crb.roleRef.name, onError);
      for (const rule of rules) if (visit(rule)) return true;
    }
    if (namespace === '') return false;
    for (const rb of this.policy.roleBindingsFor(user, namespace)) {
      if (!bindsUser(rb, user)) continue;
      const rules = this.rulesOf(rb.roleRef.kind, namespace, rb.roleRef.name, onError);
      for (const rule of rules) if (visit(rule)) return true;
    }
    return false;
  }

  private rulesOf(kind: string, namespace: string, name: string, onError: (msg: string) => void): readonly PolicyRule[] {
    if (kind === 'ClusterRole') {
      const role = this.policy.getClusterRole(name);
      if (!role) onError(`clusterrole.rbac.authorization.k8s.io "${name}" not found`);
      return role?.rules ?? [];
    }
    if (kind === 'Role' && namespace !== '') {
      const role = this.policy.getRole(namespace, name);
      if (!role) onError(`role.rbac.authorization.k8s.io "${name}" not found`);
      return role?.rules ?? [];
    }
    return [];
  }

  /** Every rule that applies to the user in `namespace` (SelfSubjectRulesReview, escalation checks). */
  rulesFor(user: UserInfo, namespace: string): { rules: PolicyRule[]; errors: string[] } {
    const rules: PolicyRule[] = [];
    const errors: string[] = [];
    this.visitRules(user, namespace, (r) => { rules.push(r); return false; }, (e) => errors.push(e));
    return { rules, errors };
  }

  /** Allow, or no opinion with upstream's `RBAC: ...` reason when a binding names a missing role. */
  authorize(a: RequestAttributes): Decision {
    const errors: string[] = [];
    if (this.visitRules(a.user, a.namespace, (rule) => ruleAllows(a, rule), (e) => errors.push(e))) return ALLOW;
    return errors.length > 0 ? { decision: 'no-opinion', reason: `RBAC: ${aggregateMessage([...new Set(errors)])}` } : NO_OPINION;
  }
}
