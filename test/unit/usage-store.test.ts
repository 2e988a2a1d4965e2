/**
 * The server's in-memory usage for kubectl top and the status page: a node's history keeps exactly the
 * newest hour's worth of readings (a ring buffer, oldest first), current readings go when a node stops
 * answering while its history stays, and a summary's pods count only once every container has a CPU rate.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RingBuffer, UsageStore } from '../../server/metrics/usage-store.js';
import { podSamples } from '../../server/metrics/usage-scraper.js';

test('ring buffer: keeps the newest N, oldest first, across many wrap-arounds', () => {
  const r = new RingBuffer<number>(3);
  assert.equal(r.toArray(), []);
  r.push(1);
  r.push(2);
  assert.equal(r.toArray(), [1, 2]);
  for (let i = 3; i <= 11; i++) r.push(i);
  assert.equal(r.toArray(), [9, 10, 11]);
});

test('usage store: history capped at its size, current readings forgotten apart from the history', () => {
  const store = new UsageStore(240); // an hour at 15 s
  for (let i = 0; i < 300; i++) store.record('pi-1', { at: i * 15_000, windowSeconds: 15, cpuNanoCores: i * 1e6, memoryBytes: 1024 * i }, []);
  const h = store.histories()['pi-1']!;
  assert.is(h.length, 240);
  assert.equal(h[0], [60 * 15_000, 0.06, 1024 * 60]);
  assert.equal(h[239], [299 * 15_000, 0.299, 1024 * 299]);
  store.forgetCurrent('pi-1');
  assert.is(store.node('pi-1'), undefined);
  assert.is(store.histories()['pi-1']!.length, 240, 'a node that stopped answering keeps its chart');
  assert.equal(store.nodeNames(), ['pi-1']);
  store.forget('pi-1');
  assert.equal(store.histories(), {});
  assert.equal(store.nodeNames(), []);
});

test('summary pods: only pods whose every container has a CPU rate and a working set', () => {
  const cpu = (n?: number): { usageNanoCores?: number } => (n === undefined ? {} : { usageNanoCores: n });
  const samples = podSamples({
    pods: [
      { podRef: { name: 'a', namespace: 'default', uid: 'u1' }, containers: [{ name: 'x', cpu: cpu(5e8), memory: { workingSetBytes: 100 } }] },
      { podRef: { name: 'b', namespace: 'default', uid: 'u2' }, containers: [{ name: 'x', cpu: cpu(1), memory: { workingSetBytes: 1 } }, { name: 'y', cpu: cpu(), memory: { workingSetBytes: 1 } }] },
      { podRef: { name: 'c', namespace: 'default' }, containers: [{ name: 'x', cpu: cpu(1), memory: { workingSetBytes: 1 } }] },
      { podRef: { name: 'd', namespace: 'default', uid: 'u4' }, containers: [] },
    ],
  }, 1000, 15);
  assert.equal(samples, [{ namespace: 'default', name: 'a', uid: 'u1', at: 1000, windowSeconds: 15, containers: [{ name: 'x', usage: { cpuNanoCores: 5e8, memoryBytes: 100 } }] }]);
});

test.run();
