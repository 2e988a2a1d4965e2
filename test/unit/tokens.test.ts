/** Tokens created or revoked by another process (`corral token`) reach a running server quickly. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenStore } from '../../server/auth/tokens.js';

test('a token created by another process works on the next request, not a second later', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-tokens-'));
  try {
    const file = join(dir, 'tokens.json');
    const server = new TokenStore(file);
    const admin = server.create('admin').token;
    assert.ok(server.authenticate(admin), 'the server has just looked at the file');
    await new Promise((r) => setTimeout(r, 20));
    const viewer = new TokenStore(file).create('viewer').token; // `corral token create --role viewer`
    await new Promise((r) => setTimeout(r, 150));
    assert.is(server.authenticate(viewer)?.role, 'viewer');
    assert.is(server.authenticate('nope.nope'), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('expired and wrong-secret tokens are refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-tokens-'));
  try {
    const store = new TokenStore(join(dir, 'tokens.json'));
    const { token } = store.create('join', { ttlSeconds: 60 });
    assert.is(store.authenticate(token)?.role, 'join');
    assert.is(store.authenticate(token, Date.now() + 61_000), undefined);
    assert.is(store.authenticate(`${token.split('.')[0]}.${'0'.repeat(32)}`), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
