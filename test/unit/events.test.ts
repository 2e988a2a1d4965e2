/**
 * The EventRecorder against a recording fake transport: Kubernetes' Event shape, aggregation of the
 * same object+reason+message into one Event (count, lastTimestamp), a fresh Event after the window,
 * re-creation when the aggregated Event was deleted, and the per-object token bucket.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ApiClient } from '../../api/client/client.js';
import type { Transport, TransportRequest, TransportResponse } from '../../api/client/transport.js';
import type { Event, Pod } from '../../api/types.js';
import { createEventRecorder } from '../../api/machinery/events.js';

interface Call { method: string; path: string; body: Record<string, unknown> }

/** Answers POST with the body, PATCH with 200 (or 404 for names in `missing`). */
class FakeTransport implements Transport {
  readonly calls: Call[] = [];
  readonly missing = new Set<string>();

  async request(req: TransportRequest): Promise<TransportResponse> {
    const body = req.body ? JSON.parse(String(req.body)) as Record<string, unknown> : {};
    this.calls.push({ method: req.method, path: req.path, body });
    const name = req.path.split('/').pop() ?? '';
    const notFound = req.method === 'PATCH' && this.missing.has(name);
    const text = notFound
      ? JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404, reason: 'NotFound', message: `events "${name}" not found` })
      : JSON.stringify(body);
    return {
      status: notFound ? 404 : 200,
      headers: { 'content-type': 'application/json' },
      body: (async function* () { yield Buffer.from(text); })(),
      text: async () => text,
    };
  }
}

const pod: Pod = {
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name: 'web-1', namespace: 'shop', uid: 'uid-1', resourceVersion: '7' },
  spec: { containers: [{ name: 'c', image: 'nginx' }] },
};

test('writes a core/v1 Event with the Kubernetes shape', async () => {
  const t = new FakeTransport();
  const events = createEventRecorder(new ApiClient(t), 'default-scheduler');
  events.record(pod, 'Normal', 'Scheduled', 'Successfully assigned shop/web-1 to n1');
  await events.flush();
  assert.is(t.calls.length, 1);
  const call = t.calls[0]!;
  assert.is(call.method, 'POST');
  assert.is(call.path, '/api/v1/namespaces/shop/events');
  const ev = call.body as unknown as Event;
  assert.match(ev.metadata.name ?? '', /^web-1\.[0-9a-f]+$/);
  assert.equal(ev.involvedObject, { kind: 'Pod', namespace: 'shop', name: 'web-1', uid: 'uid-1', apiVersion: 'v1', resourceVersion: '7' });
  assert.equal([ev.reason, ev.message, ev.type, ev.count], ['Scheduled', 'Successfully assigned shop/web-1 to n1', 'Normal', 1]);
  assert.is(ev.source?.component, 'default-scheduler');
  assert.is(ev.reportingComponent, 'default-scheduler');
  assert.ok(ev.firstTimestamp && ev.firstTimestamp === ev.lastTimestamp);
});

test('the same event again bumps count on the existing Event; another message makes a new one', async () => {
  const t = new FakeTransport();
  const events = createEventRecorder(new ApiClient(t), 'default-scheduler');
  for (let i = 0; i < 3; i++) events.record(pod, 'Warning', 'FailedScheduling', '0/3 nodes are available');
  events.record(pod, 'Warning', 'FailedScheduling', '0/4 nodes are available');
  await events.flush();
  const creates = t.calls.filter((c) => c.method === 'POST');
  const patches = t.calls.filter((c) => c.method === 'PATCH');
  assert.is(creates.length, 2);
  assert.equal(patches.map((p) => p.body['count']), [2, 3]);
  const name = (creates[0]!.body as unknown as Event).metadata.name;
  assert.ok(patches.every((p) => p.path === `/api/v1/namespaces/shop/events/${name}`));
  assert.ok(patches.every((p) => typeof p.body['lastTimestamp'] === 'string'));
});

test('outside the aggregation window a new Event is written; a deleted Event is re-created', async () => {
  const t = new FakeTransport();
  const events = createEventRecorder(new ApiClient(t), { component: 'x', aggregateWindowMs: 20 });
  events.record(pod, 'Normal', 'Pulled', 'pulled');
  await events.flush();
  await new Promise((r) => setTimeout(r, 30));
  events.record(pod, 'Normal', 'Pulled', 'pulled');
  await events.flush();
  assert.equal(t.calls.map((c) => c.method), ['POST', 'POST']);

  const t2 = new FakeTransport();
  const again = createEventRecorder(new ApiClient(t2), 'x');
  again.record(pod, 'Normal', 'Pulled', 'pulled');
  await again.flush();
  t2.missing.add(String((t2.calls[0]!.body as unknown as Event).metadata.name));
  again.record(pod, 'Normal', 'Pulled', 'pulled');
  await again.flush();
  assert.equal(t2.calls.map((c) => c.method), ['POST', 'PATCH', 'POST']);
  assert.is((t2.calls[2]!.body as unknown as Event).count, 2);
});

test('a flooding object is throttled per object, others are not', async () => {
  const t = new FakeTransport();
  const events = createEventRecorder(new ApiClient(t), { component: 'kubelet', burstPerObject: 5, refillMsPerObject: 60_000 });
  for (let i = 0; i < 50; i++) events.record(pod, 'Warning', 'BackOff', `restart ${i}`);
  const other: Pod = { ...pod, metadata: { ...pod.metadata, name: 'web-2', uid: 'uid-2' } };
  events.record(other, 'Warning', 'BackOff', 'restart');
  await events.flush();
  const forFirst = t.calls.filter((c) => (c.body as unknown as Event).involvedObject?.name === 'web-1');
  const forOther = t.calls.filter((c) => (c.body as unknown as Event).involvedObject?.name === 'web-2');
  assert.is(forFirst.length, 5);
  assert.is(forOther.length, 1);
});

test.run();
