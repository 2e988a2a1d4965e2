/**
 * The catalogue of served resources: one entry per kind with its group/version, plural and scope.
 * Discovery, the REST routes, the OpenAPI stub, the typed client and the store keys all read it,
 * so adding a kind here is the one place to start.
 */

export interface SubresourceInfo {
  name: string;
  /** Kind answered by the subresource, when not the parent's own kind. */
  responseKind?: { group: string; version: string; kind: string };
  verbs: string[];
}

export interface ResourceInfo {
  group: string; // '' for core
  version: string;
  kind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  subresources: SubresourceInfo[];
  /**
   * A request kind that is never stored (TokenReview, SubjectAccessReview, ...): only `create`,
   * answered by the server with the object's status filled in.
   */
  createOnly?: true;
  /**
   * The same objects as another group's kind, in a newer shape (events.k8s.io/v1 Events are core/v1
   * Events): served by converting, not stored on their own, and never what `resourceForKind` finds.
   */
  alias?: true;
  /** Read-only and never stored: served from memory by a provider (metrics.k8s.io usage), `get` and `list` only. */
  provided?: true;
}

export const RBAC_GROUP = 'rbac.authorization.k8s.io';
const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const status: SubresourceInfo = { name: 'status', verbs: ['get', 'patch', 'update'] };
const scale: SubresourceInfo = {
  name: 'scale',
  responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' },
  verbs: ['get', 'patch', 'update'],
};

function res(
  group: string,
  kind: string,
  plural: string,
  opts: { namespaced?: boolean; shortNames?: string[]; all?: boolean; subresources?: SubresourceInfo[]; createOnly?: true; alias?: true; provided?: true; version?: string } = {},
): ResourceInfo {
  return {
    ...(opts.createOnly ? { createOnly: true as const } : {}),
    ...(opts.alias ? { alias: true as const } : {}),
    ...(opts.provided ? { provided: true as const } : {}),
    group,
    version: opts.version ?? 'v1',
    kind,
    plural,
    singular: kind.toLowerCase(),
    namespaced: opts.namespaced ?? true,
    shortNames: opts.shortNames ?? [],
    categories: opts.all ? ['all'] : [],
    subresources: opts.subresources ?? [],
  };
}

export const RESOURCES: readonly ResourceInfo[] = [
  res('', 'Namespace', 'namespaces', {
    namespaced: false, shortNames: ['ns'],
    subresources: [status, { name: 'finalize', verbs: ['update'] }],
  }),
  res('', 'Node', 'nodes', { namespaced: false, shortNames: ['no'], subresources: [status] }),
  res('', 'Pod', 'pods', {
    shortNames: ['po'], all: true,
    subresources: [
      status,
      { name: 'log', verbs: ['get'] },
      { name: 'exec', responseKind: { group: '', version: 'v1', kind: 'PodExecOptions' }, verbs: ['create', 'get'] },
      { name: 'eviction', responseKind: { group: 'policy', version: 'v1', kind: 'Eviction' }, verbs: ['create'] },
      { name: 'binding', responseKind: { group: '', version: 'v1', kind: 'Binding' }, verbs: ['create'] },
    ],
  }),
  res('', 'Service', 'services', { shortNames: ['svc'], all: true, subresources: [status] }),
  res('', 'Endpoints', 'endpoints', { shortNames: ['ep'] }),
  res('', 'ConfigMap', 'configmaps', { shortNames: ['cm'] }),
  res('', 'Secret', 'secrets'),
  res('', 'ServiceAccount', 'serviceaccounts', {
    shortNames: ['sa'],
    subresources: [{ name: 'token', responseKind: { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' }, verbs: ['create'] }],
  }),
  res('', 'Event', 'events', { shortNames: ['ev'] }),
  res('events.k8s.io', 'Event', 'events', { shortNames: ['ev'], alias: true }),
  res('', 'ResourceQuota', 'resourcequotas', { shortNames: ['quota'], subresources: [status] }),
  res('', 'LimitRange', 'limitranges', { shortNames: ['limits'] }),
  res('', 'PersistentVolume', 'persistentvolumes', { namespaced: false, shortNames: ['pv'], subresources: [status] }),
  res('', 'PersistentVolumeClaim', 'persistentvolumeclaims', { shortNames: ['pvc'], subresources: [status] }),
  res('', 'PodTemplate', 'podtemplates'),
  res('', 'ReplicationController', 'replicationcontrollers', { shortNames: ['rc'], all: true, subresources: [scale, status] }),
  res('apps', 'Deployment', 'deployments', { shortNames: ['deploy'], all: true, subresources: [scale, status] }),
  res('apps', 'ReplicaSet', 'replicasets', { shortNames: ['rs'], all: true, subresources: [scale, status] }),
  res('apps', 'DaemonSet', 'daemonsets', { shortNames: ['ds'], all: true, subresources: [status] }),
  res('apps', 'StatefulSet', 'statefulsets', { shortNames: ['sts'], all: true, subresources: [scale, status] }),
  res('apps', 'ControllerRevision', 'controllerrevisions'),
  res('batch', 'Job', 'jobs', { all: true, subresources: [status] }),
  res('batch', 'CronJob', 'cronjobs', { shortNames: ['cj'], all: true, subresources: [status] }),
  res('coordination.k8s.io', 'Lease', 'leases'),
  res('discovery.k8s.io', 'EndpointSlice', 'endpointslices'),
  res('storage.k8s.io', 'StorageClass', 'storageclasses', { namespaced: false, shortNames: ['sc'] }),
  res('scheduling.k8s.io', 'PriorityClass', 'priorityclasses', { namespaced: false, shortNames: ['pc'] }),
  res('node.k8s.io', 'RuntimeClass', 'runtimeclasses', { namespaced: false }),
  res('admissionregistration.k8s.io', 'ValidatingWebhookConfiguration', 'validatingwebhookconfigurations', { namespaced: false }),
  res('admissionregistration.k8s.io', 'MutatingWebhookConfiguration', 'mutatingwebhookconfigurations', { namespaced: false }),
  res('networking.k8s.io', 'Ingress', 'ingresses', { shortNames: ['ing'], subresources: [status] }),
  res('networking.k8s.io', 'IngressClass', 'ingressclasses', { namespaced: false }),
  res('policy', 'PodDisruptionBudget', 'poddisruptionbudgets', { shortNames: ['pdb'], subresources: [status] }),
  res(RBAC_GROUP, 'ClusterRole', 'clusterroles', { namespaced: false }),
  res(RBAC_GROUP, 'ClusterRoleBinding', 'clusterrolebindings', { namespaced: false }),
  res(RBAC_GROUP, 'Role', 'roles'),
  res(RBAC_GROUP, 'RoleBinding', 'rolebindings'),
  res('authentication.k8s.io', 'TokenReview', 'tokenreviews', { namespaced: false, createOnly: true }),
  res('authentication.k8s.io', 'SelfSubjectReview', 'selfsubjectreviews', { namespaced: false, createOnly: true }),
  res('authorization.k8s.io', 'SubjectAccessReview', 'subjectaccessreviews', { namespaced: false, createOnly: true }),
  res('authorization.k8s.io', 'SelfSubjectAccessReview', 'selfsubjectaccessreviews', { namespaced: false, createOnly: true }),
  res('authorization.k8s.io', 'SelfSubjectRulesReview', 'selfsubjectrulesreviews', { namespaced: false, createOnly: true }),
  res('authorization.k8s.io', 'LocalSubjectAccessReview', 'localsubjectaccessreviews', { createOnly: true }),
  // What metrics-server serves upstream (kubectl top), from the agents' readings the server collects.
  res('metrics.k8s.io', 'NodeMetrics', 'nodes', { namespaced: false, provided: true, version: 'v1beta1' }),
  res('metrics.k8s.io', 'PodMetrics', 'pods', { provided: true, version: 'v1beta1' }),
];

export { ALL_VERBS };

/** Verbs a resource answers (discovery): create only for request kinds, get and list for provided ones. */
export function verbsOf(r: Pick<ResourceInfo, 'createOnly' | 'provided'>): string[] {
  return r.createOnly ? ['create'] : r.provided ? ['get', 'list'] : ALL_VERBS;
}

/** Kinds that are stored (everything but the create-only request kinds, the aliases and the provided ones). */
export const STORED_RESOURCES: readonly ResourceInfo[] = RESOURCES.filter((r) => !r.createOnly && !r.alias && !r.provided);

/** `apps/v1`, or `v1` for the core group. */
export function apiVersionOf(r: Pick<ResourceInfo, 'group' | 'version'>): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

/** The URL prefix of a group/version: `/api/v1` or `/apis/apps/v1`. */
export function groupVersionPath(r: Pick<ResourceInfo, 'group' | 'version'>): string {
  return r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
}

/** How errors name a resource: `pods`, `deployments.apps`. */
export function qualifiedResource(r: Pick<ResourceInfo, 'group' | 'plural'>): string {
  return r.group === '' ? r.plural : `${r.plural}.${r.group}`;
}

const byKind = new Map(RESOURCES.filter((r) => !r.alias).map((r) => [r.kind, r]));
const byGroupPlural = new Map(RESOURCES.map((r) => [`${r.group}/${r.plural}`, r]));

export function resourceForKind(kind: string): ResourceInfo | undefined {
  return byKind.get(kind);
}

export function resourceForPlural(group: string, plural: string): ResourceInfo | undefined {
  return byGroupPlural.get(`${group}/${plural}`);
}

/** Every group/version served, in discovery order (core first). */
export function groupVersions(): { group: string; version: string }[] {
  const seen = new Map<string, { group: string; version: string }>();
  for (const r of RESOURCES) seen.set(`${r.group}/${r.version}`, { group: r.group, version: r.version });
  return [...seen.values()];
}
