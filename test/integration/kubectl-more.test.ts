/**
 * More kubectl v1.32 flows against a real `corral server`: server-side apply with field ownership
 * and conflicts, diff, replace, wait, deletes that wait for finalizers, label/annotate conflicts,
 * patch directives, pagination and sorting, and the commands that must fail gracefully.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ServerProcess, kubectl, type KubectlResult } from '../support/server-process.js';
import { HttpsTransport } from '../../api/client/transport.js';

const it = suite<{ server: ServerProcess; http: HttpsTransport }>('kubectl-more');

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

const deployment = (name: string, o: { replicas?: number; containers?: string[]; label?: string } = {}): string => `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  labels: {app: ${name}${o.label ? `, extra: ${o.label}` : ''}}
spec:
${o.replicas !== undefined ? `  replicas: ${o.replicas}\n` : ''}  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers:
${(o.containers ?? ['web']).map((c) => `      - name: ${c}\n        image: nginx:1.27\n`).join('')}`;

async function getJson(server: ServerProcess, args: string[]): Promise<Record<string, any>> {
  return JSON.parse(ok(await kubectl(server, [...args, '-o', 'json']), `get ${args.join(' ')}`)) as Record<string, any>;
}

it('apply --server-side: creates, re-applies, and removes what the configuration no longer has', async ({ server }) => {
  assert.match(ok(await kubectl(server, ['apply', '--server-side', '-f', '-'], { input: deployment('ssa', { replicas: 2, containers: ['web', 'sidecar'], label: 'x' }) }), 'create'), 'deployment.apps/ssa serverside-applied');
  let d = await getJson(server, ['get', 'deploy', 'ssa', '--show-managed-fields']);
  const entry = (d['metadata']['managedFields'] as { manager: string; operation: string; fieldsV1: Record<string, any> }[])[0]!;
  assert.is(entry.operation, 'Apply');
  assert.is(entry.manager, 'kubectl');
  assert.ok(entry.fieldsV1['f:spec']['f:replicas'], JSON.stringify(entry.fieldsV1));
  assert.ok(entry.fieldsV1['f:spec']['f:template']['f:spec']['f:containers']['k:{"name":"sidecar"}'], 'keyed list elements are owned one by one');

  // Dropping the sidecar, the label and replicas from the configuration removes them (no one else owns them).
  ok(await kubectl(server, ['apply', '--server-side', '-f', '-'], { input: deployment('ssa', { containers: ['web'] }) }), 're-apply');
  d = await getJson(server, ['get', 'deploy', 'ssa']);
  assert.equal((d['spec']['template']['spec']['containers'] as { name: string }[]).map((c) => c.name), ['web']);
  assert.is(d['metadata']['labels']['extra'], undefined);
  assert.is(d['spec']['replicas'], 1, 'replicas back to its default');
  assert.is(d['spec']['template']['spec']['containers'][0]['imagePullPolicy'], 'IfNotPresent', 'defaults stay');
});

it('apply --server-side: a field another manager set is a conflict; --force-conflicts takes it over', async ({ server }) => {
  ok(await kubectl(server, ['apply', '--server-side', '-f', '-'], { input: deployment('owned', { replicas: 2 }) }), 'create');
  ok(await kubectl(server, ['scale', 'deploy', 'owned', '--replicas=5']), 'scale');
  // Applying the value the other manager set is shared ownership, not a conflict.
  ok(await kubectl(server, ['apply', '--server-side', '-f', '-'], { input: deployment('owned', { replicas: 5 }) }), 'apply equal value');
  const err = fails(await kubectl(server, ['apply', '--server-side', '-f', '-'], { input: deployment('owned', { replicas: 3 }) }), 'conflicting apply');
  assert.match(err, /Apply failed with 1 conflict: conflict with "[^"]+" with subresource "scale" using apps\/v1: \.spec\.replicas/);
  assert.match(err, '--force-conflicts');
  let d = await getJson(server, ['get', 'deploy', 'owned']);
  assert.is(d['spec']['replicas'], 5, 'nothing written on conflict');

  ok(await kubectl(server, ['apply', '--server-side', '--force-conflicts', '-f', '-'], { input: deployment('owned', { replicas: 3 }) }), 'forced apply');
  d = await getJson(server, ['get', 'deploy', 'owned']);
  assert.is(d['spec']['replicas'], 3);
  // Now the applier alone owns replicas again.
  ok(await kubectl(server, ['apply', '--server-side', '-f', '-'], { input: deployment('owned', { replicas: 4 }) }), 'apply after force');
  assert.is((await getJson(server, ['get', 'deploy', 'owned']))['spec']['replicas'], 4);
});

it('apply --server-side: an object created without apply conflicts on changed fields (before-first-apply)', async ({ server }) => {
  ok(await kubectl(server, ['create', 'deployment', 'legacy', '--image=nginx:1.27']), 'create');
  const err = fails(await kubectl(server, ['apply', '--server-side', '-f', '-'], { input: deployment('legacy', { replicas: 3, containers: ['nginx'] }) }), 'apply');
  assert.match(err, 'conflict with "before-first-apply" using apps/v1: .spec.replicas');
});

it('apply --server-side over raw HTTP: fieldManager is required, force is apply-only, dryRun writes nothing', async ({ http }) => {
  const path = '/apis/apps/v1/namespaces/default/deployments/raw-ssa';
  const body = JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'raw-ssa' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } } });
  const send = async (query: string, type: string, payload = body): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await http.request({ method: 'PATCH', path: `${path}${query}`, body: payload, headers: { 'content-type': type } });
    return { status: res.status, json: JSON.parse(await res.text()) as Record<string, unknown> };
  };
  const noManager = await send('', 'application/apply-patch+yaml');
  assert.is(noManager.status, 422);
  assert.is(noManager.json['message'], 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
  assert.is((await send('?fieldManager=t&dryRun=All', 'application/apply-patch+yaml')).status, 201);
  assert.is((await http.request({ method: 'GET', path })).status, 404, 'dry run created nothing');
  assert.is((await send('?fieldManager=t', 'application/apply-patch+yaml')).status, 201);
  assert.is((await send('?fieldManager=t', 'application/apply-patch+yaml')).status, 200);
  const forced = await send('?force=true', 'application/merge-patch+json', '{"metadata":{"labels":{"x":"y"}}}');
  assert.is(forced.status, 422);
  assert.match(String(forced.json['message']), 'force: Forbidden: may not be specified for non-apply patch');
  const wrongName = await send('?fieldManager=t', 'application/apply-patch+yaml', body.replace('"name":"raw-ssa"', '"name":"other"'));
  assert.is(wrongName.status, 400);
});

it('delete --dry-run=server deletes nothing (dryRun travels in the DeleteOptions body)', async ({ server }) => {
  ok(await kubectl(server, ['create', 'configmap', 'keep-me', '--from-literal=a=b']), 'create');
  ok(await kubectl(server, ['delete', 'configmap', 'keep-me', '--dry-run=server']), 'dry-run delete');
  ok(await kubectl(server, ['get', 'configmap', 'keep-me']), 'still there');
  ok(await kubectl(server, ['delete', 'configmap', 'keep-me']), 'real delete');
  assert.match(fails(await kubectl(server, ['get', 'configmap', 'keep-me']), 'gone'), 'configmaps "keep-me" not found');
});

it('label/annotate conflicts, stale --resource-version, patch directives, set image', async ({ server }) => {
  ok(await kubectl(server, ['create', 'deployment', 'tools', '--image=nginx:1.27']), 'create');
  assert.match(fails(await kubectl(server, ['label', 'deploy', 'tools', 'app=other']), 'label'), "'app' already has a value (tools), and --overwrite is false");
  ok(await kubectl(server, ['label', 'deploy', 'tools', 'app=other', '--overwrite']), 'label --overwrite');
  assert.match(fails(await kubectl(server, ['annotate', 'deploy', 'tools', 'a=b', '--resource-version=1']), 'stale annotate'),
    'Error from server (Conflict): Operation cannot be fulfilled on deployments.apps "tools": the object has been modified');
  ok(await kubectl(server, ['patch', 'deploy', 'tools', '-p', '{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}}']), 'retainKeys');
  ok(await kubectl(server, ['patch', 'deploy', 'tools', '--type=merge', '-p', '{"metadata":{"finalizers":["example.com/a","example.com/b"]}}']), 'finalizers');
  ok(await kubectl(server, ['patch', 'deploy', 'tools', '-p', '{"metadata":{"$deleteFromPrimitiveList/finalizers":["example.com/a"]}}']), 'deleteFromPrimitiveList');
  ok(await kubectl(server, ['set', 'image', 'deploy/tools', 'nginx=nginx:1.28']), 'set image');
  const d = JSON.parse(ok(await kubectl(server, ['get', 'deploy', 'tools', '-o', 'json']), 'get')) as Record<string, any>;
  assert.equal(d['spec']['strategy'], { type: 'Recreate' });
  assert.equal(d['metadata']['finalizers'], ['example.com/b']);
  assert.is(d['spec']['template']['spec']['containers'][0]['image'], 'nginx:1.28');
  ok(await kubectl(server, ['patch', 'deploy', 'tools', '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']), 'clear finalizers');
});

it('delete waits for finalizers, wait --for=condition, pagination, sorting and graceful failures', async ({ server }) => {
  ok(await kubectl(server, ['create', 'configmap', 'held']), 'create');
  ok(await kubectl(server, ['patch', 'configmap', 'held', '--type=merge', '-p', '{"metadata":{"finalizers":["example.com/hold"]}}']), 'finalizer');
  const started = Date.now();
  const deleting = kubectl(server, ['delete', 'configmap', 'held', '--timeout=20s']);
  await new Promise((r) => setTimeout(r, 1500));
  ok(await kubectl(server, ['patch', 'configmap', 'held', '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']), 'release');
  ok(await deleting, 'delete');
  assert.ok(Date.now() - started >= 1500, 'delete waited for the finalizer');

  ok(await kubectl(server, ['create', 'deployment', 'waiter', '--image=nginx']), 'create waiter');
  const waiting = kubectl(server, ['wait', '--for=condition=Available', 'deploy/waiter', '--timeout=20s']);
  await new Promise((r) => setTimeout(r, 1000));
  ok(await kubectl(server, ['patch', 'deploy', 'waiter', '--subresource=status', '--type=merge', '-p',
    '{"status":{"conditions":[{"type":"Available","status":"True","reason":"R","message":"m","lastTransitionTime":"2026-01-01T00:00:00Z","lastUpdateTime":"2026-01-01T00:00:00Z"}]}}']), 'status');
  assert.match(ok(await waiting, 'wait'), 'condition met');

  for (const n of ['pc', 'pa', 'pb']) ok(await kubectl(server, ['create', 'configmap', n]), `create ${n}`);
  const chunked = ok(await kubectl(server, ['get', 'configmaps', '--chunk-size=2', '-o', 'name']), 'chunked');
  for (const n of ['pa', 'pb', 'pc']) assert.match(chunked, `configmap/${n}`);
  const sorted = ok(await kubectl(server, ['get', 'configmaps', '--sort-by=.metadata.name', '-o', 'custom-columns=N:.metadata.name', '--no-headers']), 'sorted');
  const names = sorted.trim().split('\n').filter((n) => /^p[abc]$/.test(n));
  assert.equal(names, ['pa', 'pb', 'pc']);

  // The metrics API is served; no pod runs here, so there is nothing to show (as with metrics-server).
  const top = await kubectl(server, ['top', 'pod']);
  assert.is(top.code, 0, top.stderr);
  assert.match(top.stderr + top.stdout, 'No resources found in default namespace');
  assert.ok((await kubectl(server, ['explain', 'pods'])).code !== -1, 'explain ends');
  const raw = JSON.parse(ok(await kubectl(server, ['get', '--raw', '/api/v1/namespaces/default/configmaps/pa']), 'raw')) as { kind: string };
  assert.is(raw.kind, 'ConfigMap');
});

it('unknown fields: apply (Strict) rejects typos, --validate=false drops them, --validate=warn warns, SSA rejects', async ({ server }) => {
  const typo = deployment('typo', { replicas: 2 }).replace('replicas: 2', 'replicass: 2').replace('image: nginx:1.27', 'imagee: nginx:1.27\n        image: nginx:1.27');
  const strict = fails(await kubectl(server, ['apply', '-f', '-'], { input: typo }), 'strict apply');
  assert.match(strict, 'Error from server (BadRequest): error when creating "STDIN": Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.replicass", unknown field "spec.template.spec.containers[0].imagee"');
  assert.match(fails(await kubectl(server, ['get', 'deploy', 'typo']), 'not created'), 'not found');

  const warned = await kubectl(server, ['create', '--validate=warn', '-f', '-'], { input: typo });
  assert.is(warned.code, 0, warned.stderr);
  assert.match(warned.stderr, 'Warning: unknown field "spec.replicass"');
  const stored = JSON.parse(ok(await kubectl(server, ['get', 'deploy', 'typo', '-o', 'json']), 'get')) as Record<string, any>;
  assert.is(stored['spec']['replicass'], undefined, 'unknown fields are dropped, not stored');
  assert.is(stored['spec']['replicas'], 1);
  assert.is(stored['spec']['template']['spec']['containers'][0]['imagee'], undefined);

  ok(await kubectl(server, ['delete', 'deploy', 'typo']), 'delete');
  ok(await kubectl(server, ['apply', '--validate=false', '-f', '-'], { input: typo }), 'ignore');
  assert.is((JSON.parse(ok(await kubectl(server, ['get', 'deploy', 'typo', '-o', 'json']), 'get')) as Record<string, any>)['spec']['replicass'], undefined);

  const ssa = fails(await kubectl(server, ['apply', '--server-side', '-f', '-'], { input: deployment('typo-ssa').replace('selector:', 'selectr: {}\n  selector:') }), 'ssa');
  assert.match(ssa, 'failed to create typed patch object (default/typo-ssa; apps/v1, Kind=Deployment): .spec.selectr: field not declared in schema');
});

it('unknown fields over raw HTTP: Strict on create and on the result of a patch, bad directive values', async ({ http }) => {
  const cms = '/api/v1/namespaces/default/configmaps';
  const req = async (method: string, path: string, body: unknown, type = 'application/json'): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await http.request({ method, path, body: JSON.stringify(body), headers: { 'content-type': type } });
    return { status: res.status, json: JSON.parse(await res.text()) as Record<string, unknown> };
  };
  const strict = await req('POST', `${cms}?fieldValidation=Strict`, { metadata: { name: 'strict-cm', lables: { a: 'b' } }, data: { a: 'b' }, datta: {} });
  assert.is(strict.status, 400);
  assert.is(strict.json['message'], 'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "metadata.lables", unknown field "datta"');
  assert.is((await req('POST', cms, { metadata: { name: 'strict-cm' }, data: { a: 'b' } })).status, 201);
  const patched = await req('PATCH', `${cms}/strict-cm?fieldValidation=Strict`, { metadata: { annotation: { x: 'y' } } }, 'application/merge-patch+json');
  assert.is(patched.status, 400);
  assert.match(String(patched.json['message']), 'unknown field "metadata.annotation"');
  assert.is((await req('POST', `${cms}?fieldValidation=Loose`, { metadata: { name: 'x' } })).status, 400);
  // Fields the schema leaves open (probe handlers, volume sources, status) are kept as sent.
  const pods = '/api/v1/namespaces/default/pods';
  const pod = await req('POST', `${pods}?fieldValidation=Strict`, { metadata: { name: 'open-fields' }, spec: { containers: [{ name: 'c', image: 'x', livenessProbe: { exec: { command: ['true'] } } }], volumes: [{ name: 'v', csi: { driver: 'd' } }] } });
  assert.is(pod.status, 201, JSON.stringify(pod.json));
  assert.equal((pod.json['spec'] as { volumes: unknown[] }).volumes[0], { name: 'v', csi: { driver: 'd' } });
});

it.run();
