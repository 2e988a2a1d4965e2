/**
 * ResourceQuota and LimitRange in a real `corral server` with the real kubectl: status.used follows
 * creates and deletes (compute and object counts, count/<resource>.<group>), a create past the hard
 * limit is refused with upstream's 403 `exceeded quota` message and nothing is stored, containers
 * without requests are refused by a compute quota, BestEffort/NotBestEffort scopes count only their
 * pods, concurrent creates cannot both take the last unit, and LimitRange defaults appear on created
 * pods (with the limit-ranger annotation) while min/max/ratio violations are refused.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { StatusError } from '../../api/status.js';
import { refusalOf } from '../support/refusal.js';
import type { Pod, ResourceQuota } from '../../api/types.js';
import { kubectl, ServerProcess } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

const it = suite<{ server: ServerProcess }>('quota');

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start();
  for (const ns of ['q1', 'q2', 'q3', 'lr']) await ctx.server.client.create('Namespace', undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
});

it.after(async (ctx) => {
  await ctx.server?.destroy();
});

function pod(name: string, resources?: Record<string, Record<string, string>>, extra: Record<string, unknown> = {}): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name },
    spec: { containers: [{ name: 'c', image: 'busybox', ...(resources ? { resources } : {}) }], ...extra },
  } as Pod;
}

const createError = (p: Promise<unknown>): Promise<StatusError> => refusalOf(p, 'expected the create to be refused');

/** Waits for the controller to have computed the quota (status.hard = spec.hard) and returns it when `ok`. */
function quotaStatus(server: ServerProcess, ns: string, name: string, ok: (used: Record<string, string>) => boolean): Promise<ResourceQuota> {
  return waitUntil(`quota ${ns}/${name} status`, async () => {
    const q = await server.client.get<ResourceQuota>('ResourceQuota', ns, name);
    return q.status?.used !== undefined && JSON.stringify(q.status.hard) === JSON.stringify(q.spec?.hard) && ok(q.status.used) && q;
  }, 15_000);
}

async function apply(server: ServerProcess, ns: string, obj: unknown): Promise<{ code: number; stderr: string }> {
  return kubectl(server, ['apply', '-n', ns, '-f', '-'], { input: JSON.stringify(obj) });
}

const usedIs = (want: Record<string, string>) => (used: Record<string, string>): boolean =>
  Object.entries(want).every(([k, v]) => used[k] === v);

it('compute and object-count quota: used follows creates and deletes; exceeding is 403 with upstream\'s message', async ({ server }) => {
  const c = server.client;
  assert.is((await apply(server, 'q1', {
    apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'compute' },
    spec: { hard: { pods: '2', 'requests.cpu': '1', 'limits.memory': '1Gi', configmaps: '2', 'count/deployments.apps': '1' } },
  })).code, 0);
  // kube-root-ca.crt is the namespace's one ConfigMap.
  await quotaStatus(server, 'q1', 'compute', usedIs({ pods: '0', 'requests.cpu': '0', 'limits.memory': '0', configmaps: '1', 'count/deployments.apps': '0' }));

  await c.create('Pod', 'q1', pod('a', { requests: { cpu: '500m' }, limits: { memory: '512Mi' } }));
  const q = await c.get<ResourceQuota>('ResourceQuota', 'q1', 'compute');
  assert.equal({ ...q.status!.used }, { pods: '1', 'requests.cpu': '500m', 'limits.memory': '512Mi', configmaps: '1', 'count/deployments.apps': '0' }, 'charged at admission');

  const refused = await apply(server, 'q1', pod('b', { requests: { cpu: '600m' }, limits: { memory: '128Mi' } }));
  assert.is.not(refused.code, 0);
  assert.match(refused.stderr, 'Error from server (Forbidden): error when creating "STDIN": pods "b" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, used: requests.cpu=500m, limited: requests.cpu=1');
  assert.is((await createError(c.get('Pod', 'q1', 'b'))).code, 404, 'nothing stored');

  const bare = await createError(c.create('Pod', 'q1', pod('bare')));
  assert.is(bare.code, 403);
  assert.is(bare.message, 'pods "bare" is forbidden: failed quota: compute: must specify limits.memory for: c; requests.cpu for: c');

  await c.create('Pod', 'q1', pod('b2', { requests: { cpu: '500m' }, limits: { memory: '512Mi' } }));
  const full = await createError(c.create('Pod', 'q1', pod('b3', { requests: { cpu: '100m' }, limits: { memory: '1Mi' } })));
  assert.is(full.message, 'pods "b3" is forbidden: exceeded quota: compute, requested: limits.memory=1Mi,pods=1,requests.cpu=100m, used: limits.memory=1Gi,pods=2,requests.cpu=1, limited: limits.memory=1Gi,pods=2,requests.cpu=1');

  await c.delete('Pod', 'q1', 'a', { gracePeriodSeconds: 0 });
  await quotaStatus(server, 'q1', 'compute', usedIs({ pods: '1', 'requests.cpu': '500m', 'limits.memory': '512Mi' }));
  await c.create('Pod', 'q1', pod('b3', { requests: { cpu: '100m' }, limits: { memory: '1Mi' } }));

  const deployment = (name: string) => ({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name },
    spec: { replicas: 0, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
  });
  assert.is((await apply(server, 'q1', deployment('d1'))).code, 0);
  const second = await apply(server, 'q1', deployment('d2'));
  assert.match(second.stderr, 'deployments.apps "d2" is forbidden: exceeded quota: compute, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1');

  const table = await kubectl(server, ['get', 'quota', '-n', 'q1']);
  assert.match(table.stdout, /compute\s+\S+\s+configmaps: 1\/2, count\/deployments.apps: 1\/1, pods: 2\/2, requests.cpu: 600m\/1\s+limits.memory: 513Mi\/1Gi/);
});

it('scopes: BestEffort and NotBestEffort quotas count only their pods', async ({ server }) => {
  const c = server.client;
  await c.create('ResourceQuota', 'q2', { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'be' }, spec: { hard: { pods: '1' }, scopes: ['BestEffort'] } });
  await c.create('ResourceQuota', 'q2', { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'nbe' }, spec: { hard: { pods: '1' }, scopes: ['NotBestEffort'] } });
  await quotaStatus(server, 'q2', 'be', usedIs({ pods: '0' }));
  await quotaStatus(server, 'q2', 'nbe', usedIs({ pods: '0' }));
  await c.create('Pod', 'q2', pod('be1'));
  assert.match((await createError(c.create('Pod', 'q2', pod('be2')))).message, 'pods "be2" is forbidden: exceeded quota: be, requested: pods=1');
  await c.create('Pod', 'q2', pod('burst1', { requests: { cpu: '100m' } }));
  assert.match((await createError(c.create('Pod', 'q2', pod('burst2', { requests: { cpu: '100m' } })))).message, 'exceeded quota: nbe');
  await quotaStatus(server, 'q2', 'be', usedIs({ pods: '1' }));
  await quotaStatus(server, 'q2', 'nbe', usedIs({ pods: '1' }));
});

it('concurrent creates cannot both take the last unit', async ({ server }) => {
  const c = server.client;
  await c.create('ResourceQuota', 'q3', { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'three' }, spec: { hard: { pods: '3' } } });
  await quotaStatus(server, 'q3', 'three', usedIs({ pods: '0' }));
  const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => c.create('Pod', 'q3', pod(`p${i}`))));
  assert.is(results.filter((r) => r.status === 'fulfilled').length, 3);
  for (const r of results) if (r.status === 'rejected') assert.is((r.reason as StatusError).code, 403);
  assert.is((await c.list('Pod', 'q3')).items.length, 3);
  await quotaStatus(server, 'q3', 'three', usedIs({ pods: '3' }));
});

it('LimitRange: defaults appear on created pods; min and max are enforced with upstream\'s messages', async ({ server }) => {
  const c = server.client;
  assert.is((await apply(server, 'lr', {
    apiVersion: 'v1', kind: 'LimitRange', metadata: { name: 'limits' },
    spec: { limits: [{ type: 'Container', default: { cpu: '500m', memory: '256Mi' }, defaultRequest: { cpu: '100m' }, max: { cpu: '1' }, min: { memory: '64Mi' } }] },
  })).code, 0);
  const lr = JSON.parse((await kubectl(server, ['get', 'limitrange', 'limits', '-n', 'lr', '-o', 'json'])).stdout) as { spec: { limits: Record<string, unknown>[] } };
  assert.equal(lr.spec.limits[0]!['defaultRequest'], { cpu: '100m', memory: '256Mi' }, 'defaultRequest defaulted from default');

  assert.is((await apply(server, 'lr', pod('plain'))).code, 0);
  const created = await c.get<Pod>('Pod', 'lr', 'plain');
  assert.equal(created.spec.containers[0]!.resources, { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '100m', memory: '256Mi' } });
  assert.is(created.metadata.annotations?.['kubernetes.io/limit-ranger'], 'LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c');
  assert.is(created.status?.qosClass, 'Burstable');

  const big = await apply(server, 'lr', pod('big', { limits: { cpu: '2' } }));
  assert.match(big.stderr, 'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2');
  const small = await createError(c.create('Pod', 'lr', pod('small', { requests: { memory: '32Mi' } })));
  assert.is(small.code, 403);
  assert.is(small.message, 'pods "small" is forbidden: minimum memory usage per Container is 64Mi, but request is 32Mi');
});

it.run();
