/**
 * api/iso-time.ts: the agent's timestamps and the kubelet endpoint's Date header come from the UTC getters
 * (V8's own date strings pull ICU's time-zone pages into memory); they must read exactly as V8's do.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { httpDate, isoString } from '../../api/iso-time.js';

test('isoString and httpDate read as toISOString and toUTCString, across the years and at the edges', () => {
  const samples = [0, 1, -1, 999, 951_782_400_000 /* 2000-02-29 */, 253_402_300_799_999 /* 9999-12-31T23:59:59.999 */, -62_167_219_200_000 /* 0000-01-01 */, Date.UTC(2026, 11, 6, 6, 5, 9, 7)];
  for (let i = 0; i < 20_000; i++) samples.push(Math.floor(Math.random() * 4_000_000_000_000) - 100_000_000_000);
  for (const ms of samples) {
    assert.is(isoString(ms), new Date(ms).toISOString(), `isoString(${ms})`);
    assert.is(httpDate(ms), new Date(ms).toUTCString(), `httpDate(${ms})`);
  }
  // Outside 0-9999 toISOString's six-digit years are kept.
  assert.is(isoString(Date.UTC(12_000, 0, 1)), '+012000-01-01T00:00:00.000Z');
  assert.match(isoString(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

test('an invalid time is a RangeError, as toISOString throws', () => {
  assert.throws(() => isoString(Number.NaN), (e: unknown) => e instanceof RangeError);
});

test.run();
