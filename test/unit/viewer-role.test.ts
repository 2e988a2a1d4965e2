/**
 * The authorizer chain: built-in roles (system:masters may do anything; join tokens only find and
 * annotate Nodes), then RBAC with the default policy, where a viewer token (corral:viewers, bound to
 * `view` and the node viewer) reads everything but Secrets and never uses an acting subresource
 * (exec and attach arrive as GET upgrades), and every authenticated user reads discovery.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RequestAttributes } from '../../server/auth/authorizer.js';
import { AuthorizerChain, forbiddenMessage, nodeNameOf } from '../../server/auth/authorizer.js';
import { BuiltinRolesAuthorizer } from '../../server/auth/builtin-roles.js';
import { defaultPolicyAuthorizer } from '../support/default-policy.js';

const viewer = { name: 'viewer:abc', groups: ['corral:viewers', 'system:authenticated'] };
const admin = { name: 'admin', groups: ['system:masters', 'system:authenticated'] };
const join = { name: 'system:bootstrap:abc', groups: ['system:bootstrappers', 'system:authenticated'] };

function attrs(user: RequestAttributes['user'], verb: string, resource: string, extra: Partial<RequestAttributes> = {}): RequestAttributes {
  return { user, verb, resourceRequest: resource !== '', apiGroup: '', resource, subresource: '', namespace: 'default', name: '', path: '/api/v1/x', ...extra };
}

const roles = new BuiltinRolesAuthorizer();
const decide = (a: RequestAttributes): string => (roles.authorize(a) as { decision: string }).decision;

const chain = new AuthorizerChain([roles, defaultPolicyAuthorizer()]);
const decideChain = async (a: RequestAttributes): Promise<string> => (await chain.authorize(a)).decision;

test('viewer may read resources, logs and watches, nodes, and discovery (RBAC default bindings)', async () => {
  for (const verb of ['get', 'list', 'watch']) {
    assert.is(decide(attrs(viewer, verb, 'pods')), 'no-opinion', 'not a built-in role any more');
    assert.is(await decideChain(attrs(viewer, verb, 'pods')), 'allow', verb);
  }
  assert.is(await decideChain(attrs(viewer, 'get', 'pods', { subresource: 'log', name: 'p' })), 'allow');
  assert.is(await decideChain(attrs(viewer, 'get', 'deployments', { subresource: 'status', apiGroup: 'apps' })), 'allow');
  assert.is(await decideChain(attrs(viewer, 'list', 'nodes', { namespace: '' })), 'allow', 'the status page shows nodes');
  assert.is(await decideChain(attrs(viewer, 'get', '', { path: '/apis' })), 'allow', 'discovery');
});

test('viewer may not write, act on workloads, or read Secrets', async () => {
  for (const verb of ['create', 'update', 'patch', 'delete', 'deletecollection']) assert.is(await decideChain(attrs(viewer, verb, 'pods')), 'no-opinion', verb);
  for (const sub of ['exec', 'attach', 'portforward', 'proxy']) {
    for (const verb of ['get', 'create']) assert.is(await decideChain(attrs(viewer, verb, 'pods', { subresource: sub })), 'no-opinion', sub);
  }
  assert.is(await decideChain(attrs(viewer, 'get', 'services', { subresource: 'proxy' })), 'no-opinion');
  assert.is(await decideChain(attrs(viewer, 'get', 'secrets')), 'no-opinion');
  assert.is(await decideChain(attrs(viewer, 'post', '', { path: '/apis' })), 'no-opinion');
});

test('admin may do anything; a join token only finds and annotates Nodes', () => {
  assert.is(decide(attrs(admin, 'delete', 'namespaces')), 'allow');
  assert.is(decide(attrs(admin, 'get', 'pods', { subresource: 'exec' })), 'allow');
  for (const verb of ['get', 'list', 'watch', 'patch']) assert.is(decide(attrs(join, verb, 'nodes', { namespace: '' })), 'allow', verb);
  for (const [verb, res] of [['get', 'secrets'], ['delete', 'nodes'], ['create', 'pods'], ['list', 'pods']] as const) {
    assert.is(decide(attrs(join, verb, res)), 'no-opinion', `${verb} ${res}`);
  }
});

test('the chain returns the first allow or deny, and keeps the reasons of those without an opinion', async () => {
  const small = new AuthorizerChain([
    { name: 'a', authorize: () => ({ decision: 'no-opinion', reason: 'not mine' }) },
    roles,
  ]);
  assert.is((await small.authorize(attrs(admin, 'get', 'pods'))).decision, 'allow');
  const refused = await small.authorize(attrs(viewer, 'delete', 'pods', { name: 'web' }));
  assert.equal(refused, { decision: 'no-opinion', reason: 'not mine' });
  small.append({ name: 'deny-all', authorize: () => ({ decision: 'deny', reason: 'no' }) });
  assert.is((await small.authorize(attrs(viewer, 'delete', 'pods'))).decision, 'deny');
  assert.is(forbiddenMessage(attrs(viewer, 'delete', 'pods', { name: 'web' }), 'not mine'),
    'pods "web" is forbidden: User "viewer:abc" cannot delete resource "pods" in API group "" in the namespace "default": not mine');
  assert.is(forbiddenMessage(attrs(viewer, 'list', 'nodes', { namespace: '' })), 'nodes is forbidden: User "viewer:abc" cannot list resource "nodes" in API group "" at the cluster scope');
});

test('a node identity is system:node:<name> in system:nodes, nothing else', () => {
  assert.is(nodeNameOf({ name: 'system:node:pi-1', groups: ['system:nodes'] }), 'pi-1');
  assert.is(nodeNameOf({ name: 'system:node:pi-1', groups: ['corral:viewers'] }), undefined);
  assert.is(nodeNameOf({ name: 'system:node:', groups: ['system:nodes'] }), undefined);
  assert.is(nodeNameOf(admin), undefined);
});

test.run();
