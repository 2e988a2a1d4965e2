/**
 * Serves the status page's static assets at `/` and `/ui/*` without authentication: they hold no
 * cluster data (the page gets everything from the authenticated API with the user's token, live
 * through `/ui/stream`, see stream.ts).
 * The files are read once at start-up, gzip-compressed once, and served with ETags and a strict
 * Content-Security-Policy (same-origin scripts, styles and API calls only; no external assets).
 */
import { readFileSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context, Hono } from 'hono';
import type { Env } from '../apiserver/app.js';
import { log } from '../../api/log.js';
import { streamHandler } from './stream.js';

interface Asset {
  body: Uint8Array;
  gzip: Uint8Array;
  contentType: string;
  etag: string;
}

const CONTENT_TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-cache',
};

/**
 * Where the assets are: next to this module when run from source, or in the source tree when run
 * from the compiled `dist/server/web/` (tsc does not copy non-TypeScript files).
 */
export function findAssetDir(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'assets'), join(here, '..', '..', '..', 'server', 'web', 'assets')];
  return candidates.find((d) => existsSync(join(d, 'index.html')));
}

export function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const [name, contentType] of Object.entries(CONTENT_TYPES)) {
    const body = readFileSync(join(dir, name));
    assets.set(name, {
      body,
      gzip: gzipSync(body, { level: 9 }),
      contentType,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
    });
  }
  return assets;
}

function serveAsset(c: Context<Env>, asset: Asset): Response {
  const headers: Record<string, string> = { ...SECURITY_HEADERS, 'content-type': asset.contentType, etag: asset.etag, vary: 'accept-encoding' };
  if (c.req.header('if-none-match') === asset.etag) return new Response(null, { status: 304, headers });
  const gzip = /\bgzip\b/.test(c.req.header('accept-encoding') ?? '');
  if (gzip) headers['content-encoding'] = 'gzip';
  const body = gzip ? asset.gzip : asset.body;
  headers['content-length'] = String(body.byteLength);
  return new Response(c.req.method === 'HEAD' ? null : body, { status: 200, headers });
}

/** Mounts `/` and `/ui/<file>`; call it through createApiApp's `extraRoutes` (before authentication). */
export function registerStatusPage(app: Hono<Env>, assetDir: string | undefined = findAssetDir()): void {
  if (!assetDir) {
    log.warn('web', 'status page assets not found; the page is disabled');
    app.get('/', (c) => c.text('corral: the status page assets are not installed', 503));
    return;
  }
  const assets = loadAssets(assetDir);
  const index = assets.get('index.html')!;
  app.get('/', (c) => serveAsset(c, index));
  app.get('/ui', (c) => c.redirect('/', 301));
  app.get('/ui/', (c) => serveAsset(c, index));
  app.get('/ui/stream', streamHandler(app));
  app.get('/ui/:file', (c) => {
    const asset = assets.get(c.req.param('file'));
    if (!asset) return c.text('not found', 404, { 'x-content-type-options': 'nosniff' });
    return serveAsset(c, asset);
  });
}
