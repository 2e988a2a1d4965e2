/**
 * How long an HTTP/2 session of the API listener lives, from the one count of its open streams:
 * - without open streams it is closed after `firstMs` (before its first stream) or `idleMs` (after its
 *   last), as `node:http` closes an idle keep-alive connection;
 * - with open streams it is pinged when its first stream opens and every `intervalMs`, and destroyed
 *   when a PING waits longer than `ackTimeoutMs` for its ACK, as Go's HTTP/2 health check does
 *   (ReadIdleTimeout, PingTimeout).
 *
 * Why the PING: after a connection error (a DATA frame on stream 0, say) nghttp2 queues a GOAWAY and
 * Node 20 stops reading the socket without destroying the session. A stream opened earlier in the same
 * read (a watch) then stays open for ever: the peer's close is never read, no 'close' event comes, and
 * the idle timer never runs while a stream is open. The same holds for a peer that vanished without a
 * FIN (a board pulled from the LAN) while a watch waits for events. The PING's ACK never arrives in
 * either case, and destroying the session closes its streams.
 */
import type { ServerHttp2Session } from 'node:http2';
import { log } from '../../api/log.js';

export interface LivenessOptions {
  /** How often an open session with streams is pinged. */
  intervalMs: number;
  /** How long a PING may wait for its ACK before the session is destroyed. */
  ackTimeoutMs: number;
}

export interface SessionLifetime {
  /** How long a new session may wait for its first stream. */
  firstMs: number;
  /** How long a session may stay without open streams after its last one. */
  idleMs: number;
  liveness?: LivenessOptions;
}

/** Go's http2.Transport defaults for client health checks are 15 s for the ACK; the server pings less often. */
export const SESSION_LIVENESS: LivenessOptions = { intervalMs: 30_000, ackTimeoutMs: 15_000 };

export function keepSession(session: ServerHttp2Session, o: SessionLifetime): void {
  const liveness = o.liveness ?? SESSION_LIVENESS;
  let open = 0;
  let idle: NodeJS.Timeout | undefined;
  let periodic: NodeJS.Timeout | undefined;
  let awaitingAck = false;
  let lastPingAt = -Infinity;

  const closeWhenIdleFor = (ms: number): void => {
    clearTimeout(idle);
    idle = setTimeout(() => { if (!session.closed && !session.destroyed) session.close(); }, ms);
    idle.unref();
  };

  const ping = (): void => {
    if (awaitingAck || session.destroyed || session.closed) return;
    awaitingAck = true;
    lastPingAt = Date.now();
    const deadline = setTimeout(() => {
      log.debug('apiserver', 'HTTP/2 session ended: no PING ACK', { afterMs: liveness.ackTimeoutMs });
      session.destroy();
    }, liveness.ackTimeoutMs);
    deadline.unref();
    try {
      session.ping((err) => {
        clearTimeout(deadline);
        awaitingAck = false;
        // A cancelled ping means the session is already going away; nothing more to do.
        if (err) log.debug('apiserver', 'HTTP/2 ping failed', { error: err.message });
      });
    } catch (err) {
      clearTimeout(deadline);
      awaitingAck = false;
      session.destroy();
      log.debug('apiserver', 'HTTP/2 session ended: cannot ping', { error: (err as Error).message });
    }
  };

  closeWhenIdleFor(o.firstMs);
  session.on('stream', (stream) => {
    if (open++ === 0) {
      clearTimeout(idle);
      periodic = setInterval(ping, liveness.intervalMs);
      periodic.unref();
    }
    if (Date.now() - lastPingAt >= liveness.intervalMs) ping();
    stream.once('close', () => {
      if (--open > 0) return;
      clearInterval(periodic);
      closeWhenIdleFor(o.idleMs);
    });
  });
  session.once('close', () => {
    clearTimeout(idle);
    clearInterval(periodic);
  });
}
