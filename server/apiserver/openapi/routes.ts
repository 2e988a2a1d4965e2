/**
 * `/openapi/v3` (the index), `/openapi/v3/<api|apis/group>/<version>` and `/openapi/v2`. Every answer
 * carries a strong ETag; `If-None-Match` gets 304. A group/version URL asked with a `hash` that is
 * no longer current redirects (301) to the current one, as upstream, so a client's cache keyed by
 * URL never serves a document from before a CRD came or went; a current hash may be cached forever.
 */
import type { Context, Env, Hono } from 'hono';
import { StatusError } from '../../../api/status.js';
import type { OpenApiDocuments, ServedDocument } from './documents.js';
import { OPENAPI_V2_PROTOBUF, OPENAPI_V2_PROTOBUF_ACCEPT } from './openapi-v2-protobuf.js';

function notModified(c: Context, doc: ServedDocument): boolean {
  const header = c.req.header('if-none-match');
  if (!header) return false;
  return header.split(',').map((t) => t.trim().replace(/^W\//, '')).some((t) => t === '*' || t === doc.etag);
}

function send(c: Context, doc: ServedDocument, contentType: string, cacheControl: string): Response {
  const headers = { etag: doc.etag, 'cache-control': cacheControl, vary: 'Accept' };
  if (notModified(c, doc)) return c.body(null, 304, headers);
  return c.body(doc.body as string, 200, { ...headers, 'content-type': contentType });
}

/** True when the Accept header names the gnostic protobuf form before (or instead of) JSON. */
function wantsProtobuf(accept: string | undefined): boolean {
  if (!accept) return false;
  const types = accept.split(',').map((t) => t.split(';')[0]!.trim());
  const proto = types.findIndex((t) => t === OPENAPI_V2_PROTOBUF_ACCEPT || t === OPENAPI_V2_PROTOBUF);
  const json = types.findIndex((t) => t === 'application/json' || t === '*/*');
  return proto >= 0 && (json < 0 || proto < json);
}

export function mountOpenApiRoutes<E extends Env>(app: Hono<E>, documents: OpenApiDocuments): void {
  for (const path of ['/openapi/v3', '/openapi/v3/']) {
    app.get(path, (c) => send(c, documents.root(), 'application/json', 'no-cache, private'));
  }
  app.get('/openapi/v3/*', (c) => {
    const key = c.req.path.slice('/openapi/v3/'.length).replace(/\/$/, '');
    const doc = documents.groupVersion(key);
    if (!doc) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    const hash = c.req.query('hash');
    if (hash !== undefined && hash !== doc.hash) {
      return c.body(null, 301, { location: `/openapi/v3/${key}?hash=${doc.hash}`, 'cache-control': 'no-cache, private' });
    }
    return send(c, doc, 'application/json', hash ? 'public, immutable' : 'no-cache, private');
  });
  for (const path of ['/openapi/v2', '/openapi/v2/']) {
    app.get(path, (c) => {
      // client-go asks for protobuf only; browsers and other tools for JSON.
      if (wantsProtobuf(c.req.header('accept'))) return send(c, documents.v2('protobuf'), OPENAPI_V2_PROTOBUF, 'no-cache, private');
      return send(c, documents.v2('json'), 'application/json', 'no-cache, private');
    });
  }
}
