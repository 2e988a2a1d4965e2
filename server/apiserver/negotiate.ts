/**
 * Response content negotiation: JSON, or Kubernetes protobuf for clients that prefer it (client-go
 * programs configured with `application/vnd.kubernetes.protobuf`, usually followed by a JSON
 * fallback). A kind without a protobuf schema (custom resources) falls back to JSON when the client
 * accepts it and answers 406 when it accepts only protobuf, as upstream.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { StatusError } from '../../api/status.js';
import {
  PROTOBUF_CONTENT_TYPE, PROTOBUF_WATCH_CONTENT_TYPE, encodeProtobuf, isProtobufKindSupported,
} from '../../api/codec/protobuf.js';
import { answerBeside, isInProcessRequest } from '../../api/client/transport.js';

export type ResponseFormat = 'json' | 'protobuf';

interface MediaRange { type: string; q: number; index: number }

function parseAccept(accept: string): MediaRange[] {
  return accept.split(',').map((part, index) => {
    const [type = '', ...params] = part.split(';').map((s) => s.trim());
    const q = params.map((p) => /^q=([\d.]+)$/.exec(p)?.[1]).find((v) => v !== undefined);
    return { type: type.toLowerCase(), q: q === undefined ? 1 : Number(q), index };
  }).filter((r) => r.type !== '' && r.q > 0).sort((a, b) => b.q - a.q || a.index - b.index);
}

const JSON_RANGES = new Set(['application/json', 'application/*', '*/*']);

/**
 * The format for a response of `apiVersion`/`kind`. Media types corral does not produce are passed
 * over; an Accept naming nothing usable gets JSON (what every client here reads), except one that asks
 * for protobuf alone for a kind without a schema: that is upstream's 406.
 */
export function responseFormat(accept: string | undefined, apiVersion: string, kind: string): ResponseFormat {
  if (accept === undefined || accept === '') return 'json';
  let askedProtobuf = false;
  for (const range of parseAccept(accept)) {
    if (JSON_RANGES.has(range.type)) return 'json';
    if (range.type === PROTOBUF_CONTENT_TYPE) {
      if (isProtobufKindSupported(apiVersion, kind)) return 'protobuf';
      askedProtobuf = true;
    }
  }
  if (askedProtobuf) throw notAcceptable();
  return 'json';
}

/** Upstream's 406 when no offered media type (or Table conversion) fits the request. */
export function notAcceptable(): StatusError {
  return new StatusError(406, 'NotAcceptable', 'only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf');
}

/** Answers `body` (an object, list or Status carrying apiVersion and kind) in the negotiated format. */
export function sendObject(c: Context, body: object, status: number = 200): Response {
  const typed = body as { apiVersion?: unknown; kind?: unknown } & Record<string, unknown>;
  const format = responseFormat(c.req.header('accept'), String(typed.apiVersion ?? ''), String(typed.kind ?? ''));
  if (format === 'protobuf') {
    const bytes = encodeProtobuf(typed);
    return c.body(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, status as ContentfulStatusCode, { 'content-type': PROTOBUF_CONTENT_TYPE });
  }
  if (isInProcessRequest(c.req.raw)) {
    // The server's own controllers read the text from beside the Response, not through a web stream;
    // the Response keeps it too, for anything that rebuilds the Response on the way out.
    const text = JSON.stringify(body);
    return answerBeside(c.body(text, status as ContentfulStatusCode, { 'content-type': 'application/json' }), text);
  }
  return c.json(body, status as ContentfulStatusCode);
}

/** The Content-Type of a watch stream in `format`. */
export function watchContentType(format: ResponseFormat): string {
  return format === 'protobuf' ? PROTOBUF_WATCH_CONTENT_TYPE : 'application/json';
}
