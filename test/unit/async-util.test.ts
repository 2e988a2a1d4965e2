import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { abortableSleep, step } from '../../api/async-util.js';

test('abortableSleep waits, and ends early on abort (at once if already aborted)', async () => {
  let t = Date.now();
  await abortableSleep(60);
  assert.ok(Date.now() - t >= 55);
  const ac = new AbortController();
  t = Date.now();
  setTimeout(() => ac.abort(), 20);
  await abortableSleep(5_000, ac.signal);
  assert.ok(Date.now() - t < 1_000, 'ended by the abort');
  t = Date.now();
  await abortableSleep(5_000, ac.signal);
  assert.ok(Date.now() - t < 50, 'already aborted');
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
