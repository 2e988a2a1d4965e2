/**
 * From CustomResourceDefinitions to served resources: one ResourceInfo per served version of each
 * established CRD, with the behaviour compiled from that version (schema pruning, defaulting and
 * validation, status and scale subresources, printer columns), and versions in Kubernetes' priority
 * order (v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > other), which makes the first the preferred one.
 */
import type { CustomResourceDefinition, CustomResourceDefinitionVersion, JSONSchemaProps } from '../../../api/apiextensions-types.js';
import type { CustomListType, CustomResourceBehaviour, ResourceInfo, SubresourceInfo } from '../../../api/resources.js';
import { applySchemaDefaults, memberSchema, pruneObject } from './schema-walk.js';
import { validateCustomResource } from './schema-validation.js';
import { compareStrings } from '../../../api/object-util.js';

export function isConditionTrue(crd: CustomResourceDefinition, type: string): boolean {
  return crd.status?.conditions?.some((c) => c.type === type && c.status === 'True') ?? false;
}

const VERSION_RE = /^v(\d+)(?:(alpha|beta)(\d+))?$/;

/** Kubernetes' version priority: negative when `a` comes first. */
export function compareVersionPriority(a: string, b: string): number {
  const rank = (v: string): [number, number, number, string] => {
    const m = VERSION_RE.exec(v);
    if (!m) return [0, 0, 0, v];
    const level = m[2] === undefined ? 3 : m[2] === 'beta' ? 2 : 1;
    return [level, Number(m[1]), Number(m[3] ?? 0), v];
  };
  const [la, ma, na, sa] = rank(a);
  const [lb, mb, nb, sb] = rank(b);
  if (la !== lb) return lb - la;
  if (la === 0) return sa < sb ? -1 : sa > sb ? 1 : 0;
  if (ma !== mb) return mb - ma;
  return nb - na;
}

const STATUS: SubresourceInfo = { name: 'status', verbs: ['get', 'patch', 'update'] };
const SCALE: SubresourceInfo = { name: 'scale', responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, verbs: ['get', 'patch', 'update'] };

/** The storage version of a CRD (validation guarantees exactly one). */
export function storageVersionOf(crd: CustomResourceDefinition): string {
  return crd.spec.versions.find((v) => v.storage)?.name ?? crd.spec.versions[0]?.name ?? '';
}

/** What every established CRD serves, grouped by CRD with its versions in priority order. */
export function customResourcesOf(crds: readonly CustomResourceDefinition[]): ResourceInfo[] {
  const out: ResourceInfo[] = [];
  const sorted = [...crds].sort((a, b) => compareStrings(a.metadata.name ?? '', b.metadata.name ?? ''));
  for (const crd of sorted) {
    if (!isConditionTrue(crd, 'Established')) continue;
    const versions = crd.spec.versions.filter((v) => v.served).sort((a, b) => compareVersionPriority(a.name, b.name));
    for (const v of versions) out.push(resourceInfoOf(crd, v));
  }
  return out;
}

function resourceInfoOf(crd: CustomResourceDefinition, version: CustomResourceDefinitionVersion): ResourceInfo {
  const names = crd.status?.acceptedNames?.plural ? crd.status.acceptedNames : crd.spec.names;
  const kind = names.kind;
  const subresources: SubresourceInfo[] = [];
  if (version.subresources?.status) subresources.push(STATUS);
  if (version.subresources?.scale) subresources.push(SCALE);
  return {
    group: crd.spec.group,
    version: version.name,
    kind,
    plural: names.plural,
    singular: names.singular || kind.toLowerCase(),
    namespaced: crd.spec.scope === 'Namespaced',
    shortNames: names.shortNames ?? [],
    categories: names.categories ?? [],
    subresources,
    custom: behaviourOf(crd, version),
  };
}

/** The schema node of the list at `path` (field names from the root). */
function schemaAt(schema: JSONSchemaProps | undefined, path: readonly string[]): JSONSchemaProps | undefined {
  let node = schema;
  for (const name of path) {
    if (!node) return undefined;
    node = node.type === 'array' ? node.items && memberSchema(node.items, name) : memberSchema(node, name);
  }
  return node;
}

function behaviourOf(crd: CustomResourceDefinition, version: CustomResourceDefinitionVersion): CustomResourceBehaviour {
  const schema: JSONSchemaProps = version.schema?.openAPIV3Schema ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  const scale = version.subresources?.scale;
  return {
    crdName: crd.metadata.name ?? '',
    crdRevision: crd.metadata.resourceVersion ?? '',
    storageVersion: storageVersionOf(crd),
    terminating: !!crd.metadata.deletionTimestamp,
    hasStatus: !!version.subresources?.status,
    ...(scale ? { scale: { specReplicasPath: scale.specReplicasPath, statusReplicasPath: scale.statusReplicasPath, ...(scale.labelSelectorPath ? { labelSelectorPath: scale.labelSelectorPath } : {}) } } : {}),
    printerColumns: version.additionalPrinterColumns ?? [],
    schema,
    prune: (obj) => pruneObject(obj, schema),
    applyDefaults: (obj) => applySchemaDefaults(obj, schema),
    validate: (obj, old) => validateCustomResource(obj, old, schema),
    listType: (path): CustomListType => {
      const node = schemaAt(schema, path);
      const type = node?.['x-kubernetes-list-type'];
      if (type === 'map') return { kind: 'map', keys: node?.['x-kubernetes-list-map-keys'] ?? [] };
      if (type === 'set') return { kind: 'set' };
      return { kind: 'atomic' };
    },
  };
}
