/**
 * "A request can fail; the process cannot." The pieces every listener (API server, kubelet
 * endpoint, installer routes, and later DNS and ingress) uses so that one request's failure stays
 * with that request, plus the last-resort process policy of docs/adr/006-fault-containment.md.
 * Lives in api/ (like log.ts) because the server and the agent both need it and neither may import
 * the other.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { log } from './log.js';
import { StatusError, type StatusReason } from './status.js';

/**
 * Wraps a listener (`request`, `upgrade`, `message`, ...) so that neither a synchronous throw nor
 * a rejected promise leaves it: the fault is logged with `context(...args)` and `onFault` answers
 * or closes the one request. A fault in `onFault` itself is logged and swallowed.
 */
export function containFaults<A extends unknown[]>(
  component: string,
  handler: (...args: A) => unknown,
  onFault: (err: unknown, ...args: A) => void,
  context: (...args: A) => Record<string, unknown> = () => ({}),
): (...args: A) => void {
  const fail = (err: unknown, args: A): void => {
    let where: Record<string, unknown> = {};
    try { where = context(...args); } catch { /* context is best effort */ }
    log.error(component, 'request failed', { ...where, error: describeError(err) });
    try {
      onFault(err, ...args);
    } catch (second) {
      log.error(component, 'answering a failed request failed too', { error: describeError(second) });
    }
  };
  return (...args: A): void => {
    try {
      const result = handler(...args);
      if (result instanceof Promise) result.catch((err: unknown) => fail(err, args));
    } catch (err) {
      fail(err, args);
    }
  };
}

/** Message and stack of anything thrown, for a log field. */
export function describeError(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

/**
 * Answers a request on a raw socket (an `upgrade` listener has no ServerResponse) and closes it.
 * Safe on a socket that is already gone.
 */
export function answerOnSocket(socket: Duplex, status: number, body = '', contentType = 'text/plain; charset=utf-8'): void {
  if (socket.destroyed) return;
  socket.on('error', () => undefined);
  const bytes = Buffer.from(body);
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: ${contentType}\r\ncontent-length: ${bytes.length}\r\nconnection: close\r\n\r\n${body}`);
}

/** Same as answerOnSocket with a Kubernetes Status body. */
export function answerStatusOnSocket(socket: Duplex, code: number, reason: string, message: string): void {
  answerOnSocket(socket, code, JSON.stringify(new StatusError(code, reason as StatusReason, message).toStatus()), 'application/json');
}

export interface LastResortOptions {
  /** `server` or `agent`: goes into every log line. */
  component: string;
  /** Best-effort orderly stop before exiting (store closed, listeners closed). */
  shutdown?: () => Promise<void>;
  /** How long `shutdown` may take before the process exits anyway. */
  shutdownTimeoutMs?: number;
  /** For tests only. */
  exit?: (code: number) => void;
}

/** The exit code after an uncaught exception (sysexits EX_SOFTWARE); systemd restarts the unit. */
export const UNCAUGHT_EXIT_CODE = 70;

/**
 * The process-wide policy for faults no listener contained (docs/adr/006-fault-containment.md):
 * an unhandled rejection is logged with its context and the process keeps running; an uncaught
 * exception is logged, the process stops in order (bounded in time) and exits with 70 so that its
 * supervisor starts a clean one.
 */
export function installLastResortHandlers(o: LastResortOptions): void {
  const exit = o.exit ?? ((code: number) => process.exit(code));
  let exiting = false;
  process.on('unhandledRejection', (reason: unknown) => {
    log.error(o.component, 'unhandled promise rejection (a bug: the caller should have handled it); continuing', { error: describeError(reason) });
  });
  process.on('uncaughtException', (err: Error, origin: string) => {
    log.error(o.component, 'uncaught exception (a bug: no listener contained it); stopping so that the supervisor restarts a clean process', {
      origin, error: describeError(err), pid: process.pid, uptimeSeconds: Math.round(process.uptime()),
    });
    if (exiting) return;
    exiting = true;
    const timer = setTimeout(() => exit(UNCAUGHT_EXIT_CODE), o.shutdownTimeoutMs ?? 5_000);
    void (o.shutdown?.() ?? Promise.resolve()).catch(() => undefined).finally(() => {
      clearTimeout(timer);
      exit(UNCAUGHT_EXIT_CODE);
    });
  });
}
