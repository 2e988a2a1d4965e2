/**
 * The OpenAPI document builder: schemas generated from the protobuf tables carry the facts kubectl
 * and other clients read (GVK, required, int-or-string, quantities, list keys and patch strategies),
 * every reference resolves, and sources added or removed (as CRDs come and go) change the index and
 * the ETags while untouched group/versions keep their hash.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { OpenApiDocuments } from '../../server/apiserver/openapi/documents.js';
import { BuiltinOpenApiSource } from '../../server/apiserver/openapi/builtin-source.js';
import { referencedNames, schemaRef, type SchemaObject } from '../../server/apiserver/openapi/schema-object.js';
import type { OpenApiContribution, OpenApiSource } from '../../server/apiserver/openapi/source.js';

const it = suite('openapi');

type Doc = { paths: Record<string, unknown>; components: { schemas: Record<string, SchemaObject> } };
const json = (body: string | Uint8Array): unknown => JSON.parse(typeof body === 'string' ? body : Buffer.from(body).toString());

function documents(): OpenApiDocuments {
  const d = new OpenApiDocuments();
  d.register(new BuiltinOpenApiSource());
  return d;
}

const shared = documents();
const apps = json(shared.groupVersion('apis/apps/v1')!.body) as Doc;
const core = json(shared.groupVersion('api/v1')!.body) as Doc;
const s = (doc: Doc, name: string): SchemaObject => {
  const found = doc.components.schemas[name];
  if (!found) throw new Error(`no schema ${name}`);
  return found;
};

it('kinds carry their group/version/kind, apiVersion and kind, and required fields', () => {
  const deployment = s(apps, 'io.k8s.api.apps.v1.Deployment');
  assert.equal(deployment['x-kubernetes-group-version-kind'], [{ group: 'apps', version: 'v1', kind: 'Deployment' }]);
  assert.equal(Object.keys(deployment.properties!).slice(0, 5), ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
  assert.equal(s(apps, 'io.k8s.api.apps.v1.DeploymentSpec').required, ['selector', 'template']);
  assert.equal(s(core, 'io.k8s.api.core.v1.Container').required, ['name']);
  assert.equal(s(core, 'io.k8s.api.core.v1.PodList')['x-kubernetes-group-version-kind'], [{ group: '', version: 'v1', kind: 'PodList' }]);
  assert.equal(s(core, 'io.k8s.api.core.v1.PodList').required, ['items']);
});

it('value types: int-or-string, quantities, timestamps; inline structs are spliced in', () => {
  const rolling = s(apps, 'io.k8s.api.apps.v1.RollingUpdateDeployment');
  assert.is(rolling.properties!['maxSurge']!.allOf?.[0]?.$ref ?? rolling.properties!['maxSurge']!.$ref, '#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString');
  const ios = s(apps, 'io.k8s.apimachinery.pkg.util.intstr.IntOrString');
  assert.is(ios['x-kubernetes-int-or-string'], true);
  assert.is(ios.format, 'int-or-string');
  const limits = s(core, 'io.k8s.api.core.v1.ResourceRequirements').properties!['limits']!;
  assert.equal(limits.additionalProperties, schemaRef('io.k8s.apimachinery.pkg.api.resource.Quantity'));
  assert.equal(s(core, 'io.k8s.apimachinery.pkg.apis.meta.v1.Time'), { type: 'string', format: 'date-time', description: s(core, 'io.k8s.apimachinery.pkg.apis.meta.v1.Time').description });
  // ConfigMapEnvSource embeds LocalObjectReference: its `name` is a direct property.
  assert.ok(s(core, 'io.k8s.api.core.v1.ConfigMapEnvSource').properties!['name']);
});

it('list fields carry the strategic-merge keys the server merges by, and list types', () => {
  const podSpec = s(core, 'io.k8s.api.core.v1.PodSpec').properties!;
  assert.is(podSpec['containers']!['x-kubernetes-patch-merge-key'], 'name');
  assert.is(podSpec['containers']!['x-kubernetes-patch-strategy'], 'merge');
  assert.is(podSpec['volumes']!['x-kubernetes-patch-strategy'], 'merge,retainKeys');
  assert.is(podSpec['tolerations']!['x-kubernetes-list-type'], 'atomic');
  const ports = s(core, 'io.k8s.api.core.v1.Container').properties!['ports']!;
  assert.equal(ports['x-kubernetes-list-map-keys'], ['containerPort', 'protocol']);
  assert.is(s(core, 'io.k8s.api.core.v1.ServiceSpec').properties!['ports']!['x-kubernetes-patch-merge-key'], 'port');
  assert.is(s(core, 'io.k8s.api.core.v1.NodeStatus').properties!['addresses']!['x-kubernetes-patch-merge-key'], 'type');
  assert.is(s(core, 'io.k8s.api.core.v1.EndpointSubset').properties!['addresses']!['x-kubernetes-list-type'], 'atomic');
  assert.is(s(core, 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta').properties!['finalizers']!['x-kubernetes-list-type'], 'set');
  assert.is(s(core, 'io.k8s.api.core.v1.NamespaceSpec').properties!['finalizers']!['x-kubernetes-list-type'], 'atomic');
});

it('every reference resolves inside its own document (v3 per group/version, and v2)', () => {
  const root = json(shared.root().body) as { paths: Record<string, { serverRelativeURL: string }> };
  assert.ok(Object.keys(root.paths).length >= 10);
  for (const key of Object.keys(root.paths)) {
    const doc = json(shared.groupVersion(key)!.body) as Doc;
    for (const name of referencedNames(doc)) assert.ok(doc.components.schemas[name], `${key}: ${name} resolves`);
  }
  const v2 = json(shared.v2('json').body) as { definitions: Record<string, SchemaObject> };
  const text = JSON.stringify(v2);
  assert.not.match(text, '#/components/');
  for (const m of text.matchAll(/"#\/definitions\/([^"]+)"/g)) assert.ok(v2.definitions[m[1]!], `v2: ${m[1]} resolves`);
  // Swagger 2.0 has no oneOf: int-or-string is a formatted string there.
  assert.equal(v2.definitions['io.k8s.apimachinery.pkg.util.intstr.IntOrString']!.type, 'string');
  assert.is(v2.definitions['io.k8s.apimachinery.pkg.util.intstr.IntOrString']!.oneOf, undefined);
});

class WidgetSource implements OpenApiSource {
  contribution(): OpenApiContribution {
    return {
      kinds: [{ group: 'example.com', version: 'v1', kind: 'Widget', plural: 'widgets', namespaced: true, verbs: ['get', 'list', 'patch'], schema: 'com.example.v1.Widget' }],
      schemas: {
        'com.example.v1.Widget': {
          type: 'object',
          properties: { metadata: schemaRef('io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'), spec: { type: 'object', properties: { size: { type: 'integer' } } } },
          'x-kubernetes-group-version-kind': [{ group: 'example.com', version: 'v1', kind: 'Widget' }],
        },
      },
    };
  }
}

it('a registered source appears with its own group/version; removing it takes it away; hashes move only where content did', () => {
  const d = documents();
  const rootBefore = d.root();
  const appsBefore = d.groupVersion('apis/apps/v1')!;
  const remove = d.register(new WidgetSource());
  const rootWith = d.root();
  assert.is.not(rootWith.etag, rootBefore.etag);
  const widgets = json(d.groupVersion('apis/example.com/v1')!.body) as Doc;
  assert.ok(widgets.components.schemas['com.example.v1.Widget']);
  assert.ok(widgets.components.schemas['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'], 'references into built-in schemas are carried along');
  assert.ok(widgets.paths['/apis/example.com/v1/namespaces/{namespace}/widgets/{name}']);
  assert.is(d.groupVersion('apis/apps/v1')!.hash, appsBefore.hash, 'an untouched group/version keeps its hash');
  assert.match(d.v2('json').body as string, 'com.example.v1.Widget');
  remove();
  assert.is(d.groupVersion('apis/example.com/v1'), undefined);
  assert.is(d.root().etag, rootBefore.etag);
  assert.not.match(d.v2('json').body as string, 'com.example.v1.Widget');
});

it('a source that throws is left out instead of breaking every document', () => {
  const d = documents();
  d.register({ contribution: () => { throw new Error('broken CRD schema'); } });
  assert.ok(d.groupVersion('apis/apps/v1'));
});

it.run();
