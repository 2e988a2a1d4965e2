/**
 * The schema dialect every OpenAPI source hands to the document builder: OpenAPI v3 (JSON Schema
 * draft 4 subset) with Kubernetes' `x-kubernetes-*` extensions, and references written
 * `{ $ref: '#/components/schemas/<name>' }`. The v2 document is converted from it (./openapi-v2.ts).
 */

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

/** One schema node. Open-ended: sources may carry any JSON Schema keyword the v3 dialect allows. */
export interface SchemaObject {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  description?: string;
  properties?: Record<string, SchemaObject>;
  additionalProperties?: SchemaObject | boolean;
  items?: SchemaObject;
  required?: string[];
  $ref?: string;
  allOf?: SchemaObject[];
  oneOf?: SchemaObject[];
  anyOf?: SchemaObject[];
  default?: unknown;
  enum?: unknown[];
  'x-kubernetes-group-version-kind'?: GroupVersionKind[];
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-patch-strategy'?: string;
  'x-kubernetes-patch-merge-key'?: string;
  [keyword: string]: unknown;
}

const COMPONENTS = '#/components/schemas/';

/** A reference to the named schema. */
export function schemaRef(name: string): SchemaObject {
  return { $ref: `${COMPONENTS}${name}` };
}

/** The schema name a `$ref` points at, if it is a components reference. */
export function refName(ref: string): string | undefined {
  return ref.startsWith(COMPONENTS) ? ref.slice(COMPONENTS.length) : undefined;
}

/** Every schema name `schema` refers to, directly or in nested nodes. */
export function referencedNames(schema: unknown, into: Set<string> = new Set()): Set<string> {
  if (Array.isArray(schema)) {
    for (const s of schema) referencedNames(s, into);
  } else if (schema !== null && typeof schema === 'object') {
    for (const [k, v] of Object.entries(schema)) {
      if (k === '$ref' && typeof v === 'string') {
        const name = refName(v);
        if (name !== undefined) into.add(name);
      } else if (k !== 'enum' && k !== 'default' && k !== 'example') {
        referencedNames(v, into);
      }
    }
  }
  return into;
}
