/** A plain `node:http2` client for tests: what kubectl and client-go speak to the API server. */
import { connect, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { Transport, TransportRequest, TransportResponse } from '../../api/client/transport.js';

export async function h2Connect(port: number, caPem: string): Promise<ClientHttp2Session> {
  const session = connect(`https://127.0.0.1:${port}`, { ca: caPem, servername: 'localhost' });
  session.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  if (session.alpnProtocol !== 'h2') throw new Error(`ALPN negotiated ${String(session.alpnProtocol)}, not h2`);
  return session;
}

export interface H2Reply { status: number; headers: IncomingHttpHeaders; body: Buffer; error?: string }

/** One request; resolves with what arrived, or with `error` if the stream was reset or failed. */
export function h2Request(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: Buffer | string): Promise<H2Reply> {
  return new Promise((resolve) => {
    let stream: ClientHttp2Stream;
    try {
      stream = session.request({ ':method': 'GET', ...headers }, { endStream: body === undefined });
    } catch (err) {
      resolve({ status: 0, headers: {}, body: Buffer.alloc(0), error: (err as Error).message });
      return;
    }
    const chunks: Buffer[] = [];
    let status = 0;
    let responseHeaders: IncomingHttpHeaders = {};
    stream.on('response', (h) => { status = Number(h[':status']); responseHeaders = h; });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ status, headers: responseHeaders, body: Buffer.concat(chunks) }));
    stream.on('error', (err) => resolve({ status, headers: responseHeaders, body: Buffer.concat(chunks), error: err.message }));
    stream.on('close', () => resolve({ status, headers: responseHeaders, body: Buffer.concat(chunks), ...(stream.rstCode ? { error: `reset with code ${stream.rstCode}` } : {}) }));
    if (body !== undefined) stream.end(body);
  });
}

/** Headers HTTP/2 forbids in a response (RFC 9113 §8.2.2) that an HTTP/1.1 server would send. */
export const CONNECTION_SPECIFIC_HEADERS = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'];

/**
 * The client Transport over one HTTP/2 connection, streams multiplexed on it, as client-go's is (one
 * connection per host): for benchmarks that compare it with HttpsTransport (HTTP/1.1, a socket per
 * request in flight).
 */
export class H2Transport implements Transport {
  private session: ClientHttp2Session | undefined;

  constructor(private readonly o: { port: number; caPem: string; token: string }) {}

  private async open(): Promise<ClientHttp2Session> {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    this.session = await h2Connect(this.o.port, this.o.caPem);
    return this.session;
  }

  async request(req: TransportRequest): Promise<TransportResponse> {
    const session = await this.open();
    const headers: OutgoingHttpHeaders = { ':method': req.method, ':path': req.path, accept: 'application/json', ...req.headers, authorization: `Bearer ${this.o.token}` };
    if (req.body !== undefined) headers['content-length'] = Buffer.byteLength(req.body);
    const stream = session.request(headers, { endStream: req.body === undefined, ...(req.signal ? { signal: req.signal } : {}) });
    if (req.body !== undefined) stream.end(req.body);
    return new Promise((resolve, reject) => {
      stream.once('error', reject);
      stream.once('response', (h) => {
        const flat: Record<string, string> = {};
        for (const [k, v] of Object.entries(h)) if (v !== undefined && !k.startsWith(':')) flat[k] = Array.isArray(v) ? v.join(', ') : String(v);
        resolve({ status: Number(h[':status']), headers: flat, body: stream, text: () => collectText(stream) });
      });
    });
  }

  close(): void {
    this.session?.destroy();
  }
}

async function collectText(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(Buffer.from(c));
  return Buffer.concat(parts).toString('utf8');
}
