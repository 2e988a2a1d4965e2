/**
 * Impersonation: headers parsed as kubectl sends them, each part checked with its own
 * `impersonate` attributes (users, serviceaccounts, groups, uids, userextras), upstream's 403 naming
 * the first refused part, and the resulting user's groups.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StatusError } from '../../api/status.js';
import { impersonate, impersonationHeaders } from '../../server/auth/impersonation.js';
import type { RequestAttributes } from '../../server/auth/rbac/rules.js';

const alice = { name: 'alice', groups: ['system:authenticated'] };

test('headers: user, repeated groups, uid and extras; none means no impersonation', () => {
  const h = new Headers([['Impersonate-User', 'bob'], ['Impersonate-Group', 'devs'], ['Impersonate-Group', 'ops'], ['Impersonate-Uid', '42'], ['Impersonate-Extra-Scopes', 'view']]);
  assert.equal(impersonationHeaders(h), { user: 'bob', groups: ['devs', 'ops'], uid: '42', extra: { scopes: ['view'] } });
  assert.is(impersonationHeaders(new Headers()), undefined);
});

test('every part is checked with its own attributes; the result is authenticated', async () => {
  const asked: string[] = [];
  const user = await impersonate(alice, { user: 'bob', groups: ['devs'], uid: '42', extra: { scopes: ['view'] } }, (a: RequestAttributes) => {
    asked.push(`${a.verb} ${a.apiGroup}/${a.resource}${a.subresource ? `/${a.subresource}` : ''} ${a.namespace}/${a.name}`);
    return true;
  });
  assert.equal(asked, [
    'impersonate /users /bob', 'impersonate /groups /devs', 'impersonate authentication.k8s.io/uids /42',
    'impersonate authentication.k8s.io/userextras/scopes /view',
  ]);
  assert.equal(user, { name: 'bob', groups: ['devs', 'system:authenticated'], uid: '42', extra: { scopes: ['view'] } });
});

test('a service account is checked as serviceaccounts in its namespace and gets its groups', async () => {
  let seen: RequestAttributes | undefined;
  const user = await impersonate(alice, { user: 'system:serviceaccount:team:bot', groups: [], uid: undefined, extra: {} }, (a) => { seen = a; return true; });
  assert.is(seen?.resource, 'serviceaccounts');
  assert.is(seen?.namespace, 'team');
  assert.is(seen?.name, 'bot');
  assert.equal(user.groups, ['system:serviceaccounts', 'system:serviceaccounts:team', 'system:authenticated']);
});

test('refusals: upstream\'s 403 for the first part not allowed; groups without a user are a bad request', async () => {
  const err = await impersonate(alice, { user: 'bob', groups: ['system:masters'], uid: undefined, extra: {} }, (a) => a.resource === 'users')
    .then(() => undefined, (e: unknown) => e as StatusError);
  assert.is(err?.code, 403);
  assert.is(err?.message, 'groups "system:masters" is forbidden: User "alice" cannot impersonate resource "groups" in API group "" at the cluster scope');
  const bad = await impersonate(alice, { user: undefined, groups: ['devs'], uid: undefined, extra: {} }, () => true).then(() => undefined, (e: unknown) => e as StatusError);
  assert.is(bad?.code, 400);
});

test.run();
