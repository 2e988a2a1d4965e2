import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Backoff, backoffDelay, sleep, step } from '../../api/async-util.js';

test('sleep waits, and ends early on abort (at once if already aborted)', async () => {
  let t = Date.now();
  await sleep(60);
  assert.ok(Date.now() - t >= 55);
  const ac = new AbortController();
  t = Date.now();
  setTimeout(() => ac.abort(), 20);
  await sleep(5_000, { signal: ac.signal });
  assert.ok(Date.now() - t < 1_000, 'ended by the abort');
  t = Date.now();
  await sleep(5_000, { signal: ac.signal });
  assert.ok(Date.now() - t < 50, 'already aborted');
});

test('back-off: none before a failure, then initial ×factor up to the cap, and again from the start after reset', () => {
  const policy = { initialMs: 100, maxMs: 1_000 };
  assert.equal([0, 1, 2, 3, 4, 5, 30].map((n) => backoffDelay(policy, n)), [0, 100, 200, 400, 800, 1_000, 1_000]);
  assert.is(backoffDelay({ ...policy, factor: 3 }, 3), 900);
  const b = new Backoff(policy);
  assert.equal([b.next(), b.next(), b.next()], [100, 200, 400]);
  assert.is(b.failureCount, 3);
  b.reset();
  assert.is(b.next(), 100);
});

test('step wraps errors with what was being done and keeps the cause', async () => {
  const cause = new Error('disk full');
  try {
    await step('writing the kubeconfig', async () => { throw cause; });
    assert.unreachable();
  } catch (err) {
    assert.is((err as Error).message, 'writing the kubeconfig: disk full');
    assert.is((err as Error).cause, cause);
  }
  assert.is(await step('ok', async () => 42), 42);
});

test.run();
