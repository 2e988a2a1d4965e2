/**
 * Private keys as `corral join` loads them: plain OpenSSH keys, encrypted ones unlocked with the
 * prompted passphrase (three tries), and a clear way out when nobody can be asked (no terminal).
 * Keys are made with the real ssh-keygen in a temp dir.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPrivateKey } from '../../installer/join/ssh.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-keys-'));
const keygen = (file: string, passphrase: string): void => {
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'test', '-f', join(dir, file)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen: ${r.stderr}`);
};
keygen('plain', '');
keygen('locked', 'correct horse');

test('a plain key loads without asking', async () => {
  let asked = 0;
  const key = await loadPrivateKey(join(dir, 'plain'), async () => { asked++; return 'x'; });
  assert.is(key.type, 'ssh-ed25519');
  assert.is(asked, 0);
});

test('an encrypted key asks for its passphrase, and retries a wrong one', async () => {
  const answers = ['wrong', 'correct horse'];
  const questions: string[] = [];
  const key = await loadPrivateKey(join(dir, 'locked'), async (q) => { questions.push(q); return answers.shift(); });
  assert.is(key.type, 'ssh-ed25519');
  assert.equal(questions, [`passphrase for ${join(dir, 'locked')}: `, `passphrase for ${join(dir, 'locked')}: `]);
});

test('an encrypted key without a terminal points to ssh-agent; three wrong passphrases fail', async () => {
  try {
    await loadPrivateKey(join(dir, 'locked'), async () => undefined);
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.match((err as Error).message, 'ssh-add');
  }
  let tries = 0;
  try {
    await loadPrivateKey(join(dir, 'locked'), async () => { tries++; return 'nope'; });
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.match((err as Error).message, 'cannot use key');
  }
  assert.is(tries, 3);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
