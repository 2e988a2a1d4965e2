/**
 * The scheduler loop inside a real `corral server`, placing pods on hollow nodes: spreading, taints,
 * nodeSelector, resources, and an unschedulable pod that reports why (FailedScheduling event,
 * PodScheduled=False) and is placed as soon as a node that fits appears.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Event, Pod } from '../../api/types.js';
import { HollowNode } from '../support/hollow-node.js';
import { ServerProcess } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

const it = suite<{ server: ServerProcess; nodes: HollowNode[] }>('scheduler');

const waitFor = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> => waitUntil(what, fn, timeoutMs);

function pod(name: string, o: { labels?: Record<string, string>; cpu?: string; nodeSelector?: Record<string, string>; tolerateInfra?: boolean } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: o.labels ?? { app: name } },
    spec: {
      containers: [{ name: 'c', image: 'nginx', ...(o.cpu ? { resources: { requests: { cpu: o.cpu, memory: '64Mi' } } } : {}) }],
      ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
      ...(o.tolerateInfra ? { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'infra', effect: 'NoSchedule' }] } : {}),
    },
  };
}

async function boundNode(server: ServerProcess, name: string): Promise<string> {
  return waitFor(`pod ${name} to be bound`, async () => (await server.client.get<Pod>('Pod', 'default', name)).spec.nodeName);
}

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start();
  const capacity = { cpu: '2', memory: '4Gi', pods: 20 };
  ctx.nodes = [
    await HollowNode.start(ctx.server.client, { name: 'n1', capacity }),
    await HollowNode.start(ctx.server.client, { name: 'n2', capacity, labels: { disk: 'ssd' } }),
    await HollowNode.start(ctx.server.client, { name: 'n3', capacity, taints: [{ key: 'dedicated', value: 'infra', effect: 'NoSchedule' }] }),
  ];
});

it.after(async (ctx) => {
  for (const n of ctx.nodes ?? []) n.stop();
  await ctx.server?.destroy();
});

it('spreads pods of one app over the untainted nodes and reports them Running', async ({ server }) => {
  const names = Array.from({ length: 6 }, (_, i) => `spread-${i}`);
  await Promise.all(names.map((n) => server.client.create('Pod', 'default', pod(n, { labels: { app: 'spread' }, cpu: '100m' }))));
  const placed = await Promise.all(names.map((n) => boundNode(server, n)));
  const perNode = new Map<string, number>();
  for (const n of placed) perNode.set(n, (perNode.get(n) ?? 0) + 1);
  assert.equal([...perNode.keys()].sort(), ['n1', 'n2'], `placements: ${placed.join(',')}`);
  assert.is(perNode.get('n1'), 3);
  assert.is(perNode.get('n2'), 3);
  const running = await waitFor('pods running and ready', async () => {
    const list = await server.client.list<Pod>('Pod', 'default', { labelSelector: 'app=spread' });
    return list.items.every((p) => p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) && list.items;
  });
  assert.ok(running.every((p) => p.status?.podIP && p.status.hostIP));
  const events = await waitFor('Scheduled event', async () => {
    const list = await server.client.list<Event>('Event', 'default', { fieldSelector: 'involvedObject.name=spread-0' });
    return list.items.find((e) => e.reason === 'Scheduled');
  });
  assert.is(events.type, 'Normal');
  assert.is(events.message, `Successfully assigned default/spread-0 to ${placed[0]}`);
  assert.is(events.source?.component, 'default-scheduler');
  assert.is(events.involvedObject.kind, 'Pod');
});

it('honours nodeSelector and tolerations', async ({ server }) => {
  await server.client.create('Pod', 'default', pod('ssd', { nodeSelector: { disk: 'ssd' } }));
  await server.client.create('Pod', 'default', pod('infra', { nodeSelector: { 'kubernetes.io/hostname': 'n3' }, tolerateInfra: true }));
  assert.is(await boundNode(server, 'ssd'), 'n2');
  assert.is(await boundNode(server, 'infra'), 'n3');
});

it('reports an unschedulable pod and places it as soon as a node fits', async ({ server, nodes }) => {
  await server.client.create('Pod', 'default', pod('big', { cpu: '3' }));
  const expected = '0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: infra}, 2 Insufficient cpu. ' +
    'preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.';
  const event = await waitFor('FailedScheduling event', async () => {
    const list = await server.client.list<Event>('Event', 'default', { fieldSelector: 'involvedObject.name=big' });
    return list.items.find((e) => e.reason === 'FailedScheduling');
  });
  assert.is(event.type, 'Warning');
  assert.is(event.message, expected);
  const cond = await waitFor('PodScheduled=False', async () => {
    const p = await server.client.get<Pod>('Pod', 'default', 'big');
    return p.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  });
  assert.is(cond.reason, 'Unschedulable');
  assert.is(cond.message, expected);

  // Not retried in a busy loop: a few seconds later the event count stays small.
  await new Promise((r) => setTimeout(r, 2000));
  const again = (await server.client.list<Event>('Event', 'default', { fieldSelector: 'involvedObject.name=big' })).items.filter((e) => e.reason === 'FailedScheduling');
  assert.is(again.length, 1, 'one aggregated event');
  assert.ok((again[0]!.count ?? 1) <= 3, `count ${again[0]!.count}`);

  const started = Date.now();
  nodes.push(await HollowNode.start(server.client, { name: 'n4', capacity: { cpu: '4', memory: '8Gi', pods: 20 } }));
  assert.is(await boundNode(server, 'big'), 'n4');
  const ms = Date.now() - started;
  console.log(`  unschedulable pod placed ${ms} ms after a fitting node registered`);
  assert.ok(ms < 5000, `took ${ms} ms`);
});

it('keeps resources honest across a burst: no node is over-committed', async ({ server }) => {
  // n1 and n2 have 2 CPUs with 0.3 in use each; 1-CPU pods: one more fits on each, n4 (4 CPU, 3 in use) takes one.
  const names = Array.from({ length: 5 }, (_, i) => `cpu-${i}`);
  await Promise.all(names.map((n) => server.client.create('Pod', 'default', pod(n, { cpu: '1' }))));
  const bound = await waitFor('three placements', async () => {
    const pods = await Promise.all(names.map((n) => server.client.get<Pod>('Pod', 'default', n)));
    const b = pods.filter((p) => p.spec.nodeName);
    return b.length >= 3 && b;
  });
  await new Promise((r) => setTimeout(r, 1000));
  const pods = await Promise.all(names.map((n) => server.client.get<Pod>('Pod', 'default', n)));
  const placed = pods.filter((p) => p.spec.nodeName).map((p) => p.spec.nodeName!).sort();
  assert.equal(placed, ['n1', 'n2', 'n4'], `placed: ${placed.join(',')} (first seen ${bound.length})`);
  const pending = pods.filter((p) => !p.spec.nodeName);
  assert.is(pending.length, 2);
  for (const p of pending) {
    assert.ok(p.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable' && c.message?.includes('Insufficient cpu')));
  }
  // Freeing capacity (a pod deleted) lets a waiting pod in.
  await server.client.delete('Pod', 'default', pods.find((p) => p.spec.nodeName === 'n4')!.metadata.name!, { gracePeriodSeconds: 0 });
  await waitFor('a waiting pod placed on n4', async () => {
    const now = await Promise.all(pending.map((p) => server.client.get<Pod>('Pod', 'default', p.metadata.name!)));
    return now.some((p) => p.spec.nodeName === 'n4');
  });
});

it.run();
