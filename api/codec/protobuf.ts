/**
 * `application/vnd.kubernetes.protobuf`: request bodies and responses for every kind that has a
 * message in ./schema/ (see protobuf-schema.ts for adding one).
 *
 * A body is the magic `k8s\0` followed by a runtime.Unknown {1: TypeMeta{1: apiVersion, 2: kind},
 * 2: raw object, 3: contentEncoding, 4: contentType}; the raw bytes are the object per k8s.io/api's
 * generated.proto. Decoding gives the JSON object Kubernetes would print for the same value; encoding
 * does the reverse. A watch in protobuf is a stream of frames, each a 4-byte big-endian length and a
 * bare metav1.WatchEvent whose `object` holds the enveloped object.
 */
import protobuf from 'protobufjs/minimal.js';
import type { DeleteOptions, KubeObject } from '../meta.js';
import { ProtobufDecodeError, decodeMessage, type JsonObject } from './protobuf-decode.js';
import { encodeMessage } from './protobuf-encode.js';
import { definePackage, SchemaRegistry, type MessageSchema } from './protobuf-schema.js';
import { SCHEMAS } from './schema/index.js';

export { ProtobufDecodeError } from './protobuf-decode.js';

export const PROTOBUF_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf';
export const PROTOBUF_WATCH_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf;stream=watch';

const MAGIC = Uint8Array.from([0x6b, 0x38, 0x73, 0x00]); // "k8s\0"

/** runtime.Unknown and its TypeMeta (k8s.io/apimachinery/pkg/runtime/generated.proto). */
const RUNTIME = new SchemaRegistry([definePackage('runtime', 'runtime', {
  TypeMeta: '1 apiVersion string; 2 kind string',
  Unknown: '1 typeMeta TypeMeta; 2 raw bytes; 3 contentEncoding string; 4 contentType string',
})]);
const UNKNOWN = RUNTIME.qualified('runtime.Unknown');

/**
 * The message of a kind. Option and status kinds are meta.k8s.io/v1 messages that clients send under
 * the resource's own group/version (client-go encodes DeleteOptions for a Deployment as apps/v1), so
 * they are found under any apiVersion.
 */
function schemaFor(apiVersion: string, kind: string): MessageSchema | undefined {
  if (kind === 'DeleteOptions' || kind === 'Status') return SCHEMAS.qualified(`meta.${kind}`);
  return SCHEMAS.message(apiVersion, kind);
}

/** Whether this codec can read and write a kind (others answer 415/406, as custom resources do upstream). */
export function isProtobufKindSupported(apiVersion: string, kind: string): boolean {
  return schemaFor(apiVersion, kind) !== undefined;
}

/** A decoded message with its TypeMeta. */
export interface DecodedProtobuf extends JsonObject {
  apiVersion: string;
  kind: string;
}

/** Decodes any supported protobuf body. Throws ProtobufDecodeError on malformed input or an unknown kind. */
export function decodeProtobuf(body: Uint8Array): DecodedProtobuf {
  if (body.length < MAGIC.length || MAGIC.some((b, i) => body[i] !== b)) {
    throw new ProtobufDecodeError('not a Kubernetes protobuf body: missing the "k8s\\0" prefix');
  }
  const envelope = decodeMessage(body.subarray(MAGIC.length), UNKNOWN, 'runtime.Unknown');
  const typeMeta = (envelope['typeMeta'] ?? {}) as { apiVersion?: string; kind?: string };
  const apiVersion = typeMeta.apiVersion ?? '';
  const kind = typeMeta.kind ?? '';
  if (apiVersion === '' || kind === '') throw new ProtobufDecodeError('protobuf envelope has no apiVersion/kind');
  const encoding = envelope['contentEncoding'];
  if (typeof encoding === 'string' && encoding !== '') {
    throw new ProtobufDecodeError(`protobuf content encoding "${encoding}" is not supported`);
  }
  const schema = schemaFor(apiVersion, kind);
  if (schema === undefined) {
    throw new ProtobufDecodeError(`protobuf decoding of ${kind} (${apiVersion}) is not supported; send JSON instead`);
  }
  const raw = Buffer.from(typeof envelope['raw'] === 'string' ? envelope['raw'] : '', 'base64');
  return { kind, apiVersion, ...decodeMessage(raw, schema, kind) };
}

/** DeleteOptions as decoded from protobuf: the one supported request message without ObjectMeta. */
export type ProtobufDeleteOptions = DeleteOptions & { kind: 'DeleteOptions'; apiVersion: string };

/**
 * Decodes a protobuf request body: an API object (anything with ObjectMeta), or the DeleteOptions a
 * DELETE may carry, which has no metadata and comes back as is.
 */
export function decodeProtobufObject(body: Uint8Array): KubeObject | ProtobufDeleteOptions {
  const decoded = decodeProtobuf(body);
  if (decoded.kind === 'DeleteOptions') return decoded as ProtobufDeleteOptions;
  const metadata = decoded['metadata'];
  if (typeof metadata !== 'object' || metadata === null) {
    throw new ProtobufDecodeError(`${decoded.kind} carries no metadata`);
  }
  return { ...decoded, metadata } as KubeObject;
}

/** Decodes the protobuf DeleteOptions body of a DELETE, in whatever group/version the client used. */
export function decodeProtobufDeleteOptions(body: Uint8Array): ProtobufDeleteOptions {
  const decoded = decodeProtobuf(body);
  if (decoded.kind !== 'DeleteOptions') {
    throw new ProtobufDecodeError(`expected DeleteOptions, got ${decoded.kind}`);
  }
  return decoded as ProtobufDeleteOptions;
}

/**
 * Encodes an object (or a `<Kind>List`, or a Status) that carries its apiVersion and kind. Throws for
 * a kind without a schema: callers check isProtobufKindSupported first.
 */
export function encodeProtobuf(object: { apiVersion?: unknown; kind?: unknown } & Record<string, unknown>): Uint8Array {
  const apiVersion = String(object.apiVersion ?? '');
  const kind = String(object.kind ?? '');
  const schema = schemaFor(apiVersion, kind);
  if (schema === undefined) throw new Error(`protobuf encoding of ${kind} (${apiVersion}) is not supported`);
  const unknown = encodeMessage({
    typeMeta: { apiVersion, kind },
    raw: Buffer.from(encodeMessage(object, schema)).toString('base64'),
    contentEncoding: '',
    contentType: '',
  }, UNKNOWN);
  const out = new Uint8Array(MAGIC.length + unknown.length);
  out.set(MAGIC);
  out.set(unknown, MAGIC.length);
  return out;
}

/** One frame of a protobuf watch stream: the length, then WatchEvent{type, object: enveloped object}. */
export function encodeProtobufWatchFrame(type: string, object: { apiVersion?: unknown; kind?: unknown } & Record<string, unknown>): Uint8Array {
  const event = protobuf.Writer.create();
  event.uint32((1 << 3) | 2).string(type);
  event.uint32((2 << 3) | 2).fork().uint32((1 << 3) | 2).bytes(encodeProtobuf(object)).ldelim();
  const bytes = event.finish();
  const frame = new Uint8Array(4 + bytes.length);
  new DataView(frame.buffer).setUint32(0, bytes.length, false);
  frame.set(bytes, 4);
  return frame;
}
