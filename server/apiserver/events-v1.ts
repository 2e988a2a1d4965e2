/**
 * events.k8s.io/v1 served over the core Events: each request is converted (api/event-conversion.ts)
 * and answered by the core/v1 endpoint of the same app in process, with the caller's own credentials,
 * so storage, selectors, watch, Table printing and authorization are the core ones. Creates are also
 * held to the newer version's rules (api/validation/events-v1.ts); patches apply to the newer shape.
 */
import type { Context } from 'hono';
import { eventFromV1, eventToV1, EVENTS_V1 } from '../../api/event-conversion.js';
import type { KubeObject } from '../../api/meta.js';
import { resourceForPlural } from '../../api/resources.js';
import { errors } from '../../api/status.js';
import { validateEventV1Create } from '../../api/validation/events-v1.js';
import { decodeDeleteOptions, decodeObject, isPlainObject, mediaType, readBody } from './body.js';
import { applyPatch, patchTypeOf } from './patch.js';
import { responseFormat, sendObject, watchContentType, type ResponseFormat } from './negotiate.js';
import { encodeProtobufWatchFrame } from '../../api/codec/protobuf.js';
import { checkBooleanQuery, queryBool } from '../../api/query-bool.js';

const PREFIX = '/apis/events.k8s.io/v1';
const INFO = resourceForPlural('events.k8s.io', 'events')!;

/** Converts whatever the core endpoint answered: an Event, an EventList, a Table's row objects. */
function convertBody(value: unknown): unknown {
  if (!isPlainObject(value)) return value;
  if (value['kind'] === 'Event') return eventToV1(value as unknown as KubeObject);
  if (value['kind'] === 'EventList' && Array.isArray(value['items'])) {
    return { ...value, apiVersion: EVENTS_V1, items: value['items'].map((i) => eventToV1(i as KubeObject)) };
  }
  if (value['kind'] === 'Table' && Array.isArray(value['rows'])) {
    return { ...value, rows: value['rows'].map((r) => (isPlainObject(r) && isPlainObject(r['object']) ? { ...r, object: convertBody(r['object']) } : r)) };
  }
  return value;
}

/** A watch stream's events (one JSON document a line from the core endpoint), converted, in `format`. */
function convertWatch(body: ReadableStream<Uint8Array>, format: ResponseFormat): ReadableStream<Uint8Array> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let pending = '';
  const line = (text: string): Uint8Array => {
    let ev: { type?: string; object?: unknown };
    try {
      ev = JSON.parse(text) as { type?: string; object?: unknown };
    } catch {
      return encoder.encode(`${text}\n`);
    }
    const object = convertBody(ev.object) as Record<string, unknown>;
    if (format === 'protobuf') return encodeProtobufWatchFrame(ev.type ?? '', object);
    return encoder.encode(`${JSON.stringify({ ...ev, object })}\n`);
  };
  return body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, out) {
      pending += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = pending.indexOf('\n')) >= 0) {
        const text = pending.slice(0, i);
        pending = pending.slice(i + 1);
        if (text.trim() !== '') out.enqueue(line(text));
      }
    },
    flush(out) {
      if (pending.trim() !== '') out.enqueue(line(pending));
    },
  }));
}

/** The routes of events.k8s.io/v1; `fetch` is the app itself (the core endpoints answer in process). */
export function eventsV1Routes(fetch: (req: Request) => Response | Promise<Response>): [string, (c: Context) => Promise<Response>][] {
  const forward = (c: Context, method: string, path: string, body?: string): Promise<Response> => {
    const headers = new Headers();
    for (const h of ['authorization', 'user-agent']) {
      const v = c.req.header(h);
      if (v) headers.set(h, v);
    }
    const accept = c.req.header('accept') ?? '';
    // JSON (or a JSON Table) only: the answer is converted here.
    headers.set('accept', /as=Table/.test(accept) ? accept : 'application/json');
    if (body !== undefined) headers.set('content-type', 'application/json');
    return Promise.resolve(fetch(new Request(`http://in-process${path}`, { method, headers, ...(body !== undefined ? { body } : {}) })));
  };

  /** The core answer, converted, in the format the caller negotiated (JSON, protobuf, or a JSON Table). */
  const converted = async (c: Context, res: Response, watch: boolean): Promise<Response> => {
    const headers = new Headers(res.headers);
    headers.delete('content-length');
    const table = /as=Table/.test(c.req.header('accept') ?? '');
    if (watch && res.body && res.ok) {
      const format = table ? 'json' : responseFormat(c.req.header('accept'), EVENTS_V1, 'Event');
      headers.set('content-type', table ? (res.headers.get('content-type') ?? 'application/json') : watchContentType(format));
      return new Response(convertWatch(res.body, format), { status: res.status, headers });
    }
    const text = await res.text();
    if (!(res.headers.get('content-type') ?? '').includes('json') || text === '') return new Response(text, { status: res.status, headers });
    const body = convertBody(JSON.parse(text)) as object;
    if (table) return new Response(JSON.stringify(body), { status: res.status, headers });
    return sendObject(c, body, res.status);
  };

  const decodeV1 = async (c: Context): Promise<KubeObject> => {
    const body = decodeObject(await readBody(c.req.raw), mediaType(c.req.raw), INFO);
    if (!isPlainObject(body)) throw errors.badRequest('the request body must be an Event object');
    return body as unknown as KubeObject;
  };

  const handle = async (c: Context): Promise<Response> => {
    const url = new URL(c.req.url);
    const path = `/api/v1${url.pathname.slice(PREFIX.length)}${url.search}`;
    checkBooleanQuery(url.searchParams);
    const watch = queryBool(url.searchParams, 'watch');
    const method = c.req.method;
    if (method === 'POST') {
      const v1 = await decodeV1(c);
      const causes = validateEventV1Create(v1);
      if (causes.length > 0) throw errors.invalid('Event', v1.metadata?.name ?? v1.metadata?.generateName ?? '', causes, INFO.group);
      return converted(c, await forward(c, 'POST', path, JSON.stringify(eventFromV1(v1))), false);
    }
    if (method === 'PUT') return converted(c, await forward(c, 'PUT', path, JSON.stringify(eventFromV1(await decodeV1(c)))), false);
    if (method === 'PATCH') {
      const type = patchTypeOf(mediaType(c.req.raw));
      if (type === 'apply') throw errors.unsupportedMediaType('application/apply-patch+yaml');
      const raw = await readBody(c.req.raw);
      const current = await forward(c, 'GET', `/api/v1${url.pathname.slice(PREFIX.length)}`);
      if (!current.ok) return converted(c, current, false);
      const v1 = eventToV1(await current.json() as KubeObject);
      const patched = applyPatch(type, v1, raw, INFO);
      // The read-modify-write is guarded by the version read (409 if the Event changed meanwhile).
      if (patched.metadata.resourceVersion === undefined && v1.metadata.resourceVersion !== undefined) patched.metadata.resourceVersion = v1.metadata.resourceVersion;
      return converted(c, await forward(c, 'PUT', `/api/v1${url.pathname.slice(PREFIX.length)}`, JSON.stringify(eventFromV1(patched))), false);
    }
    let body: string | undefined;
    if (method === 'DELETE') {
      const raw = await readBody(c.req.raw);
      if (raw.length > 0) body = JSON.stringify(decodeDeleteOptions(raw, mediaType(c.req.raw), INFO));
    }
    return converted(c, await forward(c, method, path, body), watch);
  };

  return [`${PREFIX}/events`, `${PREFIX}/namespaces/:namespace/events`, `${PREFIX}/namespaces/:namespace/events/:name`].map((p) => [p, handle]);
}
