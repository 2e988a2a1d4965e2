/**
 * The node credential lifecycle and failed-authentication throttling through a real `corral server`:
 * only a join token (or an admin) mints, a credential is bound to its node and is the node's only
 * live one, minting is rate-limited per join token, revoking a join token with --cascade revokes what
 * it minted, an agent started with a join token trades it for its own credential (kept 0600), and bad
 * tokens from one address are throttled (429) and logged without the secret.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpsTransport } from '../../api/client/transport.js';
import { TokenStore } from '../../server/auth/tokens.js';
import { ServerProcess } from '../support/server-process.js';
import { AgentProcess } from '../support/agent-process.js';
import { waitUntil } from '../support/wait.js';
import { sleep } from '../../api/async-util.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'corral.js');
const BURST = 5;
const it = suite<{ server: ServerProcess; store: TokenStore }>('node credentials');

it.before(async (ctx) => {
  // Revoked credentials are bad tokens too: give this suite room for them.
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'], env: { CORRAL_FAILED_AUTH_BURST: '1000' } });
  ctx.store = new TokenStore(join(ctx.server.dataDir, 'server', 'tokens.json'));
});

it.after(async (ctx) => {
  await ctx.server?.destroy();
});

it('an agent started with a join token trades it for its node\'s credential, kept 0600, and registers with it', async ({ server }) => {
  const agent = await AgentProcess.start(server, { nodeName: 'cred-agent' });
  try {
    const file = join(agent.dataDir, 'agent', 'node-credential');
    await waitUntil('the traded credential on disk', async () => existsSync(file), 15_000);
    assert.is(statSync(file).mode & 0o777, 0o600);
    const credential = readFileSync(file, 'utf8').trim();
    const records = new TokenStore(join(server.dataDir, 'server', 'tokens.json')).list();
    const mine = records.filter((r) => r.node === 'cred-agent');
    assert.equal(mine.map((r) => r.id), [credential.split('.')[0]], 'one credential for the node: the one on disk');
    assert.ok(records.some((r) => r.id === mine[0]!.mintedBy && r.role === 'join'), 'minted by the agent\'s join token');
    // The agent registered its Node and kubelet Secret with it; the credential acts for that node only.
    await waitUntil('the Node and its kubelet Secret', async () =>
      (await server.client.tryGet('Node', undefined, 'cred-agent')) && (await server.client.tryGet('Secret', 'kube-system', 'corral-kubelet-cred-agent')), 20_000);
    assert.is(await whoCanPatchStatus(server, credential, 'cred-agent'), 200);
    assert.is(await whoCanPatchStatus(server, credential, 'cred-a'), 403);
  } finally {
    await agent.destroy();
  }
});

const throttling = suite<{ server: ServerProcess }>('failed authentication');

throttling.before(async (ctx) => {
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'], env: { CORRAL_FAILED_AUTH_BURST: String(BURST), CORRAL_LOG_LEVEL: 'info' } });
});

throttling.after(async (ctx) => {
  await ctx.server?.destroy();
});

async function call(server: ServerProcess, token: string | undefined, method: string, path: string): Promise<{ status: number; text: string; retryAfter: string | undefined }> {
  const http = new HttpsTransport({ server: server.url, caPem: server.caPem, ...(token !== undefined ? { token } : {}) });
  try {
    const res = await http.request({ method, path });
    return { status: res.status, text: await res.text(), retryAfter: res.headers['retry-after'] };
  } finally {
    http.close();
  }
}

/** A token made through the file (as `corral token create`): the server looks at the file again within 100 ms. */
async function made(token: string): Promise<string> {
  await sleep(150);
  return token;
}

const mint = (server: ServerProcess, token: string | undefined, node: string): ReturnType<typeof call> => call(server, token, 'POST', `/join/node-token?node=${node}`);
const credentialOf = (k10: string): string => k10.trim().slice(k10.indexOf('::') + 2);
const whoCanPatchStatus = async (server: ServerProcess, token: string, node: string): Promise<number> => {
  const http = new HttpsTransport({ server: server.url, caPem: server.caPem, token });
  try {
    const res = await http.request({ method: 'PATCH', path: `/api/v1/nodes/${node}/status?dryRun=All`, headers: { 'content-type': 'application/merge-patch+json' }, body: '{"status":{}}' });
    await res.text();
    return res.status;
  } finally {
    http.close();
  }
};

it('only a join token (or an admin) mints; the credential acts for its node only and is the node\'s only live one', async ({ server, store }) => {
  for (const n of ['cred-a', 'cred-b']) await server.client.create('Node', undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: n } });
  const joinToken = await made(store.create('join', { ttlSeconds: 600 }).token);
  const first = await mint(server, joinToken, 'cred-a');
  assert.is(first.status, 200, first.text);
  assert.match(first.text, /^K10[0-9a-f]{64}::[0-9a-f]{16}\.[0-9a-f]{32}\n$/);
  const a1 = credentialOf(first.text);
  assert.is(await whoCanPatchStatus(server, a1, 'cred-a'), 200);
  assert.is(await whoCanPatchStatus(server, a1, 'cred-b'), 403, 'bound to its own node');
  // A node credential cannot mint (not for itself, not for another node); neither can a viewer.
  assert.is((await mint(server, a1, 'cred-a')).status, 403);
  assert.is((await mint(server, a1, 'cred-b')).status, 403);
  assert.is((await mint(server, await made(store.create('viewer').token), 'cred-b')).status, 403);
  assert.is((await mint(server, undefined, 'cred-b')).status, 401);
  assert.is((await mint(server, joinToken, 'Not_A_Name')).status, 400);
  // A re-join replaces the node's credential: the old one stops working at once.
  const a2 = credentialOf((await mint(server, joinToken, 'cred-a')).text);
  assert.is(await whoCanPatchStatus(server, a2, 'cred-a'), 200);
  assert.is(await whoCanPatchStatus(server, a1, 'cred-a'), 401, 'the replaced credential is revoked');
  const live = new TokenStore(join(server.dataDir, 'server', 'tokens.json')).list().filter((r) => r.node === 'cred-a');
  assert.is(live.length, 1);
  assert.is(live[0]!.mintedBy, joinToken.split('.')[0]);
  // The admin may mint too (corral join on the server machine does the same through the file).
  assert.is((await mint(server, server.token, 'cred-b')).status, 200);
});

it('revoking a join token with --cascade revokes the credentials it minted; without, they stay', async ({ server, store }) => {
  const j1 = store.create('join').token;
  const j2 = await made(store.create('join').token);
  const fromJ1 = credentialOf((await mint(server, j1, 'cred-a')).text);
  const fromJ2 = credentialOf((await mint(server, j2, 'cred-b')).text);
  const revoke = (id: string, ...flags: string[]): void => {
    const r = spawnSync(process.execPath, [CLI, 'token', 'revoke', id, ...flags, '--data-dir', server.dataDir], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
  };
  revoke(j1.split('.')[0]!, '--cascade');
  revoke(j2.split('.')[0]!);
  await waitUntil('the cascade reaches the server', async () => (await whoCanPatchStatus(server, fromJ1, 'cred-a')) === 401, 5_000);
  assert.is((await mint(server, j1, 'cred-a')).status, 401, 'the join token itself is gone');
  assert.is(await whoCanPatchStatus(server, fromJ2, 'cred-b'), 200, 'a plain revoke leaves the offspring');
});

it('minting is rate-limited per join token (429 with Retry-After), not per server', async ({ server, store }) => {
  const busy = store.create('join').token;
  const other = await made(store.create('join').token);
  for (let i = 0; i < 30; i++) assert.is((await mint(server, busy, `rack-${i}`)).status, 200, `mint ${i}`);
  const refused = await mint(server, busy, 'rack-30');
  assert.is(refused.status, 429, refused.text);
  assert.ok(Number(refused.retryAfter) >= 1, `Retry-After ${refused.retryAfter}`);
  assert.is((await mint(server, other, 'rack-30')).status, 200, 'another join token is not held back');
});

throttling('bad tokens from one address are throttled after a burst, and logged without the secret', async ({ server }) => {
  const secret = 'f00dfeedf00dfeedf00dfeedf00dfeed';
  const answers: number[] = [];
  for (let i = 0; i <= BURST; i++) answers.push((await call(server, `deadbeefdeadbeef.${secret}`, 'GET', '/api/v1/pods')).status);
  assert.equal(answers, [...Array<number>(BURST).fill(401), 429]);
  const throttled = await call(server, `deadbeefdeadbeef.${secret}`, 'GET', '/api/v1/pods');
  assert.is(throttled.status, 429);
  assert.ok(Number(throttled.retryAfter) >= 1);
  assert.is((JSON.parse(throttled.text) as { reason: string }).reason, 'TooManyRequests');
  // The join routes share the budget.
  assert.is((await mint(server, `deadbeefdeadbeef.${secret}`, 'x')).status, 429);
  await waitUntil('the failure is logged', async () => server.logs.includes('authentication failed'), 5_000);
  const lines = server.logs.split('\n').filter((l) => l.includes('authentication failed'));
  assert.ok(lines.some((l) => l.includes('127.0.0.1') && l.includes('/api/v1/pods')), lines.join('\n'));
  assert.not.ok(server.logs.includes(secret), 'no secret in the logs');
  assert.ok(lines.length <= 2, `at most one line a minute per source, got ${lines.length}`);
});

it.run();
throttling.run();
