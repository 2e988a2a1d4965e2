/**
 * The official Python client (Debian's python3-kubernetes, run by the system Python) against a real
 * `corral server`: typed calls, watches that stream events (`watch=True` on the wire), a list + watch
 * that resumes from its resourceVersion after the server restarts, the dynamic client, patches of
 * every type, and server-side apply where `force=True` takes a field over.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServerProcess } from '../support/server-process.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'python', 'client-scenarios.py');

const it = suite<{ server: ServerProcess }>('python client');

function python(server: ServerProcess, scenario: string, ...args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [SCRIPT, server.kubeconfig, scenario, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`python ${scenario} failed: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as Record<string, unknown>);
    });
  });
}

it.before(async (ctx) => {
  const installed = await new Promise<boolean>((resolve) => execFile(PYTHON, ['-c', 'import kubernetes'], (err) => resolve(!err)));
  // test/setup.sh installs python3-kubernetes; without it this tier fails rather than skips.
  if (!existsSync(PYTHON) || !installed) throw new Error('the Python client is missing: apt-get install python3-kubernetes (test/setup.sh does)');
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'] });
});

it.after(async (ctx) => {
  await ctx.server?.destroy();
});

it('typed API: create, list by label, JSON patch and strategic merge patch, a 404 as ApiException', async ({ server }) => {
  const r = await python(server, 'typed');
  assert.equal(r['listed'], ['typed']);
  assert.equal(r['patched'], { a: '2' });
  assert.equal(r['smp'], { via: 'smp' });
  assert.equal(r['missing'], { status: 404, reason: 'NotFound' });
});

it('watch=True streams events, not a list', async ({ server }) => {
  const r = await python(server, 'watch');
  const events = r['events'] as { type: string; name: string; kind: string }[];
  assert.ok(events.length >= 1, 'some events');
  assert.ok(events.every((e) => e.type === 'ADDED' && e.kind === 'ConfigMap'), JSON.stringify(events));
  assert.ok(events.some((e) => e.name === 'typed'));
  const raw = r['raw_first_line'] as { type?: string; kind?: string };
  assert.is(raw.type, 'ADDED', `the raw stream's first line is an event: ${JSON.stringify(raw).slice(0, 100)}`);
  assert.is(raw.kind, undefined);
});

it('list, server restart, then a watch from the listed resourceVersion sees what happened meanwhile', async ({ server }) => {
  const listed = await python(server, 'list');
  const rv = String(listed['resourceVersion']);
  await server.restart();
  await server.client.create('ConfigMap', 'py', { metadata: { name: 'after-restart' }, data: { x: '1' } });
  const r = await python(server, 'watch', rv);
  const events = r['events'] as { type: string; name: string }[];
  assert.equal(events.map((e) => `${e.type} ${e.name}`), ['ADDED after-restart'], 'only the change after the list, nothing replayed');
});

it('dynamic client: create, get, strategic/merge/JSON patches, server-side apply needing force=True, delete', async ({ server }) => {
  const r = await python(server, 'dynamic');
  assert.is(r['replicas'], 1);
  assert.is(r['smp_image'], 'nginx:1.28');
  assert.equal(r['merge_labels'], { via: 'merge' });
  assert.is(r['json_replicas'], 2);
  assert.is(r['conflict'], 409, 'replicas belongs to the creator; applying another value conflicts');
  assert.is(r['forced_replicas'], 5, 'force=True takes the field over');
  assert.ok((r['managers'] as string[]).includes('py-apply'));
  assert.ok((r['configmaps'] as string[]).includes('typed'));
  const gone = await server.client.get('Deployment', 'py', 'dyn').catch((err: Error) => err);
  assert.instance(gone, Error);
});

it.run();
