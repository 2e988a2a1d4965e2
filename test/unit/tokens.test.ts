/** Tokens created or revoked by another process (`corral token`) reach a running server quickly. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
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

test('a token in use (its secret remembered) is still refused once revoked, and a near-miss secret never passes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-tokens-'));
  try {
    const file = join(dir, 'tokens.json');
    const server = new TokenStore(file);
    const { token, record } = server.create('viewer');
    for (let i = 0; i < 3; i++) assert.is(server.authenticate(token)?.role, 'viewer');
    const last = token.slice(-1) === '0' ? '1' : '0';
    assert.is(server.authenticate(`${token.slice(0, -1)}${last}`), undefined, 'one character off');
    assert.is(server.authenticate(`${token}0`), undefined, 'one character more');
    await new Promise((r) => setTimeout(r, 20));
    new TokenStore(file).revoke(record.id); // `corral token revoke`
    await new Promise((r) => setTimeout(r, 1100));
    assert.is(server.authenticate(token), undefined);
    const inMemory = server.createEphemeral('admin', 'controllers');
    assert.is(server.authenticate(inMemory)?.role, 'admin');
    assert.is(server.authenticate(inMemory)?.role, 'admin');
    assert.is(server.authenticate(`${inMemory.slice(0, -1)}${inMemory.slice(-1) === 'a' ? 'b' : 'a'}`), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('files written before join tokens and node credentials were told apart keep working', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-tokens-'));
  try {
    const file = join(dir, 'tokens.json');
    const old = (id: string, description: string): Record<string, string> =>
      ({ id, secretSha256: createHash('sha256').update('s3cr3t').digest('hex'), role: 'node', description, created: '2026-01-01T00:00:00.000Z' });
    writeFileSync(file, JSON.stringify({ tokens: [old('a1b2c3', 'node pi-2'), old('d4e5f6', 'join token printed by the installer')] }), { mode: 0o600 });
    const store = new TokenStore(file);
    const node = store.authenticate('a1b2c3.s3cr3t');
    assert.equal([node?.name, node?.groups, node?.role], ['system:node:pi-2', ['system:nodes', 'system:authenticated'], 'node']);
    const joined = store.authenticate('d4e5f6.s3cr3t');
    assert.equal([joined?.name, joined?.role], ['system:bootstrap:d4e5f6', 'join']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writes are atomic 0600 files under a lock: two writers keep both changes, nothing is left behind', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-tokens-'));
  try {
    const file = join(dir, 'tokens.json');
    const server = new TokenStore(file);
    const cli = new TokenStore(file);
    const a = server.create('viewer').record.id;
    const b = cli.create('viewer').record.id; // `cli` read the file before `a` existed
    const c = server.mintNodeCredential('pi-1').record.id;
    assert.equal(new TokenStore(file).list().map((r) => r.id).sort(), [a, b, c].sort());
    assert.is(statSync(file).mode & 0o777, 0o600);
    assert.equal(readdirSync(dir), ['tokens.json']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ids are 64 random bits, and an id that exists is refused, never replaced', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-tokens-'));
  try {
    const store = new TokenStore(join(dir, 'tokens.json'));
    const { token, record } = store.create('admin');
    assert.match(record.id, /^[0-9a-f]{16}$/);
    assert.throws(() => store.create('viewer', { id: record.id }), /exists already/);
    assert.throws(() => store.mintNodeCredential('pi-1', { id: record.id }), /exists already/);
    assert.is(store.authenticate(token)?.role, 'admin', 'the first token still works');
    assert.is(new TokenStore(join(dir, 'tokens.json')).list().length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one live credential per node; revoke --cascade takes what a join token minted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-tokens-'));
  try {
    const store = new TokenStore(join(dir, 'tokens.json'));
    const join1 = store.create('join').record.id;
    const first = store.mintNodeCredential('pi-1', { mintedBy: join1 });
    const second = store.mintNodeCredential('pi-1', { mintedBy: join1 });
    assert.equal(second.replaced, [first.record.id]);
    assert.is(store.authenticate(first.token), undefined);
    assert.is(store.authenticate(second.token)?.name, 'system:node:pi-1');
    const other = store.mintNodeCredential('pi-2');
    assert.equal(store.revoke(join1, { cascade: true }).sort(), [join1, second.record.id].sort());
    assert.is(store.authenticate(second.token), undefined);
    assert.is(store.authenticate(other.token)?.name, 'system:node:pi-2');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
