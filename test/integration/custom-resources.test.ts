/**
 * CustomResourceDefinitions end to end with the real kubectl v1.32 against a real `corral server`:
 * a CRD with a schema, printer columns, status and scale subresources and CEL rules is served within
 * a second; its objects are validated (422 with causes), pruned, defaulted, patched three ways and
 * applied, watched, selected, scaled; names that conflict are not accepted; webhook conversion is
 * refused; several versions share one storage; deleting the CRD deletes its objects behind the
 * cleanup finalizer; and three operator-shaped CRDs from test/fixtures/crds round-trip.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ServerProcess, kubectl, kubectlSpawn, type KubectlResult } from '../support/server-process.js';
import { HttpsTransport } from '../../api/client/transport.js';
import { waitUntil } from '../support/wait.js';

const it = suite<{ server: ServerProcess; http: HttpsTransport }>('custom-resources');
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'crds');

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'] });
  ctx.http = new HttpsTransport({ server: ctx.server.url, caPem: ctx.server.caPem, token: ctx.server.token });
});

it.after(async (ctx) => {
  ctx.http?.close();
  await ctx.server?.destroy();
});

function ok(r: KubectlResult, what: string): string {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

function fails(r: KubectlResult, what: string): string {
  if (r.code === 0) throw new Error(`${what} should have failed:\n${r.stdout}`);
  return r.stderr;
}

async function json(server: ServerProcess, args: string[]): Promise<Record<string, any>> {
  return JSON.parse(ok(await kubectl(server, [...args, '-o', 'json']), args.join(' '))) as Record<string, any>;
}

async function call(http: HttpsTransport, method: string, path: string, body?: unknown, contentType = 'application/json', accept?: string): Promise<{ status: number; body: any; headers: Record<string, string> }> {
  const res = await http.request({
    method, path,
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    headers: { 'content-type': contentType, ...(accept ? { accept } : {}) },
  });
  const text = await res.text();
  let parsed: unknown = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body: parsed, headers: res.headers };
}

const WIDGETS = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd], categories: [all, toys]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas, labelSelectorPath: .status.selector}
    additionalPrinterColumns:
    - {name: Size, type: string, jsonPath: .spec.size}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            x-kubernetes-validations:
            - rule: self.minReplicas <= self.replicas
              message: replicas must be at least minReplicas
            - rule: "!has(oldSelf.size) || self.size == oldSelf.size || self.size == 'large'"
              message: a widget may only grow
            properties:
              size: {type: string, enum: [small, large]}
              replicas: {type: integer, minimum: 0, default: 1}
              minReplicas: {type: integer, default: 0}
              port: {x-kubernetes-int-or-string: true}
              labels: {type: object, additionalProperties: {type: string}}
              extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
              template: {type: object, x-kubernetes-embedded-resource: true, x-kubernetes-preserve-unknown-fields: true}
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    number: {type: integer}
          status:
            type: object
            properties:
              replicas: {type: integer}
              selector: {type: string}
`;

/**
 * Applies a fixture's CRD, then its object once the kind is served (as with upstream, one apply of
 * both fails: kubectl maps every document before the CRD exists).
 */
async function applyFixture(server: ServerProcess, file: string): Promise<{ crd: Record<string, any>; object: Record<string, any> }> {
  const docs = parseAllDocuments(readFileSync(join(FIXTURES, file), 'utf8')).map((d) => d.toJSON() as Record<string, any>);
  const crd = docs.find((d) => d['kind'] === 'CustomResourceDefinition')!;
  const object = docs.find((d) => d['kind'] !== 'CustomResourceDefinition')!;
  ok(await kubectl(server, ['apply', '-f', '-'], { input: JSON.stringify(crd) }), `apply ${file} CRD`);
  await waitUntil(`${file} served`, async () => (await kubectl(server, ['get', `${crd['spec'].names.plural}.${crd['spec'].group}`])).code === 0, 5000);
  ok(await kubectl(server, ['apply', '-f', '-'], { input: JSON.stringify(object) }), `apply ${file} object`);
  return { crd, object };
}

/** Every member of `expected` is in `actual` with the same value (defaults may add more). */
function contains(actual: unknown, expected: unknown): boolean {
  if (Array.isArray(expected)) return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => contains(actual[i], e));
  if (expected !== null && typeof expected === 'object') {
    return actual !== null && typeof actual === 'object' && Object.entries(expected).every(([k, v]) => contains((actual as Record<string, unknown>)[k], v));
  }
  return actual === expected;
}

const widget = (name: string, spec: string): string => `apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: ${name}}\nspec: ${spec}\n`;

it('a created CRD is served within a second: discovery, api-resources and its conditions', async ({ server, http }) => {
  const started = Date.now();
  ok(await kubectl(server, ['apply', '-f', '-'], { input: WIDGETS }), 'apply crd');
  await waitUntil('widgets in aggregated discovery', async () => {
    const res = await call(http, 'GET', '/apis', undefined, 'application/json', 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    return (res.body.items as any[]).some((g) => g.metadata.name === 'example.com' && g.versions[0].resources.some((r: any) => r.resource === 'widgets'));
  }, 1000, 20);
  assert.ok(Date.now() - started < 1500, `served after ${Date.now() - started} ms`);
  const legacy = await call(http, 'GET', '/apis/example.com/v1');
  assert.equal(legacy.body.resources.map((r: any) => r.name).sort(), ['widgets', 'widgets/scale', 'widgets/status']);
  const resources = ok(await kubectl(server, ['api-resources', '--api-group=example.com']), 'api-resources');
  assert.match(resources, /widgets\s+wd\s+example\.com\/v1\s+true\s+Widget/);
  const crd = await json(server, ['get', 'crd', 'widgets.example.com']);
  const conditions = Object.fromEntries((crd['status'].conditions as any[]).map((c) => [c.type, c]));
  assert.is(conditions['NamesAccepted'].status, 'True');
  assert.is(conditions['NamesAccepted'].reason, 'NoConflicts');
  assert.is(conditions['Established'].status, 'True');
  assert.is(crd['status'].acceptedNames.listKind, 'WidgetList');
  assert.equal(crd['status'].storedVersions, ['v1']);
  assert.is(crd['spec'].conversion.strategy, 'None', 'defaulted');
});

it('objects are defaulted, pruned (with warnings), validated with causes, and listed with their columns', async ({ server, http }) => {
  ok(await kubectl(server, ['apply', '-f', '-'], { input: widget('w1', '{size: small, replicas: 2, port: http, extra: {any: [1, 2]}, template: {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {x: 1}}}') }), 'create w1');
  const w1 = await json(server, ['get', 'widget', 'w1']);
  assert.equal(w1['spec'].minReplicas, 0, 'defaulted');
  assert.equal(w1['spec'].extra, { any: [1, 2] }, 'preserved');
  assert.equal(w1['spec'].template.metadata, { name: 'p' }, 'embedded resource keeps its metadata');

  // Warn (the default for API clients): unknown fields are dropped and named in warnings.
  const created = await call(http, 'POST', '/apis/example.com/v1/namespaces/default/widgets', {
    apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w2' }, spec: { size: 'large', bogus: 1, ports: [{ name: 'a', number: 1, junk: true }] }, toplevel: 'x',
  });
  assert.is(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.spec, { size: 'large', replicas: 1, minReplicas: 0, ports: [{ name: 'a', number: 1 }] });
  assert.is(created.body.toplevel, undefined);
  assert.match(created.headers['warning'] ?? '', 'unknown field \\"spec.bogus\\"');
  assert.match(created.headers['warning'] ?? '', 'unknown field \\"spec.ports[0].junk\\"');
  // kubectl apply validates strictly: an unknown field is refused there.
  assert.match(fails(await kubectl(server, ['apply', '-f', '-'], { input: widget('w9', '{size: small, bogus: 1}') }), 'strict'),
    'strict decoding error: unknown field "spec.bogus"');

  const bad = await call(http, 'POST', '/apis/example.com/v1/namespaces/default/widgets', {
    apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'bad' },
    spec: { size: 'huge', replicas: -1, port: true, ports: [{ name: 'a' }, { name: 'a' }], labels: { a: 1 } },
  });
  assert.is(bad.status, 422);
  assert.is(bad.body.reason, 'Invalid');
  assert.is(bad.body.details.kind, 'Widget');
  assert.is(bad.body.details.group, 'example.com');
  const causes = (bad.body.details.causes as any[]).map((c) => `${c.field}: ${c.message}`);
  for (const expected of [
    'spec.size: Unsupported value: "huge": supported values: "small", "large"',
    'spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0',
    'spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"',
    'spec.ports[1]: Duplicate value: map[string]interface {}{"name":"a"}',
    'spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer"',
  ]) assert.ok(causes.includes(expected), `missing cause ${expected} in ${JSON.stringify(causes)}`);
  const required = await call(http, 'POST', '/apis/example.com/v1/namespaces/default/widgets', { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'r' }, spec: {} });
  assert.equal(required.body.details.causes, [{ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.size' }]);

  // CEL: a rule over self, and a transition rule over oldSelf.
  const cel = fails(await kubectl(server, ['apply', '-f', '-'], { input: widget('w3', '{size: small, replicas: 1, minReplicas: 3}') }), 'cel');
  assert.match(cel, 'The Widget "w3" is invalid: spec: Invalid value: "object": replicas must be at least minReplicas');
  const shrink = await call(http, 'PATCH', '/apis/example.com/v1/namespaces/default/widgets/w2', { spec: { size: 'small' } }, 'application/merge-patch+json');
  assert.is(shrink.status, 422);
  assert.match(shrink.body.message, 'a widget may only grow');

  const table = ok(await kubectl(server, ['get', 'widgets']), 'get');
  assert.match(table, /NAME\s+SIZE\s+REPLICAS\s+AGE/);
  assert.match(table, /w1\s+small\s+2\s+\d+s/);
  assert.match(ok(await kubectl(server, ['get', 'toys']), 'category'), /\bw1\s+small/);
  assert.match(ok(await kubectl(server, ['get', 'all']), 'get all'), /widget\.example\.com\/w2/);
});

it('patches (merge, JSON, apply), strategic merge refused with 415, selectors, status and scale', async ({ server, http }) => {
  ok(await kubectl(server, ['patch', 'wd', 'w1', '--type=merge', '-p', '{"spec":{"size":"large"}}']), 'merge');
  ok(await kubectl(server, ['patch', 'wd', 'w1', '--type=json', '-p', '[{"op":"replace","path":"/spec/replicas","value":4}]']), 'json');
  assert.match(fails(await kubectl(server, ['patch', 'wd', 'w1', '-p', '{"spec":{"size":"large"}}']), 'strategic'), 'application/strategic-merge-patch+json is not supported');
  const smp = await call(http, 'PATCH', '/apis/example.com/v1/namespaces/default/widgets/w1', { spec: {} }, 'application/strategic-merge-patch+json');
  assert.is(smp.status, 415);
  assert.is(smp.body.reason, 'UnsupportedMediaType');
  ok(await kubectl(server, ['apply', '--server-side', '-f', '-'], { input: widget('w4', '{size: small, port: 80}') }), 'apply create');
  ok(await kubectl(server, ['apply', '--server-side', '-f', '-'], { input: widget('w4', '{size: large}') }), 'apply update');
  const w4 = await json(server, ['get', 'wd', 'w4', '--show-managed-fields']);
  assert.equal(w4['spec'], { size: 'large', replicas: 1, minReplicas: 0 }, 'the applied configuration no longer has port: removed');
  assert.is(w4['metadata'].managedFields[0].manager, 'kubectl');

  ok(await kubectl(server, ['label', 'wd', 'w4', 'tier=gold']), 'label');
  assert.match(ok(await kubectl(server, ['get', 'wd', '-l', 'tier=gold', '-o', 'name']), 'label selector'), /^widget\.example\.com\/w4\n$/);
  assert.match(ok(await kubectl(server, ['get', 'wd', '--field-selector', 'metadata.name=w1', '-o', 'name']), 'field selector'), /^widget\.example\.com\/w1\n$/);
  assert.match(fails(await kubectl(server, ['get', 'wd', '--field-selector', 'spec.size=small']), 'unsupported field'), 'field label not supported: spec.size');

  // status only through /status; the main resource keeps the stored status.
  ok(await kubectl(server, ['patch', 'wd', 'w1', '--subresource=status', '--type=merge', '-p', '{"status":{"replicas":3,"selector":"app=w1"}}']), 'status');
  ok(await kubectl(server, ['patch', 'wd', 'w1', '--type=merge', '-p', '{"status":{"replicas":99}}']), 'main ignores status');
  assert.is((await json(server, ['get', 'wd', 'w1']))['status'].replicas, 3);
  assert.match(ok(await kubectl(server, ['scale', 'widget', 'w1', '--replicas=5']), 'scale'), 'scaled');
  const scale = await call(http, 'GET', '/apis/example.com/v1/namespaces/default/widgets/w1/scale');
  assert.equal([scale.body.kind, scale.body.spec.replicas, scale.body.status.replicas, scale.body.status.selector], ['Scale', 5, 3, 'app=w1']);

  // Protobuf is not served for custom resources (upstream: 406 for Accept, 415 for a body).
  assert.is((await call(http, 'GET', '/apis/example.com/v1/namespaces/default/widgets/w1', undefined, 'application/json', 'application/vnd.kubernetes.protobuf')).status, 406);
  assert.is((await call(http, 'POST', '/apis/example.com/v1/namespaces/default/widgets', 'x', 'application/vnd.kubernetes.protobuf')).status, 415);
});

it('kubectl explain shows the custom resource\'s fields from /openapi', async ({ server }) => {
  const explained = ok(await kubectl(server, ['explain', 'widgets.spec']), 'explain');
  assert.match(explained, 'GROUP:      example.com');
  assert.match(explained, /size\s+<string>/);
  assert.match(explained, /replicas\s+<integer>/);
  assert.match(explained, /ports\s+<\[\]Object>/);
  const field = ok(await kubectl(server, ['explain', 'widgets.spec.ports.name']), 'explain field');
  assert.match(field, /FIELD: name <string>/);
});

it('watch streams changes of custom resources', async ({ server }) => {
  const watch = kubectlSpawn(server, ['get', 'widgets', '--watch', '-o', 'name']);
  let out = '';
  watch.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  try {
    await waitUntil('initial events', async () => out.includes('widget.example.com/w1'), 10_000);
    ok(await kubectl(server, ['apply', '-f', '-'], { input: widget('w5', '{size: small}') }), 'create w5');
    ok(await kubectl(server, ['delete', 'widget', 'w5']), 'delete w5');
    await waitUntil('w5 added and deleted', async () => out.split('\n').filter((l) => l === 'widget.example.com/w5').length === 2, 10_000);
  } finally {
    watch.kill();
  }
});

it('names another CRD of the group holds are not accepted; webhook conversion is refused', async ({ server }) => {
  const gadgets = WIDGETS.replace('name: widgets.example.com', 'name: gadgets.example.com')
    .replace('plural: widgets, singular: widget, kind: Widget, shortNames: [wd]', 'plural: gadgets, singular: gadget, kind: Widget, shortNames: [gd]');
  ok(await kubectl(server, ['apply', '-f', '-'], { input: gadgets }), 'apply gadgets');
  await waitUntil('gadget conditions', async () => ((await json(server, ['get', 'crd', 'gadgets.example.com']))['status'].conditions ?? []).length >= 2, 5000);
  const crd = await json(server, ['get', 'crd', 'gadgets.example.com']);
  const names = (crd['status'].conditions as any[]).find((c) => c.type === 'NamesAccepted');
  // Kind and listKind both conflict; as upstream, the last conflict checked names the reason.
  assert.equal([names.status, names.reason, names.message], ['False', 'ListKindConflict', '"WidgetList" is already in use']);
  assert.is((crd['status'].conditions as any[]).find((c) => c.type === 'Established').status, 'False');
  assert.match(fails(await kubectl(server, ['get', 'gadgets']), 'not served'), 'the server doesn\'t have a resource type "gadgets"');
  ok(await kubectl(server, ['delete', 'crd', 'gadgets.example.com']), 'delete gadgets');

  const webhook = WIDGETS.replace('name: widgets.example.com', 'name: hooks.example.com')
    .replace('plural: widgets, singular: widget, kind: Widget, shortNames: [wd]', 'plural: hooks, singular: hook, kind: Hook')
    .replace('  scope: Namespaced', '  scope: Namespaced\n  conversion: {strategy: Webhook, webhook: {conversionReviewVersions: [v1], clientConfig: {url: "https://127.0.0.1:1/convert"}}}');
  const refused = fails(await kubectl(server, ['apply', '-f', '-'], { input: webhook }), 'webhook conversion');
  assert.match(refused, 'spec.conversion.strategy: Unsupported value: "Webhook": supported values: "None" (corral does not call conversion webhooks');
});

it('several versions share one storage (apiVersion rewritten), and cluster scope works', async ({ server, http }) => {
  await applyFixture(server, 'ingressroute.yaml');
  const stored = await call(http, 'GET', '/apis/proxy.corral.test/v1alpha1/namespaces/default/ingressroutes/dashboard');
  assert.is(stored.status, 200);
  assert.is(stored.body.apiVersion, 'proxy.corral.test/v1alpha1');
  const viaV1 = await call(http, 'GET', '/apis/proxy.corral.test/v1/namespaces/default/ingressroutes/dashboard');
  assert.is(viaV1.body.apiVersion, 'proxy.corral.test/v1');
  const group = await call(http, 'GET', '/apis/proxy.corral.test');
  assert.equal(group.body.preferredVersion.version, 'v1');
  assert.equal(group.body.versions.map((v: any) => v.version), ['v1', 'v1alpha1']);

  const cluster = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: racks.infra.corral.test}
spec:
  group: infra.corral.test
  scope: Cluster
  names: {plural: racks, kind: Rack}
  versions:
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {slots: {type: integer}}}}}}}
`;
  ok(await kubectl(server, ['apply', '-f', '-'], { input: cluster }), 'cluster crd');
  await waitUntil('racks served', async () => (await call(http, 'GET', '/apis/infra.corral.test/v1/racks')).status === 200, 2000);
  ok(await kubectl(server, ['apply', '-f', '-'], { input: 'apiVersion: infra.corral.test/v1\nkind: Rack\nmetadata: {name: r1}\nspec: {slots: 4}\n' }), 'rack');
  const rack = await json(server, ['get', 'rack', 'r1']);
  assert.is(rack['metadata'].namespace, undefined);
  assert.match(ok(await kubectl(server, ['get', 'racks']), 'list racks'), /r1\s+\d+s/);
});

it('RBAC decides on the custom resource\'s group and resource', async ({ server }) => {
  assert.match(fails(await kubectl(server, ['get', 'widgets', '--as=alice']), 'alice'), 'widgets is forbidden: User "alice" cannot list resource "widgets" in API group "example.com" in the namespace "default"');
  ok(await kubectl(server, ['create', 'role', 'widget-reader', '--verb=get,list', '--resource=widgets.example.com']), 'role');
  ok(await kubectl(server, ['create', 'rolebinding', 'alice-widgets', '--role=widget-reader', '--user=alice']), 'binding');
  await waitUntil('alice may list widgets', async () => (await kubectl(server, ['get', 'widgets', '--as=alice'])).code === 0, 5000);
  assert.match(fails(await kubectl(server, ['delete', 'widget', 'w1', '--as=alice']), 'alice delete'), 'cannot delete resource "widgets" in API group "example.com"');
});

it('three operator-shaped CRDs apply and round-trip', async ({ server }) => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.yaml')).sort();
  assert.equal(files, ['certificate.yaml', 'ingressroute.yaml', 'servicemonitor.yaml']);
  for (const file of files) {
    const { crd, object } = await applyFixture(server, file);
    const got = await json(server, ['get', `${crd['spec'].names.plural}.${crd['spec'].group}`, object['metadata'].name]);
    assert.ok(contains(got['spec'], object['spec']), `${file}: the spec round-trips (defaults added only): ${JSON.stringify(got['spec'])}`);
  }
  const cert = await json(server, ['get', 'cert', 'web-tls']);
  assert.equal(cert['spec'].privateKey, { algorithm: 'RSA' }, 'nested defaults inside a defaulted object');
  assert.is(cert['spec'].duration, '2160h');
  assert.is(cert['spec'].issuerRef.kind, 'ClusterIssuer');
  const smon = await json(server, ['get', 'smon', 'node-metrics']);
  assert.is(smon['spec'].endpoints[0].path, '/metrics', 'defaults inside list items');
  assert.match(fails(await kubectl(server, ['apply', '-f', '-'], {
    input: 'apiVersion: monitoring.corral.test/v1\nkind: ServiceMonitor\nmetadata: {name: broken}\nspec: {selector: {}, endpoints: [{path: /m, interval: 5x}]}\n',
  }), 'broken monitor'), /spec\.endpoints\[0\]: Invalid value: "object": an endpoint needs a port or a targetPort/);
});

it('deleting a CRD removes its objects first, behind the cleanup finalizer', async ({ server, http }) => {
  // An object with a finalizer of its own holds the CRD until someone releases it.
  ok(await kubectl(server, ['patch', 'wd', 'w2', '--type=merge', '-p', '{"metadata":{"finalizers":["example.com/hold"]}}']), 'hold');
  ok(await kubectl(server, ['delete', 'crd', 'widgets.example.com', '--wait=false']), 'delete crd');
  await waitUntil('the CRD waits for w2', async () => {
    const crd = await call(http, 'GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com');
    return crd.body.metadata?.finalizers?.includes('customresourcecleanup.apiextensions.k8s.io')
      && crd.body.status.conditions.some((c: any) => c.type === 'Terminating' && c.reason === 'InstanceDeletionCheck');
  }, 10_000);
  const list = await call(http, 'GET', '/apis/example.com/v1/namespaces/default/widgets');
  assert.equal(list.body.items.map((i: any) => i.metadata.name), ['w2'], 'the others are gone already');
  const create = await call(http, 'POST', '/apis/example.com/v1/namespaces/default/widgets', { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'late' }, spec: { size: 'small' } });
  assert.is(create.status, 405);
  assert.match(create.body.message, 'create not allowed while custom resource definition is terminating');
  ok(await kubectl(server, ['patch', 'wd', 'w2', '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']), 'release');
  await waitUntil('crd gone', async () => (await call(http, 'GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com')).status === 404, 10_000);
  assert.is((await call(http, 'GET', '/apis/example.com/v1/namespaces/default/widgets')).status, 404, 'no longer served');
  assert.not.match(ok(await kubectl(server, ['api-resources']), 'api-resources'), 'widgets');
});

it('deleting a namespace deletes the custom objects in it (namespace controller)', async () => {
  const server = await ServerProcess.start();
  try {
    const { crd } = await applyFixture(server, 'certificate.yaml');
    ok(await kubectl(server, ['create', 'namespace', 'certs']), 'namespace');
    const cert = readFileSync(join(FIXTURES, 'certificate.yaml'), 'utf8').split('\n---\n')[1]!;
    ok(await kubectl(server, ['apply', '-n', 'certs', '-f', '-'], { input: cert }), 'cert in namespace');
    ok(await kubectl(server, ['delete', 'namespace', 'certs', '--timeout=30s']), 'delete namespace');
    assert.match(fails(await kubectl(server, ['get', 'namespace', 'certs']), 'namespace gone'), 'not found');
    const left = ok(await kubectl(server, ['get', `${crd['spec'].names.plural}.${crd['spec'].group}`, '-A', '-o', 'jsonpath={.items[*].metadata.namespace}']), 'certificates');
    assert.is(left, 'default', 'the certs namespace\'s certificate went with it; the default one stays');
  } finally {
    await server.destroy();
  }
});

it.run();
