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

test('admin and node roles are not limited by roleAllows', () => {
  for (const role of ['admin', 'node'] as const) {
    assert.ok(roleAllows(role, 'DELETE', { resource: 'pods' }));
    assert.ok(roleAllows(role, 'GET', { resource: 'pods', subresource: 'exec' }));
    assert.ok(roleAllows(role, 'GET', { resource: 'secrets' }));
  }
});

test.run();
