/**
 * How the client reaches an API server. Two transports share one interface: HTTPS with the cluster
 * CA and a bearer token (agents, installer, tests, CLI), and an in-process one that hands requests
 * straight to the server's fetch handler (the server's own controllers: no TLS, no socket).
 */
import { request as httpsRequest, Agent } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { WatchEvent } from '../meta.js';
import { acceptObjectWatch, objectWatchOf } from './in-process-watch.js';

export interface TransportRequest {
  method: string;
  /** Path with query string, e.g. `/api/v1/namespaces/default/pods?limit=500`. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
}

export interface TransportResponse {
  status: number;
  headers: Record<string, string>;
  /** The body as a stream of chunks (watch) — read `text()` for ordinary calls. */
  body: AsyncIterable<Uint8Array>;
  text(): Promise<string>;
  /**
   * A watch's events as objects, deep-frozen (an in-process transport built with `objectWatches`):
   * then `body` is empty and these are read instead of frames.
   */
  events?: AsyncIterable<WatchEvent<unknown>>;
}

export interface Transport {
  request(req: TransportRequest): Promise<TransportResponse>;
  /**
   * A request whose body and answer are objects, not JSON text (the in-process transport of the
   * server's own controllers); undefined when this transport cannot take it that way.
   */
  direct?(req: DirectRequest): Promise<DirectAnswer> | undefined;
  close?(): void;
}

/** A request handed over as an object: the callee copies `body`, the caller keeps it. */
export interface DirectRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
  signal?: AbortSignal;
}

/** The answer of a direct request: its status and the decoded body (the caller's own copy). */
export interface DirectAnswer {
  status: number;
  value: unknown;
}

/**
 * The server's direct entry for in-process requests: it answers undefined, having done nothing, for
 * any request it does not take (the caller then sends it through the fetch handler).
 */
export type DirectHandler = (req: DirectRequest) => Promise<DirectAnswer> | undefined;

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(Buffer.from(c));
  return Buffer.concat(parts).toString('utf8');
}

export interface HttpsTransportOptions {
  /** `https://host:port` */
  server: string;
  caPem?: string;
  token?: string;
  /** Skip certificate verification (only for tests that check the refusal path). */
  insecure?: boolean;
  /** Milliseconds to wait for a connection and response headers. */
  timeoutMs?: number;
}

export class HttpsTransport implements Transport {
  private readonly url: URL;
  private readonly agent: Agent;
  private token: string | undefined;

  constructor(private readonly o: HttpsTransportOptions) {
    this.url = new URL(o.server);
    this.token = o.token;
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: 64,
      ...(o.caPem ? { ca: o.caPem } : {}),
      rejectUnauthorized: !o.insecure,
    });
  }

  request(req: TransportRequest): Promise<TransportResponse> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
      if (this.token) headers['authorization'] = `Bearer ${this.token}`;
      if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
      const r = httpsRequest({
        host: this.url.hostname,
        port: this.url.port || 443,
        method: req.method,
        path: req.path,
        headers,
        agent: this.agent,
        ...(req.signal ? { signal: req.signal } : {}),
      }, (res: IncomingMessage) => {
        clearTimeout(timer);
        const flat: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v;
        resolve({ status: res.statusCode ?? 0, headers: flat, body: res, text: () => collect(res) });
      });
      const timer = setTimeout(() => r.destroy(new Error(`no response from ${this.o.server} within ${this.o.timeoutMs ?? 30_000} ms`)), this.o.timeoutMs ?? 30_000);
      r.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      if (req.body !== undefined) r.write(req.body);
      r.end();
    });
  }

  /** Uses another bearer token from the next request on (an agent that traded its join token). */
  setToken(token: string): void {
    this.token = token;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Anything with a WHATWG fetch handler: the Hono app of an in-process server. */
export interface FetchHandler {
  fetch(request: Request): Response | Promise<Response>;
}

/**
 * Bodies of in-process requests, handed to the server beside the Request instead of inside it: a
 * Request body is a web stream that the server would read back chunk by chunk (a few percent of the
 * server's CPU when its controllers write at full speed).
 */
const inProcessBodies = new WeakMap<Request, Uint8Array>();

/** The body an in-process request carries beside it, if any (the server's body reader takes it first). */
export function inProcessBodyOf(request: Request): Uint8Array | undefined {
  return inProcessBodies.get(request);
}

/** Requests made by an InProcessTransport: the server may answer them with the text beside the Response. */
const inProcessRequests = new WeakSet<Request>();

/** Whether `request` came from an InProcessTransport (the server's own controllers). */
export function isInProcessRequest(request: Request): boolean {
  return inProcessRequests.has(request);
}

/**
 * Answer texts handed beside an in-process Response (which carries the same text): a Response built
 * from a string turns it into a web stream that the caller's `text()` reads back, ~3 % of the
 * server's CPU when its controllers and scheduler write at full speed. A Response rebuilt on the way
 * out is not in the map and is read the ordinary way.
 */
const inProcessAnswers = new WeakMap<Response, string>();

/** Marks `response` (whose body is `text`) as answering `text` to an in-process caller. */
export function answerBeside(response: Response, text: string): Response {
  inProcessAnswers.set(response, text);
  return response;
}

/**
 * In-process transport: requests go to the server's handler directly. `headers` (e.g. an
 * authorization header for a built-in identity) are added to every request.
 */
export class InProcessTransport implements Transport {
  /**
   * `objectWatches`: take watch events as the server's shared objects, deep-frozen (see
   * in-process-watch.ts), for callers that never change what they read (informers).
   */
  constructor(
    private readonly handler: FetchHandler,
    private readonly headers: Record<string, string> = {},
    private readonly directHandler?: DirectHandler,
    private readonly objectWatches = false,
  ) {}

  direct(req: DirectRequest): Promise<DirectAnswer> | undefined {
    if (!this.directHandler) return undefined;
    return this.directHandler({ ...req, headers: { accept: 'application/json', ...this.headers, ...req.headers } });
  }

  async request(req: TransportRequest): Promise<TransportResponse> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.headers, ...req.headers };
    const requestBody = typeof req.body === 'string' ? Buffer.from(req.body) : req.body;
    if (requestBody !== undefined) headers['content-length'] = String(requestBody.byteLength);
    const init: RequestInit = { method: req.method, headers, ...(req.signal ? { signal: req.signal } : {}) };
    const request = new Request(`http://in-process${req.path}`, init);
    inProcessRequests.add(request);
    if (this.objectWatches) acceptObjectWatch(request);
    if (requestBody !== undefined) inProcessBodies.set(request, requestBody);
    const res = await this.handler.fetch(request);
    const watch = objectWatchOf(request);
    if (watch) {
      // The server answered with an object watch; anything but its 200 means the answer was replaced
      // on the way out, and nobody will read the events.
      if (res.status !== 200) watch.cancel();
      else {
        const signal = req.signal;
        if (signal?.aborted) watch.cancel();
        else if (signal) {
          const onAbort = (): void => watch.cancel();
          signal.addEventListener('abort', onAbort, { once: true });
          // The informers' signal lives as long as the server: no listener may stay behind a watch.
          watch.onFinish(() => signal.removeEventListener('abort', onAbort));
        }
        const headers: Record<string, string> = {};
        res.headers.forEach((v, k) => { headers[k] = v; });
        const nothing = async function* (): AsyncGenerator<Uint8Array> { /* the events come beside */ };
        return { status: 200, headers, body: nothing(), text: () => Promise.resolve(''), events: watch };
      }
    }
    const answer = inProcessAnswers.get(res);
    const responseHeaders: Record<string, string> = {};
    res.headers.forEach((v, k) => { responseHeaders[k] = v; });
    // An ordinary call reads the whole body at once: far cheaper than a reader over the web stream,
    // and the lightweight Response is not turned into a full one (reading `body` would).
    if (answer !== undefined) {
      const chunks = async function* (): AsyncGenerator<Uint8Array> { yield Buffer.from(answer); };
      return { status: res.status, headers: responseHeaders, body: chunks(), text: () => Promise.resolve(answer) };
    }
    const stream = res.body;
    const body: AsyncIterable<Uint8Array> = {
      async *[Symbol.asyncIterator]() {
        if (!stream) return;
        const reader = stream.getReader();
        const onAbort = (): void => { void reader.cancel().catch(() => undefined); };
        req.signal?.addEventListener('abort', onAbort);
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return;
            yield value;
          }
        } finally {
          req.signal?.removeEventListener('abort', onAbort);
          void reader.cancel().catch(() => undefined);
        }
      },
    };
    return { status: res.status, headers: responseHeaders, body, text: () => res.text() };
  }
}
