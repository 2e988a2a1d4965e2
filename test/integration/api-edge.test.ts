/**
 * Edge cases of the API server at the HTTP level, against a real `corral server` process: what
 * bad or unusual input does (never a 500, never a partial write) and where the behaviour has to
 * match the Kubernetes apiserver exactly (status codes, reasons, messages).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ServerProcess } from '../support/server-process.js';
import { HttpsTransport, type TransportResponse } from '../../api/client/transport.js';

const it = suite<{ server: ServerProcess; http: HttpsTransport }>('api-edge');

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'], env: { CORRAL_WATCH_BOOKMARK_INTERVAL_MS: '300' } });
  ctx.http = new HttpsTransport({ server: ctx.server.url, caPem: ctx.server.caPem, token: ctx.server.token });
});

it.after(async (ctx) => {
  ctx.http?.close();
  await ctx.server?.destroy();
});

interface Reply { status: number; json: Record<string, unknown>; text: string; headers: TransportResponse['headers'] }

async function send(http: HttpsTransport, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Reply> {
  const payload = body === undefined ? undefined : typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
  const res = await http.request({ method, path, ...(payload !== undefined ? { body: payload } : {}), headers: payload !== undefined ? { 'content-type': contentType } : {} });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try { json = JSON.parse(text) as Record<string, unknown>; } catch { json = {}; }
  return { status: res.status, json, text, headers: res.headers };
}

function expectCode(r: Reply, code: number, reason?: string): void {
  assert.is(r.status, code, `expected ${code}, got ${r.status}: ${r.text.slice(0, 400)}`);
  if (reason) assert.is(r.json['reason'], reason, r.text.slice(0, 400));
}

const CM = '/api/v1/namespaces/default/configmaps';

it('concurrent merge patches of one object are all applied (no lost update, no 409)', async ({ http }) => {
  expectCode(await send(http, 'POST', CM, { metadata: { name: 'concurrent' } }), 201);
  const replies = await Promise.all(Array.from({ length: 40 }, (_, i) =>
    send(http, 'PATCH', `${CM}/concurrent`, { data: { [`k${i}`]: 'v' } }, 'application/merge-patch+json')));
  assert.equal(replies.map((r) => r.status), replies.map(() => 200), replies.find((r) => r.status !== 200)?.text);
  const got = await send(http, 'GET', `${CM}/concurrent`);
  assert.is(Object.keys(got.json['data'] as object).length, 40);
});

it.run();
