/**
 * Decoding of `application/vnd.kubernetes.protobuf` request bodies.
 *
 * kubectl's typed commands (`create deployment|namespace|configmap|secret|service|job|cronjob|
 * serviceaccount|quota|priorityclass`, `create token`, `drain --disable-eviction`) send protobuf and
 * never fall back to JSON on a 415 (kubectl-wire.md §4), so the API server must read them. A body is
 * the magic `k8s\0` followed by a runtime.Unknown {1: TypeMeta{1: apiVersion, 2: kind}, 2: raw object,
 * 3: contentEncoding, 4: contentType}; the raw bytes are the object per k8s.io/api generated.proto.
 * The result is the JSON object Kubernetes would print for the same value.
 */
import type { DeleteOptions, KubeObject } from '../meta.js';
import { KEEP, LIST, decodeMessage, field, message } from './protobuf-schema.js';
import type { JsonObject, MessageTable } from './protobuf-schema.js';
import { ProtobufDecodeError, WireReader, WireType, wireTypeName } from './protobuf-wire.js';
import { DELETE_OPTIONS, OBJECT_META } from './protobuf-meta.js';
import { CONFIG_MAP, NAMESPACE, RESOURCE_QUOTA, SECRET, SERVICE, SERVICE_ACCOUNT } from './protobuf-core.js';
import { CRON_JOB, DEPLOYMENT, JOB } from './protobuf-workloads.js';

export { ProtobufDecodeError } from './protobuf-wire.js';

export const PROTOBUF_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf';

const MAGIC = [0x6b, 0x38, 0x73, 0x00] as const; // "k8s\0"

/** authentication.k8s.io/v1 TokenRequest (`create token`, POST serviceaccounts/NAME/token). */
const TOKEN_REQUEST = message('TokenRequest', {
  1: field('metadata', OBJECT_META),
  2: field('spec', message('TokenRequestSpec', {
    1: field('audiences', 'string', LIST),
    3: field('boundObjectRef', message('BoundObjectReference', {
      1: field('kind', 'string'),
      2: field('apiVersion', 'string'),
      3: field('name', 'string'),
      4: field('uid', 'string'),
    })),
    4: field('expirationSeconds', 'int64', KEEP),
  })),
  3: field('status', message('TokenRequestStatus', {
    1: field('token', 'string', KEEP),
    2: field('expirationTimestamp', 'time'),
  })),
});

/** scheduling.k8s.io/v1 PriorityClass (`create priorityclass`). */
const PRIORITY_CLASS = message('PriorityClass', {
  1: field('metadata', OBJECT_META),
  2: field('value', 'int32', KEEP),
  3: field('globalDefault', 'bool'),
  4: field('description', 'string'),
  5: field('preemptionPolicy', 'string', KEEP),
});

/** The kinds this decoder understands, by `apiVersion/kind` as the envelope's TypeMeta names them. */
const KINDS: ReadonlyMap<string, MessageTable> = new Map([
  ['v1/Namespace', NAMESPACE],
  ['v1/ConfigMap', CONFIG_MAP],
  ['v1/Secret', SECRET],
  ['v1/Service', SERVICE],
  ['v1/ServiceAccount', SERVICE_ACCOUNT],
  ['v1/ResourceQuota', RESOURCE_QUOTA],
  ['v1/DeleteOptions', DELETE_OPTIONS],
  ['meta.k8s.io/v1/DeleteOptions', DELETE_OPTIONS],
  ['apps/v1/Deployment', DEPLOYMENT],
  ['batch/v1/Job', JOB],
  ['batch/v1/CronJob', CRON_JOB],
  ['authentication.k8s.io/v1/TokenRequest', TOKEN_REQUEST],
  ['scheduling.k8s.io/v1/PriorityClass', PRIORITY_CLASS],
]);

const TYPE_META = message('TypeMeta', { 1: field('apiVersion', 'string'), 2: field('kind', 'string') });

interface Envelope { apiVersion: string; kind: string; raw: Uint8Array; contentEncoding: string }

/** Reads runtime.Unknown by hand so the raw object bytes stay a view instead of a copy. */
function readEnvelope(bytes: Uint8Array): Envelope {
  const out: Envelope = { apiVersion: '', kind: '', raw: new Uint8Array(0), contentEncoding: '' };
  const reader = new WireReader(bytes, 'runtime.Unknown');
  while (!reader.done) {
    const { field: number, wireType } = reader.readTag();
    if (number >= 1 && number <= 3 && wireType !== WireType.LengthDelimited) {
      throw new ProtobufDecodeError(`runtime.Unknown: field ${number} has ${wireTypeName(wireType)}, expected length-delimited`);
    }
    if (number === 1) {
      const typeMeta = decodeMessage(reader.readBytes(), TYPE_META, 'runtime.Unknown.typeMeta');
      out.apiVersion = typeof typeMeta['apiVersion'] === 'string' ? typeMeta['apiVersion'] : '';
      out.kind = typeof typeMeta['kind'] === 'string' ? typeMeta['kind'] : '';
    } else if (number === 2) {
      out.raw = reader.readBytes();
    } else if (number === 3) {
      out.contentEncoding = new TextDecoder().decode(reader.readBytes());
    } else {
      reader.skip(wireType);
    }
  }
  return out;
}

/** A decoded message with its TypeMeta; `metadata` is present for every kind except DeleteOptions. */
export interface DecodedProtobuf extends JsonObject {
  apiVersion: string;
  kind: string;
}

/** Whether this decoder can read a given kind (so a server can answer 415 up front for others). */
export function isProtobufKindSupported(apiVersion: string, kind: string): boolean {
  return KINDS.has(`${apiVersion}/${kind}`);
}

/** Decodes any supported protobuf body. Throws ProtobufDecodeError on malformed input or an unknown kind. */
export function decodeProtobuf(body: Uint8Array): DecodedProtobuf {
  if (body.length < MAGIC.length || MAGIC.some((b, i) => body[i] !== b)) {
    throw new ProtobufDecodeError('not a Kubernetes protobuf body: missing the "k8s\\0" prefix');
  }
  const { apiVersion, kind, raw, contentEncoding } = readEnvelope(body.subarray(MAGIC.length));
  if (apiVersion === '' || kind === '') {
    throw new ProtobufDecodeError('protobuf envelope has no apiVersion/kind');
  }
  if (contentEncoding !== '') {
    throw new ProtobufDecodeError(`protobuf content encoding "${contentEncoding}" is not supported`);
  }
  const table = KINDS.get(`${apiVersion}/${kind}`);
  if (table === undefined) {
    throw new ProtobufDecodeError(`protobuf decoding of ${kind} (${apiVersion}) is not supported; send JSON instead`);
  }
  return { kind, apiVersion, ...decodeMessage(raw, table, kind) };
}

/** DeleteOptions as decoded from protobuf: the one supported message without ObjectMeta. */
export type ProtobufDeleteOptions = DeleteOptions & { kind: 'DeleteOptions'; apiVersion: string };

/**
 * Decodes a protobuf request body: an API object (anything with ObjectMeta), or the DeleteOptions a
 * DELETE may carry (`kubectl drain --disable-eviction`), which has no metadata and comes back as is.
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

/** Decodes the protobuf DeleteOptions body of a DELETE (e.g. `kubectl drain --disable-eviction`). */
export function decodeProtobufDeleteOptions(body: Uint8Array): ProtobufDeleteOptions {
  const decoded = decodeProtobuf(body);
  if (decoded.kind !== 'DeleteOptions') {
    throw new ProtobufDecodeError(`expected DeleteOptions, got ${decoded.kind}`);
  }
  return decoded as ProtobufDeleteOptions;
}
