/**
 * The server's `/metrics`: Prometheus text a strict parser accepts, upstream's metric names, request
 * counters that move with requests, open watches, store latency, controller workqueues and scheduler
 * attempts that move with what happens, and access through the authorizer chain (no token 401, a viewer 403).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { HttpsTransport } from '../../api/client/transport.js';
import { TokenStore } from '../../server/auth/tokens.js';
import { ServerProcess } from '../support/server-process.js';
import { parseExposition, value } from '../support/prom-text.js';
import { waitUntil } from '../support/wait.js';

interface Ctx { server: ServerProcess; viewer: string }
const it = suite<Ctx>('server /metrics');

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start();
  ctx.viewer = new TokenStore(join(ctx.server.dataDir, 'server', 'tokens.json')).create('viewer').token;
});

it.after(async (ctx) => {
  await ctx.server?.destroy();
});

async function scrape(server: ServerProcess): Promise<ReturnType<typeof parseExposition>> {
  const res = await get(server, '/metrics', server.token);
  assert.is(res.status, 200, res.text);
  return parseExposition(res.text);
}

async function get(server: ServerProcess, path: string, token: string | undefined): Promise<{ status: number; text: string; type: string }> {
  const http = new HttpsTransport({ server: server.url, caPem: server.caPem, ...(token !== undefined ? { token } : {}) });
  try {
    const res = await http.request({ method: 'GET', path });
    return { status: res.status, text: await res.text(), type: res.headers['content-type'] ?? '' };
  } finally {
    http.close();
  }
}

it('admin reads strict Prometheus text with upstream names; counters move with requests', async (ctx) => {
  const before = await get(ctx.server, '/metrics', ctx.server.token);
  assert.is(before.status, 200, before.text);
  assert.match(before.type, /^text\/plain; version=0\.0\.4/);
  const first = parseExposition(before.text);
  assert.is(first.types.get('apiserver_request_total'), 'counter');
  assert.is(first.types.get('apiserver_request_duration_seconds'), 'histogram');
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds']) {
    assert.ok(first.types.has(name), `${name} missing`);
  }
  const listPods = { verb: 'LIST', resource: 'pods', group: '', version: 'v1', scope: 'namespace', code: '200' };
  const getMissing = { verb: 'GET', resource: 'configmaps', code: '404' };
  const countBefore = value(first.samples, 'apiserver_request_total', listPods);
  const missingBefore = value(first.samples, 'apiserver_request_total', getMissing);
  for (let i = 0; i < 3; i++) assert.is((await get(ctx.server, '/api/v1/namespaces/default/pods', ctx.server.token)).status, 200);
  assert.is((await get(ctx.server, '/api/v1/namespaces/default/configmaps/nope', ctx.server.token)).status, 404);

  const after = parseExposition((await get(ctx.server, '/metrics', ctx.server.token)).text);
  assert.is(value(after.samples, 'apiserver_request_total', listPods), countBefore + 3);
  assert.is(value(after.samples, 'apiserver_request_total', getMissing), missingBefore + 1);
  const observed = value(after.samples, 'apiserver_request_duration_seconds_count', { verb: 'LIST', resource: 'pods' });
  assert.ok(observed >= 3, `LIST pods latency observations: ${observed}`);
  const inf = value(after.samples, 'apiserver_request_duration_seconds_bucket', { verb: 'LIST', resource: 'pods', le: '+Inf' });
  assert.is(inf, observed);
});

it('open watches, store operations, workqueues and scheduling attempts show with upstream names', async (ctx) => {
  const first = await scrape(ctx.server);
  for (const [name, type] of Object.entries({
    apiserver_longrunning_requests: 'gauge', etcd_request_duration_seconds: 'histogram', workqueue_depth: 'gauge',
    workqueue_adds_total: 'counter', workqueue_queue_duration_seconds: 'histogram', workqueue_work_duration_seconds: 'histogram',
    workqueue_retries_total: 'counter', scheduler_schedule_attempts_total: 'counter', scheduler_scheduling_attempt_duration_seconds: 'histogram',
  })) assert.is(first.types.get(name), type, name);
  const watchLabels = { verb: 'WATCH', resource: 'configmaps', scope: 'namespace', component: 'apiserver' };
  const watchesBefore = value(first.samples, 'apiserver_longrunning_requests', watchLabels);

  // An open watch is counted while it is open, and no longer once the client goes.
  const http = new HttpsTransport({ server: ctx.server.url, caPem: ctx.server.caPem, token: ctx.server.token });
  const stop = new AbortController();
  const watch = await http.request({ method: 'GET', path: '/api/v1/namespaces/default/configmaps?watch=true', signal: stop.signal });
  assert.is(watch.status, 200);
  const open = await scrape(ctx.server);
  assert.is(value(open.samples, 'apiserver_longrunning_requests', watchLabels), watchesBefore + 1);
  stop.abort();
  http.close();
  await waitUntil('the watch to be counted as closed', async () =>
    value((await scrape(ctx.server)).samples, 'apiserver_longrunning_requests', watchLabels) === watchesBefore, 10_000);

  // A create is one timed store operation under the resource's key prefix (a kind no controller writes).
  const creates = { operation: 'create', type: '/registry/core/podtemplates/' };
  const createsBefore = value(first.samples, 'etcd_request_duration_seconds_count', creates);
  await ctx.server.client.create('PodTemplate', 'default', {
    apiVersion: 'v1', kind: 'PodTemplate', metadata: { name: 'metrics-probe' }, template: { spec: { containers: [{ name: 'c', image: 'busybox' }] } },
  });
  const created = await scrape(ctx.server);
  assert.is(value(created.samples, 'etcd_request_duration_seconds_count', creates), createsBefore + 1);
  assert.is(value(created.samples, 'etcd_request_duration_seconds_bucket', { ...creates, le: '+Inf' }), createsBefore + 1);

  // A Deployment goes through the deployment controller's queue; a pod that fits nowhere is one
  // unschedulable attempt (there are no nodes).
  const adds = { name: 'deployment-controller' };
  const addsBefore = value(created.samples, 'workqueue_adds_total', adds);
  const unschedulable = { result: 'unschedulable', profile: 'default-scheduler' };
  const attemptsBefore = value(created.samples, 'scheduler_schedule_attempts_total', unschedulable);
  await ctx.server.client.create('Deployment', 'default', {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'metrics-probe' },
    spec: { replicas: 1, selector: { matchLabels: { app: 'metrics-probe' } }, template: { metadata: { labels: { app: 'metrics-probe' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
  });
  const after = await waitUntil('the deployment to be worked and its pod tried', async () => {
    const m = await scrape(ctx.server);
    const attempted = value(m.samples, 'scheduler_schedule_attempts_total', unschedulable) > attemptsBefore;
    return attempted && value(m.samples, 'workqueue_work_duration_seconds_count', adds) > 0 ? m : undefined;
  }, 20_000);
  assert.ok(value(after.samples, 'workqueue_adds_total', adds) > addsBefore);
  assert.ok(value(after.samples, 'workqueue_queue_duration_seconds_count', adds) > 0);
  assert.ok(after.samples.some((s) => s.name === 'workqueue_depth' && s.labels['name'] === 'scheduler'), 'the scheduler queue has a depth');
  assert.ok(value(after.samples, 'scheduler_scheduling_attempt_duration_seconds_count', unschedulable) > attemptsBefore);
});

it('no token is 401, a viewer is 403 (the authorizer chain decides, as for any non-resource URL)', async (ctx) => {
  const anon = await get(ctx.server, '/metrics', undefined);
  assert.is(anon.status, 401);
  const viewer = await get(ctx.server, '/metrics', ctx.viewer);
  assert.is(viewer.status, 403);
  assert.match(viewer.text, /forbidden/i);
  assert.not.match(viewer.text, /apiserver_request_total/);
  // The refusals are counted with their codes.
  const text = (await get(ctx.server, '/metrics', ctx.server.token)).text;
  const { samples } = parseExposition(text);
  assert.ok(value(samples, 'apiserver_request_total', { verb: 'GET', code: '403' }) >= 1);
  assert.ok(value(samples, 'apiserver_request_total', { verb: 'GET', code: '401' }) >= 1);
});

it('the system:monitoring group may read /metrics through the default RBAC policy, others may not', async (ctx) => {
  const as = async (groups: string[]): Promise<number> => {
    const http = new HttpsTransport({ server: ctx.server.url, caPem: ctx.server.caPem, token: ctx.server.token });
    try {
      const headers: Record<string, string> = { 'impersonate-user': 'prometheus' };
      if (groups.length > 0) headers['impersonate-group'] = groups.join(',');
      const res = await http.request({ method: 'GET', path: '/metrics', headers });
      await res.text();
      return res.status;
    } finally {
      http.close();
    }
  };
  assert.is(await as(['system:monitoring']), 200);
  assert.is(await as([]), 403);
});

it.run();
