/**
 * Edge cases of the API server at the HTTP level, against a real `corral server` process: what
 * bad or unusual input does (never a 500, never a partial write) and where the behaviour has to
 * match the Kubernetes apiserver exactly (status codes, reasons, messages).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ServerProcess } from '../support/server-process.js';
import { HttpsTransport, type TransportResponse } from '../../api/client/transport.js';

const it = suite<{ server: ServerProcess; http: HttpsTransport }>('api-edge');

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'], env: { CORRAL_WATCH_BOOKMARK_INTERVAL_MS: '300' } });
  ctx.http = new HttpsTransport({ server: ctx.server.url, caPem: ctx.server.caPem, token: ctx.server.token });
});

it.after(async (ctx) => {
  ctx.http?.close();
  await ctx.server?.destroy();
});

interface Reply { status: number; json: Record<string, unknown>; text: string; headers: TransportResponse['headers'] }

async function send(http: HttpsTransport, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Reply> {
  const payload = body === undefined ? undefined : typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
  const res = await http.request({ method, path, ...(payload !== undefined ? { body: payload } : {}), headers: payload !== undefined ? { 'content-type': contentType } : {} });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try { json = JSON.parse(text) as Record<string, unknown>; } catch { json = {}; }
  return { status: res.status, json, text, headers: res.headers };
}

function expectCode(r: Reply, code: number, reason?: string): void {
  assert.is(r.status, code, `expected ${code}, got ${r.status}: ${r.text.slice(0, 400)}`);
  if (reason) assert.is(r.json['reason'], reason, r.text.slice(0, 400));
}

const CM = '/api/v1/namespaces/default/configmaps';

it('concurrent merge patches of one object are all applied (no lost update, no 409)', async ({ http }) => {
  expectCode(await send(http, 'POST', CM, { metadata: { name: 'concurrent' } }), 201);
  const replies = await Promise.all(Array.from({ length: 40 }, (_, i) =>
    send(http, 'PATCH', `${CM}/concurrent`, { data: { [`k${i}`]: 'v' } }, 'application/merge-patch+json')));
  assert.equal(replies.map((r) => r.status), replies.map(() => 200), replies.find((r) => r.status !== 200)?.text);
  const got = await send(http, 'GET', `${CM}/concurrent`);
  assert.is(Object.keys(got.json['data'] as object).length, 40);
});

/** `{"a":{"a":...1...}}`, built as text (JSON.stringify itself would overflow the stack). */
function nested(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

it('deeply nested bodies and patches are 400 BadRequest, never a 500, and nothing is written', async ({ http }) => {
  const deep = nested(20_000);
  const create = await send(http, 'POST', '/apis/apps/v1/namespaces/default/deployments',
    `{"metadata":{"name":"deep"},"spec":{"foo":${deep}}}`);
  expectCode(create, 400, 'BadRequest');
  assert.match(String(create.json['message']), 'exceeded max depth');
  expectCode(await send(http, 'GET', '/apis/apps/v1/namespaces/default/deployments/deep'), 404);

  expectCode(await send(http, 'POST', CM, { metadata: { name: 'deep-target' } }), 201);
  for (const type of ['application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml']) {
    const r = await send(http, 'PATCH', `${CM}/deep-target?fieldManager=test`, `{"metadata":{"annotations":${deep}}}`, type);
    expectCode(r, 400, 'BadRequest');
  }
  const yaml = await send(http, 'POST', CM, `metadata: {name: deep-yaml}\ndata: ${deep}\n`, 'application/yaml');
  expectCode(yaml, 400, 'BadRequest');
  const target = await send(http, 'GET', `${CM}/deep-target`);
  assert.is(target.json['metadata'] && (target.json['metadata'] as Record<string, unknown>)['annotations'], undefined);
});

it('creating in a terminating namespace is 403 with the NamespaceLifecycle message and cause', async ({ http }) => {
  expectCode(await send(http, 'POST', '/api/v1/namespaces', { metadata: { name: 'leaving' } }), 201);
  // No namespace controller runs here, so the `kubernetes` finalizer keeps it Terminating.
  expectCode(await send(http, 'DELETE', '/api/v1/namespaces/leaving'), 200);
  const r = await send(http, 'POST', '/api/v1/namespaces/leaving/configmaps', { metadata: { name: 'late' } });
  expectCode(r, 403, 'Forbidden');
  assert.is(r.json['message'], 'configmaps "late" is forbidden: unable to create new content in namespace leaving because it is being terminated');
  const details = r.json['details'] as { name: string; kind: string; causes: { reason: string; field: string }[] };
  assert.is(details.name, 'late');
  assert.is(details.kind, 'configmaps');
  assert.equal(details.causes.map((c) => [c.reason, c.field]), [['NamespaceTerminating', 'metadata.namespace']]);
});

it('a bound pod is deleted gracefully (200 with deletionTimestamp), grace period 0 removes it at once', async ({ http }) => {
  const pods = '/api/v1/namespaces/default/pods';
  expectCode(await send(http, 'POST', pods, { metadata: { name: 'graceful' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } }), 201);
  expectCode(await send(http, 'POST', `${pods}/graceful/binding`, { metadata: { name: 'graceful' }, target: { kind: 'Node', name: 'node-a' } }), 201);
  const first = await send(http, 'DELETE', `${pods}/graceful`, { propagationPolicy: 'Background' });
  expectCode(first, 200);
  const meta = first.json['metadata'] as Record<string, unknown>;
  assert.ok(meta['deletionTimestamp'], 'deletionTimestamp set');
  assert.is(meta['deletionGracePeriodSeconds'], 30);
  expectCode(await send(http, 'GET', `${pods}/graceful`), 200);
  expectCode(await send(http, 'DELETE', `${pods}/graceful`, { gracePeriodSeconds: 0, propagationPolicy: 'Background' }), 200);
  expectCode(await send(http, 'GET', `${pods}/graceful`), 404);
});

it('empty metadata maps are not stored (Go omitempty): kubectl diff patches "annotations":{}', async ({ http }) => {
  expectCode(await send(http, 'POST', CM, { metadata: { name: 'no-annotations', labels: {} } }), 201);
  const r = await send(http, 'PATCH', `${CM}/no-annotations`, { metadata: { annotations: {} } }, 'application/strategic-merge-patch+json');
  expectCode(r, 200);
  const meta = r.json['metadata'] as Record<string, unknown>;
  assert.not.ok('annotations' in meta, JSON.stringify(meta));
  assert.not.ok('labels' in meta, JSON.stringify(meta));
});

it('list resourceVersion semantics: too large is 504 Timeout, bad resourceVersionMatch combinations are 422', async ({ http }) => {
  const list = await send(http, 'GET', CM);
  const current = Number((list.json['metadata'] as { resourceVersion: string }).resourceVersion);
  const future = current + 100_000;
  for (const match of ['', '&resourceVersionMatch=NotOlderThan', '&resourceVersionMatch=Exact']) {
    const r = await send(http, 'GET', `${CM}?resourceVersion=${future}${match}`);
    expectCode(r, 504, 'Timeout');
    assert.match(String(r.json['message']), `Too large resource version: ${future}, current: `);
    const details = r.json['details'] as { causes: { reason: string }[]; retryAfterSeconds: number };
    assert.is(details.causes[0]?.reason, 'ResourceVersionTooLarge');
  }
  expectCode(await send(http, 'GET', `${CM}?resourceVersion=${current}&resourceVersionMatch=NotOlderThan`), 200);
  expectCode(await send(http, 'GET', `${CM}?resourceVersion=${current}&resourceVersionMatch=Exact`), 200);
  expectCode(await send(http, 'GET', `${CM}?resourceVersion=abc`), 400, 'BadRequest');
  expectCode(await send(http, 'GET', `${CM}?watch=true&resourceVersion=abc`), 400, 'BadRequest');
  const cases: [string, string][] = [
    ['resourceVersionMatch=Exact', 'resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided'],
    ['resourceVersionMatch=Exact&resourceVersion=0', 'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"'],
    ['resourceVersionMatch=Newest&resourceVersion=1', 'resourceVersionMatch: Unsupported value: "Newest"'],
    ['watch=true&resourceVersionMatch=NotOlderThan&resourceVersion=1', 'resourceVersionMatch is forbidden for watch'],
  ];
  for (const [query, message] of cases) {
    const r = await send(http, 'GET', `${CM}?${query}`);
    expectCode(r, 422, 'Invalid');
    assert.match(String(r.json['message']), 'ListOptions.meta.k8s.io "" is invalid: ');
    assert.match(String(r.json['message']), message);
  }
});

it('watch with allowWatchBookmarks sends BOOKMARK events carrying the current resourceVersion', async ({ http }) => {
  const list = await send(http, 'GET', CM);
  const rv = (list.json['metadata'] as { resourceVersion: string }).resourceVersion;
  const res = await http.request({ method: 'GET', path: `${CM}?watch=true&allowWatchBookmarks=true&resourceVersion=${rv}&timeoutSeconds=2` });
  assert.is(res.status, 200);
  const lines = (await res.text()).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { type: string; object: { kind: string; apiVersion: string; metadata: { resourceVersion: string } } });
  const bookmarks = lines.filter((l) => l.type === 'BOOKMARK');
  assert.ok(bookmarks.length >= 2, `expected bookmarks every 300 ms, got ${JSON.stringify(lines)}`);
  assert.equal([bookmarks[0]!.object.kind, bookmarks[0]!.object.apiVersion, bookmarks[0]!.object.metadata.resourceVersion], ['ConfigMap', 'v1', rv]);
});

const DEPLOYMENTS = '/apis/apps/v1/namespaces/default/deployments';
const deployment = (name: string, replicas: unknown): unknown => ({
  metadata: { name },
  spec: {
    replicas, selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
  },
});

it('wrong JSON types for known fields are 400 with Go decoding messages, and nothing is written', async ({ http }) => {
  const r = await send(http, 'POST', DEPLOYMENTS, deployment('typed', '3'));
  expectCode(r, 400, 'BadRequest');
  assert.is(r.json['message'], 'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32');
  expectCode(await send(http, 'GET', `${DEPLOYMENTS}/typed`), 404);

  const created = await send(http, 'POST', DEPLOYMENTS, deployment('typed', 1));
  expectCode(created, 201);
  const rv = (created.json['metadata'] as { resourceVersion: string }).resourceVersion;
  for (const [type, patch] of [
    ['application/merge-patch+json', { spec: { replicas: '3' } }],
    ['application/strategic-merge-patch+json', { spec: { template: { spec: { containers: [{ name: 'c', ports: 'http' }] } } } }],
    ['application/json-patch+json', [{ op: 'replace', path: '/spec/replicas', value: 2.5 }]],
    ['application/merge-patch+json', { metadata: { finalizers: 'example.com/x' } }],
  ] as const) {
    expectCode(await send(http, 'PATCH', `${DEPLOYMENTS}/typed`, patch, type), 400, 'BadRequest');
  }
  const after = await send(http, 'GET', `${DEPLOYMENTS}/typed`);
  assert.is((after.json['metadata'] as { resourceVersion: string }).resourceVersion, rv, 'no write happened');

  const pods = '/api/v1/namespaces/default/pods';
  const pod = (name: string, extra: Record<string, unknown>, container: Record<string, unknown> = {}): unknown =>
    ({ metadata: { name }, spec: { containers: [{ name: 'c', image: 'x', ...container }], ...extra } });
  // These crashed the server's pod strategy before (500) or were stored as is.
  expectCode(await send(http, 'POST', pods, pod('bad-tolerations', { tolerations: 'all' })), 400, 'BadRequest');
  expectCode(await send(http, 'POST', pods, pod('bad-containers', { containers: 5 })), 400, 'BadRequest');
  const quantity = await send(http, 'POST', pods, pod('bad-quantity', {}, { resources: { limits: { memory: '' } } }));
  expectCode(quantity, 400, 'BadRequest');
  assert.match(String(quantity.json['message']), 'quantities must match the regular expression');
  expectCode(await send(http, 'POST', pods, { metadata: { name: 'null-spec' }, spec: null }), 422, 'Invalid');
  const numeric = await send(http, 'POST', pods, pod('numeric-quantity', {}, { resources: { requests: { cpu: 1.5, memory: 1024 } } }));
  expectCode(numeric, 201);
  const containers = (numeric.json['spec'] as { containers: { resources: { requests: Record<string, unknown> } }[] }).containers;
  assert.equal(containers[0]!.resources.requests, { cpu: '1500m', memory: '1024' });
  expectCode(await send(http, 'POST', CM, { metadata: { name: 'bad-finalizers', finalizers: 'x/y' } }), 400, 'BadRequest');
  expectCode(await send(http, 'GET', `${CM}/bad-finalizers`), 404);
});

it('field selectors: unsupported labels are 400, boolean labels treat a missing field as false, event source', async ({ http }) => {
  const bad = await send(http, 'GET', '/api/v1/namespaces/default/pods?fieldSelector=spec.foo%3Dx');
  expectCode(bad, 400, 'BadRequest');
  assert.is(bad.json['message'], 'field label not supported: spec.foo');
  expectCode(await send(http, 'GET', `${CM}?fieldSelector=data.a%3Db`), 400, 'BadRequest');
  expectCode(await send(http, 'GET', `${CM}?watch=true&fieldSelector=data.a%3Db`), 400, 'BadRequest');

  expectCode(await send(http, 'POST', '/api/v1/nodes', { metadata: { name: 'fs-open' } }), 201);
  expectCode(await send(http, 'POST', '/api/v1/nodes', { metadata: { name: 'fs-cordoned' }, spec: { unschedulable: true } }), 201);
  const names = async (path: string): Promise<string[]> =>
    ((await send(http, 'GET', path)).json['items'] as { metadata: { name: string } }[]).map((i) => i.metadata.name).sort();
  assert.equal(await names('/api/v1/nodes?fieldSelector=spec.unschedulable%3Dfalse'), ['fs-open']);
  assert.equal(await names('/api/v1/nodes?fieldSelector=spec.unschedulable%3Dtrue'), ['fs-cordoned']);
  assert.equal(await names('/api/v1/nodes?fieldSelector=spec.unschedulable!%3Dfalse'), ['fs-cordoned']);

  const events = '/api/v1/namespaces/default/events';
  expectCode(await send(http, 'POST', events, { metadata: { name: 'fs-ev' }, involvedObject: { kind: 'Pod', name: 'p', namespace: 'default' }, reason: 'R', source: { component: 'kubelet' } }), 201);
  assert.equal(await names(`${events}?fieldSelector=source%3Dkubelet`), ['fs-ev']);
});

it('HTTP edge cases: unknown subresource 404, PUT/PATCH on a collection 405, HEAD, YAML bodies, unknown media type 415', async ({ http }) => {
  expectCode(await send(http, 'POST', CM, { metadata: { name: 'edge' } }), 201);
  const unknown = await send(http, 'GET', `${CM}/edge/foo`);
  expectCode(unknown, 404, 'NotFound');
  assert.is(unknown.json['message'], 'the server could not find the requested resource');
  expectCode(await send(http, 'GET', `${CM}/missing/foo`), 404, 'NotFound');
  expectCode(await send(http, 'PUT', CM, { metadata: { name: 'edge' } }), 405, 'MethodNotAllowed');
  expectCode(await send(http, 'PATCH', CM, {}, 'application/merge-patch+json'), 405, 'MethodNotAllowed');
  expectCode(await send(http, 'POST', `${CM}/edge`, {}), 405, 'MethodNotAllowed');
  const head = await http.request({ method: 'HEAD', path: `${CM}/edge` });
  assert.is(head.status, 200);
  assert.is(await head.text(), '');
  const yaml = await send(http, 'POST', CM, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: "1"\n', 'application/yaml');
  expectCode(yaml, 201);
  assert.equal(yaml.json['data'], { a: '1' });
  expectCode(await send(http, 'POST', CM, 'metadata: [', 'application/yaml'), 400, 'BadRequest');
  expectCode(await send(http, 'POST', CM, '<x/>', 'application/xml'), 415, 'UnsupportedMediaType');
});

it('watch with timeoutSeconds=0 stays open (0 means the default timeout, not an immediate end)', async ({ http }) => {
  const list = await send(http, 'GET', CM);
  const rv = (list.json['metadata'] as { resourceVersion: string }).resourceVersion;
  const abort = new AbortController();
  const res = await http.request({ method: 'GET', path: `${CM}?watch=true&resourceVersion=${rv}&timeoutSeconds=0`, signal: abort.signal });
  assert.is(res.status, 200);
  const lines: string[] = [];
  const reading = (async () => {
    try {
      for await (const chunk of res.body) lines.push(...String(chunk).split('\n').filter((l) => l.trim() !== ''));
    } catch { /* aborted */ }
    return 'ended';
  })();
  await new Promise((r) => setTimeout(r, 500));
  expectCode(await send(http, 'POST', CM, { metadata: { name: 'after-zero-timeout' } }), 201);
  const outcome = await Promise.race([reading, new Promise((r) => setTimeout(() => r('open'), 1500))]);
  abort.abort();
  assert.is(outcome, 'open', 'the stream must not end by itself');
  assert.ok(lines.some((l) => l.includes('after-zero-timeout')), `event delivered: ${lines.join('\n')}`);
});

it('DeleteOptions bodies: wrong types are 400, dryRun in the body deletes nothing, a negative grace period is 1 s', async ({ http }) => {
  expectCode(await send(http, 'POST', CM, { metadata: { name: 'del-opts' } }), 201);
  for (const body of [{ gracePeriodSeconds: 'x' }, { gracePeriodSeconds: 1.5 }, { preconditions: 'x' }, { preconditions: { uid: 5 } }, { dryRun: 'All' }]) {
    expectCode(await send(http, 'DELETE', `${CM}/del-opts`, body), 400, 'BadRequest');
  }
  expectCode(await send(http, 'DELETE', `${CM}/del-opts`, { kind: 'DeleteOptions', apiVersion: 'v1', dryRun: ['All'] }), 200);
  expectCode(await send(http, 'GET', `${CM}/del-opts`), 200);

  const pods = '/api/v1/namespaces/default/pods';
  expectCode(await send(http, 'POST', pods, { metadata: { name: 'negative-grace' }, spec: { containers: [{ name: 'c', image: 'x' }] } }), 201);
  expectCode(await send(http, 'POST', `${pods}/negative-grace/binding`, { metadata: { name: 'negative-grace' }, target: { kind: 'Node', name: 'node-a' } }), 201);
  const r = await send(http, 'DELETE', `${pods}/negative-grace`, { gracePeriodSeconds: -5 });
  expectCode(r, 200);
  assert.is((r.json['metadata'] as Record<string, unknown>)['deletionGracePeriodSeconds'], 1);
});

it('continue tokens: paging works, a token from another list or with a resourceVersion is 400', async ({ http }) => {
  for (const n of ['page-a', 'page-b', 'page-c']) expectCode(await send(http, 'POST', CM, { metadata: { name: n } }), 201);
  const first = await send(http, 'GET', `${CM}?limit=2`);
  const token = (first.json['metadata'] as { continue?: string }).continue;
  assert.ok(token, 'a continue token');
  expectCode(await send(http, 'GET', `${CM}?limit=2&continue=${encodeURIComponent(token!)}`), 200);
  expectCode(await send(http, 'GET', `/api/v1/namespaces/kube-system/configmaps?limit=2&continue=${encodeURIComponent(token!)}`), 400, 'BadRequest');
  expectCode(await send(http, 'GET', `/api/v1/namespaces/default/secrets?limit=2&continue=${encodeURIComponent(token!)}`), 400, 'BadRequest');
  expectCode(await send(http, 'GET', `${CM}?limit=2&resourceVersion=1&continue=${encodeURIComponent(token!)}`), 400, 'BadRequest');
  expectCode(await send(http, 'GET', `${CM}?limit=2&continue=garbage`), 400, 'BadRequest');
});

it('a JSON patch with more than 10,000 operations is 413, as upstream', async ({ http }) => {
  expectCode(await send(http, 'POST', CM, { metadata: { name: 'many-ops' }, data: {} }), 201);
  const ops = Array.from({ length: 10_001 }, (_, i) => ({ op: 'add', path: `/data/k${i}`, value: 'v' }));
  const r = await send(http, 'PATCH', `${CM}/many-ops`, ops, 'application/json-patch+json');
  expectCode(r, 413, 'RequestEntityTooLarge');
  assert.is(r.json['message'], 'The allowed maximum operations in a JSON patch is 10000, got 10001');
  expectCode(await send(http, 'PATCH', `${CM}/many-ops`, ops.slice(0, 100), 'application/json-patch+json'), 200);
});

it('BOOKMARKs of a filtered watch advance past events the selector filtered out', async ({ http }) => {
  const list = await send(http, 'GET', CM);
  const rv = (list.json['metadata'] as { resourceVersion: string }).resourceVersion;
  const res = await http.request({ method: 'GET', path: `${CM}?watch=true&allowWatchBookmarks=true&labelSelector=app%3Dwatched&resourceVersion=${rv}&timeoutSeconds=3` });
  await new Promise((r) => setTimeout(r, 200));
  const other = await send(http, 'POST', CM, { metadata: { name: 'not-watched', labels: { app: 'other' } } });
  expectCode(other, 201);
  const otherRv = Number((other.json['metadata'] as { resourceVersion: string }).resourceVersion);
  const lines = (await res.text()).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { type: string; object: { metadata: { resourceVersion: string } } });
  assert.ok(lines.every((l) => l.type === 'BOOKMARK'), 'only bookmarks: the new object does not match');
  const last = lines[lines.length - 1];
  assert.ok(last && Number(last.object.metadata.resourceVersion) >= otherRv, `last bookmark ${JSON.stringify(last)} should be at least ${otherRv}`);
});

it('a node\'s pod watch (fieldSelector spec.nodeName) gets every event of its pods in order, and BOOKMARKs never overtake one', async ({ http }) => {
  const PODS = '/api/v1/namespaces/default/pods';
  const pod = (name: string, nodeName?: string): unknown => ({
    metadata: { name }, spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: 'c', image: 'busybox' }] },
  });
  const rvOf = (r: Reply): number => Number((r.json['metadata'] as { resourceVersion: string }).resourceVersion);
  const list = await send(http, 'GET', PODS);
  const rv = (list.json['metadata'] as { resourceVersion: string }).resourceVersion;
  const res = await http.request({ method: 'GET', path: `${PODS}?watch=true&allowWatchBookmarks=true&fieldSelector=spec.nodeName%3Dnode-a&resourceVersion=${rv}&timeoutSeconds=4` });
  assert.is(res.status, 200);
  /** What node-a's watch must see: [type, pod name, resourceVersion], in order. */
  const expected: [string, string, number][] = [];
  const write = async (r: Promise<Reply>, code: number, event?: [string, string]): Promise<Reply> => {
    const reply = await r;
    expectCode(reply, code);
    if (event) expected.push([...event, rvOf(reply)]);
    return reply;
  };
  // Interleaved: node-b's pods (skipped by the store, never waking node-a's watch), pods created
  // unbound and bound later, status writes, deletes; some in bursts, some with pauses longer than
  // the 300 ms bookmark interval so bookmarks fall between them.
  for (let round = 0; round < 4; round++) {
    await Promise.all(Array.from({ length: 10 }, (_, i) => write(send(http, 'POST', PODS, pod(`nb-${round}-${i}`, 'node-b')), 201)));
    await write(send(http, 'POST', PODS, pod(`na-${round}`, 'node-a')), 201, ['ADDED', `na-${round}`]);
    await write(send(http, 'POST', PODS, pod(`late-${round}`)), 201);
    await write(send(http, 'POST', `${PODS}/late-${round}/binding`, { metadata: { name: `late-${round}` }, target: { kind: 'Node', name: 'node-a' } }), 201);
    expected.push(['ADDED', `late-${round}`, rvOf(await send(http, 'GET', `${PODS}/late-${round}`))]);
    await write(send(http, 'PATCH', `${PODS}/na-${round}/status`, { status: { phase: 'Running' } }, 'application/merge-patch+json'), 200, ['MODIFIED', `na-${round}`]);
    await Promise.all(Array.from({ length: 5 }, (_, i) => write(send(http, 'PATCH', `${PODS}/nb-${round}-${i}/status`, { status: { phase: 'Running' } }, 'application/merge-patch+json'), 200)));
    if (round > 0) await write(send(http, 'DELETE', `${PODS}/na-${round - 1}`, { gracePeriodSeconds: 0 }), 200, ['DELETED', `na-${round - 1}`]);
    await new Promise((r) => setTimeout(r, round % 2 === 0 ? 400 : 50));
  }
  const lastOther = await write(send(http, 'POST', PODS, pod('nb-last', 'node-b')), 201);
  const lines = (await res.text()).split('\n').filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { type: string; object: { metadata: { name?: string; resourceVersion: string } } });
  const events = lines.filter((l) => l.type !== 'BOOKMARK').map((l) => [l.type, l.object.metadata.name, Number(l.object.metadata.resourceVersion)]);
  assert.equal(events, expected);
  let highest = 0;
  for (const l of lines) {
    const at = Number(l.object.metadata.resourceVersion);
    if (l.type === 'BOOKMARK') {
      // A bookmark promises every event up to it was sent: no event below it may follow.
      const overtaken = expected.filter(([, , r]) => r <= at && r > highest);
      assert.equal(overtaken, [], `BOOKMARK ${at} came before events at or below it`);
    }
    highest = Math.max(highest, at);
  }
  const bookmarks = lines.filter((l) => l.type === 'BOOKMARK').map((l) => Number(l.object.metadata.resourceVersion));
  assert.ok(bookmarks.length >= 5, `bookmarks every 300 ms: ${JSON.stringify(bookmarks)}`);
  assert.ok(bookmarks.at(-1)! >= rvOf(lastOther), `the last bookmark (${bookmarks.at(-1)}) covers node-b's last write (${rvOf(lastOther)})`);
});

it('concurrent binds (committed together by the write batcher): one wins per pod, the losers get 409 or 404 and write nothing', async ({ http }) => {
  const PODS = '/api/v1/namespaces/default/pods';
  const names = Array.from({ length: 30 }, (_, i) => `bind-${i}`);
  await Promise.all(names.map(async (name) => expectCode(await send(http, 'POST', PODS, { metadata: { name }, spec: { containers: [{ name: 'c', image: 'busybox' }] } }), 201)));
  const start = (await send(http, 'GET', PODS)).json['metadata'] as { resourceVersion: string };
  const bind = (name: string, node: string): Promise<Reply> => send(http, 'POST', `${PODS}/${name}/binding`, { metadata: { name }, target: { kind: 'Node', name: node } });
  // Two contenders per pod and binds of pods that do not exist, all at once.
  const attempts = [...names.flatMap((name) => [[name, 'node-x'], [name, 'node-y']]), ...Array.from({ length: 10 }, (_, i) => [`bind-missing-${i}`, 'node-x'])] as [string, string][];
  const replies = await Promise.all(attempts.map(([name, node]) => bind(name, node)));
  const outcome = new Map<string, { won?: string; lost: number[] }>();
  for (const [i, [name, node]] of attempts.entries()) {
    const o = outcome.get(name) ?? { lost: [] };
    if (replies[i]!.status === 201) {
      assert.is(o.won, undefined, `${name} was bound twice`);
      o.won = node;
    } else {
      o.lost.push(replies[i]!.status);
    }
    outcome.set(name, o);
  }
  for (const name of names) {
    const o = outcome.get(name)!;
    assert.ok(o.won !== undefined, `${name}: no bind won (${o.lost.join(',')})`);
    assert.equal(o.lost, [409], `${name}: the other bind must be a conflict`);
    const pod = (await send(http, 'GET', `${PODS}/${name}`)).json as { spec: { nodeName?: string } };
    assert.is(pod.spec.nodeName, o.won, `${name} is on the node whose bind was acknowledged`);
  }
  for (let i = 0; i < 10; i++) assert.equal(outcome.get(`bind-missing-${i}`)!.lost, [404]);
  // Exactly one write per pod: the refused binds left nothing in the log.
  const res = await http.request({ method: 'GET', path: `${PODS}?watch=true&resourceVersion=${start.resourceVersion}&timeoutSeconds=1` });
  const events = (await res.text()).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { type: string; object: { metadata: { name: string } } });
  const bindEvents = events.filter((e) => e.object.metadata.name.startsWith('bind-'));
  assert.equal(bindEvents.map((e) => e.type), names.map(() => 'MODIFIED'));
  assert.equal(bindEvents.map((e) => e.object.metadata.name).sort(), [...names].sort());
});

it.run();
