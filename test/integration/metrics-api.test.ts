/**
 * metrics.k8s.io/v1beta1 as kubectl v1.32 uses it: in discovery, NodeMetrics from an agent's readings
 * (collected by the server every second here), `kubectl top nodes` printing the node, read-only verbs,
 * RBAC (metrics-server's aggregated reader role, aggregated into view; a user without roles may not
 * read), and the status page's usage history for the same node. Pods' usage with real containers:
 * test/lab/top.test.ts. Without controllers, so the agent gets no pod CIDR and touches no network
 * configuration of the machine (see test/support/agent-process.ts).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { sleep } from '../../api/async-util.js';
import { HttpsTransport } from '../../api/client/transport.js';
import { TokenStore } from '../../server/auth/tokens.js';
import { AgentProcess } from '../support/agent-process.js';
import { kubectl, ServerProcess } from '../support/server-process.js';
import { NodeHttpsAgents } from '../../server/apiserver/node-https-agents.js';
import { KUBELET_CREDENTIALS_NAMESPACE, kubeletCredentialsSecretName } from '../../api/node-identity.js';
import type { Secret } from '../../api/types.js';
import { waitUntil } from '../support/wait.js';

interface Ctx { server: ServerProcess; agent: AgentProcess; reader: string; nobody: string }
const it = suite<Ctx>('metrics.k8s.io');
const NODE = 'top-node';

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'], env: { CORRAL_METRICS_RESOLUTION_SECONDS: '1' } });
  ctx.agent = await AgentProcess.start(ctx.server, { nodeName: NODE });
  const tokens = new TokenStore(join(ctx.server.dataDir, 'server', 'tokens.json'));
  ctx.reader = tokens.create('user', { user: 'metrics-reader' }).token;
  ctx.nobody = tokens.create('user', { user: 'nobody' }).token;
});

it.after(async (ctx) => {
  await ctx.agent?.destroy();
  await ctx.server?.destroy();
});

async function call(server: ServerProcess, method: string, path: string, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const http = new HttpsTransport({ server: server.url, caPem: server.caPem, token });
  try {
    const res = await http.request({ method, path, headers: { accept: 'application/json' }, ...(method === 'GET' ? {} : { body: '{}' }) });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
  } finally {
    http.close();
  }
}

it('discovery lists metrics.k8s.io/v1beta1 with nodes and pods, get and list only', async ({ server }) => {
  const res = await kubectl(server, ['api-resources', '--api-group=metrics.k8s.io', '-o', 'wide']);
  assert.is(res.code, 0, res.stderr);
  assert.match(res.stdout, /^nodes\s+metrics\.k8s\.io\/v1beta1\s+false\s+NodeMetrics\s+get,list/m);
  assert.match(res.stdout, /^pods\s+metrics\.k8s\.io\/v1beta1\s+true\s+PodMetrics\s+get,list/m);
});

it('kubectl top nodes shows the agent\'s node with its CPU and memory', async ({ server }) => {
  const top = await waitUntil('kubectl top nodes to show the node', async () => {
    const r = await kubectl(server, ['top', 'nodes', '--no-headers']);
    return r.code === 0 && r.stdout.includes(NODE) ? r.stdout : undefined;
  }, 30_000, 500);
  // NAME  CPU(cores)  CPU%  MEMORY(bytes)  MEMORY%
  const row = top.split('\n').find((l) => l.startsWith(NODE))!.trim().split(/\s+/);
  assert.match(row[1]!, /^\d+m$/, top);
  assert.match(row[3]!, /^\d+Mi$/, top);
  assert.ok(Number(row[3]!.replace('Mi', '')) > 0, top);

  const one = await call(server, 'GET', `/apis/metrics.k8s.io/v1beta1/nodes/${NODE}`, server.token);
  assert.is(one.status, 200);
  assert.is(one.body['kind'], 'NodeMetrics');
  assert.match(String((one.body['usage'] as Record<string, string>)['cpu']), /^\d+n$/);
  assert.match(String((one.body['usage'] as Record<string, string>)['memory']), /^\d+Ki$/);
  assert.match(String(one.body['window']), /^\d+s$/);
  const labelled = await kubectl(server, ['get', '--raw', `/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=kubernetes.io/hostname%3D${NODE}`]);
  assert.is((JSON.parse(labelled.stdout) as { items: unknown[] }).items.length, 1, labelled.stdout);
  const none = await kubectl(server, ['get', '--raw', '/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=absent%3Dlabel']);
  assert.is((JSON.parse(none.stdout) as { items: unknown[] }).items.length, 0);
});

it('read-only: writes are 405, a missing node is 404 with upstream\'s message', async ({ server }) => {
  const post = await call(server, 'POST', '/apis/metrics.k8s.io/v1beta1/nodes', server.token);
  assert.is(post.status, 405);
  assert.is(post.body['reason'], 'MethodNotAllowed');
  const del = await call(server, 'DELETE', `/apis/metrics.k8s.io/v1beta1/nodes/${NODE}`, server.token);
  assert.is(del.status, 405);
  const missing = await call(server, 'GET', '/apis/metrics.k8s.io/v1beta1/nodes/nope', server.token);
  assert.is(missing.status, 404);
  assert.is(missing.body['message'], 'nodes.metrics.k8s.io "nope" not found');
  const pods = await call(server, 'GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods', server.token);
  assert.is(pods.status, 200);
  assert.is(pods.body['kind'], 'PodMetricsList');
});

it('RBAC: system:aggregated-metrics-reader (aggregated into view, edit, admin) lets read; a user without roles gets 403', async ({ server, reader, nobody }) => {
  const role = await server.client.get('ClusterRole', undefined, 'system:aggregated-metrics-reader');
  for (const to of ['view', 'edit', 'admin']) assert.is(role.metadata.labels?.[`rbac.authorization.k8s.io/aggregate-to-${to}`], 'true', to);
  await server.client.create('ClusterRoleBinding', undefined, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'metrics-reader' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:aggregated-metrics-reader' },
    subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'metrics-reader' }],
  });
  await waitUntil('the reader to read node metrics', async () =>
    (await call(server, 'GET', '/apis/metrics.k8s.io/v1beta1/nodes', reader)).status === 200, 15_000, 300);
  assert.is((await call(server, 'GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods', reader)).status, 200);
  const refused = await call(server, 'GET', '/apis/metrics.k8s.io/v1beta1/nodes', nobody);
  assert.is(refused.status, 403);
  assert.match(String(refused.body['message']), /cannot list resource "nodes" in API group "metrics.k8s.io"/);
});

it('the status page\'s usage history: points for the node, to whom may list node metrics; 403 to others, 401 without a token', async ({ server, reader, nobody }) => {
  const refused = new HttpsTransport({ server: server.url, caPem: server.caPem, token: nobody });
  try {
    assert.is((await refused.request({ method: 'GET', path: '/ui/usage' })).status, 403);
  } finally {
    refused.close();
  }
  const http = new HttpsTransport({ server: server.url, caPem: server.caPem, token: reader });
  try {
    const res = await http.request({ method: 'GET', path: '/ui/usage' });
    assert.is(res.status, 200);
    const body = JSON.parse(await res.text()) as { intervalSeconds: number; nodes: Record<string, [number, number, number][]> };
    assert.is(body.intervalSeconds, 1);
    const points = body.nodes[NODE] ?? [];
    assert.ok(points.length >= 1, JSON.stringify(body));
    const [t, cpu, memory] = points.at(-1)!;
    assert.ok(Math.abs(Date.now() - t) < 60_000 && cpu >= 0 && memory > 0, JSON.stringify(points.at(-1)));
  } finally {
    http.close();
  }
  const anon = new HttpsTransport({ server: server.url, caPem: server.caPem });
  try {
    assert.is((await anon.request({ method: 'GET', path: '/ui/usage' })).status, 401);
  } finally {
    anon.close();
  }
});

it('a scrape\'s connection to the agent stays open between scrapes on both ends, past Node\'s 5 s defaults', async ({ server, agent }) => {
  // As the server's scrape makes it (NodeHttpsAgents), to the agent's kubelet port, 7 s apart.
  const got = await kubectl(server, ['get', 'secret', '-n', KUBELET_CREDENTIALS_NAMESPACE, kubeletCredentialsSecretName(NODE), '-o', 'json']);
  assert.is(got.code, 0, got.stderr);
  const secret = JSON.parse(got.stdout) as Secret;
  const endpoint = { host: '127.0.0.1', port: agent.kubeletPort, certPem: Buffer.from(String(secret.data?.['tls.crt']), 'base64').toString('utf8') };
  const agents = new NodeHttpsAgents();
  const get = (): Promise<{ status: number | undefined; reused: boolean }> => new Promise((resolve, reject) => {
    const req = httpsRequest({ ...endpoint, path: '/stats/summary', agent: agents.agentFor(NODE, endpoint) }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
  try {
    const first = await get();
    assert.is(first.status, 401, 'no token: refused, on a kept-alive connection');
    assert.not.ok(first.reused);
    await sleep(7_000);
    assert.equal(await get(), { status: 401, reused: true }, 'the second request went over the first one\'s connection');
  } finally {
    agents.destroy();
  }
});

it.run();
