/**
 * CustomResourceDefinitions and the served custom resources as an OpenAPI source: each version's structural schema, with
 * apiVersion, kind and a `metadata` that refers to the built-in ObjectMeta, plus its List, so
 * `kubectl explain widgets.spec` and kubectl's client-side validation see the CRD's fields. The
 * documents are rebuilt whenever the served custom resources change.
 */
import { customResourcesServed, onCustomResourcesChanged, resourceForKind, verbsOf } from '../../../api/resources.js';
import type { JSONSchemaProps } from '../../../api/apiextensions-types.js';
import type { OpenApiDocuments } from '../openapi/documents.js';
import { schemaRef, type SchemaObject } from '../openapi/schema-object.js';
import type { OpenApiContribution, OpenApiKind, OpenApiSource } from '../openapi/source.js';

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';

/** `com.example.v1.Widget`: upstream names a CRD's schema by its reversed group. */
function schemaName(group: string, version: string, kind: string): string {
  return `${group.split('.').reverse().join('.')}.${version}.${kind}`;
}

function kindSchema(schema: JSONSchemaProps, gvk: { group: string; version: string; kind: string }): SchemaObject {
  const copy = structuredClone(schema) as SchemaObject;
  const properties = { ...(copy.properties ?? {}) };
  properties['apiVersion'] = { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' };
  properties['kind'] = { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' };
  properties['metadata'] = { ...schemaRef(`${META}.ObjectMeta`), description: 'Standard object\'s metadata.' } as SchemaObject;
  return { ...copy, type: 'object', properties, 'x-kubernetes-group-version-kind': [gvk] };
}

const CRD = resourceForKind('CustomResourceDefinition')!;
const CRD_SCHEMA = 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition';

/** CustomResourceDefinition itself (no protobuf table to generate it from): its top level, the rest open. */
const CRD_SCHEMAS: Record<string, SchemaObject> = {
  [CRD_SCHEMA]: {
    type: 'object',
    description: 'CustomResourceDefinition represents a resource that should be exposed on the API server.',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: schemaRef(`${META}.ObjectMeta`),
      spec: { type: 'object', description: 'The group, names, scope and versions (with their schemas) of the resource.', 'x-kubernetes-preserve-unknown-fields': true },
      status: { type: 'object', description: 'Accepted names, conditions and stored versions.', 'x-kubernetes-preserve-unknown-fields': true },
    },
    'x-kubernetes-group-version-kind': [{ group: CRD.group, version: CRD.version, kind: CRD.kind }],
  },
  [`${CRD_SCHEMA}List`]: {
    type: 'object',
    required: ['items'],
    properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: schemaRef(`${META}.ListMeta`), items: { type: 'array', items: schemaRef(CRD_SCHEMA) } },
    'x-kubernetes-group-version-kind': [{ group: CRD.group, version: CRD.version, kind: `${CRD.kind}List` }],
  },
};

const CRD_KIND: OpenApiKind = {
  group: CRD.group, version: CRD.version, kind: CRD.kind, plural: CRD.plural, namespaced: false, verbs: verbsOf(CRD),
  schema: CRD_SCHEMA, listSchema: `${CRD_SCHEMA}List`, subresources: [{ name: 'status', verbs: ['get', 'patch', 'update'] }],
};

export class CrdOpenApiSource implements OpenApiSource {
  contribution(): OpenApiContribution {
    const kinds: OpenApiKind[] = [CRD_KIND];
    const schemas: Record<string, SchemaObject> = { ...CRD_SCHEMAS };
    for (const r of customResourcesServed()) {
      if (!r.custom) continue;
      const name = schemaName(r.group, r.version, r.kind);
      const listName = `${name}List`;
      schemas[name] = kindSchema(r.custom.schema, { group: r.group, version: r.version, kind: r.kind });
      schemas[listName] = {
        type: 'object',
        required: ['items'],
        properties: {
          apiVersion: { type: 'string' },
          kind: { type: 'string' },
          metadata: schemaRef(`${META}.ListMeta`),
          items: { type: 'array', items: schemaRef(name) },
        },
        'x-kubernetes-group-version-kind': [{ group: r.group, version: r.version, kind: `${r.kind}List` }],
      };
      kinds.push({
        group: r.group, version: r.version, kind: r.kind, plural: r.plural, namespaced: r.namespaced,
        verbs: verbsOf(r), schema: name, listSchema: listName,
        subresources: r.subresources.map((s) => ({
          name: s.name, verbs: s.verbs,
          ...(s.responseKind ? { gvk: s.responseKind, schema: `io.k8s.api.${s.responseKind.group}.${s.responseKind.version}.${s.responseKind.kind}` } : {}),
        })),
      });
    }
    return { kinds, schemas };
  }
}

/** Registers the source and rebuilds the documents whenever a CRD starts, changes or stops being served. */
export function serveCrdOpenApi(documents: OpenApiDocuments): () => void {
  documents.register(new CrdOpenApiSource());
  return onCustomResourcesChanged(() => documents.invalidate());
}
