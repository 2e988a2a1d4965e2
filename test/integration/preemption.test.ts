/**
 * Pod priority and preemption inside a real `corral server` with a full hollow node: pending pods are
 * scheduled highest priority first; a high-priority pod that fits nowhere preempts a lower-priority
 * one (the victim gets the DisruptionTarget condition and upstream's Preempted event and is deleted,
 * the preemptor is nominated to the node and then runs there); a pod whose class says
 * preemptionPolicy Never waits instead; equal or higher priority pods are never victims.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { WatchEvent } from '../../api/meta.js';
import type { Event, Pod } from '../../api/types.js';
import { HollowNode } from '../support/hollow-node.js';
import { kubectl, ServerProcess, type KubectlResult } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

const it = suite<{ server: ServerProcess; node: HollowNode }>('preemption');

const waitFor = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> => waitUntil(what, fn, timeoutMs);

async function k(server: ServerProcess, args: string[], input?: string): Promise<KubectlResult> {
  const r = await kubectl(server, args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r;
}

function pod(name: string, priorityClassName: string, cpu: string): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { test: 'preemption' } },
    spec: { priorityClassName, containers: [{ name: 'c', image: 'nginx', resources: { requests: { cpu } } }] },
  };
}

async function eventsFor(server: ServerProcess, name: string): Promise<Event[]> {
  return (await server.client.list<Event>('Event', 'default', { fieldSelector: `involvedObject.name=${name}` })).items;
}

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start();
  ctx.node = await HollowNode.start(ctx.server.client, { name: 'full-node', capacity: { cpu: '1', memory: '4Gi', pods: 110 } });
  await k(ctx.server, ['apply', '-f', '-'], `apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: low}
value: 10
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high-polite}
value: 1000
preemptionPolicy: Never
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: top}
value: 5000
`);
});

it.after(async (ctx) => {
  ctx.node?.stop();
  await ctx.server?.destroy();
});

it('a high-priority pod preempts a low-priority one on a full node, with upstream\'s events and conditions', async ({ server, node }) => {
  const low = await server.client.create<Pod>('Pod', 'default', pod('low-1', 'low', '700m'));
  assert.is(low.spec.priority, 10);
  await waitFor('low-1 running', async () => node.pod('default', 'low-1')?.phase === 'Running');
  const seen: WatchEvent<Pod>[] = [];
  const stop = new AbortController();
  const watching = (async () => {
    for await (const ev of server.client.watch<Pod>('Pod', 'default', { signal: stop.signal, fieldSelector: 'metadata.name=low-1' })) {
      if (ev.type !== 'RESYNC') seen.push(ev);
    }
  })().catch(() => undefined);

  const high = await server.client.create<Pod>('Pod', 'default', pod('high-1', 'high', '700m'));
  assert.is(high.spec.priority, 1000);
  const running = await waitFor('high-1 running on the node', async () => {
    const p = await server.client.get<Pod>('Pod', 'default', 'high-1');
    return p.spec.nodeName === 'full-node' && p.status?.phase === 'Running' && p;
  });
  assert.is(running.status?.nominatedNodeName, 'full-node', 'the preemptor was nominated to the node');
  await waitFor('low-1 gone', async () => !(await server.client.tryGet('Pod', 'default', 'low-1')));
  stop.abort();
  await watching;
  const deleted = seen.find((e) => e.type === 'DELETED');
  assert.ok(deleted, 'the victim was deleted');
  const disruption = deleted!.object.status?.conditions?.find((c) => c.type === 'DisruptionTarget');
  assert.is(disruption?.status, 'True');
  assert.is(disruption?.reason, 'PreemptionByScheduler');
  assert.is(disruption?.message, 'default-scheduler: preempting to accommodate a higher priority pod');

  const victimEvents = await waitFor('Preempted event', async () => {
    const evs = await eventsFor(server, 'low-1');
    return evs.some((e) => e.reason === 'Preempted') && evs;
  });
  const preempted = victimEvents.find((e) => e.reason === 'Preempted')!;
  assert.is(preempted.type, 'Normal');
  assert.is(preempted.message, `Preempted by pod ${high.metadata.uid} on node full-node`);
  assert.is(preempted.source?.component, 'default-scheduler');
  const highEvents = await eventsFor(server, 'high-1');
  const failed = highEvents.find((e) => e.reason === 'FailedScheduling');
  assert.is(failed?.message, '0/1 nodes are available: 1 Insufficient cpu.', 'no preemption sentence once a node was nominated');
  assert.ok(highEvents.some((e) => e.reason === 'Scheduled' && e.message === 'Successfully assigned default/high-1 to full-node'));
  const described = await k(server, ['get', 'events', '--field-selector', 'reason=Preempted']);
  assert.match(described.stdout, /Normal\s+Preempted\s+pod\/low-1\s+Preempted by pod/);
});

it('equal priority is never preempted; preemptionPolicy Never waits with upstream\'s message', async ({ server }) => {
  // high-1 (1000) holds 700m: another 1000 pod cannot take its place.
  await server.client.create<Pod>('Pod', 'default', pod('high-2', 'high', '700m'));
  const message = await waitFor('high-2 unschedulable', async () => {
    const failed = (await eventsFor(server, 'high-2')).find((e) => e.reason === 'FailedScheduling');
    return failed?.message;
  });
  assert.is(message, '0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.');
  await server.client.delete('Pod', 'default', 'high-2', { gracePeriodSeconds: 0 });
  // A low pod fits into what is left; a polite high pod does not evict it.
  await server.client.create<Pod>('Pod', 'default', pod('low-2', 'low', '200m'));
  await waitFor('low-2 running', async () => (await server.client.get<Pod>('Pod', 'default', 'low-2')).status?.phase === 'Running');
  await server.client.create<Pod>('Pod', 'default', pod('polite', 'high-polite', '200m'));
  const politeMessage = await waitFor('polite unschedulable', async () => (await eventsFor(server, 'polite')).find((e) => e.reason === 'FailedScheduling')?.message);
  assert.is(politeMessage, '0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.');
  assert.ok(await server.client.tryGet('Pod', 'default', 'low-2'), 'the low pod was not preempted');
  await server.client.delete('Pod', 'default', 'polite', { gracePeriodSeconds: 0 });
  await server.client.delete('Pod', 'default', 'low-2', { gracePeriodSeconds: 0 });
  await server.client.delete('Pod', 'default', 'high-1', { gracePeriodSeconds: 0 });
  await waitFor('node empty', async () => (await server.client.list<Pod>('Pod', 'default', { labelSelector: 'test=preemption' })).items.length === 0);
});

it('pending pods are taken highest priority first', async ({ server }) => {
  // A top-priority pod fills the node; neither waiting pod may preempt it.
  await server.client.create<Pod>('Pod', 'default', pod('blocker', 'top', '900m'));
  await waitFor('blocker running', async () => (await server.client.get<Pod>('Pod', 'default', 'blocker')).status?.phase === 'Running');
  // Room for one once it goes: the low pod is created first, the polite high pod (which cannot preempt) second.
  await server.client.create<Pod>('Pod', 'default', pod('queued-low', 'low', '600m'));
  await server.client.create<Pod>('Pod', 'default', pod('queued-high', 'high-polite', '600m'));
  await waitFor('both pending', async () => {
    const evs = [...await eventsFor(server, 'queued-low'), ...await eventsFor(server, 'queued-high')];
    return evs.filter((e) => e.reason === 'FailedScheduling').length >= 2;
  });
  // Let both back-offs run out, so the blocker's deletion moves both to the queue at once (as
  // upstream's MoveAllToActiveOrBackoffQueue does): the queue order decides.
  await new Promise((r) => setTimeout(r, 2500));
  await server.client.delete('Pod', 'default', 'blocker', { gracePeriodSeconds: 0 });
  const winner = await waitFor('one of them scheduled', async () => {
    const pods = (await server.client.list<Pod>('Pod', 'default', { labelSelector: 'test=preemption' })).items;
    return pods.find((p) => p.spec.nodeName)?.metadata.name;
  });
  assert.is(winner, 'queued-high');
  await new Promise((r) => setTimeout(r, 500));
  assert.not.ok((await server.client.get<Pod>('Pod', 'default', 'queued-low')).spec.nodeName, 'the low pod still waits');
});

it.run();
