/**
 * `/ui/usage`: each node's CPU and memory over the last hour, from the in-memory ring buffers of the
 * usage collector, for the status page's charts. Asked with the page's own token: it answers only
 * to whom the API lets list `nodes.metrics.k8s.io` (checked by asking the API in process, as
 * /ui/stream does), so it shows nothing the metrics API would not.
 *
 *   {"intervalSeconds":15,"nodes":{"pi-1":[[<ms since epoch>, <cpu cores>, <memory bytes>], ...]}}
 */
import type { Hono } from 'hono';
import { ApiClient } from '../../api/client/client.js';
import { InProcessTransport } from '../../api/client/transport.js';
import { StatusError } from '../../api/status.js';
import type { Env } from '../apiserver/app.js';
import type { UsageStore } from '../metrics/usage-store.js';

export function registerUsageHistory(app: Hono<Env>, store: UsageStore, intervalMs: number): void {
  app.get('/ui/usage', async (c) => {
    const client = new ApiClient(new InProcessTransport(app, { authorization: c.req.header('authorization') ?? '' }));
    try {
      await client.list('NodeMetrics');
    } catch (err) {
      const status = err instanceof StatusError ? err : new StatusError(500, 'InternalError', (err as Error).message);
      return new Response(JSON.stringify(status.toStatus()), { status: status.code, headers: { 'content-type': 'application/json' } });
    }
    return c.json({ intervalSeconds: intervalMs / 1000, nodes: store.histories() }, 200, { 'cache-control': 'no-cache, private' });
  });
}
