/**
 * The node's HTTP(S) reverse proxy for Ingresses: plain HTTP and TLS (certificate by SNI) listeners
 * that route each request by the current RoutingTable to one ready endpoint of the backend Service,
 * through http-proxy-3 (no HTTP parsing here). WebSocket upgrades and HTTP/1.1 keep-alive pass
 * through; X-Forwarded-For/Proto/Host/Port and X-Real-IP are set; a refused or unreachable endpoint
 * is retried on the next one (requests without a body, at most 3 tries). Unknown host/path → 404, a
 * backend that is missing or has no ready endpoint → 503, an endpoint that failed → 502/504.
 * Slow clients are bounded by header and request timeouts, large ones by header and body limits.
 * Every listener contains its own faults (api/fault-containment.ts); a port that is taken is logged
 * and retried in the background.
 */
import { Agent as HttpAgent, createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { Transform, type TransformCallback } from 'node:stream';
import type { ProxyServer } from 'http-proxy-3';
import { answerOnSocket, containFaults } from '../../api/fault-containment.js';
import { Backoff, sleep } from '../../api/async-util.js';
import { log } from '../../api/log.js';
import { normalizeHost, requestPathOf } from './path-match.js';
import type { RoutingTable, Target } from './routing-table.js';
import { CertificateStore } from './tls-certificates.js';
import type { SecureContext } from 'node:tls';

export interface IngressProxyLimits {
  /** Largest request body, bytes (413 beyond). */
  maxBodyBytes: number;
  /** Largest request head (request line + headers), bytes (431 beyond). */
  maxHeaderBytes: number;
  /** Time a client may take to send its headers. */
  headersTimeoutMs: number;
  /** Time a client may take to send its whole request (body included). */
  requestTimeoutMs: number;
  /** Time a backend may take to answer. */
  backendTimeoutMs: number;
  /** Idle time before a client's keep-alive connection is closed. */
  keepAliveTimeoutMs: number;
}

export const DEFAULT_INGRESS_LIMITS: IngressProxyLimits = {
  maxBodyBytes: 64 * 1024 * 1024,
  maxHeaderBytes: 32 * 1024,
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 120_000,
  backendTimeoutMs: 60_000,
  keepAliveTimeoutMs: 60_000,
};

export interface IngressProxyOptions {
  bindAddress: string;
  /** Port of the plain HTTP listener (0: any free one); absent: none. */
  httpPort?: number | undefined;
  /** Port of the TLS listener (0: any free one); absent: none. */
  httpsPort?: number | undefined;
  fallback: SecureContext;
  limits?: Partial<IngressProxyLimits>;
  signal: AbortSignal;
}

/** Connection failures after which nothing reached the endpoint: safe to try the next one. */
const RETRYABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ECONNRESET']);
const MAX_TRIES = 3;

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function answer(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Counts a streamed (chunked) body and fails once it passes the limit. */
class BodyLimit extends Transform {
  private seen = 0;

  constructor(private readonly max: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.max) done(Object.assign(new Error(`request body larger than ${this.max} bytes`), { code: 'EBODYLIMIT' }));
    else done(null, chunk);
  }
}

export class IngressProxy {
  readonly certificates: CertificateStore;
  private table: RoutingTable | undefined;
  private readonly limits: IngressProxyLimits;
  private readonly servers: Server[] = [];
  /**
   * http-proxy-3 loads at the first proxied request: a node with no Ingress never needs it, and in the
   * agent bundle the library is then a part that stays on disk (installer/bundle-parts.ts).
   */
  private proxy: Promise<ProxyServer> | undefined;
  private readonly agent: HttpAgent;
  private next = 0;

  constructor(private readonly o: IngressProxyOptions) {
    this.limits = { ...DEFAULT_INGRESS_LIMITS, ...(o.limits ?? {}) };
    this.certificates = new CertificateStore(o.fallback);
    this.agent = new HttpAgent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 32, timeout: this.limits.backendTimeoutMs });
  }

  private proxyServer(): Promise<ProxyServer> {
    this.proxy ??= import('http-proxy-3').then(({ createProxyServer }) => {
      const proxy = createProxyServer({ xfwd: false, ws: true });
      // Every call passes a callback; this only keeps a stray error from becoming an uncaught one.
      proxy.on('error', (err) => log.debug('ingress', 'proxy error', { error: err.message }));
      // Keep-Alive is hop-by-hop: the client hears this proxy's own idle timeout, not the backend's.
      proxy.on('proxyRes', (proxyRes) => { delete proxyRes.headers['keep-alive']; });
      return proxy;
    });
    return this.proxy;
  }

  /** Routes from now on by `table` (requests in flight keep their backend). */
  setTable(table: RoutingTable): void {
    this.table = table;
  }

  /** The ports actually bound (tests use port 0). */
  get ports(): { http?: number; https?: number } {
    const out: { http?: number; https?: number } = {};
    for (const s of this.servers) {
      const addr = s.address();
      if (addr && typeof addr === 'object') out[(s as Server & { tls?: boolean }).tls ? 'https' : 'http'] = addr.port;
    }
    return out;
  }

  async start(): Promise<void> {
    const common = {
      maxHeaderSize: this.limits.maxHeaderBytes,
      headersTimeout: this.limits.headersTimeoutMs,
      requestTimeout: this.limits.requestTimeoutMs,
      keepAliveTimeout: this.limits.keepAliveTimeoutMs,
      // How often Node.js looks for clients past those timeouts (its default, 30 s, lets a slow client linger).
      connectionsCheckingInterval: Math.min(5_000, Math.max(100, this.limits.headersTimeoutMs / 2)),
    };
    const listeners: { server: Server; port: number; scheme: 'http' | 'https' }[] = [];
    if (this.o.httpPort !== undefined) {
      listeners.push({ server: createHttpServer(common), port: this.o.httpPort, scheme: 'http' });
    }
    if (this.o.httpsPort !== undefined) {
      const tls = createHttpsServer({
        ...common,
        SNICallback: (name, cb) => cb(null, this.certificates.contextFor(name)),
        secureContext: this.o.fallback,
      });
      (tls as Server & { tls?: boolean }).tls = true;
      listeners.push({ server: tls as Server, port: this.o.httpsPort, scheme: 'https' });
    }
    await Promise.all(listeners.map((l) => this.listen(l.server, l.port, l.scheme)));
  }

  private async listen(server: Server, port: number, scheme: 'http' | 'https'): Promise<void> {
    this.servers.push(server);
    server.on('request', containFaults('ingress', (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res, scheme),
      (_err, _req, res) => answer(res, 500, 'internal error in the ingress proxy\n'),
      (req) => ({ method: req.method, host: req.headers.host, url: req.url })));
    server.on('upgrade', containFaults('ingress', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head, scheme),
      (_err, _req, socket) => answerOnSocket(socket, 500, 'internal error in the ingress proxy\n'),
      (req) => ({ upgrade: req.headers.upgrade, host: req.headers.host, url: req.url })));
    server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      if ((socket as Duplex & { writable: boolean }).writable) answerOnSocket(socket, status);
      else socket.destroy();
    });
    server.on('tlsClientError', () => undefined);
    const attempt = (): Promise<void> => new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.o.bindAddress, () => {
        server.off('error', reject);
        server.on('error', (err) => log.warn('ingress', 'listener error', { scheme, error: err.message }));
        resolve();
      });
    });
    try {
      await attempt();
      log.info('ingress', 'ingress proxy is listening', { scheme, address: this.o.bindAddress, port: (server.address() as { port: number }).port });
    } catch (err) {
      log.error('ingress', `the ingress proxy cannot listen on ${this.o.bindAddress}:${port} (${scheme}); another web server there? set --ingress-${scheme}-port or --disable-ingress; retrying`, { error: (err as Error).message });
      void this.retry(attempt, scheme, port);
    }
  }

  private async retry(attempt: () => Promise<void>, scheme: string, port: number): Promise<void> {
    const backoff = new Backoff({ initialMs: 1_000, maxMs: 30_000 });
    while (!this.o.signal.aborted) {
      await sleep(backoff.next(), { signal: this.o.signal, unref: true }).catch(() => undefined);
      if (this.o.signal.aborted) return;
      try {
        await attempt();
        log.info('ingress', 'ingress proxy is listening', { scheme, address: this.o.bindAddress, port });
        return;
      } catch { /* said once already */ }
    }
  }

  /** The target of a request and the endpoints to try, in order; or the answer when there is none. */
  private pick(req: IncomingMessage): { target: Target; order: string[] } | { status: number; text: string } {
    const host = normalizeHost(req.headers.host);
    const target = this.table?.route(host, requestPathOf(req.url));
    if (!target) return { status: 404, text: '404 page not found\n' };
    if (target.problem !== undefined || target.endpoints.length === 0) return { status: 503, text: `503 Service Unavailable: ${target.problem ?? 'no ready endpoints'}\n` };
    const n = target.endpoints.length;
    const start = this.next++ % n;
    const order = Array.from({ length: Math.min(n, MAX_TRIES) }, (_, i) => target.endpoints[(start + i) % n]!);
    return { target, order };
  }

  private setForwardedHeaders(req: IncomingMessage, scheme: string): void {
    const port = req.socket.localPort ?? 0;
    const remote = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const prior = req.headers['x-forwarded-for'];
    req.headers['x-forwarded-for'] = prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${remote}` : remote;
    req.headers['x-forwarded-proto'] = scheme;
    req.headers['x-forwarded-host'] = req.headers.host ?? '';
    req.headers['x-forwarded-port'] = String(port);
    req.headers['x-real-ip'] = remote;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse, scheme: 'http' | 'https'): void {
    const length = Number(req.headers['content-length'] ?? '0');
    if (Number.isFinite(length) && length > this.limits.maxBodyBytes) {
      res.setHeader('connection', 'close');
      answer(res, 413, `413 Request Entity Too Large: at most ${this.limits.maxBodyBytes} bytes\n`);
      return;
    }
    const picked = this.pick(req);
    if ('status' in picked) {
      answer(res, picked.status, picked.text);
      return;
    }
    this.setForwardedHeaders(req, scheme);
    let body: BodyLimit | undefined;
    if (req.headers['transfer-encoding'] !== undefined) {
      body = new BodyLimit(this.limits.maxBodyBytes);
      body.on('error', () => {
        res.setHeader('connection', 'close');
        answer(res, 413, `413 Request Entity Too Large: at most ${this.limits.maxBodyBytes} bytes\n`);
        req.destroy();
      });
      req.pipe(body);
    }
    this.forward(req, res, picked.target, picked.order, 0, body);
  }

  private forward(req: IncomingMessage, res: ServerResponse, target: Target, order: string[], tryIndex: number, body: BodyLimit | undefined): void {
    const endpoint = order[tryIndex]!;
    const started = Date.now();
    this.proxyServer().then((proxy) => proxy.web(req, res, {
      target: `http://${endpoint}`, agent: this.agent, proxyTimeout: this.limits.backendTimeoutMs,
      ...(body ? { buffer: body } : {}),
    }, (err: Error & { code?: string }) => {
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      // http-proxy-3 ends a request past proxyTimeout by destroying it ("socket hang up").
      const timedOut = Date.now() - started >= this.limits.backendTimeoutMs - 50;
      if (!timedOut && err.code !== undefined && RETRYABLE.has(err.code) && tryIndex + 1 < order.length && !hasBody(req)) {
        log.debug('ingress', 'endpoint failed, trying the next', { backend: target.backend, endpoint, error: err.message });
        this.forward(req, res, target, order, tryIndex + 1, body);
        return;
      }
      log.warn('ingress', 'backend request failed', { backend: target.backend, endpoint, error: err.message });
      answer(res, timedOut ? 504 : 502, `${timedOut ? '504 Gateway Timeout' : '502 Bad Gateway'}: ${target.backend}\n`);
    })).catch((err: unknown) => this.proxyFailed(err, () => answer(res, 500, 'internal error in the ingress proxy\n')));
  }

  /** The library did not load, or threw: the request fails, the agent stays up. */
  private proxyFailed(err: unknown, answerClient: () => void): void {
    log.error('ingress', 'internal error in the ingress proxy', { error: (err as Error).message });
    answerClient();
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, scheme: 'http' | 'https'): void {
    socket.on('error', () => undefined);
    const picked = this.pick(req);
    if ('status' in picked) {
      answerOnSocket(socket, picked.status, picked.text);
      return;
    }
    this.setForwardedHeaders(req, scheme);
    const tryEndpoint = (i: number): void => {
      const endpoint = picked.order[i]!;
      this.proxyServer().then((proxy) => proxy.ws(req, socket, head, { target: `http://${endpoint}`, proxyTimeout: this.limits.backendTimeoutMs }, (err: Error & { code?: string }) => {
        if (err.code !== undefined && RETRYABLE.has(err.code) && i + 1 < picked.order.length && !socket.destroyed) {
          tryEndpoint(i + 1);
          return;
        }
        log.warn('ingress', 'websocket backend failed', { backend: picked.target.backend, endpoint, error: err.message });
        answerOnSocket(socket, 502, `502 Bad Gateway: ${picked.target.backend}\n`);
      })).catch((err: unknown) => this.proxyFailed(err, () => answerOnSocket(socket, 500, 'internal error in the ingress proxy\n')));
    };
    tryEndpoint(0);
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    })));
    this.agent.destroy();
  }
}
