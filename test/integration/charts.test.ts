/**
 * Chart-shaped multi-document manifests (test/fixtures/charts/: ServiceAccount, Role, RoleBinding,
 * ClusterRole, ClusterRoleBinding, ConfigMap, Secret, Deployment, Service, quota, limits, budget)
 * apply cleanly with the real kubectl, re-apply unchanged, grant their service accounts exactly
 * what their roles say (SubjectAccessReview, table-driven), extend `view` through aggregation, and
 * delete cleanly.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ClusterRole } from '../../api/types.js';
import { kubectl, ServerProcess } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

const CHARTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'charts');
const it = suite<{ server: ServerProcess }>('charts');

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start();
});

it.after(async (ctx) => {
  await ctx.server?.destroy();
});

const files = readdirSync(CHARTS).filter((f) => f.endsWith('.yaml')).sort();

it('every chart applies cleanly and re-applies unchanged (Secrets with stringData aside)', async ({ server }) => {
  assert.ok(files.length >= 4, 'the chart fixtures are there');
  for (const file of files) {
    const first = await kubectl(server, ['apply', '-f', join(CHARTS, file)]);
    assert.is(first.code, 0, `${file}: ${first.stderr}`);
    assert.not.match(first.stderr, /error|warning/i, `${file}: ${first.stderr}`);
    const again = await kubectl(server, ['apply', '-f', join(CHARTS, file)]);
    assert.is(again.code, 0, `${file} again: ${again.stderr}`);
    // stringData is write-only, so kubectl always sees a difference for such a Secret (as upstream).
    for (const line of again.stdout.trim().split('\n')) assert.match(line, / unchanged$|^secret\/\S+ configured$/, `${file}: ${line}`);
  }
});

interface Case { user: string; verb: string; resource: string; group?: string; subresource?: string; namespace?: string; name?: string; allowed: boolean }

const sa = (ns: string, name: string): string => `system:serviceaccount:${ns}:${name}`;

const CASES: Case[] = [
  { user: sa('chart-homeauto', 'homeauto'), verb: 'list', resource: 'pods', namespace: 'chart-homeauto', allowed: true },
  { user: sa('chart-homeauto', 'homeauto'), verb: 'get', resource: 'pods', subresource: 'log', namespace: 'chart-homeauto', allowed: true },
  { user: sa('chart-homeauto', 'homeauto'), verb: 'delete', resource: 'pods', namespace: 'chart-homeauto', allowed: false },
  { user: sa('chart-homeauto', 'homeauto'), verb: 'list', resource: 'pods', namespace: 'default', allowed: false },
  { user: sa('chart-homeauto', 'homeauto'), verb: 'get', resource: 'secrets', namespace: 'chart-homeauto', allowed: false },
  { user: sa('chart-homeauto', 'homeauto'), verb: 'create', resource: 'pods', subresource: 'exec', namespace: 'chart-homeauto', allowed: false },
  { user: sa('chart-dashboards', 'dashboards'), verb: 'watch', resource: 'secrets', namespace: 'kube-system', allowed: true },
  { user: sa('chart-dashboards', 'dashboards'), verb: 'list', resource: 'configmaps', allowed: true },
  { user: sa('chart-dashboards', 'dashboards'), verb: 'update', resource: 'configmaps', namespace: 'kube-system', allowed: false },
  { user: sa('chart-dashboards', 'dashboards'), verb: 'update', resource: 'leases', group: 'coordination.k8s.io', namespace: 'chart-dashboards', allowed: true },
  { user: sa('chart-dashboards', 'dashboards'), verb: 'update', resource: 'leases', group: 'coordination.k8s.io', namespace: 'default', allowed: false },
  { user: sa('chart-dashboards', 'dashboards'), verb: 'delete', resource: 'leases', group: 'coordination.k8s.io', namespace: 'chart-dashboards', name: 'dashboards-leader', allowed: true },
  { user: sa('chart-dashboards', 'dashboards'), verb: 'delete', resource: 'leases', group: 'coordination.k8s.io', namespace: 'chart-dashboards', name: 'other', allowed: false },
  { user: sa('chart-ci', 'runner'), verb: 'create', resource: 'pods', subresource: 'exec', namespace: 'chart-ci', allowed: true },
  { user: sa('chart-ci', 'runner'), verb: 'create', resource: 'pods', subresource: 'portforward', namespace: 'chart-ci', allowed: false },
  { user: sa('chart-ci', 'runner'), verb: 'get', resource: 'secrets', namespace: 'chart-ci', name: 'runner-registration', allowed: true },
  { user: sa('chart-ci', 'runner'), verb: 'get', resource: 'secrets', namespace: 'chart-ci', name: 'other', allowed: false },
  { user: sa('chart-ci', 'runner'), verb: 'list', resource: 'secrets', namespace: 'chart-ci', allowed: false },
  { user: sa('chart-ci', 'runner'), verb: 'create', resource: 'deployments', group: 'apps', namespace: 'chart-ci', allowed: false },
  { user: sa('chart-dns', 'dns-controller'), verb: 'list', resource: 'nodes', allowed: true },
  { user: sa('chart-dns', 'dns-controller'), verb: 'watch', resource: 'endpointslices', group: 'discovery.k8s.io', namespace: 'default', allowed: true },
  { user: sa('chart-dns', 'dns-controller'), verb: 'patch', resource: 'nodes', allowed: false },
  { user: sa('chart-dns', 'other'), verb: 'list', resource: 'nodes', allowed: false },
];

it('the charts grant their service accounts exactly what their roles say (SubjectAccessReview)', async ({ server }) => {
  for (const c of CASES) {
    const review = await server.client.call('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview',
      spec: {
        user: c.user,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${c.user.split(':')[2]}`, 'system:authenticated'],
        resourceAttributes: {
          verb: c.verb, resource: c.resource, group: c.group ?? '', subresource: c.subresource ?? '', namespace: c.namespace ?? '', name: c.name ?? '',
        },
      },
    }) as { status: { allowed: boolean } };
    assert.is(review.status.allowed, c.allowed, JSON.stringify(c));
  }
});

it('a chart\'s aggregate-to-view ClusterRole extends view, edit and admin', async ({ server }) => {
  for (const name of ['view', 'edit', 'admin']) {
    await waitUntil(`${name} aggregates the chart's rule`, async () => {
      const role = await server.client.get<ClusterRole>('ClusterRole', undefined, name);
      return (role.rules ?? []).some((r) => r.apiGroups?.includes('dashboards.example.com'));
    }, 10_000);
  }
});

it('every chart deletes cleanly', async ({ server }) => {
  for (const file of [...files].reverse()) {
    const r = await kubectl(server, ['delete', '-f', join(CHARTS, file), '--ignore-not-found', '--wait=false']);
    assert.is(r.code, 0, `${file}: ${r.stderr}`);
  }
  await waitUntil('the view role lost the chart rule', async () => {
    const role = await server.client.get<ClusterRole>('ClusterRole', undefined, 'view');
    return !(role.rules ?? []).some((r) => r.apiGroups?.includes('dashboards.example.com'));
  }, 10_000);
});

it.run();
