/**
 * Converts the v3 schema dialect to Swagger 2.0 definitions, as upstream publishes `/openapi/v2`:
 * references point into `#/definitions/`, a reference with siblings is a bare `$ref`, and the
 * constructs 2.0 lacks (oneOf/anyOf, nullable) are folded: int-or-string is `type: string,
 * format: int-or-string`, a quantity is a string.
 */
import { refName, type SchemaObject } from './schema-object.js';

const DROPPED: ReadonlySet<string> = new Set(['oneOf', 'anyOf', 'not', 'nullable', 'x-kubernetes-validations']);

export function toV2Schema(schema: SchemaObject): SchemaObject {
  const out: SchemaObject = {};
  for (const [key, value] of Object.entries(schema)) {
    if (DROPPED.has(key) || value === undefined) continue;
    if (key === '$ref' && typeof value === 'string') {
      const name = refName(value);
      out.$ref = name === undefined ? value : `#/definitions/${name}`;
    } else if (key === 'properties' && value && typeof value === 'object') {
      const props: Record<string, SchemaObject> = {};
      for (const [p, s] of Object.entries(value as Record<string, SchemaObject>)) props[p] = toV2Schema(s);
      out.properties = props;
    } else if ((key === 'items' || key === 'additionalProperties') && value && typeof value === 'object') {
      out[key] = toV2Schema(value as SchemaObject);
    } else if (key === 'allOf' && Array.isArray(value)) {
      const only = value.length === 1 ? (value[0] as SchemaObject) : undefined;
      if (only?.$ref) out.$ref = toV2Schema(only).$ref!;
      else out.allOf = (value as SchemaObject[]).map(toV2Schema);
    } else {
      out[key] = value;
    }
  }
  if (out.type === undefined && out.$ref === undefined && (schema.oneOf || schema.anyOf || schema['x-kubernetes-int-or-string'])) out.type = 'string';
  return out;
}
