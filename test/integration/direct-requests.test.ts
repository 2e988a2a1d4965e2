/**
 * The direct path of in-process writes (server/apiserver/direct-requests.ts) against the app's own
 * fetch path, on one real API app over SQLite with RBAC's default policy and an admission plugin:
 * the same objects come out byte for byte (but for the server-made uid, times, names and
 * revisions), the same refusals (401, 403, 404, 409, 422, admission) with the same Status bodies,
 * the request metrics count both alike, and what the path does not take falls back to the app.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiApp } from '../../server/apiserver/app.js';
import { Registry } from '../../server/apiserver/registry.js';
import { TokenStore } from '../../server/auth/tokens.js';
import { openSqliteStore } from '../../server/store/sqlite-store.js';
import { ApiClient } from '../../api/client/client.js';
import { InProcessTransport, type DirectHandler } from '../../api/client/transport.js';
import type { StatusError } from '../../api/status.js';
import { refusalOf } from '../support/refusal.js';
import { errors } from '../../api/status.js';
import type { Pod } from '../../api/types.js';
import { defaultPolicyAuthorizer } from '../support/default-policy.js';
import { parseExposition } from '../support/prom-text.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-direct-'));
const store = await openSqliteStore({ path: join(dir, 'state.db') });
const tokens = new TokenStore(join(dir, 'tokens.json'));
const registry = new Registry(store);
// An admission plugin that refuses one name, so a refusal by admission shows on both paths.
registry.addPlugin({
  name: 'RefuseForbiddenName',
  admitCreate: (_info, obj) => {
    if (obj.metadata.name?.startsWith('refused-')) return Promise.reject(errors.forbidden(`admission refuses ${obj.metadata.name}`));
    return Promise.resolve();
  },
});
const api = createApiApp({ registry, tokens, serverAddress: '127.0.0.1:6443' });
api.authorizer.append(defaultPolicyAuthorizer());

let taken = 0;
const counting: DirectHandler = (req) => {
  const answer = api.direct(req);
  if (answer !== undefined) taken++;
  return answer;
};
const admin = `Bearer ${tokens.create('admin').token}`;
const viewer = `Bearer ${tokens.create('viewer').token}`;
const clients = (authorization: string): { http: ApiClient; direct: ApiClient } => ({
  http: new ApiClient(new InProcessTransport(api.app, { authorization })),
  direct: new ApiClient(new InProcessTransport(api.app, { authorization }, counting)),
});
const { http, direct } = clients(admin);
await http.create('Namespace', undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'd' } });
await http.create('Node', undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } });

function pod(name: string): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, labels: { app: 'x' }, annotations: { text: 'é ü', note: 'a "quoted" \u2028 line', lone: '\ud800' } },
    spec: { containers: [{ name: 'c', image: 'registry.local/app:1', resources: { requests: { cpu: '10m', memory: '16Mi' } }, env: [{ name: 'E', value: undefined as unknown as string }] }] },
  } as Pod;
}

/** The JSON text of an object with what the server makes anew per object blanked out. */
function comparable(obj: unknown): string {
  return JSON.stringify(obj, (key, value: unknown) => (['uid', 'creationTimestamp', 'resourceVersion', 'lastTransitionTime'].includes(key) ? '-' : value))
    .replace(/"(via-http|via-direct)(-\d+)?"/g, '"NAME$2"');
}


function sameRefusal(a: StatusError, b: StatusError, code: number): void {
  assert.is(a.code, code);
  assert.is(b.code, code);
  assert.equal(b.toStatus(), a.toStatus());
}

test('a create answers the same object, and stores the same object, on both paths', async () => {
  const before = taken;
  const viaHttp = await http.create<Pod>('Pod', 'd', pod('via-http'));
  const viaDirect = await direct.create<Pod>('Pod', 'd', pod('via-direct'));
  assert.is(taken, before + 1, 'the direct path took the create');
  assert.is(comparable(viaDirect), comparable(viaHttp));
  assert.is(viaDirect.metadata.annotations?.['lone'], '\ud800');
  assert.is(comparable(await http.get('Pod', 'd', 'via-direct')), comparable(await http.get('Pod', 'd', 'via-http')));
  // The caller's object is not touched (the server works on its own copy).
  const body = pod('via-direct-2');
  const text = JSON.stringify(body);
  await direct.create('Pod', 'd', body);
  assert.is(JSON.stringify(body), text);
});

test('a binding answers and stores the same on both paths; a second one is refused alike', async () => {
  const a = await http.bind('d', 'via-http', 'n1');
  const b = await direct.bind('d', 'via-direct', 'n1');
  assert.equal(b, a);
  assert.is(comparable(await http.get('Pod', 'd', 'via-direct')), comparable(await http.get('Pod', 'd', 'via-http')));
  const e1 = await refusalOf(http.bind('d', 'via-http', 'n1'));
  const e2 = await refusalOf(direct.bind('d', 'via-direct', 'n1'));
  assert.is(e1.code, 409);
  assert.is(e2.code, 409);
  assert.is(e2.message.replaceAll('via-direct', 'X'), e1.message.replaceAll('via-http', 'X'));
  sameRefusal(await refusalOf(http.bind('d', 'missing', 'n1')), await refusalOf(direct.bind('d', 'missing', 'n1')), 404);
  const noTarget = { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'via-http' }, target: {} };
  sameRefusal(await refusalOf(http.call('POST', '/api/v1/namespaces/d/pods/via-http/binding', noTarget)), await refusalOf(direct.call('POST', '/api/v1/namespaces/d/pods/via-http/binding', noTarget)), 422);
});

test('RBAC and authentication refuse a direct request exactly as the app does', async () => {
  const v = clients(viewer);
  const before = taken;
  sameRefusal(await refusalOf(v.http.create('Pod', 'd', pod('refused-by-rbac'))), await refusalOf(v.direct.create('Pod', 'd', pod('refused-by-rbac'))), 403);
  sameRefusal(await refusalOf(v.http.bind('d', 'via-http', 'n1')), await refusalOf(v.direct.bind('d', 'via-http', 'n1')), 403);
  const bad = clients('Bearer not-a-token');
  sameRefusal(await refusalOf(bad.http.create('Pod', 'd', pod('x'))), await refusalOf(bad.direct.create('Pod', 'd', pod('x'))), 401);
  assert.is(taken, before + 3, 'the refusals came from the direct path');
  assert.is(await http.tryGet('Pod', 'd', 'refused-by-rbac'), undefined);
});

test('admission and validation refuse a direct create exactly as the app does', async () => {
  sameRefusal(await refusalOf(http.create('Pod', 'd', pod('refused-1'))), await refusalOf(direct.create('Pod', 'd', pod('refused-1'))), 403);
  sameRefusal(await refusalOf(http.create('Pod', 'nowhere', pod('p'))), await refusalOf(direct.create('Pod', 'nowhere', pod('p'))), 404);
  const invalid = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'invalid' }, spec: { containers: [] } };
  sameRefusal(await refusalOf(http.create('Pod', 'd', invalid)), await refusalOf(direct.create('Pod', 'd', invalid)), 422);
  const badType = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bad-type' }, spec: { containers: 'no' } };
  sameRefusal(await refusalOf(http.create('Pod', 'd', badType)), await refusalOf(direct.create('Pod', 'd', badType)), 400);
  sameRefusal(await refusalOf(http.create('Pod', 'd', pod('via-http'))), await refusalOf(direct.create('Pod', 'd', pod('via-http'))), 409);
});

test('the request metrics count direct requests as the app counts its own', async () => {
  const count = async (code: string): Promise<number> => {
    const { body } = await api.metrics.exposition();
    return parseExposition(body).samples
      .filter((s) => s.name === 'apiserver_request_total' && s.labels['verb'] === 'POST' && s.labels['resource'] === 'pods' && s.labels['subresource'] === '' && s.labels['code'] === code)
      .reduce((a, s) => a + s.value, 0);
  };
  const [created, forbidden] = [await count('201'), await count('403')];
  await direct.create('Pod', 'd', pod('counted'));
  await refusalOf(clients(viewer).direct.create('Pod', 'd', pod('counted-2')));
  assert.is(await count('201'), created + 1);
  assert.is(await count('403'), forbidden + 1);
});

test('what the direct path does not take goes through the app', async () => {
  const before = taken;
  // Not plain JSON (a Date's toJSON), a query string, another method, a string body, a createOnly kind.
  const withDate = { ...pod('with-date'), metadata: { name: 'with-date', annotations: { when: new Date(0) as unknown as string } } };
  const created = await direct.create<Pod>('Pod', 'd', withDate);
  assert.is(created.metadata.annotations?.['when'], '1970-01-01T00:00:00.000Z');
  await direct.call('POST', '/api/v1/namespaces/d/pods?dryRun=All', pod('dry'));
  assert.is(await http.tryGet('Pod', 'd', 'dry'), undefined);
  await direct.patch('Pod', 'd', 'via-http', { metadata: { labels: { patched: 'yes' } } });
  await direct.call('POST', '/api/v1/namespaces/d/pods', JSON.stringify(pod('as-text')));
  // A create-only kind (its handler is not registered on this bare app: the app's own answer).
  const review = { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb: 'get', resource: 'pods' } } };
  const e = await refusalOf(http.create('SelfSubjectAccessReview', undefined, review));
  sameRefusal(e, await refusalOf(direct.create('SelfSubjectAccessReview', undefined, review)), e.code);
  assert.is(taken, before, 'none of these took the direct path');
  assert.is((await http.get('Pod', 'd', 'via-http')).metadata.labels?.['patched'], 'yes');
  assert.ok(await http.tryGet('Pod', 'd', 'as-text'));
});

test.after(async () => {
  await store.close();
});

test.run();
