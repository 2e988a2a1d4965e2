/**
 * The queue of an informer's object watch (api/client/in-process-watch.ts): events in order, frozen;
 * `push` says when to wait and `drained` when to go on; the consumer sees the queued events before the
 * end; a consumer leaving stops the producer; the finishers (which take the transport's abort listener
 * off the server-long signal) run exactly once however the watch ends.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ObjectWatch, deepFreeze } from '../../api/client/in-process-watch.js';

test('events in order, frozen; push asks to wait at the limit; drained resolves once the consumer took them', async () => {
  let cancelled = 0;
  const watch = new ObjectWatch(2, () => { cancelled++; });
  assert.ok(watch.push('ADDED', { metadata: { name: 'a' } }));
  assert.not.ok(watch.push('MODIFIED', { metadata: { name: 'a', labels: { x: 'y' } } }));
  let drained = false;
  const waiting = watch.drained().then(() => { drained = true; });
  const it = watch[Symbol.asyncIterator]();
  const first = await it.next();
  assert.is(first.value!.type, 'ADDED');
  await Promise.resolve();
  assert.not.ok(drained, 'one event still queued');
  const second = await it.next();
  await waiting;
  assert.ok(drained);
  const obj = second.value!.object as { metadata: { labels: Record<string, string> } };
  assert.ok(Object.isFrozen(obj) && Object.isFrozen(obj.metadata) && Object.isFrozen(obj.metadata.labels));
  // A consumer already waiting is handed the next event directly.
  const third = it.next();
  assert.ok(watch.push('DELETED', { metadata: { name: 'a' } }));
  assert.is((await third).value!.type, 'DELETED');
  assert.is(cancelled, 0);
});

test('close: the queued events, then the end; the finishers run once', async () => {
  const watch = new ObjectWatch(8, () => assert.unreachable('not cancelled'));
  let finished = 0;
  watch.onFinish(() => { finished++; });
  watch.push('ADDED', { n: 1 });
  watch.push('ADDED', { n: 2 });
  watch.close();
  const seen: unknown[] = [];
  for await (const ev of watch) seen.push(ev.object);
  assert.equal(seen, [{ n: 1 }, { n: 2 }]);
  assert.is(finished, 1);
  assert.ok((await watch[Symbol.asyncIterator]().next()).done);
  assert.is(finished, 1);
  // A consumer waiting when the producer closes.
  const idle = new ObjectWatch(8, () => undefined);
  let idleFinished = 0;
  idle.onFinish(() => { idleFinished++; });
  const pending = idle[Symbol.asyncIterator]().next();
  idle.close();
  assert.ok((await pending).done);
  assert.is(idleFinished, 1);
});

test('a consumer leaving: queued events dropped, the producer stopped and unblocked, finishers once', async () => {
  let cancelled = 0;
  const watch = new ObjectWatch(1, () => { cancelled++; });
  let finished = 0;
  watch.onFinish(() => { finished++; });
  assert.not.ok(watch.push('ADDED', { n: 1 }));
  const blocked = watch.drained();
  for await (const ev of watch) {
    assert.equal(ev.object, { n: 1 });
    break;
  }
  await blocked;
  assert.is(cancelled, 1);
  assert.is(finished, 1);
  assert.ok(watch.push('ADDED', { n: 2 }), 'a push after the consumer left is dropped');
  watch.cancel();
  watch.close();
  assert.is(cancelled, 1);
  assert.is(finished, 1);
});

test('deepFreeze freezes nested objects and arrays and leaves scalars alone', () => {
  const value = { a: [{ b: 1 }, 'x', null], c: { d: { e: true } } };
  deepFreeze(value);
  assert.ok(Object.isFrozen(value) && Object.isFrozen(value.a) && Object.isFrozen(value.a[0]) && Object.isFrozen(value.c.d));
  assert.throws(() => { (value.c.d as { e: boolean }).e = false; }, TypeError);
  deepFreeze(null);
  deepFreeze('text');
});

test.run();
