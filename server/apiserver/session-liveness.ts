/**
 * Ends an HTTP/2 session whose peer no longer answers PING, as Go's HTTP/2 health check does
 * (ReadIdleTimeout, PingTimeout).
 *
 * Why: after a connection error (a DATA frame on stream 0, say) nghttp2 queues a GOAWAY and Node 20
 * stops reading the socket without destroying the session. A stream opened earlier in the same read
 * (a watch) then stays open for ever: the peer's close is never read, no 'close' event comes, and
 * the idle-session timer never runs while a stream is open. The same holds for a peer that vanished
 * without a FIN (a board pulled from the LAN) while a watch waits for events. A PING sent when a
 * session's first stream opens, and every `intervalMs` while streams are open, finds both: its ACK
 * never arrives, and the session is destroyed, which closes its streams.
 */
import type { ServerHttp2Session } from 'node:http2';
import { log } from '../../api/log.js';

export interface LivenessOptions {
  /** How often an open session with streams is pinged. */
  intervalMs: number;
  /** How long a PING may wait for its ACK before the session is destroyed. */
  ackTimeoutMs: number;
}

/** Go's http2.Transport defaults for client health checks are 15 s for the ACK; the server pings less often. */
export const SESSION_LIVENESS: LivenessOptions = { intervalMs: 30_000, ackTimeoutMs: 15_000 };

export function watchSessionLiveness(session: ServerHttp2Session, o: LivenessOptions = SESSION_LIVENESS): void {
  let open = 0;
  let awaitingAck = false;
  let lastPingAt = -Infinity;
  let periodic: NodeJS.Timeout | undefined;

  const ping = (): void => {
    if (awaitingAck || session.destroyed || session.closed) return;
    awaitingAck = true;
    lastPingAt = Date.now();
    const deadline = setTimeout(() => {
      log.debug('apiserver', 'HTTP/2 session ended: no PING ACK', { afterMs: o.ackTimeoutMs });
      session.destroy();
    }, o.ackTimeoutMs);
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

  session.on('stream', (stream) => {
    if (open++ === 0) {
      periodic = setInterval(ping, o.intervalMs);
      periodic.unref();
    }
    if (Date.now() - lastPingAt >= o.intervalMs) ping();
    stream.once('close', () => {
      if (--open === 0) clearInterval(periodic);
    });
  });
  session.once('close', () => clearInterval(periodic));
}
