/**
 * Every served built-in kind in Kubernetes protobuf, against a real `corral server` (controllers off,
 * so nothing changes an object between two reads). Bodies are encoded and answers decoded by
 * test/support/k8s-protobuf-reference.ts, which takes its message definitions from the kubectl v1.32
 * binary, not from corral's schema. For each kind: create the same object once as JSON and once as
 * protobuf and compare what was stored; update both (PUT, protobuf vs JSON), patch both (the answer in
 * protobuf vs JSON), read and list in protobuf, and delete with a protobuf DeleteOptions encoded in the
 * kind's own group/version, as client-go does. A served built-in kind without a protobuf schema fails
 * here by name.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { KUBECTL, ServerProcess, kubectl } from '../support/server-process.js';
import { KubeProtobufReference } from '../support/k8s-protobuf-reference.js';
import { HttpsTransport } from '../../api/client/transport.js';
import { RESOURCES, apiVersionOf, groupVersionPath, type ResourceInfo } from '../../api/resources.js';
import { decodeProtobuf, isProtobufKindSupported } from '../../api/codec/protobuf.js';
import { SCHEMAS } from '../../api/codec/schema/index.js';
import { isMessageType } from '../../api/codec/protobuf-schema.js';
import { PROTOBUF_SAMPLES } from './protobuf-samples.js';

type Json = Record<string, unknown>;
const PROTOBUF = 'application/vnd.kubernetes.protobuf';
const NS = 'pb-kinds';

const it = suite<{ server: ServerProcess; http: HttpsTransport; ref: KubeProtobufReference }>('protobuf: every served kind');

it.before(async (ctx) => {
  if (!existsSync(KUBECTL)) throw new Error(`kubectl v1.32 not found at ${KUBECTL}: its protobuf descriptors are the reference`);
  ctx.ref = KubeProtobufReference.fromBinary(KUBECTL);
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'] });
  ctx.http = new HttpsTransport({ server: ctx.server.url, caPem: ctx.server.caPem, token: ctx.server.token });
  const ns = await call(ctx.http, 'POST', '/api/v1/namespaces', { json: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } } });
  assert.is(ns.status, 201, ns.text);
});

it.after(async (ctx) => {
  ctx.http?.close();
  await ctx.server?.destroy();
});

interface Answer { status: number; contentType: string; bytes: Buffer; text: string; json: Json }

async function call(http: HttpsTransport, method: string, path: string, o: { json?: unknown; protobuf?: Uint8Array; patch?: unknown; accept?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { accept: o.accept ?? 'application/json' };
  let body: string | Uint8Array | undefined;
  if (o.json !== undefined) { headers['content-type'] = 'application/json'; body = JSON.stringify(o.json); }
  if (o.protobuf !== undefined) { headers['content-type'] = PROTOBUF; body = o.protobuf; }
  if (o.patch !== undefined) { headers['content-type'] = 'application/merge-patch+json'; body = JSON.stringify(o.patch); }
  const res = await http.request({ method, path, headers, ...(body !== undefined ? { body } : {}) });
  const parts: Buffer[] = [];
  for await (const chunk of res.body) parts.push(Buffer.from(chunk));
  const bytes = Buffer.concat(parts);
  const text = bytes.toString('utf8');
  let json: Json = {};
  try { json = JSON.parse(text) as Json; } catch { /* protobuf or empty */ }
  return { status: res.status, contentType: res.headers['content-type'] ?? '', bytes, text, json };
}

function collectionPath(info: ResourceInfo): string {
  return `${groupVersionPath(info)}${info.namespaced ? `/namespaces/${NS}` : ''}/${info.plural}`;
}

/** What differs between two objects created from the same body: identity and server clocks. */
function comparable(obj: Json, name: string): Json {
  const uid = String((obj['metadata'] as Json)['uid']);
  const copy = JSON.parse(JSON.stringify(obj).split(name).join('NAME').split(uid).join('UID')) as Json;
  const meta = copy['metadata'] as Json;
  for (const k of ['resourceVersion', 'creationTimestamp']) delete meta[k];
  for (const entry of (meta['managedFields'] ?? []) as Json[]) delete entry['time'];
  const spec = copy['spec'] as Json | undefined;
  if (copy['kind'] === 'Service' && spec) {
    // Each Service gets its own cluster IP and node ports.
    delete spec['clusterIP'];
    delete spec['clusterIPs'];
    for (const port of (spec['ports'] ?? []) as Json[]) delete port['nodePort'];
  }
  return copy;
}

/** The paths where two JSON values differ, `spec.containers.0.name: "a" ≠ "b"` (readable failures). */
function differences(actual: unknown, expected: unknown, path = ''): string[] {
  if (JSON.stringify(actual) === JSON.stringify(expected)) return [];
  const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null;
  if (isObj(actual) && isObj(expected) && Array.isArray(actual) === Array.isArray(expected)) {
    const keys = [...new Set([...Object.keys(actual), ...Object.keys(expected)])];
    return keys.flatMap((k) => differences(actual[k], expected[k], path ? `${path}.${k}` : k));
  }
  return [`${path}: ${JSON.stringify(actual)} ≠ ${JSON.stringify(expected)}`];
}

/** Drops nulls and empty objects, which Go's typed printing adds and JSON leaves out. */
function withoutEmpty(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutEmpty);
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value).map(([k, v]) => [k, withoutEmpty(v)] as const)
    .filter(([, v]) => v !== null && !(typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0));
  return Object.fromEntries(entries);
}

function sampleOf(info: ResourceInfo, name: string): Json {
  const make = PROTOBUF_SAMPLES[`${apiVersionOf(info)} ${info.kind}`] ?? PROTOBUF_SAMPLES[info.kind];
  const sample = make?.(name, NS) ?? { metadata: { name } };
  const meta = sample['metadata'] as Json;
  return {
    apiVersion: apiVersionOf(info), kind: info.kind, ...sample,
    metadata: { ...meta, ...(info.namespaced ? { namespace: NS } : {}), labels: { ...(meta['labels'] as Json | undefined), sample: name } },
  };
}

/**
 * Stored or reviewed kinds; metrics.k8s.io usage (read-only, from memory) is answered in JSON only,
 * and so is apiextensions.k8s.io (CustomResourceDefinition has no schema table yet: docs/api.md).
 */
const CODED = RESOURCES.filter((r) => !r.provided && r.group !== 'apiextensions.k8s.io');

it('every served built-in kind and its List have a protobuf schema, and kubectl knows them too', ({ ref }) => {
  // Create-only review kinds have no List: nothing is stored.
  const missing = CODED.flatMap((r) => (r.createOnly ? [r.kind] : [r.kind, `${r.kind}List`]).filter((k) => !isProtobufKindSupported(apiVersionOf(r), k)).map((k) => `${apiVersionOf(r)} ${k}`));
  assert.equal(missing, [], `served kinds without a protobuf schema in api/codec/schema/: ${missing.join(', ')}`);
  const unknown = CODED.filter((r) => !ref.type(apiVersionOf(r), r.kind)).map((r) => r.kind);
  assert.equal(unknown, [], 'served kinds that are not built into Kubernetes');
});

it("corral's schema tables match the message definitions compiled into kubectl", ({ ref }) => {
  const problems: string[] = [];
  const VALUE_TYPE: Record<string, string[]> = {
    Time: ['.k8s.io.apimachinery.pkg.apis.meta.v1.Time'], MicroTime: ['.k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime'],
    Quantity: ['.k8s.io.apimachinery.pkg.api.resource.Quantity'], IntOrString: ['.k8s.io.apimachinery.pkg.util.intstr.IntOrString'],
    RawJSON: ['.k8s.io.apimachinery.pkg.runtime.RawExtension', '.k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1'],
  };
  let checked = 0;
  for (const m of SCHEMAS.messages()) {
    const type = ref.type(m.apiVersion, m.name);
    const where = `${m.apiVersion} ${m.name}`;
    if (!type || type.fullName !== `.${protoPackage(m.alias)}.${m.name}`) { problems.push(`${where}: no such message in kubectl`); continue; }
    const theirs = new Map(type.fieldsArray.map((f) => [f.id, f]));
    for (const f of m.schema.fields) {
      const t = theirs.get(f.number);
      if (!t) { problems.push(`${where}.${f.name}: field ${f.number} does not exist`); continue; }
      t.resolve();
      // Four fields have a protobuf name that differs from their JSON name by case only (`Webhooks`, `uID`, `aPIGroup`).
      if (t.name.toLowerCase() !== f.name.toLowerCase()) problems.push(`${where} field ${f.number}: named ${t.name}, corral says ${f.name}`);
      const shape = t.map ? 'map' : t.repeated ? 'repeated' : 'single';
      if (shape !== f.shape) problems.push(`${where}.${f.name}: ${shape}, corral says ${f.shape}`);
      const theirType = t.resolvedType ? t.resolvedType.fullName : t.type;
      const ourTypes = isMessageType(f.type) ? [protoNameOf(f.type.message().name)] : VALUE_TYPE[f.type] ?? [f.type];
      if (!ourTypes.includes(theirType)) problems.push(`${where}.${f.name}: type ${theirType}, corral says ${ourTypes.join('|')}`);
      checked++;
    }
    for (const t of type.fieldsArray) if (!m.schema.byNumber.has(t.id)) problems.push(`${where}: field ${t.id} (${t.name}) is missing`);
  }
  assert.equal(problems, []);
  assert.ok(checked > 1000, `only ${checked} fields checked`);
});

it("every sample, encoded from kubectl's definitions, decodes in corral to the same JSON (served or not yet)", ({ ref }) => {
  const problems: string[] = [];
  for (const [key, make] of Object.entries(PROTOBUF_SAMPLES)) {
    const served = RESOURCES.find((r) => r.kind === key);
    const [apiVersion, kind] = key.includes(' ') ? key.split(' ') as [string, string] : [served ? apiVersionOf(served) : '', key];
    const sample = { apiVersion, kind, ...make('sample', NS) };
    if (!ref.type(apiVersion, kind)) { problems.push(`${key}: not a Kubernetes kind (a kind not served yet needs its apiVersion in the key)`); continue; }
    if (!isProtobufKindSupported(apiVersion, kind)) { problems.push(`${key}: no protobuf schema`); continue; }
    problems.push(...differences(decodeProtobuf(ref.encode(sample)), sample).map((d) => `${key} ${d}`));
  }
  assert.equal(problems, []);
});

/** `apps/v1.DeploymentSpec` (how corral names a message) → `.k8s.io.api.apps.v1.DeploymentSpec`. */
function protoNameOf(name: string): string {
  const dot = name.lastIndexOf('.');
  const apiVersion = name.slice(0, dot);
  for (const m of SCHEMAS.messages()) {
    if (m.apiVersion === apiVersion) return `.${protoPackage(m.alias)}.${name.slice(dot + 1)}`;
  }
  throw new Error(`no package ${apiVersion}`);
}

function protoPackage(alias: string): string {
  return alias === 'meta' ? 'k8s.io.apimachinery.pkg.apis.meta.v1' : `k8s.io.api.${alias}.v1`;
}

for (const info of RESOURCES.filter((r) => r.createOnly)) {
  it(`${apiVersionOf(info)} ${info.kind} (create-only): a protobuf request gets the same answer as JSON, in protobuf`, async ({ http, ref }) => {
    const name = `pb-${info.singular}`;
    const collection = collectionPath(info);
    const viaJson = await call(http, 'POST', collection, { json: sampleOf(info, name) });
    assert.is(viaJson.status, 201, `JSON ${info.kind}: ${viaJson.text}`);
    const viaProto = await call(http, 'POST', collection, { protobuf: ref.encode(sampleOf(info, name)), accept: `${PROTOBUF}, application/json` });
    assert.is(viaProto.status, 201, `protobuf ${info.kind}: ${viaProto.text}`);
    assert.is(viaProto.contentType, PROTOBUF);
    const answer = ref.decode(viaProto.bytes);
    assert.equal([answer.apiVersion, answer.kind], [apiVersionOf(info), info.kind]);
    assert.equal(differences(answer.message, ref.canonicalOf(viaJson.json)), [], `${info.kind} answered in protobuf differs`);
  });
}

for (const info of CODED.filter((r) => !r.createOnly)) {
  it(`${apiVersionOf(info)} ${info.kind}: create, update, patch, read, list and delete in protobuf`, async ({ http, ref }) => {
    const base = `pb-${info.singular}`;
    const jsonName = `${base}-json`;
    const pbName = `${base}-proto`;
    const collection = collectionPath(info);

    // Create: the protobuf body must store exactly what the JSON body stores.
    const viaJson = await call(http, 'POST', collection, { json: sampleOf(info, jsonName) });
    assert.is(viaJson.status, 201, `JSON create of ${info.kind}: ${viaJson.text}`);
    const viaProto = await call(http, 'POST', collection, { protobuf: ref.encode(sampleOf(info, pbName)) });
    assert.is(viaProto.status, 201, `protobuf create of ${info.kind}: ${viaProto.text}`);
    assert.equal(differences(comparable(viaProto.json, pbName), comparable(viaJson.json, jsonName)), [], `${info.kind} created from protobuf differs`);

    // Update: the same change through PUT, once in each encoding.
    const change = (obj: Json): Json => ({ ...obj, metadata: { ...(obj['metadata'] as Json), annotations: { step: 'updated', note: '' } } });
    const putJson = await call(http, 'PUT', `${collection}/${jsonName}`, { json: change(viaJson.json) });
    assert.is(putJson.status, 200, putJson.text);
    const putProto = await call(http, 'PUT', `${collection}/${pbName}`, { protobuf: ref.encode(change(viaProto.json)) });
    assert.is(putProto.status, 200, putProto.text);
    assert.equal(differences(comparable(putProto.json, pbName), comparable(putJson.json, jsonName)), [], `${info.kind} updated from protobuf differs`);
    assert.equal((putProto.json['metadata'] as Json)['annotations'], { step: 'updated', note: '' });

    // Patch, with the answer in protobuf: it must carry the same object as the JSON answer.
    const patch = { metadata: { labels: { patched: 'yes' } } };
    const patchJson = await call(http, 'PATCH', `${collection}/${jsonName}`, { patch });
    assert.is(patchJson.status, 200, patchJson.text);
    const patchProto = await call(http, 'PATCH', `${collection}/${pbName}`, { patch, accept: `${PROTOBUF}, application/json` });
    assert.is(patchProto.status, 200, patchProto.text);
    assert.is(patchProto.contentType, PROTOBUF);
    const patched = ref.decode(patchProto.bytes);
    assert.equal([patched.apiVersion, patched.kind], [apiVersionOf(info), info.kind]);
    const asJson = await call(http, 'GET', `${collection}/${pbName}`);
    assert.equal(differences(patched.message, ref.canonicalOf(asJson.json)), [], `${info.kind} answered in protobuf differs`);

    // Read and list in protobuf.
    const got = await call(http, 'GET', `${collection}/${pbName}`, { accept: PROTOBUF });
    assert.is(got.status, 200);
    assert.equal(ref.decode(got.bytes).message, ref.canonicalOf(asJson.json));
    const list = await call(http, 'GET', `${collection}?labelSelector=sample%3D${pbName}`, { accept: PROTOBUF });
    assert.is(list.status, 200);
    const listed = ref.decode(list.bytes);
    assert.is(listed.kind, `${info.kind}List`);
    const listJson = await call(http, 'GET', `${collection}?labelSelector=sample%3D${pbName}`);
    assert.equal(listed.message, ref.canonicalOf(listJson.json, apiVersionOf(info), `${info.kind}List`));
    assert.is((listed.message['items'] as unknown[]).length, 1);

    // Delete with DeleteOptions in the kind's own group/version, as client-go encodes them.
    const options = { apiVersion: apiVersionOf(info), kind: 'DeleteOptions', gracePeriodSeconds: 0, propagationPolicy: 'Background' };
    const deleted = await call(http, 'DELETE', `${collection}/${pbName}`, { protobuf: ref.encode(options) });
    assert.is(deleted.status, 200, `protobuf DeleteOptions for ${info.kind}: ${deleted.text}`);
    const after = await call(http, 'GET', `${collection}/${pbName}`);
    assert.ok(after.status === 404 || (after.json['metadata'] as Json)['deletionTimestamp'], `${info.kind} ${pbName} is neither gone nor terminating`);
    assert.is((await call(http, 'DELETE', `${collection}/${jsonName}`, { json: { ...options, apiVersion: 'v1' } })).status, 200);
  });
}

it("kubectl's typed commands (client-go, protobuf both ways) read corral's protobuf answers as the JSON ones", async ({ server }) => {
  const creates = [
    ['deployment', 'kc-web', '--image=nginx:1.27-alpine', '--replicas=0', '--port=80'],
    ['service', 'nodeport', 'kc-svc', '--tcp=80:8080'],
    ['job', 'kc-job', '--image=busybox:1.36', '--', 'true'],
    ['cronjob', 'kc-cron', '--image=busybox:1.36', '--schedule=*/5 * * * *'],
    ['configmap', 'kc-cm', '--from-literal=a=1', '--from-literal=empty='],
    ['secret', 'generic', 'kc-secret', '--from-literal=password=s3cr3t'],
    ['serviceaccount', 'kc-sa'],
    ['priorityclass', 'kc-prio', '--value=0'],
  ];
  for (const args of creates) {
    const created = await kubectl(server, ['create', '-n', NS, '-o', 'json', '-v=8', ...args]);
    assert.is(created.code, 0, created.stderr);
    // The answer's own headers (after "Response Headers:", before its body) name protobuf.
    assert.match(created.stderr, /Response Headers:(?:(?!Response Body)[^])*Content-Type: application\/vnd\.kubernetes\.protobuf/, `kubectl create ${args[0]} got a protobuf answer`);
    const fromProto = JSON.parse(created.stdout) as Json;
    const meta = fromProto['metadata'] as Json;
    const resource = `${String(fromProto['kind']).toLowerCase()}/${String(meta['name'])}`;
    const got = await kubectl(server, ['get', resource, ...(meta['namespace'] ? ['-n', NS] : []), '-o', 'json']);
    assert.is(got.code, 0, got.stderr);
    // kubectl prints the typed Go struct: `creationTimestamp: null` and `status: {}` where the JSON has nothing.
    assert.equal(differences(withoutEmpty(fromProto), withoutEmpty(JSON.parse(got.stdout))), [], `kubectl create ${args[0]}`);
  }
});

it('a protobuf watch streams length-prefixed WatchEvents', async ({ http, ref }) => {
  const path = `/api/v1/namespaces/${NS}/configmaps`;
  const res = await http.request({ method: 'GET', path: `${path}?watch=true&labelSelector=watch%3Dpb&timeoutSeconds=3`, headers: { accept: PROTOBUF } });
  assert.is(res.headers['content-type'], `${PROTOBUF};stream=watch`);
  const created = await call(http, 'POST', path, { json: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'watched', labels: { watch: 'pb' } }, data: { a: '1' } } });
  assert.is(created.status, 201);
  const parts: Buffer[] = [];
  for await (const chunk of res.body) parts.push(Buffer.from(chunk));
  const events = ref.decodeWatchFrames(Buffer.concat(parts));
  assert.is(events.length, 1);
  assert.is(events[0]!.type, 'ADDED');
  assert.equal(events[0]!.object.message, ref.canonicalOf(created.json));
});

it('errors come back as a protobuf Status to clients that prefer protobuf; unknown kinds in a body are refused', async ({ http, ref }) => {
  const notFound = await call(http, 'GET', '/apis/example.com/v1/widgets', { accept: `${PROTOBUF}, application/json` });
  assert.is(notFound.status, 404);
  assert.is(notFound.contentType, PROTOBUF);
  const status = ref.decode(notFound.bytes);
  assert.equal([status.kind, status.message['code'], status.message['reason']], ['Status', 404, 'NotFound']);
  // A body naming a kind without a schema (a custom resource) is a 400 that names it.
  const typeMeta = Buffer.from('\x0a\x0eexample.com/v1\x12\x06Widget', 'latin1');
  const widget = Buffer.concat([Buffer.from('k8s\0\x0a', 'latin1'), Buffer.from([typeMeta.length]), typeMeta]);
  const res = await call(http, 'POST', `/api/v1/namespaces/${NS}/configmaps`, { protobuf: widget });
  assert.is(res.status, 400);
  assert.match(res.text, /Widget \(example\.com\/v1\) is not supported/);
});

it.run();
