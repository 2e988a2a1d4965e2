/**
 * RBAC's pure parts: rule matching over verbs, groups, resources, subresources, names and URLs (as
 * upstream's RuleAllows), the authorizer over bindings, covering and the escalation message,
 * aggregation of the default roles, reconciling defaults, and validation of the four kinds.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding } from '../../api/types.js';
import { resourceForKind } from '../../api/resources.js';
import { validateObject } from '../../api/validation/index.js';
import { applyDefaults } from '../../api/defaults.js';
import { ruleAllows, uncoveredRules, type RequestAttributes } from '../../server/auth/rbac/rules.js';
import { RbacAuthorizer, type PolicySource } from '../../server/auth/rbac/authorizer.js';
import { aggregatedRules } from '../../server/auth/rbac/aggregation.js';
import { DEFAULT_CLUSTER_ROLES } from '../../server/auth/rbac/bootstrap-policy.js';
import { reconcileClusterRole } from '../../server/auth/rbac/reconcile.js';
import { aggregatedDefaultRoles } from '../support/default-policy.js';
import { notHeldMessage } from '../../server/auth/rbac/escalation.js';

const alice = { name: 'alice', groups: ['devs', 'system:authenticated'] };

function req(verb: string, resource: string, o: Partial<RequestAttributes> = {}): RequestAttributes {
  return { user: alice, verb, resourceRequest: true, path: '', namespace: 'team', apiGroup: '', resource, subresource: '', name: '', ...o };
}

test('rule matching: verbs, groups, resources, subresources, names, wildcards (table)', () => {
  const cases: [PolicyRule, RequestAttributes, boolean][] = [
    [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }, req('get', 'pods'), true],
    [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }, req('list', 'pods'), false],
    [{ verbs: ['*'], apiGroups: [''], resources: ['pods'] }, req('deletecollection', 'pods'), true],
    [{ verbs: ['get'], apiGroups: ['apps'], resources: ['pods'] }, req('get', 'pods'), false],
    [{ verbs: ['get'], apiGroups: ['*'], resources: ['deployments'] }, req('get', 'deployments', { apiGroup: 'apps' }), true],
    [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }, req('get', 'pods', { subresource: 'log' }), false],
    [{ verbs: ['get'], apiGroups: [''], resources: ['pods/log'] }, req('get', 'pods', { subresource: 'log' }), true],
    [{ verbs: ['get'], apiGroups: [''], resources: ['pods/log'] }, req('get', 'pods'), false],
    [{ verbs: ['get'], apiGroups: ['*'], resources: ['*/scale'] }, req('get', 'deployments', { apiGroup: 'apps', subresource: 'scale' }), true],
    [{ verbs: ['get'], apiGroups: ['*'], resources: ['*/scale'] }, req('get', 'deployments', { apiGroup: 'apps' }), false],
    // upstream does not treat `pods/*` as a wildcard
    [{ verbs: ['get'], apiGroups: [''], resources: ['pods/*'] }, req('get', 'pods', { subresource: 'log' }), false],
    [{ verbs: ['get'], apiGroups: [''], resources: ['*'] }, req('get', 'pods', { subresource: 'exec' }), true],
    [{ verbs: ['get'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['a'] }, req('get', 'configmaps', { name: 'a' }), true],
    [{ verbs: ['get'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['a'] }, req('get', 'configmaps', { name: 'b' }), false],
    [{ verbs: ['list'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['a'] }, req('list', 'configmaps'), false],
    [{ verbs: ['get'], nonResourceURLs: ['/healthz'] }, req('get', '', { resourceRequest: false, path: '/healthz' }), true],
    [{ verbs: ['get'], nonResourceURLs: ['/apis/*'] }, req('get', '', { resourceRequest: false, path: '/apis/apps/v1' }), true],
    [{ verbs: ['get'], nonResourceURLs: ['/apis'] }, req('get', '', { resourceRequest: false, path: '/apis/apps' }), false],
    [{ verbs: ['get'], nonResourceURLs: ['*'] }, req('post', '', { resourceRequest: false, path: '/x' }), false],
    [{ verbs: ['get'], apiGroups: ['*'], resources: ['*'] }, req('get', '', { resourceRequest: false, path: '/healthz' }), false],
  ];
  cases.forEach(([rule, attrs, want], i) => assert.is(ruleAllows(attrs, rule), want, `case ${i}: ${JSON.stringify(rule)} ${attrs.verb} ${attrs.resource}/${attrs.subresource}`));
});

function source(o: { roles?: Role[]; clusterRoles?: ClusterRole[]; rbs?: RoleBinding[]; crbs?: ClusterRoleBinding[] }): PolicySource {
  return {
    getRole: (ns, name) => o.roles?.find((r) => r.metadata.namespace === ns && r.metadata.name === name),
    getClusterRole: (name) => o.clusterRoles?.find((r) => r.metadata.name === name),
    clusterRoleBindingsFor: () => o.crbs ?? [],
    roleBindingsFor: (_u, ns) => (o.rbs ?? []).filter((b) => b.metadata.namespace === ns),
  };
}

const binding = (ns: string, name: string, kind: string, role: string, subjects: RoleBinding['subjects']): RoleBinding => ({
  metadata: { namespace: ns, name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind, name: role }, ...(subjects ? { subjects } : {}),
});

test('authorizer: RoleBindings apply in their namespace only; ClusterRoleBindings everywhere; subjects by user, group, SA', () => {
  const rbac = new RbacAuthorizer(source({
    roles: [{ metadata: { namespace: 'team', name: 'reader' }, rules: [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] }] }],
    clusterRoles: [{ metadata: { name: 'cm-reader' }, rules: [{ verbs: ['get'], apiGroups: [''], resources: ['configmaps'] }] }],
    rbs: [
      binding('team', 'a', 'Role', 'reader', [{ kind: 'User', name: 'alice', apiGroup: 'rbac.authorization.k8s.io' }]),
      binding('team', 'b', 'ClusterRole', 'cm-reader', [{ kind: 'Group', name: 'devs', apiGroup: 'rbac.authorization.k8s.io' }]),
      binding('team', 'c', 'Role', 'reader', [{ kind: 'ServiceAccount', name: 'bot' }]),
      binding('team', 'd', 'Role', 'missing', [{ kind: 'User', name: 'alice', apiGroup: 'rbac.authorization.k8s.io' }]),
    ],
  }));
  assert.is(rbac.authorize(req('list', 'pods')).decision, 'allow');
  assert.is(rbac.authorize(req('list', 'pods', { namespace: 'other' })).decision, 'no-opinion');
  assert.is(rbac.authorize(req('list', 'pods', { namespace: '' })).decision, 'no-opinion', 'cluster-wide list is not granted by a RoleBinding');
  assert.is(rbac.authorize(req('get', 'configmaps')).decision, 'allow', 'group subject, ClusterRole in a RoleBinding');
  assert.is(rbac.authorize(req('get', 'configmaps', { namespace: 'other' })).decision, 'no-opinion');
  const denied = rbac.authorize(req('delete', 'pods'));
  assert.is(denied.decision, 'no-opinion');
  assert.is(denied.reason, 'RBAC: role.rbac.authorization.k8s.io "missing" not found');
  const bot = { name: 'system:serviceaccount:team:bot', groups: ['system:serviceaccounts', 'system:serviceaccounts:team'] };
  assert.is(rbac.authorize(req('get', 'pods', { user: bot })).decision, 'allow', 'SA subject defaults to the binding namespace');
  assert.is(rbac.authorize(req('get', 'pods', { user: { name: 'system:serviceaccount:other:bot', groups: [] } })).decision, 'no-opinion');
});

test('covering: what a role asks for that the user does not hold, and upstream\'s message', () => {
  const held: PolicyRule[] = [
    { verbs: ['get', 'list'], apiGroups: [''], resources: ['pods', '*/scale'] },
    { verbs: ['get'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['a'] },
    { verbs: ['get'], nonResourceURLs: ['/apis/*'] },
  ];
  assert.equal(uncoveredRules(held, [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }]), []);
  assert.equal(uncoveredRules(held, [{ verbs: ['get'], apiGroups: [''], resources: ['deployments/scale'] }]), []);
  assert.equal(uncoveredRules(held, [{ verbs: ['get'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['a'] }]), []);
  assert.equal(uncoveredRules(held, [{ verbs: ['get'], nonResourceURLs: ['/apis/apps'] }]), []);
  const missing = uncoveredRules(held, [
    { verbs: ['get', 'create', 'delete'], apiGroups: [''], resources: ['pods', 'secrets'] },
    { verbs: ['get'], apiGroups: [''], resources: ['configmaps'] },
  ]);
  assert.equal(missing, [
    { verbs: ['get', 'create', 'delete'], apiGroups: [''], resources: ['secrets'] },
    { verbs: ['create', 'delete'], apiGroups: [''], resources: ['pods'] },
    { verbs: ['get'], apiGroups: [''], resources: ['configmaps'] },
  ]);
  assert.is(notHeldMessage(alice, missing.slice(0, 1), []),
    'user "alice" (groups=["devs" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n' +
    '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "create" "delete"]}');
});

test('default roles aggregate: admin ⊇ edit ⊇ view; view keeps Secrets out; edit can read Secrets', () => {
  const roles = aggregatedDefaultRoles();
  const rulesOf = (name: string): PolicyRule[] => roles.find((r) => r.metadata.name === name)!.rules ?? [];
  const allows = (name: string, a: RequestAttributes): boolean => rulesOf(name).some((rule) => ruleAllows(a, rule));
  assert.ok(allows('view', req('list', 'pods')));
  assert.ok(allows('view', req('get', 'deployments', { apiGroup: 'apps' })));
  assert.not.ok(allows('view', req('get', 'secrets')));
  assert.not.ok(allows('view', req('create', 'pods')));
  assert.not.ok(allows('view', req('get', 'pods', { subresource: 'exec' })));
  assert.ok(allows('edit', req('get', 'secrets')));
  assert.ok(allows('edit', req('list', 'pods')), 'edit includes view');
  assert.ok(allows('edit', req('create', 'deployments', { apiGroup: 'apps' })));
  assert.not.ok(allows('edit', req('create', 'rolebindings', { apiGroup: 'rbac.authorization.k8s.io' })));
  assert.ok(allows('admin', req('create', 'rolebindings', { apiGroup: 'rbac.authorization.k8s.io' })));
  assert.ok(allows('admin', req('list', 'pods')), 'admin includes edit and view');
  assert.equal(uncoveredRules(rulesOf('admin'), rulesOf('edit')), []);
});

test('reconciling a default role adds back what it grants, keeps additions, honours autoupdate=false', () => {
  const wanted = DEFAULT_CLUSTER_ROLES.find((r) => r.metadata.name === 'system:basic-user')!;
  const extra: PolicyRule = { verbs: ['get'], apiGroups: [''], resources: ['pods'] };
  const stripped: ClusterRole = { ...structuredClone(wanted), rules: [extra] };
  const next = reconcileClusterRole(stripped, wanted)!;
  assert.ok(next.rules!.some((r) => r.resources?.includes('pods')), 'kept the addition');
  assert.equal(uncoveredRules(next.rules!, wanted.rules!), [], 'defaults restored');
  assert.is(reconcileClusterRole(structuredClone(wanted), wanted), undefined, 'nothing to change');
  const pinned: ClusterRole = { ...stripped, metadata: { ...stripped.metadata, annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'false' } } };
  assert.is(reconcileClusterRole(pinned, wanted), undefined);
});

function validate(kind: string, obj: Record<string, unknown>, old?: Record<string, unknown>): string[] {
  const o = { apiVersion: 'rbac.authorization.k8s.io/v1', kind, ...obj } as never;
  applyDefaults(kind, o);
  return validateObject(resourceForKind(kind)!, o, old as never).map((c) => `${c.field ?? ''}: ${c.message}`);
}

test('validation: rules, names with colons, roleRef, subjects, immutable roleRef', () => {
  assert.equal(validate('ClusterRole', { metadata: { name: 'system:aggregate-to-view' }, rules: [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }] }), []);
  assert.equal(validate('Role', { metadata: { name: 'r', namespace: 'a' }, rules: [{ verbs: [], apiGroups: [''], resources: ['pods'] }] }),
    ['rules[0].verbs: Required value: verbs must contain at least one value']);
  assert.equal(validate('Role', { metadata: { name: 'r', namespace: 'a' }, rules: [{ verbs: ['get'], nonResourceURLs: ['/x'] }] }),
    ['rules[0].nonResourceURLs: Invalid value: []string{"/x"}: namespaced rules cannot apply to non-resource URLs']);
  assert.equal(validate('ClusterRole', { metadata: { name: 'c' }, rules: [{ verbs: ['get'], resources: ['pods'] }] }),
    ['rules[0].apiGroups: Required value: resource rules must supply at least one api group']);
  assert.equal(validate('Role', { metadata: { name: 'a/b', namespace: 'a' } }), ["metadata.name: Invalid value: \"a/b\": may not contain '/'"]);
  const ref = { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'r' };
  assert.equal(validate('RoleBinding', { metadata: { name: 'b', namespace: 'a' }, roleRef: ref, subjects: [{ kind: 'User', name: 'alice' }, { kind: 'ServiceAccount', name: 'default' }] }), []);
  assert.equal(validate('ClusterRoleBinding', { metadata: { name: 'b' }, roleRef: ref, subjects: [{ kind: 'ServiceAccount', name: 'default' }] }), [
    'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
    'subjects[0].namespace: Required value',
  ]);
  assert.equal(validate('RoleBinding', { metadata: { name: 'b', namespace: 'a' }, roleRef: ref, subjects: [{ kind: 'Robot', name: 'x' }] }),
    ['subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"']);
  assert.equal(validate('RoleBinding', { metadata: { name: 'b', namespace: 'a' }, roleRef: { ...ref, name: 'other' } }, { metadata: { name: 'b', namespace: 'a' }, roleRef: ref }),
    ['roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", Name:"other"}: cannot change roleRef']);
});

test.run();
