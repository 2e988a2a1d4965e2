/**
 * The apiserver's `/metrics`: Prometheus text a strict parser accepts, upstream's metric names, request
 * counters that move with requests, and access through the authorizer chain (no token 401, a viewer 403).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { HttpsTransport } from '../../api/client/transport.js';
import { TokenStore } from '../../server/auth/tokens.js';
import { ServerProcess } from '../support/server-process.js';

interface Sample { name: string; labels: Record<string, string>; value: number }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)/y;

/** A strict parser of the Prometheus text format (0.0.4): throws on any line it does not understand. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  assert.ok(text.endsWith('\n'), 'exposition must end with a newline');
  for (const [i, line] of text.slice(0, -1).split('\n').entries()) {
    const where = `line ${i + 1}: ${line}`;
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!m) continue; // plain comments are allowed
      if (!NAME.test(m[2]!)) throw new Error(`bad metric name in ${where}`);
      if (m[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3] ?? '')) throw new Error(`bad type in ${where}`);
        if (types.has(m[2]!)) throw new Error(`second TYPE in ${where}`);
        types.set(m[2]!, m[3]!);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    if (!m) throw new Error(`unparsable sample in ${where}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const l = LABEL.exec(body);
      if (!l) throw new Error(`bad labels in ${where}`);
      if (l[1]! in labels) throw new Error(`repeated label in ${where}`);
      labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const raw = m[3]!;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : raw === 'NaN' ? NaN : Number(raw);
    if (!/^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/.test(raw)) throw new Error(`bad value in ${where}`);
    const family = m[1]!.replace(/_(bucket|sum|count|total|created)$/, '');
    if (!types.has(m[1]!) && !types.has(family)) throw new Error(`sample before its TYPE in ${where}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return { samples, types };
}

const value = (samples: Sample[], name: string, want: Record<string, string>): number =>
  samples.filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);

interface Ctx { server: ServerProcess; viewer: string }
const it = suite<Ctx>('server /metrics');

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'] });
  ctx.viewer = new TokenStore(join(ctx.server.dataDir, 'server', 'tokens.json')).create('viewer').token;
});

it.after(async (ctx) => {
  await ctx.server?.destroy();
});

async function get(server: ServerProcess, path: string, token: string | undefined): Promise<{ status: number; text: string; type: string }> {
  const http = new HttpsTransport({ server: server.url, caPem: server.caPem, ...(token !== undefined ? { token } : {}) });
  try {
    const res = await http.request({ method: 'GET', path });
    return { status: res.status, text: await res.text(), type: res.headers['content-type'] ?? '' };
  } finally {
    http.close();
  }
}

it('admin reads strict Prometheus text with upstream names; counters move with requests', async (ctx) => {
  const before = await get(ctx.server, '/metrics', ctx.server.token);
  assert.is(before.status, 200, before.text);
  assert.match(before.type, /^text\/plain; version=0\.0\.4/);
  const first = parseExposition(before.text);
  assert.is(first.types.get('apiserver_request_total'), 'counter');
  assert.is(first.types.get('apiserver_request_duration_seconds'), 'histogram');
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds']) {
    assert.ok(first.types.has(name), `${name} missing`);
  }
  const listPods = { verb: 'LIST', resource: 'pods', group: '', version: 'v1', code: '200' };
  const getMissing = { verb: 'GET', resource: 'configmaps', code: '404' };
  const countBefore = value(first.samples, 'apiserver_request_total', listPods);
  const missingBefore = value(first.samples, 'apiserver_request_total', getMissing);
  for (let i = 0; i < 3; i++) assert.is((await get(ctx.server, '/api/v1/namespaces/default/pods', ctx.server.token)).status, 200);
  assert.is((await get(ctx.server, '/api/v1/namespaces/default/configmaps/nope', ctx.server.token)).status, 404);

  const after = parseExposition((await get(ctx.server, '/metrics', ctx.server.token)).text);
  assert.is(value(after.samples, 'apiserver_request_total', listPods), countBefore + 3);
  assert.is(value(after.samples, 'apiserver_request_total', getMissing), missingBefore + 1);
  const observed = value(after.samples, 'apiserver_request_duration_seconds_count', { verb: 'LIST', resource: 'pods' });
  assert.ok(observed >= 3, `LIST pods latency observations: ${observed}`);
  const inf = value(after.samples, 'apiserver_request_duration_seconds_bucket', { verb: 'LIST', resource: 'pods', le: '+Inf' });
  assert.is(inf, observed);
});

it('no token is 401, a viewer is 403 (the authorizer chain decides, as for any non-resource URL)', async (ctx) => {
  const anon = await get(ctx.server, '/metrics', undefined);
  assert.is(anon.status, 401);
  const viewer = await get(ctx.server, '/metrics', ctx.viewer);
  assert.is(viewer.status, 403);
  assert.match(viewer.text, /forbidden/i);
  assert.not.match(viewer.text, /apiserver_request_total/);
  // The refusals are counted with their codes.
  const text = (await get(ctx.server, '/metrics', ctx.server.token)).text;
  const { samples } = parseExposition(text);
  assert.ok(value(samples, 'apiserver_request_total', { verb: 'GET', code: '403' }) >= 1);
  assert.ok(value(samples, 'apiserver_request_total', { verb: 'GET', code: '401' }) >= 1);
});

it('the system:monitoring group may read /metrics through the default RBAC policy, others may not', async (ctx) => {
  const as = async (groups: string[]): Promise<number> => {
    const http = new HttpsTransport({ server: ctx.server.url, caPem: ctx.server.caPem, token: ctx.server.token });
    try {
      const headers: Record<string, string> = { 'impersonate-user': 'prometheus' };
      if (groups.length > 0) headers['impersonate-group'] = groups.join(',');
      const res = await http.request({ method: 'GET', path: '/metrics', headers });
      await res.text();
      return res.status;
    } finally {
      http.close();
    }
  };
  assert.is(await as(['system:monitoring']), 200);
  assert.is(await as([]), 403);
});

it.run();
