/**
 * The agent's kubelet endpoint serves `/metrics` (Prometheus text a strict parser accepts, kubelet's
 * names, counters that move) and `/stats/summary` (resource usage read from /proc), to the API server
 * with the node's endpoint secret and to any API token allowed `get` on this node's `nodes/metrics` or
 * `nodes/stats`, checked with TokenReview and SubjectAccessReview as upstream's kubelet does.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { request } from 'node:https';
import { join } from 'node:path';
import { TokenStore } from '../../server/auth/tokens.js';
import { AgentProcess } from '../support/agent-process.js';
import { parseExposition, value } from '../support/prom-text.js';
import { ServerProcess } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

interface Ctx { server: ServerProcess; agent: AgentProcess; viewer: string; scraper: string }
const it = suite<Ctx>('agent /metrics and /stats/summary');

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'] });
  ctx.agent = await AgentProcess.start(ctx.server, { nodeName: 'metrics-node' });
  // Made before the tests run: the server notices new tokens within a second.
  const tokens = new TokenStore(join(ctx.server.dataDir, 'server', 'tokens.json'));
  ctx.viewer = tokens.create('viewer').token;
  ctx.scraper = tokens.create('user', { user: 'prometheus' }).token;
});

it.after(async (ctx) => {
  await ctx.agent?.destroy();
  await ctx.server?.destroy();
});

function get(agent: AgentProcess, path: string, token: string | undefined): Promise<{ status: number; text: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port: agent.kubeletPort, path, method: 'GET', ca: agent.kubeletCertPem, checkServerIdentity: () => undefined,
      headers: token !== undefined ? { authorization: `Bearer ${token}` } : {},
    }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, type: String(res.headers['content-type'] ?? '') }));
    });
    req.on('error', reject);
    req.end();
  });
}

it('the server\'s endpoint secret reads strict Prometheus text with kubelet\'s names; ctr calls are timed', async ({ agent }) => {
  // The kubelet endpoint answers before the agent first asks containerd for its version: wait for that.
  const res = await waitUntil('the agent tried containerd', async () => {
    const r = await get(agent, '/metrics', agent.kubeletToken);
    const samples = r.status === 200 ? parseExposition(r.text).samples : [];
    return samples.some((s) => s.name === 'kubelet_runtime_operations_errors_total' && s.labels['operation_type'] === 'version' && s.value > 0) ? r : undefined;
  }, 10_000, 200);
  assert.is(res.status, 200, res.text);
  assert.match(res.type, /^text\/plain; version=0\.0\.4/);
  const m = parseExposition(res.text);
  for (const [name, type] of Object.entries({
    kubelet_pod_start_duration_seconds: 'histogram', kubelet_runtime_operations_duration_seconds: 'histogram',
    kubelet_runtime_operations_errors_total: 'counter', kubelet_running_pods: 'gauge', kubelet_running_containers: 'gauge',
    kubeproxy_sync_proxy_rules_duration_seconds: 'histogram', workqueue_depth: 'gauge', workqueue_adds_total: 'counter',
    workqueue_work_duration_seconds: 'histogram', process_cpu_seconds_total: 'counter', process_resident_memory_bytes: 'gauge',
    nodejs_eventloop_lag_seconds: 'gauge',
  })) assert.is(m.types.get(name), type, name);
  assert.is(value(m.samples, 'kubelet_running_pods', {}), 0);
  // The agent's containerd socket does not exist: every version call it tries fails, and is counted.
  const failed = value(m.samples, 'kubelet_runtime_operations_errors_total', { operation_type: 'version' });
  assert.ok(failed >= 1, `failed version calls: ${failed}`);
  assert.ok(value(m.samples, 'kubelet_runtime_operations_duration_seconds_count', { operation_type: 'version' }) >= failed);
  // The node registration loop has a named work queue that does work (its first key may come a moment
  // after the agent answers, on a loaded machine).
  let later = m;
  await waitUntil('some agent work queue took keys', async () => {
    later = parseExposition((await get(agent, '/metrics', agent.kubeletToken)).text);
    return later.samples.some((s) => s.name === 'workqueue_adds_total' && s.value > 0);
  }, 10_000, 200);
  assert.ok(value(later.samples, 'process_cpu_seconds_total', {}) > 0);
});

it('API tokens: cluster-admin and a user granted nodes/metrics may read, a viewer is 403, garbage and none are 401', async ({ server, agent, viewer, scraper }) => {
  assert.is((await get(agent, '/metrics', server.token)).status, 200);
  assert.is((await get(agent, '/metrics', undefined)).status, 401);
  assert.is((await get(agent, '/metrics', 'abc.def')).status, 401);
  const refused = await waitUntil('the viewer token to be known', async () => {
    const r = await get(agent, '/metrics', viewer);
    return r.status === 401 ? undefined : r;
  }, 10_000);
  assert.is(refused.status, 403);
  assert.match(refused.text, /nodes\/metrics/);
  assert.not.match(refused.text, /kubelet_/);

  // Upstream's way to let a Prometheus scrape kubelets: a ClusterRole with get on nodes/metrics.
  await server.client.create('ClusterRole', undefined, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'node-metrics-reader' },
    rules: [{ apiGroups: [''], resources: ['nodes/metrics'], verbs: ['get'] }],
  });
  await server.client.create('ClusterRoleBinding', undefined, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'prometheus-node-metrics' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'node-metrics-reader' },
    subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'prometheus' }],
  });
  // A refusal is remembered for 10 s at most, so the new binding works within that.
  const allowed = await waitUntil('the binding to reach the agent', async () => {
    const r = await get(agent, '/metrics', scraper);
    return r.status === 200 ? r : undefined;
  }, 20_000, 500);
  assert.ok(parseExposition(allowed.text).types.has('kubelet_running_pods'));
  // nodes/metrics is not nodes/stats.
  assert.is((await get(agent, '/stats/summary', scraper)).status, 403);
});

it('/stats/summary: the node\'s CPU time and memory from /proc, and a CPU rate from the second reading on', async ({ agent }) => {
  const first = await get(agent, '/stats/summary', agent.kubeletToken);
  assert.is(first.status, 200, first.text);
  assert.match(first.type, /^application\/json/);
  const a = JSON.parse(first.text) as { node: { nodeName: string; cpu: { usageCoreNanoSeconds: number; usageNanoCores?: number }; memory: { workingSetBytes: number; availableBytes: number } }; pods: unknown[] };
  assert.is(a.node.nodeName, 'metrics-node');
  assert.ok(a.node.cpu.usageCoreNanoSeconds > 0);
  assert.ok(a.node.memory.workingSetBytes > 0 && a.node.memory.availableBytes > 0);
  assert.equal(a.pods, []);
  const second = JSON.parse((await get(agent, '/stats/summary', agent.kubeletToken)).text) as typeof a;
  assert.ok(second.node.cpu.usageCoreNanoSeconds >= a.node.cpu.usageCoreNanoSeconds);
  assert.type(second.node.cpu.usageNanoCores, 'number');
});

it.run();
