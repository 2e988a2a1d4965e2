/**
 * Request bodies: read with a size limit (413 past it), decoded by Content-Type into plain objects.
 * JSON, YAML and Kubernetes protobuf (for every kind with a schema in api/codec/schema/) are
 * accepted; anything else is 415, and so is protobuf for a kind without a schema, as upstream
 * answers for custom resources.
 */
import { createRequire } from 'node:module';
import { errors } from '../../api/status.js';
import { inProcessBodyOf } from '../../api/client/transport.js';
import { PROTOBUF_CONTENT_TYPE, decodeProtobufObject, isProtobufKindSupported } from '../../api/codec/protobuf.js';
import { apiVersionOf, type ResourceInfo } from '../../api/resources.js';

/** Kubernetes' own limit for a request body (3 MiB). */
let yaml: typeof import('yaml') | undefined;

/**
 * Parses YAML from a client without printing its warnings (the yaml package writes them to stderr):
 * a client must not control the server's log. The package (70 files, a few MiB resident) is required
 * at the first YAML body, synchronously: kubectl and client-go send JSON or protobuf, so a server may
 * never need it.
 */
export function parseYamlQuietly(text: string): unknown {
  yaml ??= createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return yaml.parse(text, { logLevel: 'error' });
}

export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export async function readBody(req: Request, limit = MAX_BODY_BYTES): Promise<Uint8Array> {
  const inProcess = inProcessBodyOf(req);
  if (inProcess !== undefined) {
    if (inProcess.byteLength > limit) throw errors.tooLarge(`Request entity too large: limit is ${limit}`);
    return inProcess;
  }
  const length = req.headers.get('content-length');
  const declared = Number(length ?? '0');
  if (declared > limit) throw errors.tooLarge(`Request entity too large: limit is ${limit}`);
  // A declared length within the limit bounds what the HTTP parser hands over, so the body can be
  // taken whole: @hono/node-server then reads the Node stream directly instead of building a web
  // Request and a ReadableStream for it (a tenth of a small create's server time).
  if (length !== null && /^\d+$/.test(length)) return new Uint8Array(await req.arrayBuffer());
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw errors.tooLarge(`Request entity too large: limit is ${limit}`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

export function mediaType(req: Request): string {
  return (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * Decodes an object body (create, update). A missing Content-Type is JSON, as kubectl assumes.
 * `target` is the kind the URL addresses (a subresource's own kind, e.g. policy/v1 Eviction).
 */
export function decodeObject(bytes: Uint8Array, type: string, target?: Pick<ResourceInfo, 'group' | 'version' | 'kind'>): unknown {
  if (bytes.byteLength === 0) throw errors.badRequest('the request body is empty');
  switch (type) {
    case '':
    case 'application/json':
      return parseJson(bytes);
    case 'application/yaml':
    case 'application/x-yaml':
    case 'text/yaml':
      return parseYamlBody(bytes);
    case PROTOBUF_CONTENT_TYPE:
      if (target !== undefined && !isProtobufKindSupported(apiVersionOf(target), target.kind)) {
        throw errors.unsupportedMediaType(type, 'application/json, application/yaml');
      }
      try {
        return decodeProtobufObject(bytes);
      } catch (err) {
        throw errors.badRequest(`unable to decode protobuf body: ${(err as Error).message}`);
      }
    default:
      throw errors.unsupportedMediaType(type);
  }
}

/**
 * How deeply a body may nest. Go's decoder stops at 10000; everything after decoding here (clone,
 * patches, validation, JSON.stringify) recurses, so the limit sits well below the call stack size.
 * No Kubernetes object comes close to it.
 */
export const MAX_NESTING_DEPTH = 1000;

/** Throws 400 for a value nested deeper than MAX_NESTING_DEPTH (checked without recursion). */
export function assertNestingDepth(value: unknown, what: string): void {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > MAX_NESTING_DEPTH) throw errors.badRequest(`couldn't decode the ${what}: exceeded max depth of ${MAX_NESTING_DEPTH}`);
    for (const child of Array.isArray(v) ? v : Object.values(v as Record<string, unknown>)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
}

export function parseJson(bytes: Uint8Array, what = 'request body'): unknown {
  const text = Buffer.from(bytes).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw errors.badRequest(`couldn't decode the ${what} as JSON: ${(err as Error).message}`);
  }
  assertNestingDepth(value, what);
  return value;
}

export function parseYamlBody(bytes: Uint8Array, what = 'request body'): unknown {
  let value: unknown;
  try {
    value = parseYamlQuietly(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw errors.badRequest(`couldn't decode the ${what} as YAML: ${(err as Error).message}`);
  }
  assertNestingDepth(value, what);
  return value;
}

/** Decodes a DELETE body (DeleteOptions), which may be JSON, protobuf or absent. */
export function decodeDeleteOptions(bytes: Uint8Array, type: string, target?: Pick<ResourceInfo, 'group' | 'version' | 'kind'>): Record<string, unknown> {
  if (bytes.byteLength === 0) return {};
  const decoded = decodeObject(bytes, type, target);
  if (decoded === null || typeof decoded !== 'object' || Array.isArray(decoded)) {
    throw errors.badRequest('DeleteOptions must be an object');
  }
  return decoded as Record<string, unknown>;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
