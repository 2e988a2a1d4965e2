/**
 * The API server's side of `kubectl port-forward`: opens the SPDY/3.1 tunnel to the agent of the
 * pod's node first (its kubelet endpoint, `POST /portForward/<ns>/<pod>`, node token and pinned
 * certificate as for exec), so a refusal reaches kubectl as an HTTP error, then upgrades kubectl's
 * request and splices the two byte streams:
 *   - WebSocket `SPDY/3.1+portforward.k8s.io` (kubectl 1.32's default): SPDY frames tunnelled in
 *     binary messages, unwrapped here into the agent's byte stream, as upstream's tunnelling handler;
 *   - the `Upgrade: SPDY/3.1` fallback: a 101 on the raw socket (raw-upgrades.ts), then bytes as-is.
 * The server never parses SPDY; the agent runs the session.
 */
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Context } from 'hono';
import { upgradeWebSocket } from '@hono/node-server';
import { createWebSocketStream, type WebSocket } from 'ws';
import { errors, StatusError } from '../../api/status.js';
import { log } from '../../api/log.js';
import type { Pod } from '../../api/types.js';
import { claimRawUpgrade, rawUpgradeOf } from './raw-upgrades.js';

export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';
export const PORT_FORWARD_WEBSOCKET_PROTOCOL = `SPDY/3.1+${PORT_FORWARD_PROTOCOL}`;
/** kubectl must complete its WebSocket handshake within this long, or the agent tunnel is dropped. */
const CLIENT_UPGRADE_TIMEOUT_MS = 10_000;

export interface AgentEndpoint { host: string; port: number; token: string; certPem: string }

/** Opens the upgraded connection to the agent; a refusal becomes a Status with the agent's text. */
function openAgentTunnel(t: AgentEndpoint, pod: Pod): Promise<Duplex> {
  const path = `/portForward/${encodeURIComponent(pod.metadata.namespace ?? 'default')}/${encodeURIComponent(pod.metadata.name!)}`;
  return new Promise<Duplex>((resolve, reject) => {
    const req = httpsRequest({
      host: t.host, port: t.port, method: 'POST', path, timeout: 10_000, ca: t.certPem, checkServerIdentity: () => undefined,
      headers: { authorization: `Bearer ${t.token}`, connection: 'Upgrade', upgrade: 'SPDY/3.1', 'x-stream-protocol-version': PORT_FORWARD_PROTOCOL },
    });
    req.on('upgrade', (_res, socket, head) => {
      socket.setTimeout(0);
      socket.setNoDelay(true);
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { if (text.length < 4096) text += d; });
      res.on('end', () => {
        const code = res.statusCode ?? 500;
        reject(new StatusError(code === 401 ? 500 : code, code === 404 ? 'NotFound' : code === 403 ? 'Forbidden' : code === 401 ? 'InternalError' : 'BadRequest', text.trim() || `the agent answered ${code}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => reject(errors.unavailable(`cannot reach the agent of node "${pod.spec.nodeName}": ${err.message}`)));
    req.end();
  });
}

/** Pipes both ways; when either side closes or fails, both go. */
function splice(a: Duplex, b: Duplex): void {
  const end = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on('error', end);
  b.on('error', end);
  a.on('close', end);
  b.on('close', end);
  a.pipe(b);
  b.pipe(a);
}

function offeredProtocols(c: Context): string[] {
  return (c.req.header('sec-websocket-protocol') ?? '').split(',').map((p) => p.trim()).filter(Boolean);
}

export async function relayPortForward(c: Context, pod: Pod, agent: AgentEndpoint): Promise<Response> {
  const upgrade = c.req.header('upgrade')?.toLowerCase();
  if (upgrade === 'websocket') {
    if (!offeredProtocols(c).includes(PORT_FORWARD_WEBSOCKET_PROTOCOL)) {
      throw errors.badRequest(`port-forward over WebSocket needs the ${PORT_FORWARD_WEBSOCKET_PROTOCOL} subprotocol`);
    }
    const tunnel = await openAgentTunnel(agent, pod);
    const orphan = setTimeout(() => tunnel.destroy(), CLIENT_UPGRADE_TIMEOUT_MS);
    return upgradeWebSocket(c, {
      onOpen: (_evt, client) => {
        clearTimeout(orphan);
        const ws = client.raw as WebSocket;
        if (ws.protocol !== PORT_FORWARD_WEBSOCKET_PROTOCOL) {
          log.warn('portforward', 'the WebSocket negotiated another subprotocol', { protocol: ws.protocol });
        }
        splice(createWebSocketStream(ws), tunnel);
      },
    });
  }
  const offer = rawUpgradeOf(c.req.raw);
  if (offer?.protocol.toLowerCase() === 'spdy/3.1') {
    const tunnel = await openAgentTunnel(agent, pod);
    const raw = claimRawUpgrade(offer);
    raw.socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${PORT_FORWARD_PROTOCOL}\r\n\r\n`);
    if (raw.head.length > 0) tunnel.write(raw.head);
    splice(raw.socket, tunnel);
    // Nobody reads this response: the socket is already spliced.
    return new Response(null, { status: 204 });
  }
  throw errors.badRequest(`port-forward needs an upgrade: WebSocket with the ${PORT_FORWARD_WEBSOCKET_PROTOCOL} subprotocol, or SPDY/3.1`);
}
