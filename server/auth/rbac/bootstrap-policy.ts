/**
 * The default ClusterRoles and ClusterRoleBindings upstream ships for users (plugin/pkg/auth/
 * authorizer/rbac/bootstrappolicy): cluster-admin, the aggregated admin/edit/view roles and their
 * system:aggregate-to-* parts, the discovery roles, and the roles of corral's own API (TokenReview,
 * SubjectAccessReview, service-account issuer discovery). Reconciled at every start (reconcile.ts).
 */
import type { ClusterRole, ClusterRoleBinding, PolicyRule, RbacSubject } from '../../../api/types.js';
import { RBAC_GROUP } from '../../../api/resources.js';
import { VIEWERS_GROUP } from '../builtin-roles.js';

const READ = ['get', 'list', 'watch'];

const WRITE = ['create', 'delete', 'deletecollection', 'patch', 'update'];
const AGGREGATE = (role: string): string => `rbac.authorization.k8s.io/aggregate-to-${role}`;

const r = (verbs: string[], apiGroups: string[], resources: string[]): PolicyRule => ({ verbs, apiGroups, resources });
const urls = (verbs: string[], nonResourceURLs: string[]): PolicyRule => ({ verbs, nonResourceURLs });

/** Marks a default object so `kubectl get clusterroles -l kubernetes.io/bootstrapping=rbac-defaults` finds it. */
const BOOTSTRAP_LABEL = { 'kubernetes.io/bootstrapping': 'rbac-defaults' };
/** With "false", an administrator's edits of a default role survive restarts. */
export const AUTOUPDATE_ANNOTATION = 'rbac.authorization.kubernetes.io/autoupdate';

function clusterRole(name: string, rules: PolicyRule[], extra: { labels?: Record<string, string>; aggregateFrom?: string } = {}): ClusterRole {
  return {
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: 'ClusterRole',
    metadata: { name, labels: { ...BOOTSTRAP_LABEL, ...extra.labels }, annotations: { [AUTOUPDATE_ANNOTATION]: 'true' } },
    ...(extra.aggregateFrom ? { aggregationRule: { clusterRoleSelectors: [{ matchLabels: { [AGGREGATE(extra.aggregateFrom)]: 'true' } }] } } : {}),
    rules,
  };
}

const group = (name: string): RbacSubject => ({ kind: 'Group', apiGroup: RBAC_GROUP, name });

function clusterRoleBinding(name: string, role: string, subjects: RbacSubject[]): ClusterRoleBinding {
  return {
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: { name, labels: { ...BOOTSTRAP_LABEL }, annotations: { [AUTOUPDATE_ANNOTATION]: 'true' } },
    roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: role },
    subjects,
  };
}

const viewRules: PolicyRule[] = [
  r(READ, [''], ['configmaps', 'endpoints', 'persistentvolumeclaims', 'persistentvolumeclaims/status', 'pods', 'replicationcontrollers',
    'replicationcontrollers/scale', 'serviceaccounts', 'services', 'services/status']),
  r(READ, [''], ['bindings', 'events', 'limitranges', 'namespaces/status', 'pods/log', 'pods/status', 'replicationcontrollers/status',
    'resourcequotas', 'resourcequotas/status']),
  r(READ, [''], ['namespaces']),
  r(READ, ['discovery.k8s.io'], ['endpointslices']),
  r(READ, ['apps'], ['controllerrevisions', 'daemonsets', 'daemonsets/status', 'deployments', 'deployments/scale', 'deployments/status',
    'replicasets', 'replicasets/scale', 'replicasets/status', 'statefulsets', 'statefulsets/scale', 'statefulsets/status']),
  r(READ, ['autoscaling'], ['horizontalpodautoscalers', 'horizontalpodautoscalers/status']),
  r(READ, ['batch'], ['cronjobs', 'cronjobs/status', 'jobs', 'jobs/status']),
  r(READ, ['extensions'], ['daemonsets', 'daemonsets/status', 'deployments', 'deployments/scale', 'deployments/status', 'ingresses',
    'ingresses/status', 'networkpolicies', 'replicasets', 'replicasets/scale', 'replicasets/status', 'replicationcontrollers/scale']),
  r(READ, ['policy'], ['poddisruptionbudgets', 'poddisruptionbudgets/status']),
  r(READ, ['networking.k8s.io'], ['ingresses', 'ingresses/status', 'networkpolicies']),
];

const editRules: PolicyRule[] = [
  r(READ, [''], ['pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy', 'secrets', 'services/proxy']),
  r(['impersonate'], [''], ['serviceaccounts']),
  r(WRITE, [''], ['pods', 'pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy']),
  r(['create'], [''], ['pods/eviction']),
  r(WRITE, [''], ['configmaps', 'events', 'persistentvolumeclaims', 'replicationcontrollers', 'replicationcontrollers/scale', 'secrets',
    'serviceaccounts', 'services', 'services/proxy']),
  r(['create'], [''], ['serviceaccounts/token']),
  r(WRITE, ['apps'], ['daemonsets', 'deployments', 'deployments/rollback', 'deployments/scale', 'replicasets', 'replicasets/scale',
    'statefulsets', 'statefulsets/scale']),
  r(WRITE, ['autoscaling'], ['horizontalpodautoscalers']),
  r(WRITE, ['batch'], ['cronjobs', 'jobs']),
  r(WRITE, ['extensions'], ['daemonsets', 'deployments', 'deployments/rollback', 'deployments/scale', 'ingresses', 'networkpolicies',
    'replicasets', 'replicasets/scale', 'replicationcontrollers/scale']),
  r(WRITE, ['policy'], ['poddisruptionbudgets']),
  r(WRITE, ['networking.k8s.io'], ['ingresses', 'networkpolicies']),
  r([...READ, ...WRITE], ['coordination.k8s.io'], ['leases']),
];

const adminRules: PolicyRule[] = [
  r(['create'], ['authorization.k8s.io'], ['localsubjectaccessreviews']),
  r([...READ, ...WRITE], [RBAC_GROUP], ['rolebindings', 'roles']),
];

const DISCOVERY_URLS = ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'];
const PUBLIC_INFO_URLS = ['/healthz', '/livez', '/readyz', '/version', '/version/'];
const MONITORING_URLS = ['/metrics', '/metrics/slis', '/livez', '/readyz', '/healthz', '/livez/*', '/readyz/*', '/healthz/*'];
const ISSUER_URLS = ['/.well-known/openid-configuration', '/.well-known/openid-configuration/', '/openid/v1/jwks', '/openid/v1/jwks/'];

export const DEFAULT_CLUSTER_ROLES: readonly ClusterRole[] = [
  clusterRole('cluster-admin', [r(['*'], ['*'], ['*']), urls(['*'], ['*'])]),
  clusterRole('admin', [], { aggregateFrom: 'admin' }),
  clusterRole('edit', [], { aggregateFrom: 'edit', labels: { [AGGREGATE('admin')]: 'true' } }),
  clusterRole('view', [], { aggregateFrom: 'view', labels: { [AGGREGATE('edit')]: 'true' } }),
  clusterRole('system:aggregate-to-admin', adminRules, { labels: { [AGGREGATE('admin')]: 'true' } }),
  clusterRole('system:aggregate-to-edit', editRules, { labels: { [AGGREGATE('edit')]: 'true' } }),
  clusterRole('system:aggregate-to-view', viewRules, { labels: { [AGGREGATE('view')]: 'true' } }),
  clusterRole('system:discovery', [urls(['get'], DISCOVERY_URLS)]),
  clusterRole('system:public-info-viewer', [urls(['get'], PUBLIC_INFO_URLS)]),
  clusterRole('system:monitoring', [urls(['get'], MONITORING_URLS)]),
  // What metrics-server installs upstream: kubectl top for whoever may view, edit or admin.
  clusterRole('system:aggregated-metrics-reader', [r(READ, ['metrics.k8s.io'], ['pods', 'nodes'])], {
    labels: { [AGGREGATE('view')]: 'true', [AGGREGATE('edit')]: 'true', [AGGREGATE('admin')]: 'true' },
  }),
  clusterRole('system:basic-user', [
    r(['create'], ['authorization.k8s.io'], ['selfsubjectaccessreviews', 'selfsubjectrulesreviews']),
    r(['create'], ['authentication.k8s.io'], ['selfsubjectreviews']),
  ]),
  clusterRole('system:auth-delegator', [
    r(['create'], ['authentication.k8s.io'], ['tokenreviews']),
    r(['create'], ['authorization.k8s.io'], ['subjectaccessreviews']),
  ]),
  clusterRole('system:service-account-issuer-discovery', [urls(['get'], ISSUER_URLS)]),
  // corral's read-only tokens read what `view` reads plus the cluster around it (Nodes and their
  // heartbeats for the status page, volumes and classes): everything but Secrets, as before RBAC.
  clusterRole('corral:cluster-viewer', [
    r(READ, [''], ['nodes', 'nodes/status', 'persistentvolumes', 'persistentvolumes/status']),
    r(READ, ['coordination.k8s.io'], ['leases']),
    r(READ, ['storage.k8s.io'], ['storageclasses']),
    r(READ, ['scheduling.k8s.io'], ['priorityclasses']),
    r(READ, ['node.k8s.io'], ['runtimeclasses']),
    r(READ, ['discovery.k8s.io'], ['endpointslices']),
  ]),
];

export const DEFAULT_CLUSTER_ROLE_BINDINGS: readonly ClusterRoleBinding[] = [
  clusterRoleBinding('cluster-admin', 'cluster-admin', [group('system:masters')]),
  clusterRoleBinding('system:discovery', 'system:discovery', [group('system:authenticated')]),
  clusterRoleBinding('system:basic-user', 'system:basic-user', [group('system:authenticated')]),
  clusterRoleBinding('system:public-info-viewer', 'system:public-info-viewer', [group('system:authenticated'), group('system:unauthenticated')]),
  clusterRoleBinding('system:monitoring', 'system:monitoring', [group('system:monitoring')]),
  clusterRoleBinding('corral:viewers', 'view', [group(VIEWERS_GROUP)]),
  clusterRoleBinding('corral:viewers:cluster', 'corral:cluster-viewer', [group(VIEWERS_GROUP)]),
  clusterRoleBinding('system:service-account-issuer-discovery', 'system:service-account-issuer-discovery', [group('system:serviceaccounts')]),
];
