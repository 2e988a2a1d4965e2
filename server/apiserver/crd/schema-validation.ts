/**
 * Validation of a custom resource against its structural OpenAPI v3 schema, with the messages the
 * upstream apiserver answers (kube-openapi's wording converted to field errors): type, enum,
 * bounds, lengths, patterns, required, list types, int-or-string, then x-kubernetes-validations.
 * `old` is walked alongside for CEL transition rules (object members and map-list entries correlate).
 */
import type { JSONSchemaProps } from '../../../api/apiextensions-types.js';
import type { StatusCause } from '../../../api/status.js';
import { causes } from '../../../api/status.js';
import { invalid, notSupported, required, renderValue, GoText } from '../../../api/validation/field.js';
import { deepEqual } from '../../../api/object-util.js';
import { evaluateRules } from './cel-rules.js';
import { childPath, isRecord, memberSchema } from './schema-walk.js';

/** The JSON type name kube-openapi reports for a value. */
function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'string') return 'string';
  return 'object';
}

function typeMatches(type: string, value: unknown): boolean {
  switch (type) {
    case 'object': return isRecord(value);
    case 'array': return Array.isArray(value);
    case 'string': return typeof value === 'string';
    case 'integer': return typeof value === 'number' && Number.isInteger(value);
    case 'number': return typeof value === 'number';
    case 'boolean': return typeof value === 'boolean';
    default: return true;
  }
}

const FORMATS: Record<string, (s: string) => boolean> = {
  'date-time': (s) => /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)),
  date: (s) => /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(s)),
  uuid: (s) => /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/.test(s),
  ipv4: (s) => /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(s),
  byte: (s) => /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0,
};

/** `map[string]interface {}{"name":"a"}`: how Go prints a duplicate map-list key. */
function goKeyMap(entry: Record<string, unknown>, keys: string[]): GoText {
  return new GoText(`map[string]interface {}{${keys.map((k) => `${JSON.stringify(k)}:${renderValue(entry[k])}`).join(', ')}}`);
}

const patterns = new Map<string, RegExp | null>();
function compiledPattern(pattern: string): RegExp | null {
  let re = patterns.get(pattern);
  if (re === undefined) {
    try {
      re = new RegExp(pattern, 'u');
    } catch {
      re = null;
    }
    patterns.set(pattern, re);
  }
  return re;
}

/** All schema and rule errors of a custom resource; `old` is the stored object on updates. */
export function validateCustomResource(obj: Record<string, unknown>, old: Record<string, unknown> | undefined, schema: JSONSchemaProps): StatusCause[] {
  const out: StatusCause[] = [];
  validateNode(obj, old, schema, '', true, out);
  return out;
}

function validateNode(value: unknown, old: unknown, schema: JSONSchemaProps, path: string, resource: boolean, out: StatusCause[]): void {
  const name = path === '' ? '<root>' : path;
  if (value === null) {
    if (schema.nullable === true) return;
    if (schema.type) out.push(invalid(path, 'null', `${name} in body must be of type ${schema.type}: "null"`));
    return;
  }
  if (schema['x-kubernetes-int-or-string']) {
    if (!(typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value)))) {
      out.push(invalid(path, jsonType(value), `${name} in body must be of type integer,string: ${JSON.stringify(jsonType(value))}`));
      return;
    }
  } else if (schema.type && !typeMatches(schema.type, value)) {
    out.push(invalid(path, jsonType(value), `${name} in body must be of type ${schema.type}: ${JSON.stringify(jsonType(value))}`));
    return;
  }
  checkValueConstraints(value, schema, path, name, out);
  if (Array.isArray(value)) validateList(value, Array.isArray(old) ? old : undefined, schema, path, out);
  if (isRecord(value)) validateObjectMembers(value, isRecord(old) ? old : undefined, schema, path, resource, out);
  // Rules run beside the schema's checks (upstream reports both), on values of the right type.
  evaluateRules(schema, value, old, path, out);
}

function checkValueConstraints(value: unknown, schema: JSONSchemaProps, path: string, name: string, out: StatusCause[]): void {
  if (schema.enum && !schema.enum.some((e) => deepEqual(e, value))) {
    out.push(notSupported(path, value, schema.enum.map((e) => (typeof e === 'string' ? e : JSON.stringify(e)))));
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined) {
      if (schema.exclusiveMinimum ? value <= schema.minimum : value < schema.minimum) {
        out.push(invalid(path, value, `${name} in body should be greater than ${schema.exclusiveMinimum ? '' : 'or equal to '}${schema.minimum}`));
      }
    }
    if (schema.maximum !== undefined) {
      if (schema.exclusiveMaximum ? value >= schema.maximum : value > schema.maximum) {
        out.push(invalid(path, value, `${name} in body should be less than ${schema.exclusiveMaximum ? '' : 'or equal to '}${schema.maximum}`));
      }
    }
    if (schema.multipleOf !== undefined && schema.multipleOf > 0 && !Number.isInteger(value / schema.multipleOf)) {
      out.push(invalid(path, value, `${name} in body should be a multiple of ${schema.multipleOf}`));
    }
  }
  if (typeof value === 'string') {
    const length = [...value].length;
    if (schema.maxLength !== undefined && length > schema.maxLength) out.push(causes.tooLong(path, schema.maxLength));
    if (schema.minLength !== undefined && length < schema.minLength) out.push(invalid(path, value, `${name} in body should be at least ${schema.minLength} chars long`));
    if (schema.pattern !== undefined) {
      const re = compiledPattern(schema.pattern);
      if (re && !re.test(value)) out.push(invalid(path, value, `${name} in body should match '${schema.pattern}'`));
    }
    const format = schema.format ? FORMATS[schema.format] : undefined;
    if (format && !format(value)) out.push(invalid(path, value, `${name} in body must be of type ${schema.format}: ${JSON.stringify(value)}`));
  }
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      out.push({ reason: 'FieldValueTooMany', message: `Too many: ${value.length}: must have at most ${schema.maxItems} items`, field: path });
    }
    if (schema.minItems !== undefined && value.length < schema.minItems) out.push(invalid(path, value.length, `${name} in body should have at least ${schema.minItems} items`));
  }
  if (isRecord(value)) {
    const count = Object.keys(value).length;
    if (schema.maxProperties !== undefined && count > schema.maxProperties) {
      out.push({ reason: 'FieldValueTooMany', message: `Too many: ${count}: must have at most ${schema.maxProperties} items`, field: path });
    }
    if (schema.minProperties !== undefined && count < schema.minProperties) out.push(invalid(path, count, `${name} in body should have at least ${schema.minProperties} properties`));
  }
}

function validateObjectMembers(value: Record<string, unknown>, old: Record<string, unknown> | undefined, schema: JSONSchemaProps, path: string, resource: boolean, out: StatusCause[]): void {
  for (const key of schema.required ?? []) {
    if (resource && (key === 'apiVersion' || key === 'kind' || key === 'metadata')) continue;
    if (value[key] === undefined) out.push(required(childPath(path, key)));
  }
  for (const [key, child] of Object.entries(value)) {
    // apiVersion, kind and metadata of a resource are checked by the apiserver itself.
    if (resource && (key === 'apiVersion' || key === 'kind' || key === 'metadata')) continue;
    const member = memberSchema(schema, key);
    if (member) validateNode(child, old?.[key], member, childPath(path, key), member['x-kubernetes-embedded-resource'] === true, out);
  }
}

function validateList(value: unknown[], old: unknown[] | undefined, schema: JSONSchemaProps, path: string, out: StatusCause[]): void {
  const listType = schema['x-kubernetes-list-type'];
  const keys = schema['x-kubernetes-list-map-keys'] ?? [];
  const oldByKey = new Map<string, unknown>();
  if (listType === 'map' && old) {
    for (const entry of old) if (isRecord(entry)) oldByKey.set(JSON.stringify(keys.map((k) => entry[k])), entry);
  }
  const seen = new Set<string>();
  value.forEach((item, i) => {
    const itemPath = `${path}[${i}]`;
    if (listType === 'set') {
      const id = JSON.stringify(item);
      if (seen.has(id)) out.push({ reason: 'FieldValueDuplicate', message: `Duplicate value: ${renderValue(item)}`, field: itemPath });
      seen.add(id);
    }
    let oldItem: unknown;
    if (listType === 'map' && isRecord(item)) {
      const id = JSON.stringify(keys.map((k) => item[k]));
      if (seen.has(id)) out.push({ reason: 'FieldValueDuplicate', message: `Duplicate value: ${goKeyMap(item, keys).text}`, field: itemPath });
      seen.add(id);
      oldItem = oldByKey.get(id);
    }
    if (schema.items) validateNode(item, oldItem, schema.items, itemPath, schema.items['x-kubernetes-embedded-resource'] === true, out);
  });
}
