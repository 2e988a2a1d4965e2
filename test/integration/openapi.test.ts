/**
 * The OpenAPI documents against a real `corral server` and the real kubectl v1.32: `explain` reads
 * the generated schemas (v3, and v2 in protobuf), client-side validation (`--validate=strict`) and
 * the unknown-kind path behave as with upstream, and the documents carry working ETags and hashes.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ServerProcess, kubectl, type KubectlResult } from '../support/server-process.js';
import { HttpsTransport } from '../../api/client/transport.js';
import { RESOURCES, apiVersionOf } from '../../api/resources.js';
import { join } from 'node:path';

const it = suite<{ server: ServerProcess; http: HttpsTransport }>('openapi');

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

async function get(http: HttpsTransport, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string>; text: string }> {
  const res = await http.request({ method: 'GET', path, headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

it('kubectl explain pods.spec.containers lists the Container fields from the v3 schema', async ({ server }) => {
  const out = ok(await kubectl(server, ['explain', 'pods.spec.containers']), 'explain');
  assert.match(out, /KIND:\s+Pod/);
  assert.match(out, /FIELD: containers <\[\]Container>/);
  assert.match(out, /^\s+name\s+<string> -required-$/m);
  assert.match(out, /^\s+image\s+<string>$/m);
  assert.match(out, /^\s+ports\s+<\[\]ContainerPort>$/m);
  assert.match(out, /^\s+resources\s+<ResourceRequirements>$/m);
  assert.match(out, /The container image reference/);
});

it('kubectl explain deployment.spec.strategy, down to an int-or-string, in v3 and in protobuf v2', async ({ server }) => {
  const v3 = ok(await kubectl(server, ['explain', 'deployment.spec.strategy']), 'explain');
  assert.match(v3, /GROUP:\s+apps/);
  assert.match(v3, /FIELD: strategy <DeploymentStrategy>/);
  assert.match(v3, /^\s+rollingUpdate\s+<RollingUpdateDeployment>$/m);
  assert.match(v3, /^\s+type\s+<string>$/m);
  const surge = ok(await kubectl(server, ['explain', 'deployment.spec.strategy.rollingUpdate.maxSurge']), 'explain maxSurge');
  assert.match(surge, /FIELD: maxSurge <IntOrString>/);
  // client-go fetches /openapi/v2 as gnostic protobuf; kubectl parses it into its model.
  const v2 = ok(await kubectl(server, ['explain', 'deployment.spec.strategy', '--output=plaintext-openapiv2']), 'explain v2');
  assert.match(v2, /RESOURCE: strategy <Object>/);
  assert.match(v2, /^\s+rollingUpdate\s+<Object>$/m);
  const limits = ok(await kubectl(server, ['explain', 'pods.spec.containers.resources.limits', '--output=plaintext-openapiv2']), 'explain limits');
  assert.match(limits, /FIELD:\s+limits <map\[string\]string>/);
});

const GOOD = `apiVersion: apps/v1
kind: Deployment
metadata: {name: valid, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: valid}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: "25%"}}
  template:
    metadata: {labels: {app: valid}}
    spec:
      containers: [{name: c, image: nginx, ports: [{containerPort: 80}], resources: {limits: {memory: 128Mi, cpu: 0.5}}}]
`;

it('--validate=strict: a valid manifest applies; an unknown field gets upstream\'s strict decoding error', async ({ server }) => {
  assert.match(ok(await kubectl(server, ['apply', '--validate=strict', '-f', '-'], { input: GOOD }), 'valid apply'), 'deployment.apps/valid created');
  const bad = GOOD.replace('name: valid,', 'name: invalid,').replace('replicas: 1', 'replicas: 1\n  bogus: 1').replace('image: nginx,', 'image: nginx, wrongField: x,');
  const r = await kubectl(server, ['apply', '--validate=strict', '-f', '-'], { input: bad });
  assert.is(r.code, 1, r.stdout);
  assert.match(r.stderr, 'Error from server (BadRequest): error when creating "STDIN": Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.bogus", unknown field "spec.template.spec.containers[0].wrongField"');
  assert.not.match(r.stderr, 'error validating data');
  const absent = await kubectl(server, ['get', 'deployment', 'invalid']);
  assert.is(absent.code, 1, 'nothing was stored');
  // A second apply computes its strategic merge patch from the served schema (merge keys).
  const changed = GOOD.replace('containerPort: 80', 'containerPort: 8080');
  assert.match(ok(await kubectl(server, ['apply', '-f', '-'], { input: changed }), 'second apply'), 'deployment.apps/valid configured');
  const ports = ok(await kubectl(server, ['get', 'deployment', 'valid', '-o', 'jsonpath={.spec.template.spec.containers[0].ports[*].containerPort}']), 'ports');
  assert.is(ports, '8080');
});

it('an unknown kind gets kubectl\'s "no matches for kind", not a validation error', async ({ server }) => {
  const r = await kubectl(server, ['apply', '-f', '-'], { input: 'apiVersion: example.com/v1\nkind: Foo\nmetadata: {name: f}\n' });
  assert.is(r.code, 1);
  assert.match(r.stderr, 'no matches for kind "Foo" in version "example.com/v1"');
  assert.not.match(r.stderr, 'error validating');
});

it('/openapi/v3 lists every served group/version; each document has a PATCH with fieldValidation per kind', async ({ http }) => {
  const root = JSON.parse((await get(http, '/openapi/v3')).text) as { paths: Record<string, { serverRelativeURL: string }> };
  const docs = new Map<string, { paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, Record<string, unknown>> } }>();
  for (const r of RESOURCES) {
    // metrics.k8s.io usage is served from memory, read-only and without a schema of its own (yet).
    if (r.provided) continue;
    const key = r.group === '' ? `api/${r.version}` : `apis/${r.group}/${r.version}`;
    const entry = root.paths[key];
    assert.ok(entry, `${key} is listed`);
    if (!docs.has(key)) {
      const res = await get(http, entry.serverRelativeURL);
      assert.is(res.status, 200, key);
      docs.set(key, JSON.parse(res.text));
    }
    const doc = docs.get(key)!;
    const gvk = { group: r.group, version: r.version, kind: r.kind };
    const schema = Object.values(doc.components.schemas).find((s) => JSON.stringify(s['x-kubernetes-group-version-kind'] ?? []).includes(JSON.stringify(gvk)));
    assert.ok(schema, `${apiVersionOf(r)} ${r.kind} has a schema`);
    const patch = Object.values(doc.paths).map((p) => p['patch'] as Record<string, unknown> | undefined)
      .find((op) => op && JSON.stringify(op['x-kubernetes-group-version-kind']) === JSON.stringify(gvk));
    if (r.createOnly) continue;
    assert.ok(patch, `${r.kind} has a PATCH operation`);
    assert.ok((patch!['parameters'] as { name: string; in: string }[]).some((p) => p.name === 'fieldValidation' && p.in === 'query'));
  }
});

it('ETags: If-None-Match answers 304; a stale hash redirects to the current one; a current hash is immutable', async ({ http }) => {
  for (const path of ['/openapi/v3', '/openapi/v2']) {
    const first = await get(http, path);
    assert.is(first.status, 200);
    const etag = first.headers['etag']!;
    assert.match(etag, /^"[0-9A-F]{32}"$/);
    const again = await get(http, path, { 'if-none-match': etag });
    assert.is(again.status, 304, path);
    assert.is(again.text, '');
    assert.is((await get(http, path, { 'if-none-match': '"0000"' })).status, 200);
  }
  const root = JSON.parse((await get(http, '/openapi/v3')).text) as { paths: Record<string, { serverRelativeURL: string }> };
  const current = root.paths['apis/apps/v1']!.serverRelativeURL;
  const fresh = await get(http, current);
  assert.is(fresh.headers['cache-control'], 'public, immutable');
  const stale = await get(http, '/openapi/v3/apis/apps/v1?hash=0123');
  assert.is(stale.status, 301);
  assert.is(stale.headers['location'], current);
  const v2 = await get(http, '/openapi/v2', { accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' });
  assert.is(v2.headers['content-type'], 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf');
});

const GADGET_CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.cache.example}
spec:
  group: cache.example
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              color: {type: string}
              port: {x-kubernetes-int-or-string: true}
`;

it('documents follow CRDs as they come and go: index, ETags, hashes, explain in v3 and protobuf v2', async ({ server, http }) => {
  const before = await get(http, '/openapi/v3');
  const appsBefore = (JSON.parse(before.text) as { paths: Record<string, { serverRelativeURL: string }> }).paths['apis/apps/v1']!.serverRelativeURL;
  const v2Before = await get(http, '/openapi/v2');
  ok(await kubectl(server, ['apply', '-f', '-'], { input: GADGET_CRD }), 'apply CRD');
  let url = '';
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !url) {
    const root = await get(http, '/openapi/v3', { 'if-none-match': before.headers['etag']! });
    if (root.status === 200) url = (JSON.parse(root.text) as { paths: Record<string, { serverRelativeURL: string }> }).paths['apis/cache.example/v1']?.serverRelativeURL ?? '';
    if (!url) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(url, 'the index lists the new group/version (and its ETag changed)');
  const rootNow = JSON.parse((await get(http, '/openapi/v3')).text) as { paths: Record<string, { serverRelativeURL: string }> };
  assert.is(rootNow.paths['apis/apps/v1']!.serverRelativeURL, appsBefore, 'untouched group/versions keep their hash');
  assert.is((await get(http, '/openapi/v2', { 'if-none-match': v2Before.headers['etag']! })).status, 200, 'the v2 document changed');
  const doc = JSON.parse((await get(http, url)).text) as { components: { schemas: Record<string, unknown> } };
  assert.ok(doc.components.schemas['example.cache.v1.Gadget']);
  const v3 = ok(await kubectl(server, ['explain', 'gadgets.spec']), 'explain v3');
  assert.match(v3, /color\s+<string>/);
  const v2 = ok(await kubectl(server, ['explain', 'gadgets.spec', '--output=plaintext-openapiv2']), 'explain v2');
  assert.match(v2, /color\s+<string>/);

  ok(await kubectl(server, ['delete', 'crd', 'gadgets.cache.example']), 'delete CRD');
  const gone = Date.now() + 10_000;
  let listed = true;
  while (Date.now() < gone && listed) {
    listed = 'apis/cache.example/v1' in (JSON.parse((await get(http, '/openapi/v3')).text) as { paths: Record<string, unknown> }).paths;
    if (listed) await new Promise((r) => setTimeout(r, 100));
  }
  assert.not.ok(listed, 'the group/version left the index');
  assert.is((await get(http, url)).status, 404, 'its document is gone too');
  // A fresh discovery cache (kubectl keeps its own for 6 h, as with any server).
  const unknown = await kubectl(server, ['--cache-dir', join(server.dataDir, 'kube-cache-after'), 'apply', '-f', '-'], { input: 'apiVersion: cache.example/v1\nkind: Gadget\nmetadata: {name: g}\n' });
  assert.match(unknown.stderr, 'no matches for kind "Gadget" in version "cache.example/v1"');
});

it.run();
