/**
 * Leader election on a real API server's Lease with three candidates and short timings: exactly one
 * leads; when the leader is cut off from the API (as a crashed or partitioned server is), it stops
 * leading by its renew deadline, another takes over within the lease duration, and at no moment do
 * two candidates lead at once. A server on SQLite runs its controllers without a Lease.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../server/main.js';
import { defaultServerConfig } from '../../server/config.js';
import { ApiClient } from '../../api/client/client.js';
import { HttpsTransport, type Transport, type TransportRequest, type TransportResponse } from '../../api/client/transport.js';
import { LeaderElector } from '../../api/machinery/leader-election.js';
import type { Lease } from '../../api/types.js';
import { log } from '../../api/log.js';
import { waitUntil } from '../support/wait.js';

log.setLevel('error');

/** A transport that can be cut: every request fails while cut (the candidate cannot reach the API). */
class CuttableTransport implements Transport {
  cut = false;
  constructor(private readonly inner: Transport) {}
  request(req: TransportRequest): Promise<TransportResponse> {
    if (this.cut) return Promise.reject(new Error('connection refused (cut by the test)'));
    return this.inner.request(req);
  }
}

test('three candidates: one leader at a time; a cut-off leader steps down and another takes over within the lease', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'corral-le-'));
  const server = await startServer({ ...defaultServerConfig(), dataDir, port: 0, bindAddress: '127.0.0.1', disableAgent: true, disableControllers: true });
  const stop = new AbortController();
  const https = new HttpsTransport({ server: server.url, caPem: server.tls.caPem, token: server.adminToken });
  const leaseSeconds = 3;
  // Who leads, over time: [identity, start, end?] (performance.now()).
  const terms: { id: string; start: number; end?: number }[] = [];
  const candidates = ['a', 'b', 'c'].map((id) => {
    const transport = new CuttableTransport(https);
    const elector = new LeaderElector({
      client: new ApiClient(transport), namespace: 'kube-system', name: 'test-election', identity: id,
      leaseDurationSeconds: leaseSeconds, renewDeadlineMs: 2_000, retryPeriodMs: 300, signal: stop.signal,
      onStartedLeading: (signal) => {
        const term: { id: string; start: number; end?: number } = { id, start: performance.now() };
        terms.push(term);
        signal.addEventListener('abort', () => { term.end = performance.now(); });
      },
    });
    return { id, transport, elector };
  });
  try {
    for (const c of candidates) void c.elector.run();
    const first = await waitUntil('a leader', async () => candidates.find((c) => c.elector.isLeader), 10_000, 50);
    await new Promise((r) => setTimeout(r, 1_500));
    assert.is(candidates.filter((c) => c.elector.isLeader).length, 1, 'exactly one leader while all are healthy');
    const lease = await server.client.get<Lease>('Lease', 'kube-system', 'test-election');
    assert.is(lease.spec?.holderIdentity, first.id);

    const cutAt = performance.now();
    first.transport.cut = true;
    const next = await waitUntil('another leader', async () => candidates.find((c) => c !== first && c.elector.isLeader), 15_000, 50);
    const tookMs = performance.now() - cutAt;
    assert.ok(tookMs <= (leaseSeconds + 2) * 1000, `took over in ${Math.round(tookMs)} ms`);
    assert.not.ok(first.elector.isLeader, 'the cut-off leader stepped down');
    const after = await server.client.get<Lease>('Lease', 'kube-system', 'test-election');
    assert.is(after.spec?.holderIdentity, next.id);
    assert.is(after.spec?.leaseTransitions, 1);

    // The old leader comes back: it does not lead again while the new one renews.
    first.transport.cut = false;
    await new Promise((r) => setTimeout(r, 2_000));
    assert.is(candidates.filter((c) => c.elector.isLeader).length, 1);
    assert.ok(next.elector.isLeader);

    // Never two at once: each term ended before the next began.
    const sorted = [...terms].sort((x, y) => x.start - y.start);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      assert.ok(prev.end !== undefined && prev.end <= sorted[i]!.start, `term of ${prev.id} overlapped the term of ${sorted[i]!.id}`);
    }
  } finally {
    stop.abort();
    https.close();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a server on SQLite runs its controllers at once, with no Lease to renew (a single server: nobody to elect)', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'corral-le-'));
  const server = await startServer({ ...defaultServerConfig(), dataDir, port: 0, bindAddress: '127.0.0.1', disableAgent: true });
  try {
    assert.ok(server.isLeader(), 'leads from the start');
    // The controllers run: a Deployment gets its ReplicaSet.
    await server.client.create('Deployment', 'default', {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
      spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
    });
    await waitUntil('a ReplicaSet of the Deployment', async () => (await server.client.list('ReplicaSet', 'default')).items.length === 1, 10_000, 50);
    const lease = await server.client.tryGet<Lease>('Lease', 'kube-system', 'corral-controllers');
    assert.is(lease, undefined, 'no controllers\' Lease on SQLite (the etcd case: integration/ha-servers)');
  } finally {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
