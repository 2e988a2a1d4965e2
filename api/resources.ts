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
  /** A custom resource served from a CustomResourceDefinition (server/apiserver/crd builds it). */
  custom?: CustomResourceBehaviour;
}

/** How a list field of a custom resource merges (x-kubernetes-list-type / list-map-keys). */
export type CustomListType = { kind: 'map'; keys: string[] } | { kind: 'set' } | { kind: 'atomic' };

/** A column of `kubectl get` for a custom resource (additionalPrinterColumns). */
export interface CustomPrinterColumn {
  name: string;
  type: string;
  format?: string;
  description?: string;
  priority?: number;
  jsonPath: string;
}

/**
 * What a custom resource does that a built-in kind does in code: the behaviour compiled from its
 * CustomResourceDefinition's version (schema, subresources, columns). Built per served version.
 */
export interface CustomResourceBehaviour {
  /** The CustomResourceDefinition (`widgets.example.com`). */
  crdName: string;
  /** The resourceVersion of the CRD this was built from (a changed CRD is served anew). */
  crdRevision: string;
  /** Objects are stored in this version; conversion strategy None rewrites only apiVersion. */
  storageVersion: string;
  /** The CRD is being deleted: its objects are being removed and no new ones may be created. */
  terminating: boolean;
  hasStatus: boolean;
  scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string };
  printerColumns: readonly CustomPrinterColumn[];
  /** The version's openAPIV3Schema (what /openapi publishes for `kubectl explain`). */
  schema: import('./apiextensions-types.js').JSONSchemaProps;
  /** Drops the fields the schema does not declare, in place; returns their paths (`spec.foo`). */
  prune(obj: Record<string, unknown>): string[];
  /** Fills in the schema's defaults, in place. */
  applyDefaults(obj: Record<string, unknown>): void;
  /** Schema and x-kubernetes-validations errors; `old` is the stored object on updates (transition rules). */
  validate(obj: Record<string, unknown>, old: Record<string, unknown> | undefined): import('./status.js').StatusCause[];
  /** The list type of the list at a field path (names from the root, no indices). */
  listType(path: readonly string[]): CustomListType;
}

export const RBAC_GROUP = 'rbac.authorization.k8s.io';
export const APIEXTENSIONS_GROUP = 'apiextensions.k8s.io';
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
  opts: { namespaced?: boolean; shortNames?: string[]; all?: boolean; subresources?: SubresourceInfo[]; createOnly?: true; alias?: true; provided?: true; categories?: string[]; version?: string } = {},
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
    categories: opts.all ? ['all'] : opts.categories ?? [],
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
      { name: 'attach', responseKind: { group: '', version: 'v1', kind: 'PodAttachOptions' }, verbs: ['create', 'get'] },
      { name: 'portforward', responseKind: { group: '', version: 'v1', kind: 'PodPortForwardOptions' }, verbs: ['create', 'get'] },
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
  res(APIEXTENSIONS_GROUP, 'CustomResourceDefinition', 'customresourcedefinitions', {
    namespaced: false, shortNames: ['crd', 'crds'], categories: ['api-extensions'], subresources: [status],
  }),
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

/**
 * The custom resources served right now (one entry per served version of each established CRD),
 * replaced as a whole whenever a CRD changes. One server per process owns it.
 */
let customResources: readonly ResourceInfo[] = [];
let customByVersionPlural = new Map<string, ResourceInfo>();
const customListeners = new Set<() => void>();

/** Replaces the served custom resources (versions of one group in preference order, best first). */
export function setCustomResources(list: readonly ResourceInfo[]): void {
  customResources = [...list];
  customByVersionPlural = new Map(list.map((r) => [`${r.group}/${r.version}/${r.plural}`, r]));
  for (const listener of customListeners) listener();
}

/** Calls `listener` after every change of the served custom resources; returns the unsubscribe. */
export function onCustomResourcesChanged(listener: () => void): () => void {
  customListeners.add(listener);
  return () => customListeners.delete(listener);
}

/** Every served resource: the built-in catalogue, then the custom resources. */
export function servedResources(): readonly ResourceInfo[] {
  return customResources.length === 0 ? RESOURCES : [...RESOURCES, ...customResources];
}

/** The custom resources served right now. */
export function customResourcesServed(): readonly ResourceInfo[] {
  return customResources;
}

/** Built-in kinds only: a custom kind may share a built-in kind's name in another group. */
export function resourceForKind(kind: string): ResourceInfo | undefined {
  return byKind.get(kind);
}

/** A resource by URL parts; without `version`, the built-in one (built-in kinds have one version each). */
export function resourceForPlural(group: string, plural: string, version?: string): ResourceInfo | undefined {
  const builtin = byGroupPlural.get(`${group}/${plural}`);
  if (builtin && (version === undefined || builtin.version === version)) return builtin;
  if (version === undefined) return customResources.find((r) => r.group === group && r.plural === plural);
  return customByVersionPlural.get(`${group}/${version}/${plural}`);
}

/** `group/version/Kind`: how in-process clients name a custom resource (its kind alone may be ambiguous). */
export function customKindKey(r: Pick<ResourceInfo, 'group' | 'version' | 'kind'>): string {
  return `${r.group}/${r.version}/${r.kind}`;
}

/** The custom resource a `customKindKey` names. */
export function customResourceByKey(key: string): ResourceInfo | undefined {
  const [group, version, kind, extra] = key.split('/');
  return extra === undefined && kind !== undefined ? customResourceForKind(group!, version!, kind) : undefined;
}

/** A custom resource by group, version and kind. */
export function customResourceForKind(group: string, version: string, kind: string): ResourceInfo | undefined {
  return customResources.find((r) => r.group === group && r.version === version && r.kind === kind);
}

/** Every group/version served, in discovery order (core first, a group's preferred version first). */
export function groupVersions(): { group: string; version: string }[] {
  const seen = new Map<string, { group: string; version: string }>();
  for (const r of servedResources()) seen.set(`${r.group}/${r.version}`, { group: r.group, version: r.version });
  return [...seen.values()];
}
