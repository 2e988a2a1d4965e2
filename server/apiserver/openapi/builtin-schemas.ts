/**
 * OpenAPI schemas of every built-in kind, generated from the protobuf tables in api/codec/schema
 * (one table row per Go field: its JSON name, scalar type or message, list or map), completed with
 * ./schema-facts.ts (required fields, list keys) and ./schema-descriptions.ts (prose). List
 * strategies come from api/patch/merge-keys.ts, the same table the server's strategic merge patch
 * uses, so kubectl computes its client-side patches with the keys the server merges by.
 */
import { SCHEMAS } from '../../../api/codec/schema/index.js';
import { isMessageType, type FieldSchema, type MessageSchema } from '../../../api/codec/protobuf-schema.js';
import { listStrategy } from '../../../api/patch/merge-keys.js';
import { DESCRIPTIONS } from './schema-descriptions.js';
import { EXTRA_LIST_MAP_KEYS, REQUIRED_FIELDS, goPackageOf } from './schema-facts.js';
import { schemaRef, type GroupVersionKind, type SchemaObject } from './schema-object.js';

const META = goPackageOf('meta');
export const TIME_SCHEMA = `${META}.Time`;
const MICRO_TIME_SCHEMA = `${META}.MicroTime`;
const FIELDS_V1_SCHEMA = `${META}.FieldsV1`;
export const QUANTITY_SCHEMA = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
export const INT_OR_STRING_SCHEMA = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
const RAW_EXTENSION_SCHEMA = 'io.k8s.apimachinery.pkg.runtime.RawExtension';

/** The apimachinery value types, which are named schemas upstream too. */
const VALUE_SCHEMAS: Readonly<Record<string, SchemaObject>> = {
  [TIME_SCHEMA]: { type: 'string', format: 'date-time', description: 'A timestamp in RFC 3339 form with second precision, in UTC.' },
  [MICRO_TIME_SCHEMA]: { type: 'string', format: 'date-time', description: 'A timestamp in RFC 3339 form with microsecond precision, in UTC.' },
  [QUANTITY_SCHEMA]: {
    description: 'An amount of a resource written as a number with an optional suffix: binary (Ki, Mi, Gi), decimal (k, M, G) or milli (m), such as "500m" or "128Mi".',
    oneOf: [{ type: 'string' }, { type: 'number' }],
  },
  [INT_OR_STRING_SCHEMA]: {
    description: 'Either an integer or a string, such as a port number or a port name, or a count or a percentage.',
    format: 'int-or-string',
    oneOf: [{ type: 'integer' }, { type: 'string' }],
    'x-kubernetes-int-or-string': true,
  },
  [RAW_EXTENSION_SCHEMA]: { type: 'object', description: 'An embedded object of any kind, kept as it was sent.', 'x-kubernetes-preserve-unknown-fields': true },
  [FIELDS_V1_SCHEMA]: { type: 'object', description: 'The set of fields a manager owns, in the server-side apply field-set format.' },
};

const SCALARS: Readonly<Record<string, SchemaObject>> = {
  string: { type: 'string' },
  bytes: { type: 'string', format: 'byte' },
  int32: { type: 'integer', format: 'int32' },
  int64: { type: 'integer', format: 'int64' },
  bool: { type: 'boolean' },
};

const TYPE_META: Readonly<Record<string, SchemaObject>> = {
  apiVersion: { type: 'string', description: 'The versioned schema this object follows, such as "apps/v1". Servers reject versions they do not serve.' },
  kind: { type: 'string', description: 'The object\'s type, in CamelCase, such as "Deployment". Set by the client; the server answers with the same.' },
};

interface MessageName { alias: string; name: string }

/** The schemas of the built-in types, keyed by schema name, plus the name of each kind's schema. */
export interface BuiltinSchemas {
  schemas: Record<string, SchemaObject>;
  /** Schema name of a message, e.g. `io.k8s.api.apps.v1.Deployment` for `apps/v1` `Deployment`. */
  schemaNameOf(apiVersion: string, messageName: string): string | undefined;
}

/**
 * Generates a schema for every message of the protobuf tables. `kinds` are the top-level kinds
 * (GVK extension, `apiVersion` and `kind` properties); walking from them gives each list field the
 * object path its strategic-merge strategy is decided by.
 */
export function builtinSchemas(kinds: readonly GroupVersionKind[]): BuiltinSchemas {
  const names = new Map<MessageSchema, MessageName>();
  for (const m of SCHEMAS.messages()) names.set(m.schema, { alias: m.alias, name: m.name });
  const nameOf = (m: MessageSchema): string => {
    const n = names.get(m);
    if (!n) throw new Error(`openapi: message ${m.name} is not in the schema registry`);
    return `${goPackageOf(n.alias)}.${n.name}`;
  };

  const gvkByMessage = new Map<MessageSchema, GroupVersionKind[]>();
  for (const gvk of kinds) {
    const apiVersion = gvk.group === '' ? gvk.version : `${gvk.group}/${gvk.version}`;
    const message = gvk.kind === 'Status' ? SCHEMAS.qualified('meta.Status') : SCHEMAS.message(apiVersion, gvk.kind);
    if (!message) continue;
    const list = gvkByMessage.get(message) ?? [];
    if (!list.some((g) => g.group === gvk.group && g.version === gvk.version && g.kind === gvk.kind)) list.push(gvk);
    gvkByMessage.set(message, list);
  }

  const schemas: Record<string, SchemaObject> = { ...VALUE_SCHEMAS };
  const visit = (message: MessageSchema, path: readonly string[]): void => {
    const name = nameOf(message);
    if (schemas[name] || message.unwrap) return;
    const n = names.get(message)!;
    const key = `${n.alias}.${n.name}`;
    const gvks = gvkByMessage.get(message);
    const properties: Record<string, SchemaObject> = {};
    if (gvks || n.name === 'DeleteOptions') Object.assign(properties, TYPE_META);
    const nested: [MessageSchema, string[]][] = [];
    for (const f of flattened(message)) {
      properties[f.name] = fieldSchema(f, key, [...path, f.name]);
      if (isMessageType(f.type)) nested.push([f.type.message(), [...path, f.name]]);
    }
    const required = (REQUIRED_FIELDS[key] ?? '').split(' ').filter((r) => r !== '' && Object.hasOwn(properties, r));
    const description = DESCRIPTIONS[key];
    schemas[name] = {
      ...(description ? { description } : {}),
      type: 'object',
      properties,
      ...(required.length ? { required } : {}),
      ...(gvks ? { 'x-kubernetes-group-version-kind': gvks } : {}),
    };
    for (const [m, p] of nested) visit(m, p);
  };

  const fieldSchema = (f: FieldSchema, owner: string, path: readonly string[]): SchemaObject => {
    let item: SchemaObject;
    if (isMessageType(f.type)) {
      const m = f.type.message();
      item = m.unwrap ? fieldSchema(m.fields[0]!, owner, path) : schemaRef(nameOf(m));
    } else if (f.type === 'RawJSON') {
      item = schemaRef(f.name === 'fieldsV1' ? FIELDS_V1_SCHEMA : RAW_EXTENSION_SCHEMA);
    } else if (f.type === 'Time') item = schemaRef(TIME_SCHEMA);
    else if (f.type === 'MicroTime') item = schemaRef(MICRO_TIME_SCHEMA);
    else if (f.type === 'Quantity') item = schemaRef(QUANTITY_SCHEMA);
    else if (f.type === 'IntOrString') item = schemaRef(INT_OR_STRING_SCHEMA);
    else item = { ...SCALARS[f.type]! };

    let schema: SchemaObject;
    if (f.shape === 'repeated') schema = { type: 'array', items: item, ...listFacts(owner, f.name, path) };
    else if (f.shape === 'map') schema = { type: 'object', additionalProperties: item };
    else schema = item;
    const description = DESCRIPTIONS[`${owner}.${f.name}`];
    if (!description) return schema;
    // A reference cannot carry siblings in OpenAPI 3.0: upstream wraps it in allOf.
    return schema.$ref ? { description, allOf: [schema] } : { description, ...schema };
  };

  for (const m of gvkByMessage.keys()) visit(m, []);
  for (const m of names.keys()) visit(m, []); // types no served kind reaches (request bodies, options)

  const byApiVersion = new Map<string, string>();
  for (const m of SCHEMAS.messages()) byApiVersion.set(`${m.apiVersion}/${m.name}`, `${goPackageOf(m.alias)}.${m.name}`);
  return { schemas, schemaNameOf: (apiVersion, messageName) => byApiVersion.get(`${apiVersion}/${messageName}`) };
}

/** A message's fields with embedded (`json:",inline"`) structs spliced in. */
function flattened(message: MessageSchema): FieldSchema[] {
  const out: FieldSchema[] = [];
  for (const f of message.fields) {
    if (f.inline && isMessageType(f.type)) out.push(...flattened(f.type.message()));
    else out.push(f);
  }
  return out;
}

/** Patch strategy and list type of a list field, from the strategic-merge table. */
function listFacts(owner: string, field: string, path: readonly string[]): SchemaObject {
  const strategy = listStrategy(path);
  switch (strategy.kind) {
    case 'merge':
      return {
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': [...(EXTRA_LIST_MAP_KEYS[`${owner}.${field}`] ?? [strategy.mergeKey])],
        'x-kubernetes-patch-merge-key': strategy.mergeKey,
        'x-kubernetes-patch-strategy': field === 'volumes' ? 'merge,retainKeys' : 'merge',
      };
    case 'set':
      return { 'x-kubernetes-list-type': 'set', 'x-kubernetes-patch-strategy': 'merge' };
    case 'replace':
      return { 'x-kubernetes-list-type': 'atomic' };
  }
}
