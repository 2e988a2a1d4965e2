/**
 * A tiny read-only container registry for lab tests: enough of the registry v2 API for
 * `ctr images pull --plain-http` (GET/HEAD of /v2/, manifests by tag or digest, blobs), serving one
 * OCI image layout directory under any repository name, behind HTTP basic auth. Run it inside a lab
 * host (it listens on a lab address):
 *
 *   node mini-registry.js LAYOUT_DIR HOST PORT USER PASSWORD
 *
 * Prints "listening" once ready. Requests are logged to stderr (method, path, status).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { timingSafeEqual } from 'node:crypto';

const [layout = '', host = '127.0.0.1', portText = '5000', user = '', password = ''] = process.argv.slice(2);
const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; mediaType: string }[] };
const want = Buffer.from(`Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`);

function authorized(req: IncomingMessage): boolean {
  const got = Buffer.from(req.headers.authorization ?? '');
  return got.length === want.length && timingSafeEqual(got, want);
}

function blobPath(digest: string): string | undefined {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m) return undefined;
  const p = join(layout, 'blobs', 'sha256', m[1]!);
  return existsSync(p) ? p : undefined;
}

function send(req: IncomingMessage, res: ServerResponse, status: number, body: Buffer, headers: Record<string, string>): void {
  res.writeHead(status, { 'content-length': String(body.length), 'docker-distribution-api-version': 'registry/2.0', ...headers });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function notFound(req: IncomingMessage, res: ServerResponse, code: string): void {
  send(req, res, 404, Buffer.from(JSON.stringify({ errors: [{ code, message: code.toLowerCase() }] })), { 'content-type': 'application/json' });
}

const server = createServer((req, res) => {
  res.on('finish', () => process.stderr.write(`${req.method} ${req.url} ${res.statusCode}\n`));
  const url = new URL(req.url ?? '/', 'http://registry');
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(req, res, 405, Buffer.alloc(0), {});
  if (!url.pathname.startsWith('/v2/')) return notFound(req, res, 'NOT_FOUND');
  if (!authorized(req)) {
    return send(req, res, 401, Buffer.from(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] })), {
      'content-type': 'application/json', 'www-authenticate': 'Basic realm="corral-lab-registry"',
    });
  }
  if (url.pathname === '/v2/') return send(req, res, 200, Buffer.from('{}'), { 'content-type': 'application/json' });
  const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
  if (!m) return notFound(req, res, 'NOT_FOUND');
  const [, , kind, reference] = m as unknown as [string, string, string, string];
  if (kind === 'manifests') {
    // Any tag names the layout's one image; a digest must be a blob of the layout.
    const descriptor = reference.startsWith('sha256:') ? undefined : index.manifests[0];
    const digest = descriptor?.digest ?? reference;
    const file = blobPath(digest);
    if (!file) return notFound(req, res, 'MANIFEST_UNKNOWN');
    const body = readFileSync(file);
    const mediaType = descriptor?.mediaType ?? ((JSON.parse(body.toString('utf8')) as { mediaType?: string }).mediaType ?? 'application/vnd.oci.image.manifest.v1+json');
    return send(req, res, 200, body, { 'content-type': mediaType, 'docker-content-digest': digest });
  }
  const file = blobPath(reference);
  if (!file) return notFound(req, res, 'BLOB_UNKNOWN');
  return send(req, res, 200, readFileSync(file), { 'content-type': 'application/octet-stream', 'docker-content-digest': reference });
});

server.listen(Number(portText), host, () => process.stdout.write('listening\n'));
