import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockLab, unlockLab } from '../lab/lab-lock.js';

const dir = mkdtempSync(join(tmpdir(), 'lab-lock-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a lab held by a live process is waited for, then taken; the holder\'s file names this process', async () => {
  const path = join(dir, 'x.lock');
  const holder = spawn('sleep', ['1.5']);
  writeFileSync(path, String(holder.pid));
  const t0 = Date.now();
  await lockLab(path, 'x', 10_000);
  const waited = Date.now() - t0;
  assert.ok(waited >= 1_000, `waited ${waited} ms for the live holder`);
  assert.is(readFileSync(path, 'utf8'), String(process.pid));
  unlockLab(path);
  assert.not.ok(existsSync(path), 'unlock removes the file');
});

test('a lock whose process is gone is stale and taken at once; a live holder past the deadline is an error naming it', async () => {
  const path = join(dir, 'y.lock');
  writeFileSync(path, '999999999');
  const t0 = Date.now();
  await lockLab(path, 'y', 5_000);
  assert.ok(Date.now() - t0 < 1_000);
  unlockLab(path);
  const holder = spawn('sleep', ['30']);
  writeFileSync(path, String(holder.pid));
  try {
    let message = '';
    await lockLab(path, 'y', 1_500).catch((err: Error) => { message = err.message; });
    assert.match(message, new RegExp(`lab y is in use by process ${holder.pid}`));
  } finally {
    holder.kill('SIGKILL');
  }
});

test.run();
