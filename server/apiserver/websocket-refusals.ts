/**
 * A WebSocket upgrade the API refuses (pod not scheduled, unknown container, 403) must reach the
 * client with its Status body: client-go decodes it, so kubectl prints the real cause instead of a
 * bare "bad handshake" and a misleading SPDY fallback error. @hono/node-server answers a refused
 * upgrade with its status line only (`Content-Length: 0`), so the body of each refused upgrade is
 * kept here by its request, and the bodyless answer is rewritten to carry it.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

interface RefusalBody { body: Buffer; contentType: string }

const refusals = new WeakMap<IncomingMessage, RefusalBody>();

type Fetch = (request: Request, env?: unknown) => Response | Promise<Response>;

/** Wraps the app's fetch: remembers the body of every WebSocket upgrade answered with an error. */
export function rememberRefusedUpgrades(fetch: Fetch): Fetch {
  return async (request, env) => {
    const response = await fetch(request, env);
    const e = env as { incoming?: IncomingMessage; outgoing?: unknown } | undefined;
    // Upgrade requests arrive without an `outgoing` response object (there is only the socket).
    if (e?.incoming && e.outgoing === undefined && response.status >= 400 && request.headers.get('upgrade')?.toLowerCase() === 'websocket') {
      refusals.set(e.incoming, {
        body: Buffer.from(await response.clone().arrayBuffer()),
        contentType: response.headers.get('content-type') ?? 'application/json',
      });
    }
    return response;
  };
}

/**
 * Makes `socket` send the remembered body with a bodyless refusal written for `request`. Call before
 * handing the upgrade to the WebSocket listener.
 */
export function sendRefusalBodies(request: IncomingMessage, socket: Duplex): void {
  const end = socket.end.bind(socket) as (chunk?: unknown, ...rest: unknown[]) => Duplex;
  socket.end = ((chunk?: unknown, ...rest: unknown[]) => {
    const refusal = refusals.get(request);
    if (refusal && typeof chunk === 'string' && /^HTTP\/1\.1 [45]\d\d /.test(chunk) && /\r\nContent-Length: 0\r\n/i.test(chunk)) {
      refusals.delete(request);
      const head = chunk.slice(0, chunk.indexOf('\r\n\r\n'))
        .replace(/\r\nContent-Length: 0/i, `\r\nContent-Length: ${refusal.body.length}`)
        .replace(/\r\nContent-Type: [^\r]*/i, '');
      return end(Buffer.concat([Buffer.from(`${head}\r\nContent-Type: ${refusal.contentType}\r\n\r\n`), refusal.body]), ...rest);
    }
    return end(chunk, ...rest);
  }) as Duplex['end'];
}
