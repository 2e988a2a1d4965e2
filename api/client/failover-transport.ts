/**
 * A client-side load balancer over several API servers (like k3s's agent LB): requests go to the
 * server that last answered; when it cannot be reached, the request moves on to the next one, and the
 * next requests stay there. Watches end when their server dies and are re-opened by their informer,
 * which lands them on a server that answers.
 *
 * A request is moved only when it cannot have reached the server: the connection was refused or the
 * host or network unreachable. A connection reset or a timeout may come after the server acted, so
 * only reads (GET, HEAD) are moved then; a write fails and its caller retries it as usual.
 */
import { log } from '../log.js';
import type { Transport, TransportRequest, TransportResponse } from './transport.js';

const NEVER_REACHED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);

function movable(err: unknown, method: string): boolean {
  const code = (err as { code?: string }).code ?? '';
  if (NEVER_REACHED.has(code)) return true;
  const read = method === 'GET' || method === 'HEAD';
  return read && (code === 'ECONNRESET' || /no response from|socket hang up/i.test((err as Error).message ?? ''));
}

export interface NamedTransport { name: string; transport: Transport & { setToken?(token: string): void; close?(): void } }

export class FailoverTransport implements Transport {
  private current = 0;

  constructor(private readonly servers: NamedTransport[]) {
    if (servers.length === 0) throw new Error('no API server to talk to');
  }

  /** The server requests go to now. */
  get active(): string {
    return this.servers[this.current]!.name;
  }

  async request(req: TransportRequest): Promise<TransportResponse> {
    let lastError: unknown;
    for (let i = 0; i < this.servers.length; i++) {
      const index = (this.current + i) % this.servers.length;
      const server = this.servers[index]!;
      try {
        const res = await server.transport.request(req);
        if (index !== this.current) {
          log.info('agent', 'API server switched', { from: this.servers[this.current]!.name, to: server.name });
          this.current = index;
        }
        return res;
      } catch (err) {
        if (req.signal?.aborted || !movable(err, req.method)) throw err;
        lastError = err;
      }
    }
    throw lastError;
  }

  setToken(token: string): void {
    for (const s of this.servers) s.transport.setToken?.(token);
  }

  close(): void {
    for (const s of this.servers) s.transport.close?.();
  }
}
