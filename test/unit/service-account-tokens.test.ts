/**
 * Service-account tokens without a server: signed and verified with a key made in a temp dir; a
 * valid token is cached for API requests (one account lookup, not one per request) but a review
 * (cached: false) looks again; a token of another audience, a wrong uid or a gone pod is refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { KubeObject } from '../../api/meta.js';
import { loadOrCreateServiceAccountKey } from '../../server/auth/service-account-key.js';
import { ServiceAccountTokens } from '../../server/auth/service-account-tokens.js';

test('cached for requests, fresh for reviews; audience, uid and bound pod are checked', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-sa-'));
  try {
    const key = await loadOrCreateServiceAccountKey(join(dir, 'sa.key'));
    const objects = new Map<string, KubeObject>([
      ['ServiceAccount/team/app', { metadata: { name: 'app', namespace: 'team', uid: 'sa-1' } }],
      ['Pod/team/web', { metadata: { name: 'web', namespace: 'team', uid: 'pod-1' } }],
    ]);
    let lookups = 0;
    const tokens = new ServiceAccountTokens({ key, lookup: async (kind, ns, name) => { lookups++; return objects.get(`${kind}/${ns}/${name}`); } });
    const { token } = await tokens.issue({ namespace: 'team', serviceAccount: { name: 'app', uid: 'sa-1' }, pod: { name: 'web', uid: 'pod-1' } }, { expirationSeconds: 600 });
    const user = await tokens.authenticate(token);
    assert.is(user?.name, 'system:serviceaccount:team:app');
    assert.equal(user?.extra['authentication.kubernetes.io/pod-name'], ['web']);
    const afterFirst = lookups;
    user!.groups.push('system:masters');
    const again = await tokens.authenticate(token);
    assert.is(lookups, afterFirst, 'the second request is answered from the cache');
    assert.not.ok(again!.groups.includes('system:masters'), 'callers cannot change the cached user');
    objects.delete('Pod/team/web');
    assert.is(await tokens.authenticate(token, undefined, { cached: false }), undefined, 'a review sees the pod gone');
    assert.is(await tokens.authenticate(token, ['vault']), undefined, 'another audience');
    const { token: wrongUid } = await tokens.issue({ namespace: 'team', serviceAccount: { name: 'app', uid: 'sa-old' } }, { expirationSeconds: 600 });
    assert.is(await tokens.authenticate(wrongUid), undefined, 'an account recreated since');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
