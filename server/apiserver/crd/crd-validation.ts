/**
 * Validation of CustomResourceDefinition objects (upstream's ValidateCustomResourceDefinition, the
 * parts a user meets): names, scope, versions with exactly one storage version, conversion (only
 * None: corral calls no conversion webhooks), structural schemas, CEL rules that compile, defaults
 * that satisfy their schema, scale paths and printer columns.
 */
import type { CustomResourceDefinition, JSONSchemaProps } from '../../../api/apiextensions-types.js';
import type { KubeObject } from '../../../api/meta.js';
import type { StatusCause } from '../../../api/status.js';
import { forbidden, invalid, notSupported, required, duplicate, eachInvalid, isRecord, asArray } from '../../../api/validation/field.js';
import { isDNS1035Label, isDNS1123Subdomain } from '../../../api/validation/names.js';
import { deepEqual } from '../../../api/object-util.js';
import { ruleCompileError } from './cel-rules.js';
import { validateCustomResource } from './schema-validation.js';
import { pruneObject } from './schema-walk.js';

const SCHEMA_TYPES = ['array', 'boolean', 'integer', 'number', 'object', 'string'];
const COLUMN_TYPES = ['integer', 'number', 'string', 'boolean', 'date'];

export function validateCustomResourceDefinition(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const crd = obj as CustomResourceDefinition;
  const out: StatusCause[] = [];
  const spec = isRecord(crd.spec) ? crd.spec : undefined;
  if (!spec) return [required('spec')];
  const group = typeof spec.group === 'string' ? spec.group : '';
  const names = isRecord(spec.names) ? spec.names : undefined;
  const plural = typeof names?.plural === 'string' ? names.plural : '';
  if (crd.metadata.name !== `${plural}.${group}`) {
    out.push(invalid('metadata.name', crd.metadata.name ?? '', 'must be spec.names.plural+"."+spec.group'));
  }
  if (group === '') out.push(required('spec.group'));
  else {
    out.push(...eachInvalid('spec.group', group, isDNS1123Subdomain(group)));
    if (group.split('.').length < 2) out.push(invalid('spec.group', group, 'should be a domain with at least one dot'));
  }
  out.push(...validateNames(names));
  if (spec.scope !== 'Namespaced' && spec.scope !== 'Cluster') out.push(notSupported('spec.scope', spec.scope ?? '', ['Cluster', 'Namespaced']));
  out.push(...validateConversion(spec.conversion));
  out.push(...validateVersions(asArray(spec.versions)));
  if (old) {
    const oldSpec = (old as CustomResourceDefinition).spec;
    if (oldSpec && oldSpec.scope !== spec.scope) out.push(invalid('spec.scope', spec.scope, 'field is immutable'));
    if (oldSpec && oldSpec.group !== spec.group) out.push(invalid('spec.group', spec.group, 'field is immutable'));
  }
  return out;
}

function validateNames(names: CustomResourceDefinition['spec']['names'] | undefined): StatusCause[] {
  if (!names) return [required('spec.names')];
  const out: StatusCause[] = [];
  const lowerLabel = (field: string, value: unknown, what: string): void => {
    if (typeof value !== 'string' || value === '') {
      out.push(required(field));
      return;
    }
    const errs = isDNS1035Label(value);
    if (errs.length > 0 || value !== value.toLowerCase()) out.push(invalid(field, value, `${what} must be lowercase DNS-1035 label${errs.length ? `: ${errs.join(', ')}` : ''}`));
  };
  lowerLabel('spec.names.plural', names.plural, '');
  if (names.singular !== undefined && names.singular !== '') lowerLabel('spec.names.singular', names.singular, '');
  for (const [field, kind] of [['spec.names.kind', names.kind], ['spec.names.listKind', names.listKind]] as const) {
    if (kind === undefined || kind === '') {
      if (field === 'spec.names.kind') out.push(required(field));
      continue;
    }
    if (typeof kind !== 'string' || isDNS1035Label(kind.toLowerCase()).length > 0) {
      out.push(invalid(field, kind, 'may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?'));
    }
  }
  if (names.kind !== undefined && names.kind === names.listKind) out.push(invalid('spec.names.listKind', names.listKind, 'kind and listKind may not be the same'));
  asArray(names.shortNames).forEach((s, i) => {
    if (typeof s !== 'string' || isDNS1035Label(s).length > 0) out.push(invalid(`spec.names.shortNames[${i}]`, s, 'shortName must be lowercase DNS-1035 label'));
  });
  asArray(names.categories).forEach((c, i) => {
    if (typeof c !== 'string' || isDNS1035Label(c).length > 0) out.push(invalid(`spec.names.categories[${i}]`, c, 'category must be lowercase DNS-1035 label'));
  });
  return out;
}

function validateConversion(conversion: unknown): StatusCause[] {
  if (conversion === undefined || conversion === null) return [];
  if (!isRecord(conversion)) return [invalid('spec.conversion', conversion, 'must be an object')];
  const strategy = conversion['strategy'];
  if (strategy === undefined || strategy === 'None') {
    return conversion['webhook'] !== undefined ? [forbidden('spec.conversion.webhook', 'should be empty if conversion strategy is not set to Webhook')] : [];
  }
  if (strategy === 'Webhook') {
    return [{
      reason: 'FieldValueNotSupported',
      message: 'Unsupported value: "Webhook": supported values: "None" (corral does not call conversion webhooks; serve one version, or versions whose objects differ only in apiVersion)',
      field: 'spec.conversion.strategy',
    }];
  }
  return [notSupported('spec.conversion.strategy', strategy, ['None', 'Webhook'])];
}

function validateVersions(versions: unknown[]): StatusCause[] {
  const out: StatusCause[] = [];
  if (versions.length === 0) return [required('spec.versions', 'must have exactly one version marked as storage version')];
  const seen = new Set<string>();
  let storage = 0;
  let served = 0;
  versions.forEach((v, i) => {
    const path = `spec.versions[${i}]`;
    if (!isRecord(v)) {
      out.push(invalid(path, v, 'must be an object'));
      return;
    }
    const name = v['name'];
    if (typeof name !== 'string' || name === '') out.push(required(`${path}.name`));
    else {
      out.push(...eachInvalid(`${path}.name`, name, isDNS1035Label(name)));
      if (seen.has(name)) out.push(duplicate(`${path}.name`, name));
      seen.add(name);
    }
    if (v['storage'] === true) storage++;
    if (v['served'] === true) served++;
    out.push(...validateVersionSchema(v['schema'], `${path}.schema`));
    out.push(...validateSubresources(v['subresources'], `${path}.subresources`));
    asArray(v['additionalPrinterColumns']).forEach((c, j) => out.push(...validateColumn(c, `${path}.additionalPrinterColumns[${j}]`)));
  });
  if (storage !== 1) out.push(invalid('spec.versions', versionsText(versions), 'must have exactly one version marked as storage version'));
  if (served === 0) out.push(invalid('spec.versions', versionsText(versions), 'must have at least one version marked as served'));
  return out;
}

/** Versions shown by name in messages (the whole structs would drown the reason). */
function versionsText(versions: unknown[]): string {
  return versions.map((v) => (isRecord(v) ? String(v['name']) : '?')).join(',');
}

function validateVersionSchema(schema: unknown, path: string): StatusCause[] {
  if (!isRecord(schema) || !isRecord(schema['openAPIV3Schema'])) return [required(`${path}.openAPIV3Schema`, 'schemas are required')];
  const root = schema['openAPIV3Schema'] as JSONSchemaProps;
  const rootPath = `${path}.openAPIV3Schema`;
  const out: StatusCause[] = [];
  if (root.type !== 'object') out.push(root.type === undefined ? required(`${rootPath}.type`, 'must not be empty at the root') : invalid(`${rootPath}.type`, root.type, 'must be object at the root'));
  const metadata = root.properties?.['metadata'];
  if (isRecord(metadata)) {
    const extra = Object.keys(metadata).filter((k) => k !== 'type' && k !== 'properties' && k !== 'description');
    const props = Object.keys(metadata.properties ?? {}).filter((k) => k !== 'name' && k !== 'generateName');
    if (extra.length > 0 || props.length > 0 || (metadata.type !== undefined && metadata.type !== 'object')) {
      out.push(forbidden(`${rootPath}.properties[metadata]`, 'must not specify anything other than name and generateName, but metadata is implicitly specified'));
    }
  }
  walkSchema(root, rootPath, true, out);
  return out;
}

/** The structural rules, per node: a type everywhere (or int-or-string / preserve), known list types, rules that compile, valid defaults. */
function walkSchema(node: JSONSchemaProps, path: string, root: boolean, out: StatusCause[]): void {
  if (!isRecord(node as unknown)) {
    out.push(invalid(path, node, 'must be an object'));
    return;
  }
  const intOrString = node['x-kubernetes-int-or-string'] === true;
  const preserve = node['x-kubernetes-preserve-unknown-fields'] === true;
  const embedded = node['x-kubernetes-embedded-resource'] === true;
  if (node.type === undefined && !intOrString && !preserve && !root) out.push(required(`${path}.type`, 'must not be empty for specified object fields'));
  if (node.type !== undefined && !SCHEMA_TYPES.includes(node.type)) out.push(notSupported(`${path}.type`, node.type, SCHEMA_TYPES));
  if (intOrString && node.type !== undefined) out.push(invalid(`${path}.type`, node.type, 'must be empty if x-kubernetes-int-or-string is true'));
  if (embedded && node.type !== 'object') out.push(invalid(`${path}.type`, node.type ?? '', 'must be object if x-kubernetes-embedded-resource is true'));
  if (node.properties !== undefined && node.additionalProperties !== undefined && node.additionalProperties !== false) {
    out.push(forbidden(`${path}.additionalProperties`, 'additionalProperties and properties are mutual exclusive'));
  }
  if (node.additionalProperties === true && !preserve) out.push(forbidden(`${path}.additionalProperties`, 'must not be used if x-kubernetes-preserve-unknown-fields is not true'));
  if (node.type === 'array' && !isRecord(node.items)) out.push(required(`${path}.items`, 'must be specified'));
  const listType = node['x-kubernetes-list-type'];
  if (listType !== undefined) {
    if (!['atomic', 'set', 'map'].includes(listType)) out.push(notSupported(`${path}.x-kubernetes-list-type`, listType, ['atomic', 'set', 'map']));
    if (node.type !== 'array') out.push(invalid(`${path}.type`, node.type ?? '', 'must be array if x-kubernetes-list-type is specified'));
    if (listType === 'map') {
      const keys = node['x-kubernetes-list-map-keys'] ?? [];
      if (keys.length === 0) out.push(required(`${path}.x-kubernetes-list-map-keys`, 'must not be empty if x-kubernetes-list-type is map'));
      if (node.items?.type !== 'object') out.push(invalid(`${path}.items.type`, node.items?.type ?? '', 'must be object if parent array\'s x-kubernetes-list-type is map'));
      for (const key of keys) {
        const keySchema = node.items?.properties?.[key];
        if (!keySchema) out.push(invalid(`${path}.x-kubernetes-list-map-keys`, keys, `entries must all be names of item properties`));
        else if (!(node.items?.required ?? []).includes(key) && keySchema.default === undefined) {
          out.push(required(`${path}.items.properties[${key}]`, 'this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property'));
        }
      }
    }
    if (listType === 'set' && node.items && node.items.type !== undefined && !['string', 'integer', 'number', 'boolean'].includes(node.items.type)) {
      out.push(invalid(`${path}.items.type`, node.items.type, 'must be a scalar type if parent array\'s x-kubernetes-list-type is set'));
    }
  }
  const mapType = node['x-kubernetes-map-type'];
  if (mapType !== undefined && mapType !== 'atomic' && mapType !== 'granular') out.push(notSupported(`${path}.x-kubernetes-map-type`, mapType, ['atomic', 'granular']));
  asArray(node['x-kubernetes-validations']).forEach((rule, i) => {
    const rulePath = `${path}.x-kubernetes-validations[${i}]`;
    if (!isRecord(rule) || typeof rule['rule'] !== 'string' || rule['rule'].trim() === '') {
      out.push(required(`${rulePath}.rule`));
      return;
    }
    const error = ruleCompileError(rule as { rule: string });
    if (error !== undefined) out.push(invalid(`${rulePath}.rule`, rule['rule'], `compilation failed: ${error}`));
    const reason = rule['reason'];
    if (reason !== undefined && !['FieldValueInvalid', 'FieldValueForbidden', 'FieldValueRequired', 'FieldValueDuplicate'].includes(String(reason))) {
      out.push(notSupported(`${rulePath}.reason`, reason, ['FieldValueDuplicate', 'FieldValueForbidden', 'FieldValueInvalid', 'FieldValueRequired']));
    }
  });
  if (node.default !== undefined) {
    if (root) out.push(forbidden(`${path}.default`, 'must not be specified at the root'));
    else out.push(...validateDefault(node, path));
  }
  for (const [name, child] of Object.entries(node.properties ?? {})) walkSchema(child, `${path}.properties[${name}]`, false, out);
  if (isRecord(node.additionalProperties)) walkSchema(node.additionalProperties as JSONSchemaProps, `${path}.additionalProperties`, false, out);
  if (isRecord(node.items)) walkSchema(node.items, `${path}.items`, false, out);
}

/** A default must satisfy its own schema and survive pruning unchanged (upstream checks both). */
function validateDefault(node: JSONSchemaProps, path: string): StatusCause[] {
  const holder = { value: structuredClone(node.default) };
  const schema: JSONSchemaProps = { type: 'object', properties: { value: node } };
  const before = structuredClone(holder);
  pruneObject(holder, schema, false);
  if (!deepEqual(before, holder)) return [invalid(`${path}.default`, node.default, 'must not have unknown fields')];
  const errs = validateCustomResource(holder, undefined, schema);
  return errs.map((e) => ({ ...e, field: `${path}.default${(e.field ?? '').slice('value'.length)}` }));
}

function validateSubresources(sub: unknown, path: string): StatusCause[] {
  if (sub === undefined || sub === null) return [];
  if (!isRecord(sub)) return [invalid(path, sub, 'must be an object')];
  const scale = sub['scale'];
  if (scale === undefined || scale === null) return [];
  if (!isRecord(scale)) return [invalid(`${path}.scale`, scale, 'must be an object')];
  const out: StatusCause[] = [];
  const spec = scale['specReplicasPath'];
  const status = scale['statusReplicasPath'];
  if (typeof spec !== 'string' || spec === '') out.push(required(`${path}.scale.specReplicasPath`));
  else if (!spec.startsWith('.spec.')) out.push(invalid(`${path}.scale.specReplicasPath`, spec, 'should be a json path under .spec'));
  if (typeof status !== 'string' || status === '') out.push(required(`${path}.scale.statusReplicasPath`));
  else if (!status.startsWith('.status.')) out.push(invalid(`${path}.scale.statusReplicasPath`, status, 'should be a json path under .status'));
  const selector = scale['labelSelectorPath'];
  if (selector !== undefined && (typeof selector !== 'string' || !(selector.startsWith('.spec.') || selector.startsWith('.status.')))) {
    out.push(invalid(`${path}.scale.labelSelectorPath`, selector, 'should be a json path under either .spec or .status'));
  }
  return out;
}

function validateColumn(column: unknown, path: string): StatusCause[] {
  if (!isRecord(column)) return [invalid(path, column, 'must be an object')];
  const out: StatusCause[] = [];
  if (typeof column['name'] !== 'string' || column['name'] === '') out.push(required(`${path}.name`));
  if (!COLUMN_TYPES.includes(String(column['type']))) out.push(notSupported(`${path}.type`, column['type'] ?? '', COLUMN_TYPES));
  if (typeof column['jsonPath'] !== 'string' || column['jsonPath'] === '') out.push(required(`${path}.jsonPath`));
  return out;
}
