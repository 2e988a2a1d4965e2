/**
 * The path items of one kind: list/create/deletecollection on the collection, get/replace/patch/delete
 * on an object, and its subresources, each operation tagged with `x-kubernetes-action` and the
 * `x-kubernetes-group-version-kind` kubectl matches on (its field-validation check looks for a PATCH
 * of the kind with a `fieldValidation` query parameter). Written once for both dialects: v3
 * (parameters carry a `schema`, bodies are `requestBody`) and v2 (flat parameter types, `in: body`).
 */
import { groupVersionPath } from '../../../api/resources.js';
import { schemaRef, type GroupVersionKind, type SchemaObject } from './schema-object.js';
import type { OpenApiKind } from './source.js';

export type Dialect = 'v3' | 'v2';
type Operation = Record<string, unknown>;
type PathItem = Record<string, unknown>;

const LIST_PARAMS = ['allowWatchBookmarks', 'continue', 'fieldSelector', 'labelSelector', 'limit', 'resourceVersion', 'resourceVersionMatch', 'sendInitialEvents', 'timeoutSeconds', 'watch'];
const WRITE_PARAMS = ['dryRun', 'fieldManager', 'fieldValidation'];
const PARAM_TYPES: Readonly<Record<string, 'string' | 'integer' | 'boolean'>> = {
  allowWatchBookmarks: 'boolean', limit: 'integer', sendInitialEvents: 'boolean', timeoutSeconds: 'integer', watch: 'boolean',
  force: 'boolean', gracePeriodSeconds: 'integer', orphanDependents: 'boolean',
};
const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];
const STATUS_SCHEMA = 'io.k8s.apimachinery.pkg.apis.meta.v1.Status';
const DELETE_OPTIONS_SCHEMA = 'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions';

function param(name: string, where: 'query' | 'path', dialect: Dialect): Record<string, unknown> {
  const type = PARAM_TYPES[name] ?? 'string';
  const required = where === 'path' ? { required: true } : {};
  return dialect === 'v3'
    ? { name, in: where, ...required, schema: { type, uniqueItems: true } }
    : { name, in: where, ...required, type, uniqueItems: true };
}

function ref(name: string, dialect: Dialect): SchemaObject {
  return dialect === 'v3' ? schemaRef(name) : { $ref: `#/definitions/${name}` };
}

interface OperationSpec {
  action: string;
  /** Operation id verb: list, create, read, replace, patch, delete, deletecollection, ... */
  verb: string;
  gvk: GroupVersionKind;
  query: readonly string[];
  body?: { schema: string; contentTypes: readonly string[] };
  response: string;
}

function operation(id: string, o: OperationSpec, dialect: Dialect): Operation {
  const parameters = o.query.map((q) => param(q, 'query', dialect));
  const responses = dialect === 'v3'
    ? { 200: { description: 'OK', content: { 'application/json': { schema: ref(o.response, dialect) } } }, 401: { description: 'Unauthorized' } }
    : { 200: { description: 'OK', schema: ref(o.response, dialect) }, 401: { description: 'Unauthorized' } };
  let body: Record<string, unknown> = {};
  if (o.body && dialect === 'v3') {
    const content: Record<string, unknown> = {};
    for (const t of o.body.contentTypes) content[t] = { schema: ref(o.body.schema, dialect) };
    body = { requestBody: { required: true, content } };
  } else if (o.body) {
    parameters.unshift({ name: 'body', in: 'body', required: true, schema: ref(o.body.schema, dialect) });
    body = { consumes: o.body.contentTypes };
  }
  return {
    operationId: `${o.verb}${id}`,
    ...(dialect === 'v2' ? { produces: ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'], schemes: ['https'] } : {}),
    parameters,
    ...body,
    responses,
    'x-kubernetes-action': o.action,
    'x-kubernetes-group-version-kind': o.gvk,
  };
}

function capitalized(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Every path of `k`, keyed by URL template (`/apis/apps/v1/namespaces/{namespace}/deployments/{name}`). */
export function kindPaths(k: OpenApiKind, dialect: Dialect): Record<string, PathItem> {
  const prefix = groupVersionPath(k);
  const gvk: GroupVersionKind = { group: k.group, version: k.version, kind: k.kind };
  const scope = k.namespaced ? 'Namespaced' : '';
  const id = `${capitalized(k.group.split('.')[0] ?? '')}${capitalized(k.version)}${scope}${k.kind}`;
  const collection = k.namespaced ? `${prefix}/namespaces/{namespace}/${k.plural}` : `${prefix}/${k.plural}`;
  const pathParams = (names: string[]) => ({ parameters: names.map((n) => param(n, 'path', dialect)) });
  const nsParams = k.namespaced ? ['namespace'] : [];
  const can = (v: string) => k.verbs.includes(v);
  const paths: Record<string, PathItem> = {};
  const json = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'];

  const coll: PathItem = { ...pathParams(nsParams) };
  if (can('list')) coll.get = operation(id, { action: 'list', verb: 'list', gvk, query: LIST_PARAMS, response: k.listSchema ?? k.schema }, dialect);
  if (can('create')) coll.post = operation(id, { action: 'post', verb: 'create', gvk, query: WRITE_PARAMS, body: { schema: k.schema, contentTypes: json }, response: k.schema }, dialect);
  if (can('deletecollection')) {
    coll.delete = operation(id, { action: 'deletecollection', verb: 'deleteCollection', gvk, query: [...LIST_PARAMS.filter((p) => p !== 'watch'), 'dryRun', 'gracePeriodSeconds'], body: { schema: DELETE_OPTIONS_SCHEMA, contentTypes: json }, response: STATUS_SCHEMA }, dialect);
  }
  paths[collection] = coll;
  if (k.namespaced && can('list')) {
    paths[`${prefix}/${k.plural}`] = { get: operation(`${capitalized(k.group.split('.')[0] ?? '')}${capitalized(k.version)}${k.kind}ForAllNamespaces`, { action: 'list', verb: 'list', gvk, query: LIST_PARAMS, response: k.listSchema ?? k.schema }, dialect) };
  }
  if (!can('get')) return paths;

  const item: PathItem = { ...pathParams(['name', ...nsParams]) };
  item.get = operation(id, { action: 'get', verb: 'read', gvk, query: [], response: k.schema }, dialect);
  if (can('update')) item.put = operation(id, { action: 'put', verb: 'replace', gvk, query: WRITE_PARAMS, body: { schema: k.schema, contentTypes: json }, response: k.schema }, dialect);
  if (can('patch')) item.patch = operation(id, { action: 'patch', verb: 'patch', gvk, query: [...WRITE_PARAMS, 'force'], body: { schema: k.schema, contentTypes: PATCH_TYPES }, response: k.schema }, dialect);
  if (can('delete')) item.delete = operation(id, { action: 'delete', verb: 'delete', gvk, query: ['dryRun', 'gracePeriodSeconds', 'propagationPolicy'], body: { schema: DELETE_OPTIONS_SCHEMA, contentTypes: json }, response: STATUS_SCHEMA }, dialect);
  paths[`${collection}/{name}`] = item;

  for (const s of k.subresources ?? []) {
    const schema = s.schema ?? (s.gvk ? undefined : k.schema);
    if (!schema) continue; // connect-style subresources (exec, log) have no body schema to describe
    const subGvk = s.gvk ?? gvk;
    const subId = `${id}${capitalized(s.name)}`;
    const sub: PathItem = { ...pathParams(['name', ...nsParams]) };
    if (s.verbs.includes('get')) sub.get = operation(subId, { action: 'get', verb: 'read', gvk: subGvk, query: [], response: schema }, dialect);
    if (s.verbs.includes('update')) sub.put = operation(subId, { action: 'put', verb: 'replace', gvk: subGvk, query: WRITE_PARAMS, body: { schema, contentTypes: json }, response: schema }, dialect);
    if (s.verbs.includes('patch')) sub.patch = operation(subId, { action: 'patch', verb: 'patch', gvk: subGvk, query: [...WRITE_PARAMS, 'force'], body: { schema, contentTypes: PATCH_TYPES }, response: schema }, dialect);
    if (s.verbs.includes('create')) sub.post = operation(subId, { action: 'post', verb: 'create', gvk: subGvk, query: WRITE_PARAMS, body: { schema, contentTypes: json }, response: schema }, dialect);
    paths[`${collection}/{name}/${s.name}`] = sub;
  }
  return paths;
}
