/**
 * The viewer role is read-only: GET/HEAD only, no acting subresources (exec, attach, portforward,
 * proxy — exec and attach arrive as GET upgrades), no Secrets; other roles are not limited here.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { roleAllows } from '../../server/auth/tokens.js';

test('viewer may read resources, logs and watches', () => {
  assert.ok(roleAllows('viewer', 'GET', { resource: 'pods' }));
  assert.ok(roleAllows('viewer', 'HEAD', { resource: 'nodes' }));
  assert.ok(roleAllows('viewer', 'GET', { resource: 'pods', subresource: 'log' }));
  assert.ok(roleAllows('viewer', 'GET', { resource: 'deployments', subresource: 'status' }));
  assert.ok(roleAllows('viewer', 'GET'), 'non-resource URLs (discovery, openapi)');
});

test('viewer may not write, act on workloads, or read Secrets', () => {
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
    assert.not.ok(roleAllows('viewer', method, { resource: 'pods' }), method);
    assert.not.ok(roleAllows('viewer', method), `${method} on a non-resource URL`);
  }
  for (const sub of ['exec', 'attach', 'portforward', 'proxy']) assert.not.ok(roleAllows('viewer', 'GET', { resource: 'pods', subresource: sub }), sub);
  assert.not.ok(roleAllows('viewer', 'GET', { resource: 'services', subresource: 'proxy' }));
  assert.not.ok(roleAllows('viewer', 'GET', { resource: 'secrets' }));
});

test('admin is not limited by roleAllows', () => {
  assert.ok(roleAllows('admin', 'DELETE', { resource: 'pods' }));
  assert.ok(roleAllows('admin', 'GET', { resource: 'pods', subresource: 'exec' }));
  assert.ok(roleAllows('admin', 'DELETE', { resource: 'namespaces' }));
});

test('node tokens read everything and write only what an agent writes', () => {
  assert.ok(roleAllows('node', 'GET', { resource: 'secrets' }), 'secret volumes');
  assert.ok(roleAllows('node', 'GET', { resource: 'pods', subresource: 'log' }));
  assert.ok(roleAllows('node', 'POST', { resource: 'nodes' }));
  assert.ok(roleAllows('node', 'PATCH', { resource: 'nodes', subresource: 'status' }));
  assert.ok(roleAllows('node', 'PUT', { resource: 'leases' }));
  assert.ok(roleAllows('node', 'PATCH', { resource: 'pods', subresource: 'status' }));
  assert.ok(roleAllows('node', 'DELETE', { resource: 'pods' }));
  assert.ok(roleAllows('node', 'POST', { resource: 'events' }));
  assert.not.ok(roleAllows('node', 'POST', { resource: 'pods' }), 'no creating workloads');
  assert.not.ok(roleAllows('node', 'PATCH', { resource: 'pods' }), 'no changing pod specs');
  assert.not.ok(roleAllows('node', 'POST', { resource: 'deployments' }));
  assert.not.ok(roleAllows('node', 'DELETE', { resource: 'namespaces' }));
  assert.not.ok(roleAllows('node', 'PATCH', { resource: 'services' }));
  assert.not.ok(roleAllows('node', 'GET', { resource: 'pods', subresource: 'exec' }), 'no exec');
  assert.not.ok(roleAllows('node', 'POST', { resource: 'pods', subresource: 'eviction' }));
});

test.run();
