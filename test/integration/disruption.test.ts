/**
 * PodDisruptionBudgets inside a real `corral server` with hollow nodes: the disruption controller
 * computes status from a Deployment's pods, the eviction subresource spends the budget atomically
 * (one eviction passes, the next gets 429, concurrent ones cannot both pass), `kubectl drain`
 * evicts as the budget allows and finishes once replacements are Ready elsewhere, maxUnavailable 0
 * blocks, deleting the budget unblocks, and percentages use the owners' replicas; and, with controllers
 * disabled, an uncomputed or stale budget status makes eviction ask for a retry.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StatusError } from '../../api/status.js';
import type { Pod, PodDisruptionBudget } from '../../api/types.js';
import { HollowNode } from '../support/hollow-node.js';
import { kubectl, ServerProcess } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

const it = suite<{ server: ServerProcess; nodes: HollowNode[] }>('disruption');

const BUDGET_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget";

function isReady(p: Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

async function activeWebPods(server: ServerProcess): Promise<Pod[]> {
  const list = await server.client.list<Pod>('Pod', 'default', { labelSelector: 'app=web' });
  return list.items.filter((p) => !p.metadata.deletionTimestamp);
}

/** Waits for 3 Ready, non-terminating web pods. */
function threeReady(server: ServerProcess): Promise<Pod[]> {
  return waitUntil('3 ready web pods', async () => {
    const pods = await activeWebPods(server);
    return pods.length === 3 && pods.every(isReady) && pods;
  }, 20_000);
}

/** Waits for a budget whose status (for its current generation) satisfies `ok`. */
function budgetStatus(server: ServerProcess, name: string, ok: (s: NonNullable<PodDisruptionBudget['status']>) => boolean): Promise<PodDisruptionBudget> {
  return waitUntil(`status of PDB ${name}`, async () => {
    const pdb = await server.client.get<PodDisruptionBudget>('PodDisruptionBudget', 'default', name);
    const s = pdb.status;
    return s !== undefined && s.observedGeneration === pdb.metadata.generation && ok(s) && pdb;
  }, 15_000);
}

/** POST pods/<name>/eviction; the HTTP code it answered (201, or the error's). */
async function evict(server: ServerProcess, name: string): Promise<{ code: number; message: string }> {
  try {
    await server.client.call('POST', `/api/v1/namespaces/default/pods/${name}/eviction`, {
      apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: 'default' },
    });
    return { code: 201, message: '' };
  } catch (err) {
    if (err instanceof StatusError) return { code: err.code, message: err.message };
    throw err;
  }
}

function createBudget(server: ServerProcess, name: string, spec: Record<string, unknown>): Promise<PodDisruptionBudget> {
  return server.client.create<PodDisruptionBudget>('PodDisruptionBudget', 'default', {
    apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name, namespace: 'default' }, spec,
  });
}

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start();
  ctx.nodes = [];
  // Two nodes for three pods: one of them holds at least two, so draining it needs the budget twice.
  for (const name of ['d1', 'd2']) {
    ctx.nodes.push(await HollowNode.start(ctx.server.client, { name, capacity: { cpu: '8', memory: '16Gi', pods: 50 }, readyDelayMs: 200 }));
  }
  await ctx.server.client.create('Deployment', 'default', {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default' },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } },
    },
  });
  await threeReady(ctx.server);
});

it.after(async (ctx) => {
  for (const n of ctx.nodes ?? []) n.stop();
  await ctx.server?.destroy();
});

it('minAvailable 2 over 3 ready pods allows one disruption', async ({ server }) => {
  await createBudget(server, 'web', { minAvailable: 2, selector: { matchLabels: { app: 'web' } } });
  const pdb = await budgetStatus(server, 'web', (s) => s.disruptionsAllowed === 1);
  assert.is(pdb.status!.expectedPods, 3);
  assert.is(pdb.status!.currentHealthy, 3);
  assert.is(pdb.status!.desiredHealthy, 2);
  const cond = pdb.status!.conditions?.find((c) => c.type === 'DisruptionAllowed');
  assert.is(cond?.status, 'True');
  assert.is(cond?.reason, 'SufficientPods');
});

it('one eviction spends the budget: the next immediate one gets 429', async ({ server }) => {
  const [a, b] = await threeReady(server);
  assert.is((await evict(server, a!.metadata.name!)).code, 201);
  const second = await evict(server, b!.metadata.name!);
  assert.is(second.code, 429);
  assert.match(second.message, BUDGET_MESSAGE);
  const pdb = await server.client.get<PodDisruptionBudget>('PodDisruptionBudget', 'default', 'web');
  assert.is(pdb.status!.disruptionsAllowed, 0);
  assert.ok((await server.client.tryGet<Pod>('Pod', 'default', b!.metadata.name!)) !== undefined, 'the refused pod is still there');
});

it('two concurrent evictions cannot both spend the last disruption', async ({ server }) => {
  const pods = await threeReady(server);
  await budgetStatus(server, 'web', (s) => s.disruptionsAllowed === 1 && s.currentHealthy === 3);
  const results = await Promise.all([evict(server, pods[0]!.metadata.name!), evict(server, pods[1]!.metadata.name!)]);
  const codes = results.map((r) => r.code).sort();
  assert.equal(codes, [201, 429]);
});

it('kubectl drain evicts as the budget allows and finishes once replacements are Ready', async ({ server }) => {
  const pods = await threeReady(server);
  await budgetStatus(server, 'web', (s) => s.disruptionsAllowed === 1 && s.currentHealthy === 3);
  const perNode = new Map<string, number>();
  for (const p of pods) perNode.set(p.spec.nodeName!, (perNode.get(p.spec.nodeName!) ?? 0) + 1);
  const [node, count] = [...perNode.entries()].sort((x, y) => y[1] - x[1])[0]!;
  assert.ok(count >= 2, `one node holds at least two web pods (${JSON.stringify([...perNode])})`);
  const r = await kubectl(server, ['drain', node, '--ignore-daemonsets', '--force', '--timeout=20s'], { timeoutMs: 30_000 });
  assert.is(r.code, 0, `drain failed: ${r.stderr}${r.stdout}`);
  // The second pod had to wait for the first one's replacement: drain met the budget and retried.
  assert.match(r.stdout + r.stderr, BUDGET_MESSAGE);
  const after = await threeReady(server);
  assert.ok(after.every((p) => p.spec.nodeName !== node), 'no web pod is left on the drained node');
  const uncordon = await kubectl(server, ['uncordon', node]);
  assert.is(uncordon.code, 0, uncordon.stderr);
});

it('maxUnavailable 0 blocks every eviction; deleting the budget unblocks', async ({ server }) => {
  await server.client.delete('PodDisruptionBudget', 'default', 'web');
  await createBudget(server, 'strict', { maxUnavailable: 0, selector: { matchLabels: { app: 'web' } } });
  const pdb = await budgetStatus(server, 'strict', (s) => s.currentHealthy === 3);
  assert.is(pdb.status!.disruptionsAllowed, 0);
  assert.is(pdb.status!.desiredHealthy, 3);
  const cond = pdb.status!.conditions?.find((c) => c.type === 'DisruptionAllowed');
  assert.is(cond?.status, 'False');
  assert.is(cond?.reason, 'InsufficientPods');
  const pods = await threeReady(server);
  const refused = await evict(server, pods[0]!.metadata.name!);
  assert.is(refused.code, 429);
  assert.match(refused.message, BUDGET_MESSAGE);
  await server.client.delete('PodDisruptionBudget', 'default', 'strict');
  assert.is((await evict(server, pods[0]!.metadata.name!)).code, 201);
});

it('an empty selector covers the namespace; a percentage counts the owner replicas', async ({ server }) => {
  await threeReady(server);
  await createBudget(server, 'all', { minAvailable: '50%', selector: {} });
  const pdb = await budgetStatus(server, 'all', (s) => s.currentHealthy === 3);
  assert.is(pdb.status!.expectedPods, 3);
  assert.is(pdb.status!.desiredHealthy, 2);
  assert.is(pdb.status!.disruptionsAllowed, 1);
  // Scaling the Deployment up raises the expected count before any new pod is Ready.
  await server.client.patch('Deployment', 'default', 'web', { spec: { replicas: 5 } }, 'merge');
  await budgetStatus(server, 'all', (s) => s.expectedPods === 5 && s.desiredHealthy === 3);
  await server.client.delete('PodDisruptionBudget', 'default', 'all');
});

it.run();

/** The eviction subresource alone (no controllers): budget statuses are written by the test. */
const api = suite<{ server: ServerProcess }>('eviction against hand-written budget status');

async function runningPod(server: ServerProcess, name: string): Promise<void> {
  const pod = await server.client.create<Pod>('Pod', 'default', {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { app: 'bare' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] },
  });
  await server.client.updateStatus('Pod', { ...pod, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } });
}

api.before(async (ctx) => {
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'] });
});

api.after(async (ctx) => {
  await ctx.server?.destroy();
});

api('a budget not yet computed for its generation asks to retry; a computed one is spent once', async ({ server }) => {
  await runningPod(server, 'b1');
  await runningPod(server, 'b2');
  const created = await createBudget(server, 'bare', { minAvailable: 1, selector: { matchLabels: { app: 'bare' } } });
  const pending = await evict(server, 'b1');
  assert.is(pending.code, 429);
  assert.match(pending.message, 'still being processed');
  await server.client.updateStatus('PodDisruptionBudget', {
    ...created,
    status: { observedGeneration: created.metadata.generation, disruptionsAllowed: 1, currentHealthy: 2, desiredHealthy: 1, expectedPods: 2 },
  });
  assert.is((await evict(server, 'b1')).code, 201);
  const spent = await server.client.get<PodDisruptionBudget>('PodDisruptionBudget', 'default', 'bare');
  assert.is(spent.status!.disruptionsAllowed, 0);
  assert.ok(spent.status!.disruptedPods?.['b1'], 'the evicted pod is recorded in disruptedPods');
  const refused = await evict(server, 'b2');
  assert.is(refused.code, 429);
  assert.match(refused.message, BUDGET_MESSAGE);
  // A spec change leaves the status one generation behind: not a refusal, a retry.
  const bumped = await server.client.patch<PodDisruptionBudget>('PodDisruptionBudget', 'default', 'bare', { spec: { minAvailable: 0 } }, 'merge');
  assert.ok(bumped.metadata.generation! > spent.status!.observedGeneration!);
  const stale = await evict(server, 'b2');
  assert.is(stale.code, 429);
  assert.match(stale.message, 'still being processed');
});

api.run();
