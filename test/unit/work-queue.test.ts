import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BucketRateLimiter, defaultControllerRateLimiter, ItemExponentialRateLimiter, MaxOfRateLimiter } from '../../api/machinery/rate-limiter.js';
import { WorkQueue } from '../../api/machinery/work-queue.js';
import { setWorkQueueMetricsProvider } from '../../api/machinery/work-queue-metrics.js';
import { installWorkQueueMetrics } from '../../api/metrics/work-queue-prom.js';
import { sleep } from '../../api/async-util.js';

test('per-key exponential back-off: each key doubles alone, forget starts it over', () => {
  const l = new ItemExponentialRateLimiter({ initialMs: 5, maxMs: 100 });
  assert.equal([l.when('a'), l.when('a'), l.when('a'), l.when('b')], [5, 10, 20, 5]);
  assert.is(l.retries('a'), 3);
  for (let i = 0; i < 10; i++) l.when('a');
  assert.is(l.when('a'), 100, 'capped');
  l.forget('a');
  assert.is(l.retries('a'), 0);
  assert.is(l.when('a'), 5);
});

test('overall bucket: the burst is free, then retries are spaced one refill apart, and tokens come back with time', () => {
  let now = 0;
  const l = new BucketRateLimiter(10, 3, () => now);
  assert.equal([l.when(), l.when(), l.when()], [0, 0, 0]);
  assert.equal([l.when(), l.when()], [100, 200], 'reserved ahead, 100 ms per token at 10/s');
  now += 1_000; // 10 tokens: the 2 reserved ones are paid, and the bucket is full again (capped at the burst)
  assert.equal([l.when(), l.when(), l.when(), l.when()], [0, 0, 0, 100]);
});

test('max-of: a storm over many keys is held back by the bucket although each key is on its first failure', () => {
  let now = 0;
  const l = new MaxOfRateLimiter(new ItemExponentialRateLimiter({ initialMs: 5, maxMs: 1_000 }), new BucketRateLimiter(10, 2, () => now));
  const delays = ['a', 'b', 'c', 'd'].map((k) => l.when(k));
  assert.equal(delays, [5, 5, 100, 200]);
  assert.is(l.retries('a'), 1);
  l.forget('a');
  assert.is(l.retries('a'), 0);
  assert.ok(defaultControllerRateLimiter().when('x') >= 50, 'the default starts at 50 ms per key');
});

test('queue: a key is queued once, never handed to two workers, and a re-add while in flight runs once more', async () => {
  const q = new WorkQueue();
  q.add('a');
  q.add('a');
  q.add('b');
  assert.is(q.length, 2);
  const first = await q.get();
  assert.is(first, 'a');
  q.add('a'); // in flight: remembered, not queued beside it
  assert.is(q.length, 1);
  assert.is(await q.get(), 'b');
  q.done('b');
  assert.is(q.length, 0);
  q.done('a');
  assert.is(q.length, 1, 'the dirty key comes back after done');
  assert.is(await q.get(), 'a');
  q.done('a');
  q.shutdown();
  assert.is(await q.get(), undefined);
});

test('queue: a failed key comes back after its rate-limited delay, and forget resets its count', async () => {
  const q = new WorkQueue(new ItemExponentialRateLimiter({ initialMs: 30, maxMs: 1_000 }));
  const keepAlive = setInterval(() => {}, 1_000); // the queue's retry timers do not hold the process
  const t = Date.now();
  q.addRateLimited('k');
  assert.is(q.length, 0, 'not at once');
  assert.is(await q.get(), 'k');
  assert.ok(Date.now() - t >= 25, `came back after ${Date.now() - t} ms`);
  assert.is(q.numRequeues('k'), 1);
  q.forget('k');
  q.done('k');
  assert.is(q.numRequeues('k'), 0);
  q.shutdown();
  clearInterval(keepAlive);
});

test('queue: a sooner addAfter replaces a later pending one; a later one leaves the sooner in place', async () => {
  const q = new WorkQueue();
  const keepAlive = setInterval(() => {}, 1_000);
  const t = Date.now();
  q.addAfter('k', 10_000); // e.g. a resync far off
  q.addAfter('k', 30); // then a deadline that is due soon
  q.addAfter('k', 20_000); // and a later ask, which must not push it back
  assert.is(await q.get(), 'k');
  assert.ok(Date.now() - t < 5_000, `came after ${Date.now() - t} ms, not after the first, later delay`);
  q.done('k');
  q.shutdown();
  clearInterval(keepAlive);
});

test('metrics: a named queue reports adds, depth, time waiting and working, and retries; unnamed queues report nothing', async () => {
  const seen: { queue: string; what: string; value?: number }[] = [];
  setWorkQueueMetricsProvider((queue) => ({
    added: () => seen.push({ queue, what: 'added' }),
    depth: (value) => seen.push({ queue, what: 'depth', value }),
    waited: (value) => seen.push({ queue, what: 'waited', value }),
    worked: (value) => seen.push({ queue, what: 'worked', value }),
    retried: () => seen.push({ queue, what: 'retried' }),
  }));
  try {
    const q = new WorkQueue(new ItemExponentialRateLimiter({ initialMs: 1, maxMs: 1 }), undefined, 'probe');
    new WorkQueue().add('ignored');
    q.add('a');
    q.add('a'); // a duplicate is not an add
    q.add('b');
    await sleep(20);
    assert.is(await q.get(), 'a');
    await sleep(20);
    q.done('a');
    q.addRateLimited('b');
    assert.ok(seen.every((s) => s.queue === 'probe'), 'only the named queue reports');
    assert.equal(seen.filter((s) => s.what === 'added').length, 2);
    assert.equal(seen.filter((s) => s.what === 'depth').map((s) => s.value), [1, 2, 1]);
    const waited = seen.find((s) => s.what === 'waited')!.value!;
    const worked = seen.find((s) => s.what === 'worked')!.value!;
    assert.ok(waited >= 0.015 && waited < 5, `waited ${waited} s`);
    assert.ok(worked >= 0.015 && worked < 5, `worked ${worked} s`);
    assert.is(seen.filter((s) => s.what === 'retried').length, 1);
    q.shutdown();
  } finally {
    setWorkQueueMetricsProvider(undefined);
  }
});

test('metrics through prom-client: workqueue_* families labelled by queue name', async () => {
  const registry = installWorkQueueMetrics();
  try {
    const q = new WorkQueue(undefined, undefined, 'prom-probe');
    q.add('x');
    assert.is(await q.get(), 'x');
    q.done('x');
    q.addRateLimited('x');
    const text = await registry.metrics();
    assert.match(text, /^workqueue_adds_total\{name="prom-probe"\} 1$/m);
    assert.match(text, /^workqueue_depth\{name="prom-probe"\} 0$/m);
    assert.match(text, /^workqueue_retries_total\{name="prom-probe"\} 1$/m);
    assert.match(text, /^workqueue_queue_duration_seconds_count\{name="prom-probe"\} 1$/m);
    assert.match(text, /^workqueue_work_duration_seconds_count\{name="prom-probe"\} 1$/m);
    q.shutdown();
  } finally {
    setWorkQueueMetricsProvider(undefined);
  }
});

test.run();
