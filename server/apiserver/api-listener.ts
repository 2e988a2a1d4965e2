/**
 * The API server's HTTPS listener: HTTP/2 for clients that offer it in ALPN (kubectl and client-go
 * do, as kube-apiserver serves them), HTTP/1.1 for every other client and for every upgrade (exec,
 * attach and port-forward dial with `http/1.1` only; HTTP/2 has no Upgrade). One `node:http2` secure
 * server with `allowHTTP1`: an HTTP/1.1 connection goes through `node:http`'s own connection handling
 * (its parser, `upgrade` events, timeouts), an `h2` one becomes a session whose streams reach the same
 * request listener through the compatibility API.
 *
 * The hardening of the HTTP/1.1 listener, and its HTTP/2 counterpart:
 * - request/headers/keep-alive timeouts (request-timeouts.ts): `node:http`'s own for HTTP/1.1 (copied
 *   onto this server, which does not read them from its options); for a stream, a request whose body
 *   is not complete after the same time is answered 408 and reset; a session without open streams is
 *   closed after the headers timeout (before its first request) or the keep-alive timeout
 *   (session-liveness.ts).
 * - header size: `node:http`'s 16 KiB limit, announced as SETTINGS_MAX_HEADER_LIST_SIZE (with HTTP/2's
 *   32 bytes of accounting per field) and checked per stream (431), since nghttp2 lets up to 64 KiB
 *   through; at most 128 fields (Node's default).
 * - body size: the 3 MiB limit in body.ts applies to both; nghttp2 resets a stream whose DATA exceeds
 *   its declared Content-Length.
 * - concurrency: at most 250 streams per connection (kube-apiserver's default
 *   `--http2-max-streams-per-connection`, Go's), `maxSessionMemory` bounds what a session buffers.
 * - abuse: nghttp2 (1.61 in Node 20) rate-limits stream resets (rapid reset, CVE-2023-44487) and
 *   CONTINUATION floods; Node closes a session after 1,000 invalid frames or 100 refused streams. A
 *   session's error ends that session and is logged at debug level; it never reaches the process.
 * - dead peers: a session is pinged when its first stream opens and every 30 s while streams are open,
 *   and destroyed when an ACK takes over 15 s (session-liveness.ts): after a connection error Node stops
 *   reading without ending the session, which would otherwise keep a watch open for ever.
 * - headers HTTP/2 forbids (Connection, Keep-Alive, Transfer-Encoding, Upgrade...) are dropped from a
 *   stream's response instead of failing it: the same handlers answer both protocols.
 */
import { createSecureServer, constants, Http2ServerRequest, Http2ServerResponse, type Http2SecureServer, type ServerHttp2Session } from 'node:http2';
import { maxHeaderSize, type IncomingMessage, type OutgoingHttpHeaders, type RequestListener, type ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { SERVING_TLS_OPTIONS } from '../../api/tls-policy.js';
import { log } from '../../api/log.js';
import { guardRequests, answerStatus } from './guard-requests.js';
import { requestTimeouts } from './request-timeouts.js';
import { keepSession } from './session-liveness.js';

/** kube-apiserver's default `--http2-max-streams-per-connection` (Go's http2 server default). */
export const MAX_STREAMS_PER_CONNECTION = 250;
/** Memory (MiB) a session may hold in buffered frames before new streams are refused (Node's default). */
const MAX_SESSION_MEMORY_MIB = 10;

/** How much of a large response body a stream is handed at a time (see StreamResponse.end). */
const PUMP_SLICE_BYTES = 256 * 1024;

/** HTTP/1.1 connection-specific headers (RFC 9113 §8.2.2); `te: trailers` alone is allowed. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings']);

function allowedOnStream(name: string, value: unknown): boolean {
  const n = name.toLowerCase();
  if (n === 'te') return String(value).toLowerCase() === 'trailers';
  return !CONNECTION_SPECIFIC.has(n);
}

function withoutConnectionHeaders(headers: unknown): unknown {
  if (headers === undefined || headers === null || typeof headers !== 'object') return headers;
  if (Array.isArray(headers)) {
    // [[name, value], ...] or [name, value, name, value, ...]
    if (headers.every((h) => Array.isArray(h))) return (headers as [string, unknown][]).filter(([k, v]) => allowedOnStream(k, v));
    const out: unknown[] = [];
    for (let i = 0; i + 1 < headers.length; i += 2) if (allowedOnStream(String(headers[i]), headers[i + 1])) out.push(headers[i], headers[i + 1]);
    return out;
  }
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers as OutgoingHttpHeaders)) if (allowedOnStream(k, v)) out[k] = v;
  return out;
}

/**
 * A stream's response that leaves out what HTTP/2 forbids: Node throws on `transfer-encoding` and the
 * like (and keeps them, so the error Status could not be sent either); Hono and our handlers set them
 * for HTTP/1.1's sake (pod-connector.ts marks a log stream chunked so that it is not buffered).
 */
class StreamResponse extends Http2ServerResponse {
  /** Set when a 408 is being flushed ahead of the stream's reset (boundRequestTime). */
  resetPending = false;

  /**
   * Hono's adapter destroys the response of a request whose body was never read to its end, a few
   * ticks after answering; for a stream closed after a 408 that would drop the RST_STREAM queued
   * behind the answer, leaving the client's side open. Such a stream ends by itself (or is destroyed
   * a second later).
   */
  override destroy(err?: Error): this {
    if (this.resetPending && err === undefined) return this;
    return super.destroy(err);
  }

  override setHeader(name: string, value: number | string | readonly string[]): this {
    if (allowedOnStream(name, value)) super.setHeader(name, value);
    return this;
  }

  override writeHead(statusCode: number, ...rest: unknown[]): this {
    const args = rest.map((a) => (typeof a === 'string' ? a : withoutConnectionHeaders(a)));
    return (super.writeHead as (code: number, ...a: unknown[]) => this)(statusCode, ...args);
  }

  /**
   * A large body (a LIST of thousands of objects, written whole by Hono's adapter) is handed to the
   * stream a slice at a time, the next once the last was taken: a stream's pending bytes count
   * against its session's memory, so a 15 MB list written at once left no room for the session's
   * other requests (refused with ENHANCE_YOUR_CALM) until the client had read it all.
   */
  override end(chunk?: unknown, encoding?: unknown, cb?: unknown): this {
    const endWith = super.end.bind(this) as (...a: unknown[]) => this;
    if (typeof chunk === 'function' || typeof encoding === 'function') return endWith(chunk, encoding, cb);
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, (encoding as BufferEncoding | undefined) ?? 'utf8') : chunk instanceof Uint8Array ? chunk : undefined;
    if (bytes === undefined || bytes.byteLength <= PUMP_SLICE_BYTES || this.req.method === 'HEAD') return endWith(chunk, encoding, cb);
    let at = 0;
    const next = (err?: Error | null): void => {
      if (err || at >= bytes.byteLength) {
        endWith(cb);
        return;
      }
      const slice = bytes.subarray(at, at + PUMP_SLICE_BYTES);
      at += slice.byteLength;
      this.write(slice, next);
    };
    next();
    return this;
  }
}

/** Bytes of a stream's request headers as node:http counts them (names and values, pseudo-headers included). */
function headerBytes(req: Http2ServerRequest): number {
  let n = 0;
  for (const part of req.rawHeaders) n += part.length;
  return n;
}

/** Answers 408 and resets a stream whose request has not fully arrived `ms` after it opened. */
function boundRequestTime(req: Http2ServerRequest, res: Http2ServerResponse, ms: number): void {
  const stream = req.stream;
  if (stream.endAfterHeaders) return;
  const timer = setTimeout(() => {
    if (stream.destroyed || stream.closed || stream.state.remoteClose) return;
    log.debug('apiserver', 'request not received in time; resetting the stream', { path: req.url });
    try {
      // The body read fails, with the error an HTTP/1.1 request gets when Node cuts its socket
      // (handlers take it for a client abort): closing the stream alone would end the body cleanly,
      // and what had arrived (a whole JSON object) would be acted on.
      req.on('error', () => undefined);
      req.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
      if (!res.headersSent) answerStatus(res as unknown as ServerResponse, 408, 'Timeout', 'request body not received in time');
    } finally {
      if (res instanceof StreamResponse) res.resetPending = true;
      stream.close(constants.NGHTTP2_NO_ERROR);
      // NO_ERROR waits for the 408 to be flushed; a stream that cannot flush goes anyway.
      setTimeout(() => { if (!stream.destroyed) stream.destroy(); }, 1000).unref();
    }
  }, ms);
  timer.unref();
  stream.once('close', () => clearTimeout(timer));
}

export interface ApiListenerOptions {
  keyPem: string;
  certPem: string;
  caPem: string;
  /** How long a client may take to send a request (request-timeouts.ts). */
  bodyTimeoutMs?: number;
  /** Told the protocol of each accepted connection ('h2' or 'http/1.1'). */
  onConnection?: (protocol: string) => void;
}

export interface ApiListener {
  server: Http2SecureServer<typeof IncomingMessage, typeof ServerResponse, typeof Http2ServerRequest, typeof StreamResponse>;
  /** Ends every connection: HTTP/1.1, upgraded (exec, port-forward) and HTTP/2 alike. */
  closeAllConnections(): void;
}

/** The listener; the caller calls `server.listen`. `listener` is the request listener (Hono's adapter). */
export function createApiListener(o: ApiListenerOptions, listener: RequestListener): ApiListener {
  const timeouts = requestTimeouts(o.bodyTimeoutMs);
  const guarded = guardRequests((req, res) => {
    if (req instanceof Http2ServerRequest) {
      // nghttp2 itself lets 64 KiB through whatever SETTINGS_MAX_HEADER_LIST_SIZE says: hold streams to HTTP/1.1's limit.
      if (headerBytes(req) > maxHeaderSize) {
        answerStatus(res, 431, 'BadRequest', 'request header fields too large');
        return;
      }
      boundRequestTime(req, res as unknown as Http2ServerResponse, timeouts.requestTimeout);
    }
    return listener(req, res);
  });
  const server = createSecureServer({
    ...SERVING_TLS_OPTIONS, key: o.keyPem, cert: o.certPem, ca: o.caPem,
    allowHTTP1: true,
    Http2ServerResponse: StreamResponse,
    maxSessionMemory: MAX_SESSION_MEMORY_MIB,
    settings: {
      maxConcurrentStreams: MAX_STREAMS_PER_CONNECTION,
      // node:http's header limit (16 KiB unless --max-http-header-size), plus HTTP/2's 32 bytes per field.
      maxHeaderListSize: maxHeaderSize + 128 * 32,
      enablePush: false,
    },
  }, guarded as unknown as (req: Http2ServerRequest, res: Http2ServerResponse) => void);
  // HTTP/1.1 connections are handled by node:http with these properties of the server (the http2
  // server sets its own defaults and reads none of them from its options).
  Object.assign(server, {
    ...timeouts,
    requireHostHeader: true,
    rejectNonStandardBodyWrites: false,
    maxHeadersCount: null,
    maxRequestsPerSocket: 0,
    httpAllowHalfOpen: false,
  });
  server.on('session', (session: ServerHttp2Session) => keepSession(session, { firstMs: timeouts.headersTimeout, idleMs: timeouts.keepAliveTimeout }));
  server.on('sessionError', (err: Error) => log.debug('apiserver', 'HTTP/2 session error', { error: err.message }));
  const sockets = new Set<TLSSocket>();
  server.on('secureConnection', (socket: TLSSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    o.onConnection?.(socket.alpnProtocol === 'h2' ? 'h2' : 'http/1.1');
  });
  return { server, closeAllConnections: () => { for (const s of sockets) s.destroy(); } };
}
