/**
 * The API server's request listener (HTTP/1.1 and HTTP/2 streams alike), guarded: a malformed Host or :authority is a 400 Status before anything is
 * built from it (Go's "malformed Host header"), and no fault of the inner listener (Hono's adapter)
 * escapes as an uncaught exception: it is logged and the one request gets a 500 Status.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { containFaults } from '../../api/fault-containment.js';
import { log } from '../../api/log.js';
import { isMalformedHost, MALFORMED_HOST_MESSAGE, rawPathOf } from '../../api/request-target.js';
import { StatusError, type StatusReason } from '../../api/status.js';

/** A Status answer that ends the request (and, on HTTP/1.1, the connection; an HTTP/2 stream response drops `connection`). */
export function answerStatus(res: ServerResponse, code: number, reason: string, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(new StatusError(code, reason as StatusReason, message).toStatus());
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' }).end(body);
}

export function guardRequests(listener: RequestListener): RequestListener {
  return containFaults('apiserver', (req: IncomingMessage, res: ServerResponse) => {
    // HTTP/2 names the host in :authority (a Host header, if a client sends one too, must agree: nghttp2).
    const host = req.headers.host ?? (req.headers[':authority'] as string | undefined);
    if (isMalformedHost(host)) {
      log.debug('apiserver', 'malformed Host header', { host });
      answerStatus(res, 400, 'BadRequest', MALFORMED_HOST_MESSAGE);
      return;
    }
    return listener(req, res);
  }, (_err, _req, res) => answerStatus(res, 500, 'InternalError', 'the request failed'),
  (req) => ({ method: req.method, path: rawPathOf(req.url ?? '/') })) as RequestListener;
}
