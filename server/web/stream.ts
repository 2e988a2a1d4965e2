/**
 * `/ui/stream`: the status page's one live connection. A browser allows only six HTTP/1.1
 * connections per server, so seven open watch requests (nodes, pods, workloads, services, events)
 * would starve the page's own clicks and a second tab. This endpoint runs those list+watch loops
 * server-side through the API itself — in process, with the caller's own bearer token, so the same
 * authentication and role checks apply — and multiplexes them into one newline-delimited JSON stream:
 *
 *   {"resource":"pods","type":"SYNC","items":[...]}       full state (first, and after 410 Gone)
 *   {"resource":"pods","type":"ADDED","object":{...}}     then every watch event (MODIFIED, DELETED)
 *   {"type":"PING"}                                      every 25 s, so dead connections are noticed
 *                                                        (and the token is checked again)
 *   {"type":"ERROR","code":401,"message":"..."}          and the stream ends
 */
import type { Context, Hono } from 'hono';
import type { KubeObject } from '../../api/meta.js';
import { ApiClient } from '../../api/client/client.js';
import { InProcessTransport } from '../../api/client/transport.js';
import { StatusError, isGone, isForbidden, isUnauthorized } from '../../api/status.js';
import type { Env } from '../apiserver/app.js';

/** What the page shows, by the name the page uses. */
export const STREAMED_RESOURCES: Readonly<Record<string, string>> = {
  nodes: 'Node',
  pods: 'Pod',
  deployments: 'Deployment',
  daemonsets: 'DaemonSet',
  jobs: 'Job',
  services: 'Service',
  events: 'Event',
};

const PING_INTERVAL_MS = 25_000;
const encoder = new TextEncoder();

interface StreamLine {
  type: string;
  resource?: string;
  items?: KubeObject[];
  object?: KubeObject;
  code?: number;
  message?: string;
}

/** One resource's list-then-watch loop; re-lists after 410 Gone, resumes after a closed stream. */
async function follow(client: ApiClient, resource: string, kind: string, send: (l: StreamLine) => void, signal: AbortSignal): Promise<void> {
  let rv: string | undefined;
  while (!signal.aborted) {
    if (rv === undefined) {
      const list = await client.listAll(kind);
      rv = list.metadata.resourceVersion ?? '0';
      send({ resource, type: 'SYNC', items: list.items });
    }
    try {
      for await (const ev of client.watchOnce(kind, undefined, { resourceVersion: rv, allowWatchBookmarks: true, signal })) {
        const next = ev.object?.metadata?.resourceVersion;
        if (next) rv = next;
        if (ev.type !== 'BOOKMARK') send({ resource, type: ev.type, object: ev.object });
      }
    } catch (err) {
      if (isGone(err)) {
        rv = undefined;
        continue;
      }
      throw err;
    }
  }
}

export function streamHandler(app: Hono<Env>): (c: Context<Env>) => Promise<Response> {
  return async (c) => {
    const authorization = c.req.header('authorization') ?? '';
    const client = new ApiClient(new InProcessTransport(app, { authorization }));
    // Check the token before answering 200, so the page can tell "bad token" from "server down".
    try {
      await client.list('Namespace', undefined, { limit: 1 });
    } catch (err) {
      const status = err instanceof StatusError ? err : new StatusError(500, 'InternalError', (err as Error).message);
      return new Response(JSON.stringify(status.toStatus()), { status: status.code, headers: { 'content-type': 'application/json' } });
    }
    const abort = new AbortController();
    c.req.raw.signal?.addEventListener('abort', () => abort.abort());
    (c.env as { outgoing?: { once(ev: 'close', fn: () => void): void } } | undefined)?.outgoing?.once('close', () => abort.abort());
    if (c.req.raw.signal?.aborted) abort.abort(); // the client left before this point: no event will come
    let ping: NodeJS.Timeout | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        const send = (l: StreamLine): void => {
          if (!abort.signal.aborted) controller.enqueue(encoder.encode(`${JSON.stringify(l)}\n`));
        };
        const end = (): void => {
          if (abort.signal.aborted) return;
          abort.abort();
          clearInterval(ping);
          controller.close();
        };
        // Each ping also re-checks the token, so a revoked or expired one ends the stream.
        ping = setInterval(() => {
          send({ type: 'PING' });
          client.list('Namespace', undefined, { limit: 1 }).catch((err: unknown) => {
            if (!(err instanceof StatusError) || !(isUnauthorized(err) || isForbidden(err))) return;
            send({ type: 'ERROR', code: err.code, message: err.message });
            end();
          });
        }, PING_INTERVAL_MS);
        for (const [resource, kind] of Object.entries(STREAMED_RESOURCES)) {
          follow(client, resource, kind, send, abort.signal).then(end, (err: unknown) => {
            if (abort.signal.aborted) return;
            const code = err instanceof StatusError ? err.code : 500;
            send({ type: 'ERROR', code, message: `${resource}: ${(err as Error).message}` });
            end();
          });
        }
      },
      cancel() {
        clearInterval(ping);
        abort.abort();
      },
    });
    return new Response(body, {
      status: 200,
      headers: { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache, private', 'x-content-type-options': 'nosniff' },
    });
  };
}
