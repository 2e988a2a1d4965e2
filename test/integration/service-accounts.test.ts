/**
 * Service accounts in a real `corral server` with the real kubectl: a `default` ServiceAccount in
 * every namespace (and back after deletion), `kubectl create token` (a JWT whose signature checks
 * against the published JWKS, with upstream's claims), TokenReview of valid, pod-bound (revoked with
 * the pod) and foreign tokens, TokenRequest validation, the OIDC discovery documents, and the key
 * kept 0600 in the data dir across restarts.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { StatusError } from '../../api/status.js';
import type { Pod, ServiceAccount } from '../../api/types.js';
import { kubectl, ServerProcess } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

const it = suite<{ server: ServerProcess }>('service-accounts');

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start();
});

it.after(async (ctx) => {
  await ctx.server?.destroy();
});

async function run(server: ServerProcess, args: string[], input?: string): Promise<string> {
  const r = await kubectl(server, args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

async function tokenReview(server: ServerProcess, token: string, audiences?: string[]): Promise<Record<string, unknown>> {
  const review = await server.client.call('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
    apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, ...(audiences ? { audiences } : {}) },
  }) as { status: Record<string, unknown> };
  return review.status;
}

function defaultAccount(server: ServerProcess, ns: string): Promise<ServiceAccount> {
  return waitUntil(`default ServiceAccount in ${ns}`, async () => {
    try {
      return await server.client.get<ServiceAccount>('ServiceAccount', ns, 'default');
    } catch (err) {
      if (err instanceof StatusError && err.code === 404) return false;
      throw err;
    }
  }, 10_000);
}

it('every namespace has a default ServiceAccount, new ones too, and it comes back after deletion', async ({ server }) => {
  for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) await defaultAccount(server, ns);
  await run(server, ['create', 'namespace', 'team-a']);
  const first = await defaultAccount(server, 'team-a');
  await run(server, ['delete', 'serviceaccount', 'default', '-n', 'team-a']);
  const again = await waitUntil('default ServiceAccount recreated', async () => {
    const sa = await defaultAccount(server, 'team-a');
    return sa.metadata.uid !== first.metadata.uid && sa;
  }, 10_000);
  assert.ok(again.metadata.uid);
});

it('kubectl create token: a JWT with upstream claims, verifiable with the published JWKS', async ({ server }) => {
  const sa = await defaultAccount(server, 'team-a');
  const token = (await run(server, ['create', 'token', 'default', '-n', 'team-a', '--duration=20m'])).trim();
  const config = await server.client.call('GET', '/.well-known/openid-configuration') as Record<string, unknown>;
  assert.is(config['issuer'], 'https://kubernetes.default.svc.cluster.local');
  assert.equal(config['id_token_signing_alg_values_supported'], ['RS256']);
  const jwks = await server.client.call('GET', '/openid/v1/jwks') as { keys: Record<string, unknown>[] };
  assert.is(jwks.keys.length, 1);
  assert.not.ok('d' in jwks.keys[0]!, 'no private key material');
  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks as never), {
    issuer: 'https://kubernetes.default.svc.cluster.local', audience: 'https://kubernetes.default.svc.cluster.local',
  });
  assert.is(protectedHeader.alg, 'RS256');
  assert.is(protectedHeader.kid, jwks.keys[0]!['kid']);
  assert.is(payload.sub, 'system:serviceaccount:team-a:default');
  assert.is(payload.exp! - payload.iat!, 1200);
  assert.equal(payload['kubernetes.io'], { namespace: 'team-a', serviceaccount: { name: 'default', uid: sa.metadata.uid } });

  const status = await tokenReview(server, token);
  assert.is(status['authenticated'], true);
  assert.equal((status['user'] as Record<string, unknown>)['groups'], ['system:serviceaccounts', 'system:serviceaccounts:team-a', 'system:authenticated']);
  assert.is((status['user'] as Record<string, unknown>)['username'], 'system:serviceaccount:team-a:default');
  assert.is((await tokenReview(server, token, ['vault']))['authenticated'], undefined, 'wrong audience');
  const forVault = (await run(server, ['create', 'token', 'default', '-n', 'team-a', '--audience=vault'])).trim();
  assert.equal((await tokenReview(server, forVault, ['vault']))['audiences'], ['vault']);
  assert.is((await tokenReview(server, forVault))['authenticated'], undefined, 'not for the API');
  assert.is((await tokenReview(server, `${token.slice(0, -4)}AAAA`))['authenticated'], undefined, 'bad signature');
});

it('a pod-bound token stops authenticating when the pod is deleted; a deleted ServiceAccount ends its tokens', async ({ server }) => {
  await server.client.create('Pod', 'team-a', {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'holder', namespace: 'team-a' }, spec: { containers: [{ name: 'c', image: 'busybox' }] },
  });
  const token = (await run(server, ['create', 'token', 'default', '-n', 'team-a', '--bound-object-kind=Pod', '--bound-object-name=holder'])).trim();
  const status = await tokenReview(server, token);
  assert.is(status['authenticated'], true);
  const extra = (status['user'] as { extra: Record<string, string[]> }).extra;
  assert.equal(extra['authentication.kubernetes.io/pod-name'], ['holder']);
  await server.client.delete('Pod', 'team-a', 'holder', { gracePeriodSeconds: 0 });
  await waitUntil('token revoked with its pod', async () => (await tokenReview(server, token))['authenticated'] === undefined, 10_000);

  await run(server, ['create', 'serviceaccount', 'bot', '-n', 'team-a']);
  const botToken = (await run(server, ['create', 'token', 'bot', '-n', 'team-a'])).trim();
  assert.is((await tokenReview(server, botToken))['authenticated'], true);
  await run(server, ['delete', 'serviceaccount', 'bot', '-n', 'team-a']);
  assert.is((await tokenReview(server, botToken))['authenticated'], undefined);
});

it('TokenRequest validation: short expiry, unknown account, bound object of another kind or uid', async ({ server }) => {
  const short = await kubectl(server, ['create', 'token', 'default', '-n', 'team-a', '--duration=5m']);
  assert.is.not(short.code, 0);
  assert.match(short.stderr, 'spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes');
  const missing = await kubectl(server, ['create', 'token', 'nobody', '-n', 'team-a']);
  assert.match(missing.stderr, 'serviceaccounts "nobody" not found');
  const post = (spec: Record<string, unknown>) => server.client.call('POST', '/api/v1/namespaces/team-a/serviceaccounts/default/token', {
    apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec,
  });
  await post({ boundObjectRef: { kind: 'ConfigMap', apiVersion: 'v1', name: 'x' } }).then(() => assert.unreachable(), (err: StatusError) => {
    assert.is(err.code, 400);
  });
  await server.client.create('Pod', 'team-a', {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p2', namespace: 'team-a' }, spec: { containers: [{ name: 'c', image: 'busybox' }] },
  });
  await post({ boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'p2', uid: 'not-the-uid' } }).then(() => assert.unreachable(), (err: StatusError) => {
    assert.is(err.code, 409);
  });
  await post({ boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'gone' } }).then(() => assert.unreachable(), (err: StatusError) => {
    assert.is(err.code, 404);
  });
});

it('pods run as the default ServiceAccount unless they name one, which must exist', async ({ server }) => {
  const created = await server.client.create<Pod>('Pod', 'team-a', {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'plain', namespace: 'team-a' }, spec: { containers: [{ name: 'c', image: 'busybox' }] },
  });
  assert.is(created.spec.serviceAccountName, 'default');
  const r = await kubectl(server, ['apply', '-n', 'team-a', '-f', '-'], { input: JSON.stringify({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'ghostly' }, spec: { serviceAccountName: 'ghost', containers: [{ name: 'c', image: 'busybox' }] },
  }) });
  assert.is.not(r.code, 0);
  assert.match(r.stderr, 'pods "ghostly" is forbidden: error looking up service account team-a/ghost: serviceaccount "ghost" not found');
});

it('pods get the kube-api-access projected volume unless automount is off (pod or account) or the path is taken', async ({ server }) => {
  const c = server.client;
  const make = (name: string, spec: Record<string, unknown>) => c.create<Pod>('Pod', 'team-a', {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'team-a' }, spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec },
  });
  const mounted = await make('mounted', { initContainers: [{ name: 'i', image: 'busybox' }] });
  const vol = mounted.spec.volumes?.find((v) => v.name.startsWith('kube-api-access-'));
  assert.ok(vol, 'the volume is there');
  assert.match(vol.name, /^kube-api-access-[a-z0-9]{5}$/);
  assert.equal(vol.projected, {
    defaultMode: 420,
    sources: [
      { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
      { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
      { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
    ],
  });
  for (const ctr of [...mounted.spec.initContainers!, ...mounted.spec.containers]) {
    assert.equal(ctr.volumeMounts, [{ name: vol.name, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }], ctr.name);
  }
  const off = await make('off', { automountServiceAccountToken: false });
  assert.is(off.spec.volumes, undefined);
  await server.client.create('ServiceAccount', 'team-a', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'quiet' }, automountServiceAccountToken: false });
  assert.is((await make('quiet', { serviceAccountName: 'quiet' })).spec.volumes, undefined, 'the account says no');
  assert.ok((await make('loud', { serviceAccountName: 'quiet', automountServiceAccountToken: true })).spec.volumes?.length, 'the pod overrides');
  const own = await make('own', {
    volumes: [{ name: 'mine', emptyDir: {} }],
    containers: [{ name: 'c', image: 'busybox', volumeMounts: [{ name: 'mine', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }] }],
  });
  assert.equal(own.spec.volumes?.map((v) => v.name), ['mine'], 'a container that mounts something there keeps it');
});

it('the signing key is kept 0600 and survives a restart (tokens stay valid)', async ({ server }) => {
  const token = (await run(server, ['create', 'token', 'default', '-n', 'team-a'])).trim();
  const mode = statSync(join(server.dataDir, 'server', 'service-account.key')).mode & 0o777;
  assert.is(mode, 0o600);
  await server.restart();
  assert.is((await tokenReview(server, token))['authenticated'], true);
});

it.run();
