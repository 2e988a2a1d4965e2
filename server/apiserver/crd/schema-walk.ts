/**
 * Pruning and defaulting of custom resources by their structural schema, as the upstream apiserver
 * does on every write: fields the schema does not declare are dropped (unless
 * x-kubernetes-preserve-unknown-fields keeps them), nulls of non-nullable fields are dropped, and
 * then `default` values fill what is missing, top-down (a defaulted object gets its own defaults).
 */
import type { JSONSchemaProps } from '../../../api/apiextensions-types.js';
import { clone } from '../../../api/object-util.js';

export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `spec` + `foo` → `spec.foo` (the field path Kubernetes prints). */
export function childPath(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

/** Members an object keeps whatever its schema says: type and object metadata (root and embedded resources). */
const RESOURCE_MEMBERS = new Set(['apiVersion', 'kind', 'metadata']);

/** The schema of the member `key` of an object, or undefined when the object does not declare it. */
export function memberSchema(schema: JSONSchemaProps, key: string): JSONSchemaProps | undefined {
  const declared = schema.properties?.[key];
  if (declared) return declared;
  return isRecord(schema.additionalProperties) ? schema.additionalProperties as JSONSchemaProps : undefined;
}

/**
 * Drops undeclared fields in place and returns their paths. `root`: the object is a whole custom
 * resource (apiVersion, kind and metadata are the apiserver's, not the schema's).
 */
export function pruneObject(value: Record<string, unknown>, schema: JSONSchemaProps, root = true): string[] {
  const pruned: string[] = [];
  pruneValue(value, schema, '', root, pruned);
  return pruned;
}

function pruneValue(value: unknown, schema: JSONSchemaProps, path: string, resource: boolean, pruned: string[]): void {
  if (Array.isArray(value)) {
    if (!schema.items) return;
    value.forEach((item, i) => pruneValue(item, schema.items!, `${path}[${i}]`, schema.items!['x-kubernetes-embedded-resource'] === true, pruned));
    return;
  }
  if (!isRecord(value)) return;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  for (const key of Object.keys(value)) {
    if (resource && RESOURCE_MEMBERS.has(key)) continue;
    const member = memberSchema(schema, key);
    const child = value[key];
    if (member === undefined) {
      if (!preserve && schema.additionalProperties !== true) {
        delete value[key];
        pruned.push(childPath(path, key));
      }
      continue;
    }
    if (child === null && member.nullable !== true) {
      // Upstream drops nulls of non-nullable fields before defaulting (a default then applies).
      delete value[key];
      continue;
    }
    pruneValue(child, member, childPath(path, key), member['x-kubernetes-embedded-resource'] === true, pruned);
  }
}

/** Fills in defaults in place, top-down; every default is a fresh copy. */
export function applySchemaDefaults(value: unknown, schema: JSONSchemaProps): void {
  if (Array.isArray(value)) {
    if (schema.items) for (const item of value) applySchemaDefaults(item, schema.items);
    return;
  }
  if (!isRecord(value)) return;
  for (const [key, member] of Object.entries(schema.properties ?? {})) {
    if (value[key] === undefined && member.default !== undefined) value[key] = clone(member.default);
  }
  for (const key of Object.keys(value)) {
    const member = memberSchema(schema, key);
    if (member) applySchemaDefaults(value[key], member);
  }
}
