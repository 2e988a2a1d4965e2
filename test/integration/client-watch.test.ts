/**
 * The typed client's long-running watch against an in-process server: it resumes from the last
 * resourceVersion when a stream ends (no gaps, no duplicates) and re-lists after 410 Gone.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../server/main.js';
import { defaultServerConfig } from '../../server/config.js';
import { ApiClient } from '../../api/client/client.js';
import { HttpsTransport } from '../../api/client/transport.js';
import { log } from '../../api/log.js';

log.setLevel('error');

async function withServer(fn: (s: RunningServer, client: ApiClient) => Promise<void>): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'corral-cw-'));
  const server = await startServer({ ...defaultServerConfig(), dataDir, port: 0, bindAddress: '127.0.0.1', disableAgent: true, disableControllers: true });
  const transport = new HttpsTransport({ server: server.url, caPem: server.tls.caPem, token: server.adminToken });
  try {
    await fn(server, new ApiClient(transport));
  } finally {
    transport.close();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

test('watch resumes after the server ends each stream, without gaps or duplicates', () => withServer(async (_s, client) => {
  const abort = new AbortController();
  const seen: string[] = [];
  const done = (async () => {
    for await (const ev of client.watch('ConfigMap', 'default', { signal: abort.signal, timeoutSeconds: 1 })) {
      if (ev.type === 'RESYNC') continue;
      seen.push(`${ev.type}:${ev.object.metadata.name}`);
      if (seen.length === 12) abort.abort();
    }
  })();
  for (let i = 0; i < 6; i++) {
    await client.create('ConfigMap', 'default', { metadata: { name: `c${i}` } });
    await client.delete('ConfigMap', 'default', `c${i}`);
    await new Promise((r) => setTimeout(r, 350)); // several stream ends (timeoutSeconds=1) happen meanwhile
  }
  await Promise.race([done, new Promise((r) => setTimeout(r, 10_000))]);
  abort.abort();
  const expected = Array.from({ length: 6 }, (_, i) => [`ADDED:c${i}`, `DELETED:c${i}`]).flat();
  assert.equal(seen, expected);
}));

test('a compacted resourceVersion makes the watch re-list (RESYNC with the full state)', () => withServer(async (server, client) => {
  await client.create('ConfigMap', 'default', { metadata: { name: 'before' } });
  const list = await client.list('ConfigMap', 'default');
  const oldRv = list.metadata.resourceVersion!;
  for (let i = 0; i < 5; i++) await client.create('ConfigMap', 'default', { metadata: { name: `later${i}` } });
  await server.sqlite!.compact(server.sqlite!.currentRevision());
  const abort = new AbortController();
  const events: string[] = [];
  let resync: string[] | undefined;
  for await (const ev of client.watch('ConfigMap', 'default', { signal: abort.signal, resourceVersion: oldRv })) {
    if (ev.type === 'RESYNC') {
      resync = ev.items.map((i) => i.metadata.name!).sort();
      await client.create('ConfigMap', 'default', { metadata: { name: 'after' } });
      continue;
    }
    events.push(`${ev.type}:${ev.object.metadata.name}`);
    abort.abort();
  }
  assert.equal(resync, ['before', 'later0', 'later1', 'later2', 'later3', 'later4']);
  assert.equal(events, ['ADDED:after']);
}));

test.run();
