/**
 * Upgrades other than WebSocket. kubectl falls back to SPDY (`Upgrade: SPDY/3.1`) when a WebSocket
 * exec is refused; Hono's upgrade listener ignores anything but WebSocket, which left such requests
 * hanging forever. Here they are answered like a plain request (so the client sees the real Status,
 * e.g. "container x is not valid for pod y") and the connection is closed.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { answerStatusOnSocket, containFaults } from '../../api/fault-containment.js';
import { log } from '../../api/log.js';
import { sendRefusalBodies } from './websocket-refusals.js';
import { offerRawUpgrade } from './raw-upgrades.js';
import { badEscapeMessage, isMalformedHost, MALFORMED_HOST_MESSAGE, rawPathOf } from '../../api/request-target.js';

type FetchHandler = (request: Request) => Response | Promise<Response>;
type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

const HOP_BY_HOP = new Set(['upgrade', 'connection', 'keep-alive', 'transfer-encoding', 'content-length']);

async function answerPlainly(fetch: FetchHandler, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || HOP_BY_HOP.has(k)) continue;
    headers.set(k, Array.isArray(v) ? v.join(', ') : v);
  }
  let status = 500;
  let body = '';
  let type = 'application/json';
  try {
    const request = new Request(`https://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`, { method: req.method === 'GET' || req.method === 'HEAD' ? req.method : 'POST', headers });
    const offer = offerRawUpgrade(request, req.headers.upgrade ?? '', socket, head);
    const res = await fetch(request);
    if (offer.claimed) return; // a route (port-forward over SPDY) took the socket
    status = res.status >= 200 && res.status < 300 ? 400 : res.status; // nothing here can be upgraded
    body = status === res.status ? await res.text() : JSON.stringify({
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code: 400, reason: 'BadRequest',
      message: `upgrade to "${req.headers.upgrade}" is not supported: corral serves exec and attach over WebSocket (v5.channel.k8s.io), port-forward over WebSocket or SPDY/3.1`,
    });
    type = res.headers.get('content-type') ?? type;
  } catch (err) {
    log.error('apiserver', 'answering an upgrade request failed', { path: rawPathOf(req.url ?? '/'), error: (err as Error).stack ?? String(err) });
    body = '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","code":500,"reason":"InternalError","message":"upgrade failed"}';
  }
  const bytes = Buffer.from(body);
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: ${type}\r\ncontent-length: ${bytes.length}\r\nconnection: close\r\n\r\n${body}`);
}

/**
 * The API server's one upgrade listener: refuses a malformed Host or path escape first (400, before
 * auth: an upgrade builds a URL from both), routes WebSocket upgrades to the listener already
 * installed (Hono's) and answers all others. No fault leaves it.
 */
export function answerNonWebSocketUpgrades(server: Server, fetch: FetchHandler): void {
  const existing = server.listeners('upgrade') as UpgradeListener[];
  server.removeAllListeners('upgrade');
  server.on('upgrade', containFaults('apiserver', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const bad = isMalformedHost(req.headers.host) ? MALFORMED_HOST_MESSAGE : badEscapeMessage(rawPathOf(req.url ?? '/'));
    if (bad !== undefined) {
      log.debug('apiserver', 'malformed upgrade request', { reason: bad });
      answerStatusOnSocket(socket, 400, 'BadRequest', bad);
      return;
    }
    if (req.headers.upgrade?.toLowerCase() === 'websocket' && existing.length > 0) {
      sendRefusalBodies(req, socket);
      for (const l of existing) l(req, socket, head);
      return;
    }
    return answerPlainly(fetch, req, socket, head);
  }, (_err, _req, socket) => answerStatusOnSocket(socket, 500, 'InternalError', 'upgrade failed'),
  (req) => ({ method: req.method, path: rawPathOf(req.url ?? '/'), upgrade: req.headers.upgrade })));
}
