/**
 * Projected volumes on the node (real files in a temp dir): the token comes from the token source
 * with the pod and the requested expiry (at least 10 minutes), ConfigMap items and the namespace are
 * written with the volume's mode, bad paths are refused, and tokens are renewed only after 80 % of
 * their life.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Pod } from '../../api/types.js';
import { refreshProjectedTokens, tokenNeedsRefresh, writeProjectedVolume, type TokenSource } from '../../agent/pods/projected-volume.js';
import { kubeApiAccessVolume } from '../../server/apiserver/service-account-admission.js';

const volume = kubeApiAccessVolume('abcde');
const pod: Pod = { metadata: { name: 'web', namespace: 'team', uid: 'u1' }, spec: { containers: [{ name: 'c', image: 'x' }], volumes: [volume] } } as Pod;

function tokens(): { src: TokenSource; asked: { pod: string; seconds: number }[] } {
  const asked: { pod: string; seconds: number }[] = [];
  let n = 0;
  const src: TokenSource = async (p, o) => {
    asked.push({ pod: p.metadata.name!, seconds: o.expirationSeconds });
    n++;
    return { token: `token-${n}`, expirationTimestamp: new Date(Date.parse('2026-01-01T00:00:00Z') + o.expirationSeconds * 1000).toISOString() };
  };
  return { src, asked };
}

test('kube-api-access: token, ca.crt and namespace with mode 0644; the token bound to the pod', async () => {
  const root = mkdtempSync(join(tmpdir(), 'corral-projected-'));
  try {
    const { src, asked } = tokens();
    const dir = join(root, volume.name);
    await writeProjectedVolume(dir, pod, volume.projected!, {
      serviceAccountToken: src,
      configMap: async (ns, name) => (ns === 'team' && name === 'kube-root-ca.crt' ? { 'ca.crt': Buffer.from('PEM') } : undefined),
      secret: async () => undefined,
    }, Date.parse('2026-01-01T00:00:00Z'));
    assert.is(readFileSync(join(dir, 'token'), 'utf8'), 'token-1');
    assert.is(readFileSync(join(dir, 'ca.crt'), 'utf8'), 'PEM');
    assert.is(readFileSync(join(dir, 'namespace'), 'utf8'), 'team');
    assert.is(statSync(join(dir, 'token')).mode & 0o777, 0o644);
    assert.equal(asked, [{ pod: 'web', seconds: 3607 }]);

    const start = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(await refreshProjectedTokens(pod, root, src, start + 2000 * 1000), { refreshed: 0, nextAt: start + 3607 * 800 }, 'not yet at 80 %; due then');
    const second = await refreshProjectedTokens(pod, root, src, start + 2900 * 1000);
    assert.is(second.refreshed, 1, 'past 80 % of 3607 s');
    assert.ok(second.nextAt !== undefined && second.nextAt > start + 2900 * 1000, 'the new token is due later');
    assert.equal(await refreshProjectedTokens({ ...pod, spec: { ...pod.spec, volumes: [] } }, root, src), { refreshed: 0, nextAt: Infinity }, 'no projected volume: never due');
    assert.equal(await refreshProjectedTokens(pod, join(root, 'elsewhere'), src), { refreshed: 0, nextAt: undefined }, 'not written yet: look again next sync');
    assert.is(readFileSync(join(dir, 'token'), 'utf8'), 'token-2');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a missing ConfigMap fails unless optional; paths may not leave the volume', async () => {
  const root = mkdtempSync(join(tmpdir(), 'corral-projected-'));
  try {
    const { src } = tokens();
    const none = { serviceAccountToken: src, configMap: async () => undefined, secret: async () => undefined };
    await writeProjectedVolume(join(root, 'a'), pod, volume.projected!, none).then(() => assert.unreachable(), (err: Error) => assert.match(err.message, 'configmap "kube-root-ca.crt" not found'));
    await writeProjectedVolume(join(root, 'b'), pod, { sources: [{ configMap: { name: 'x', optional: true } }] }, none);
    await writeProjectedVolume(join(root, 'c'), pod, { sources: [{ serviceAccountToken: { path: '../escape' } }] }, none)
      .then(() => assert.unreachable(), (err: Error) => assert.match(err.message, 'is not a relative path inside the volume'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('renewal at 80 % of a token\'s life (kubelet\'s rule)', () => {
  assert.not.ok(tokenNeedsRefresh(0, 1000, 799));
  assert.ok(tokenNeedsRefresh(0, 1000, 800));
});

test.run();
