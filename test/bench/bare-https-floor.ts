/**
 * The floor for LIST and watch benchmarks: a bare `node:https` server, run as its own process with
 * the corral server's certificate, that does nothing but the wire work a server cannot avoid:
 *
 * - any GET without `watch=` answers a prebuilt buffer (the file given as the third argument; with
 *   `labelSelector=` in the URL, the fourth), so a LIST costs only TLS and the socket;
 * - a GET with `watch=` is held open as a chunked response;
 * - a POST's object gets a resourceVersion, is serialised once and written as an ADDED event line
 *   to every open watch, then answered 201 (what a server that does no storage work would do).
 *
 *   node bare-https-floor.js <key.pem> <cert.pem> <list-body-file> [<selected-list-body-file>] [--h2]
 *
 * With `--h2` it is a `node:http2` secure server (ALPN h2, HTTP/1.1 still accepted) running the same
 * handler through the compatibility API: the floor for clients that speak HTTP/2, as kubectl does.
 * Prints the port it listens on (127.0.0.1) as its first line.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { createSecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';

const h2 = process.argv.includes('--h2');
const [keyFile, certFile, listFile, selectedFile] = process.argv.slice(2).filter((a) => a !== '--h2');
if (!keyFile || !certFile || !listFile) throw new Error('usage: bare-https-floor.js <key.pem> <cert.pem> <list-body-file>');
const listBody = readFileSync(listFile);
const selectedBody = selectedFile ? readFileSync(selectedFile) : listBody;
const watchers = new Set<ServerResponse>();
let revision = 1;

function handle(req: IncomingMessage, res: ServerResponse): void {
  if (req.method === 'GET' && req.url?.includes('watch=')) {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
    res.flushHeaders();
    watchers.add(res);
    res.on('close', () => watchers.delete(res));
    return;
  }
  if (req.method === 'GET') {
    const body = req.url?.includes('labelSelector=') ? selectedBody : listBody;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const obj = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { metadata: Record<string, unknown> };
    obj.metadata['resourceVersion'] = String(++revision);
    const json = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', ...obj });
    const line = `{"type":"ADDED","object":${json}}\n`;
    for (const w of watchers) w.write(line);
    res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  });
}
const tls = { key: readFileSync(keyFile), cert: readFileSync(certFile) };
const server = h2 ? createSecureServer({ ...tls, allowHTTP1: true }, handle as unknown as (req: Http2ServerRequest, res: Http2ServerResponse) => void) : createServer(tls, handle);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as { port: number }).port}\n`);
});
