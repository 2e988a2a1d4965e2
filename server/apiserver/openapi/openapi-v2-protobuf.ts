/**
 * `/openapi/v2` in protobuf, the form client-go's discovery client asks for
 * (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`) when kubectl falls back to
 * client-side validation or runs `explain --output=plaintext-openapiv2`. The messages are gnostic's
 * OpenAPI v2 model (package openapi.v2); the table below lists the fields corral writes, with
 * their numbers, in the grammar `<number> <name> [repeated] <type>`. Vendor extensions, defaults and
 * enum values travel as gnostic `Any` messages holding YAML text (JSON is YAML).
 */
import { createRequire } from 'node:module';
import type protobuf from 'protobufjs';
import type { SchemaObject } from './schema-object.js';

/** What clients send in Accept. */
export const OPENAPI_V2_PROTOBUF_ACCEPT = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';
/** What the answer is labelled: `@` is not allowed in a media type, and Go's mime parser refuses it. */
export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

const MESSAGES: Readonly<Record<string, string>> = {
  Document: `1 swagger string; 2 info Info; 5 schemes repeated string; 6 consumes repeated string; 7 produces repeated string;
    8 paths Paths; 9 definitions Definitions; 12 security repeated SecurityRequirement;
    13 securityDefinitions SecurityDefinitions`,
  Info: '1 title string; 2 version string; 3 description string',
  Paths: '2 path repeated NamedPathItem',
  NamedPathItem: '1 name string; 2 value PathItem',
  PathItem: `2 get Operation; 3 put Operation; 4 post Operation; 5 delete Operation; 8 patch Operation;
    9 parameters repeated ParametersItem`,
  Operation: `1 tags repeated string; 3 description string; 5 operationId string; 6 produces repeated string;
    7 consumes repeated string; 8 parameters repeated ParametersItem; 9 responses Responses;
    10 schemes repeated string; 13 vendorExtension repeated NamedAny`,
  ParametersItem: '1 parameter Parameter',
  Parameter: '1 bodyParameter BodyParameter; 2 nonBodyParameter NonBodyParameter',
  BodyParameter: '1 description string; 2 name string; 3 in string; 4 required bool; 5 schema Schema',
  NonBodyParameter: '3 queryParameterSubSchema QueryParameterSubSchema; 4 pathParameterSubSchema PathParameterSubSchema',
  QueryParameterSubSchema: '1 required bool; 2 in string; 3 description string; 4 name string; 6 type string; 7 format string; 20 uniqueItems bool',
  PathParameterSubSchema: '1 required bool; 2 in string; 3 description string; 4 name string; 5 type string; 6 format string; 19 uniqueItems bool',
  Responses: '1 responseCode repeated NamedResponseValue',
  NamedResponseValue: '1 name string; 2 value ResponseValue',
  ResponseValue: '1 response Response',
  Response: '1 description string; 2 schema SchemaItem',
  SchemaItem: '1 schema Schema',
  Schema: `1 ref string; 2 format string; 3 title string; 4 description string; 5 default Any; 6 multipleOf double;
    7 maximum double; 8 exclusiveMaximum bool; 9 minimum double; 10 exclusiveMinimum bool; 11 maxLength int64;
    12 minLength int64; 13 pattern string; 14 maxItems int64; 15 minItems int64; 16 uniqueItems bool;
    17 maxProperties int64; 18 minProperties int64; 19 required repeated string; 20 enum repeated Any;
    21 additionalProperties AdditionalPropertiesItem; 22 type TypeItem; 23 items ItemsItem; 24 allOf repeated Schema;
    25 properties Properties; 27 readOnly bool; 30 example Any; 31 vendorExtension repeated NamedAny`,
  AdditionalPropertiesItem: '1 schema Schema; 2 boolean bool',
  TypeItem: '1 value repeated string',
  ItemsItem: '1 schema repeated Schema',
  Properties: '1 additionalProperties repeated NamedSchema',
  Definitions: '1 additionalProperties repeated NamedSchema',
  NamedSchema: '1 name string; 2 value Schema',
  NamedAny: '1 name string; 2 value Any',
  Any: '2 yaml string',
  SecurityRequirement: '1 additionalProperties repeated NamedStringArray',
  NamedStringArray: '1 name string; 2 value StringArray',
  StringArray: '1 value repeated string',
  SecurityDefinitions: '1 additionalProperties repeated NamedSecurityDefinitionsItem',
  NamedSecurityDefinitionsItem: '1 name string; 2 value SecurityDefinitionsItem',
  SecurityDefinitionsItem: '2 apiKeySecurity ApiKeySecurity',
  ApiKeySecurity: '1 type string; 2 name string; 3 in string; 4 description string',
};

function compile(): protobuf.Type {
  const nested: Record<string, protobuf.IType> = {};
  for (const [name, source] of Object.entries(MESSAGES)) {
    const fields: Record<string, protobuf.IField & { rule?: string }> = {};
    for (const text of source.split(';').map((s) => s.trim()).filter((s) => s !== '')) {
      const m = /^(\d+) (\w+) (repeated )?(\w+)$/.exec(text);
      if (!m) throw new Error(`openapi v2 protobuf table ${name}: cannot read "${text}"`);
      fields[m[2]!] = { id: Number(m[1]), type: m[4]!, ...(m[3] ? { rule: 'repeated' } : {}) };
    }
    nested[name] = { fields };
  }
  // protobufjs's reflection (its "light" build) is required here, at the first /openapi/v2 in protobuf,
  // not at start: the API's own codec needs only protobufjs/minimal.
  const light = createRequire(import.meta.url)('protobufjs/light.js') as typeof protobuf;
  return light.Root.fromJSON({ nested: { openapi: { nested: { v2: { nested } } } } }).lookupType('openapi.v2.Document');
}

let documentType: protobuf.Type | undefined;

type Json = Record<string, unknown>;
const yamlAny = (value: unknown): Json => ({ yaml: `${JSON.stringify(value)}\n` });

function extensions(o: Json): Json[] {
  return Object.entries(o).filter(([k]) => k.startsWith('x-')).map(([name, value]) => ({ name, value: yamlAny(value) }));
}

const NUMBERS = ['multipleOf', 'maximum', 'minimum', 'maxLength', 'minLength', 'maxItems', 'minItems', 'maxProperties', 'minProperties'];
const PLAIN = ['format', 'title', 'description', 'pattern', 'exclusiveMaximum', 'exclusiveMinimum', 'uniqueItems', 'readOnly'];

function schemaMessage(s: SchemaObject): Json {
  const out: Json = {};
  if (s.$ref) out['ref'] = s.$ref;
  for (const k of [...PLAIN, ...NUMBERS]) if (s[k] !== undefined) out[k] = s[k];
  if (s.type) out['type'] = { value: [s.type] };
  if (s.required?.length) out['required'] = s.required;
  if (s.default !== undefined) out['default'] = yamlAny(s.default);
  if (s['example'] !== undefined) out['example'] = yamlAny(s['example']);
  if (s.enum) out['enum'] = s.enum.map(yamlAny);
  if (s.items) out['items'] = { schema: [schemaMessage(s.items)] };
  if (s.allOf) out['allOf'] = s.allOf.map(schemaMessage);
  if (s.properties) out['properties'] = { additionalProperties: Object.entries(s.properties).map(([name, v]) => ({ name, value: schemaMessage(v) })) };
  if (typeof s.additionalProperties === 'boolean') out['additionalProperties'] = { boolean: s.additionalProperties };
  else if (s.additionalProperties) out['additionalProperties'] = { schema: schemaMessage(s.additionalProperties) };
  const ext = extensions(s);
  if (ext.length) out['vendorExtension'] = ext;
  return out;
}

function parameterMessage(p: Json): Json {
  if (p['in'] === 'body') {
    return { parameter: { bodyParameter: { name: p['name'], in: 'body', required: p['required'] === true, schema: schemaMessage(p['schema'] as SchemaObject) } } };
  }
  const sub = { name: p['name'], in: p['in'], required: p['required'] === true, type: p['type'], uniqueItems: p['uniqueItems'] === true };
  return { parameter: { nonBodyParameter: p['in'] === 'path' ? { pathParameterSubSchema: sub } : { queryParameterSubSchema: sub } } };
}

function operationMessage(op: Json): Json {
  const responses = Object.entries((op['responses'] ?? {}) as Record<string, Json>).map(([code, r]) => ({
    name: code,
    value: { response: { description: r['description'] ?? '', ...(r['schema'] ? { schema: { schema: schemaMessage(r['schema'] as SchemaObject) } } : {}) } },
  }));
  return {
    operationId: op['operationId'], produces: op['produces'] ?? [], consumes: op['consumes'] ?? [], schemes: op['schemes'] ?? [],
    parameters: ((op['parameters'] ?? []) as Json[]).map(parameterMessage),
    responses: { responseCode: responses },
    vendorExtension: extensions(op),
  };
}

/** Encodes a Swagger 2.0 document (as ./documents.ts builds it) in gnostic's protobuf form. */
export function encodeOpenApiV2(doc: Json): Uint8Array {
  documentType ??= compile();
  const paths = Object.entries((doc['paths'] ?? {}) as Record<string, Json>).map(([name, item]) => {
    const value: Json = { parameters: ((item['parameters'] ?? []) as Json[]).map(parameterMessage) };
    for (const verb of ['get', 'put', 'post', 'delete', 'patch']) if (item[verb]) value[verb] = operationMessage(item[verb] as Json);
    return { name, value };
  });
  const definitions = Object.entries((doc['definitions'] ?? {}) as Record<string, SchemaObject>).map(([name, s]) => ({ name, value: schemaMessage(s) }));
  const securityDefinitions = Object.entries((doc['securityDefinitions'] ?? {}) as Record<string, Json>).map(([name, d]) => ({ name, value: { apiKeySecurity: d } }));
  const security = ((doc['security'] ?? []) as Record<string, string[]>[]).map((req) => ({
    additionalProperties: Object.entries(req).map(([name, value]) => ({ name, value: { value } })),
  }));
  const message = documentType.fromObject({
    swagger: doc['swagger'], info: doc['info'], paths: { path: paths }, definitions: { additionalProperties: definitions },
    securityDefinitions: { additionalProperties: securityDefinitions }, security,
  });
  return documentType.encode(message).finish();
}
