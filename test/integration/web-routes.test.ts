/**
 * The status page's static routes on the real API app (no socket: app.fetch): served without a token,
 * with a strict CSP, gzip and ETag revalidation; the data stream needs a token; the page stays small.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createApiApp } from '../../server/apiserver/app.js';
import { Registry } from '../../server/apiserver/registry.js';
import { TokenStore } from '../../server/auth/tokens.js';
import { openSqliteStore } from '../../server/store/sqlite-store.js';
import { findAssetDir, registerStatusPage } from '../../server/web/routes.js';
import { defaultPolicyAuthorizer } from '../support/default-policy.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-web-'));
const store = await openSqliteStore({ path: join(dir, 'state.db') });
const tokens = new TokenStore(join(dir, 'tokens.json'));
const { app, authorizer } = createApiApp({ registry: new Registry(store), tokens, serverAddress: '127.0.0.1:6443', extraRoutes: (a) => registerStatusPage(a) });
// Viewers read through RBAC's default bindings, as in a real server.
authorizer.append(defaultPolicyAuthorizer());
const get = (path: string, headers: Record<string, string> = {}): Promise<Response> => Promise.resolve(app.fetch(new Request(`http://x${path}`, { headers })));

test('/ serves the page without a token, with a strict CSP', async () => {
  const res = await get('/');
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/html/);
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /connect-src 'self'/);
  assert.not.match(csp, /unsafe-inline/);
  const html = await res.text();
  assert.match(html, /<script type="module" src="\/ui\/app.js">/);
  assert.not.match(html, /https?:\/\//, 'no external assets');
});

test('assets: gzip when asked, 304 for a matching ETag, 404 for unknown files', async () => {
  const plain = await get('/ui/app.js');
  assert.is(plain.status, 200);
  assert.match(plain.headers.get('content-type') ?? '', /javascript/);
  const text = await plain.text();
  const gz = await get('/ui/app.js', { 'accept-encoding': 'gzip, br' });
  assert.is(gz.headers.get('content-encoding'), 'gzip');
  assert.is(gunzipSync(Buffer.from(await gz.arrayBuffer())).toString('utf8'), text);
  const etag = plain.headers.get('etag')!;
  const again = await get('/ui/app.js', { 'if-none-match': etag });
  assert.is(again.status, 304);
  assert.is((await get('/ui/style.css')).headers.get('content-type'), 'text/css; charset=utf-8');
  assert.is((await get('/ui/secrets.txt')).status, 404);
  assert.is((await get('/ui/..%2Fpackage.json')).status, 404);
});

test('the data stream and the API need a token', async () => {
  assert.is((await get('/ui/stream')).status, 401);
  assert.is((await get('/ui/stream', { authorization: 'Bearer nope.nope' })).status, 401);
  assert.is((await get('/api/v1/pods')).status, 401);
  const { token } = tokens.create('viewer');
  const res = await get('/ui/stream', { authorization: `Bearer ${token}` });
  assert.is(res.status, 200);
  const reader = res.body!.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  assert.match(first, /"type":"SYNC"/);
  await reader.cancel();
});

// 40 KB since the usage charts (an hour of CPU and memory per node) joined the page.
test('the page stays small (< 40 KB uncompressed)', () => {
  const d = findAssetDir()!;
  const total = ['index.html', 'app.js', 'style.css'].reduce((n, f) => n + statSync(join(d, f)).size, 0);
  assert.ok(total < 40 * 1024, `${total} bytes`);
});

test.after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test.run();
