/**
 * Schema-driven decoding of one Kubernetes protobuf message into the JSON object Kubernetes itself
 * prints for the same value. protobufjs reads the wire; the schema (protobuf-schema.ts) says what each
 * field means. Nested messages are kept when present even if empty, because encoding/json never omits
 * a non-pointer struct (hence `"status": {}` and `"resources": {}`); scalars follow the field's `*`.
 */
import protobuf from 'protobufjs/minimal.js';
import { rfc3339 } from '../meta.js';
import { isMessageType, type FieldSchema, type MessageSchema, type ValueType } from './protobuf-schema.js';

/** Every malformed or unsupported protobuf body ends in this error, so the API server can answer 400/415. */
export class ProtobufDecodeError extends Error {
  readonly code = 'PROTOBUF_DECODE';
  constructor(message: string) {
    super(message);
    this.name = 'ProtobufDecodeError';
  }
}

export type JsonObject = Record<string, unknown>;

const { Reader } = protobuf;
type Reader = protobuf.Reader;

export const WireType = { Varint: 0, Fixed64: 1, LengthDelimited: 2, Fixed32: 5 } as const;
const WIRE_TYPE_NAMES: Record<number, string> = { 0: 'varint', 1: 'fixed64', 2: 'length-delimited', 3: 'start-group', 4: 'end-group', 5: 'fixed32' };

export function wireTypeName(wireType: number): string {
  return WIRE_TYPE_NAMES[wireType] ?? `wire type ${wireType}`;
}

const utf8 = new TextDecoder('utf-8');

/** Decodes `bytes` as `schema`; `path` names the message in errors (`Deployment.spec.template`). */
export function decodeMessage(bytes: Uint8Array, schema: MessageSchema, path: string): JsonObject {
  try {
    return readMessage(Reader.create(bytes), bytes.length, schema, path);
  } catch (err) {
    if (err instanceof ProtobufDecodeError) throw err;
    // protobufjs reports truncation as RangeError("index out of range: ...") and bad varints as Error.
    const what = err instanceof RangeError ? `truncated (${err.message})` : (err as Error).message;
    throw new ProtobufDecodeError(`${path}: ${what}`);
  }
}

/** Reads the fields of one message from `reader` up to byte `end`. */
function readMessage(reader: Reader, end: number, schema: MessageSchema, path: string): JsonObject {
  const out: JsonObject = {};
  while (reader.pos < end) {
    const { number, wireType } = readTag(reader, path);
    const spec = schema.byNumber.get(number);
    if (spec === undefined) {
      reader.skipType(wireType);
      if (reader.pos > end) fail(path, 'truncated field');
      continue;
    }
    readField(reader, wireType, spec, out, `${path}.${spec.name}`);
    if (reader.pos > end) fail(path, 'a field runs past the end of the message');
  }
  return out;
}

function readField(reader: Reader, wireType: number, spec: FieldSchema, out: JsonObject, at: string): void {
  if (spec.shape === 'map') {
    expectWireType(wireType, WireType.LengthDelimited, at);
    const [key, value] = readMapEntry(reader, spec.type, at);
    ((out[spec.name] ??= {}) as JsonObject)[key] = value;
    return;
  }
  if (spec.shape === 'repeated') {
    const list = (out[spec.name] ??= []) as unknown[];
    if (wireType === WireType.LengthDelimited && isVarintType(spec.type)) {
      // A packed list of numbers or bools (proto3 style); Kubernetes writes them unpacked, accept both.
      const end = lengthDelimitedEnd(reader, at);
      while (reader.pos < end) list.push(readVarintValue(reader, spec.type as ValueType));
    } else {
      list.push(readValue(reader, wireType, spec.type, at) ?? null);
    }
    return;
  }
  const value = readValue(reader, wireType, spec.type, at);
  if (spec.inline && isObject(value)) {
    Object.assign(out, value);
  } else if (value === undefined || (!spec.keepZero && isScalar(spec.type) && isZero(value))) {
    delete out[spec.name];
  } else {
    out[spec.name] = value;
  }
}

function readValue(reader: Reader, wireType: number, type: FieldSchema['type'], at: string): unknown {
  if (isMessageType(type)) {
    expectWireType(wireType, WireType.LengthDelimited, at);
    const schema = type.message();
    const value = readMessage(reader, lengthDelimitedEnd(reader, at), schema, at);
    return schema.unwrap ? (value[schema.fields[0]!.name] ?? []) : value;
  }
  switch (type) {
    case 'string':
      expectWireType(wireType, WireType.LengthDelimited, at);
      return utf8.decode(reader.bytes());
    case 'bytes':
      expectWireType(wireType, WireType.LengthDelimited, at);
      return Buffer.from(reader.bytes()).toString('base64');
    case 'int32':
    case 'int64':
    case 'bool':
      expectWireType(wireType, WireType.Varint, at);
      return readVarintValue(reader, type);
    case 'Time':
    case 'MicroTime':
      expectWireType(wireType, WireType.LengthDelimited, at);
      return readTime(reader, type, at);
    case 'Quantity': {
      expectWireType(wireType, WireType.LengthDelimited, at);
      return readMessage(reader, lengthDelimitedEnd(reader, at), QUANTITY, at)['string'] ?? '';
    }
    case 'IntOrString': {
      expectWireType(wireType, WireType.LengthDelimited, at);
      const v = readMessage(reader, lengthDelimitedEnd(reader, at), INT_OR_STRING, at);
      return v['type'] === 1 ? (v['strVal'] ?? '') : (v['intVal'] ?? 0);
    }
    case 'RawJSON': {
      expectWireType(wireType, WireType.LengthDelimited, at);
      const raw = readMessage(reader, lengthDelimitedEnd(reader, at), RAW, at)['raw'];
      if (typeof raw !== 'string' || raw === '') return undefined;
      try {
        return JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
      } catch {
        return fail(at, 'embedded object is not JSON');
      }
    }
  }
}

function readVarintValue(reader: Reader, type: ValueType): number | boolean {
  if (type === 'bool') return reader.bool();
  if (type === 'int32') return reader.int32();
  const v = reader.int64() as number | protobuf.Long;
  // A Long when long.js is loaded: high is signed, low unsigned.
  return typeof v === 'number' ? v : v.high * 0x1_0000_0000 + (v.low >>> 0);
}

function readMapEntry(reader: Reader, valueType: FieldSchema['type'], at: string): [string, unknown] {
  const end = lengthDelimitedEnd(reader, at);
  let key = '';
  let value: unknown;
  while (reader.pos < end) {
    const { number, wireType } = readTag(reader, at);
    if (number === 1) {
      expectWireType(wireType, WireType.LengthDelimited, `${at} key`);
      key = utf8.decode(reader.bytes());
    } else if (number === 2) {
      value = readValue(reader, wireType, valueType, `${at}[${JSON.stringify(key)}]`);
    } else {
      reader.skipType(wireType);
    }
  }
  if (reader.pos > end) fail(at, 'map entry runs past its end');
  // An entry without a value field carries the zero value (Go maps print it, e.g. "key": "").
  return [key, value ?? zeroOf(valueType)];
}

/** metav1.Time / MicroTime are {1: seconds, 2: nanos}; the zero time means unset and is left out. */
function readTime(reader: Reader, type: 'Time' | 'MicroTime', at: string): string | undefined {
  const t = readMessage(reader, lengthDelimitedEnd(reader, at), TIMESTAMP, at);
  const seconds = (t['seconds'] as number | undefined) ?? 0;
  const nanos = (t['nanos'] as number | undefined) ?? 0;
  if (seconds === 0 && nanos === 0) return undefined;
  const ms = seconds * 1000 + Math.floor(nanos / 1e6);
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) fail(at, `time out of range (${seconds} s)`);
  const date = new Date(ms);
  if (type === 'Time') return rfc3339(date);
  // Six fractional digits, all from nanos (Date itself carries only milliseconds).
  return rfc3339(date).replace(/Z$/, `.${String(Math.floor(nanos / 1000)).padStart(6, '0')}Z`);
}

/** The byte offset where a length-delimited payload ends (after reading its length). */
function lengthDelimitedEnd(reader: Reader, at: string): number {
  const length = reader.uint32();
  const end = reader.pos + length;
  if (end > reader.len) fail(at, `length ${length} runs past the end of the message (${reader.len - reader.pos} bytes left)`);
  return end;
}

function readTag(reader: Reader, path: string): { number: number; wireType: number } {
  const tag = reader.uint32();
  const number = tag >>> 3;
  const wireType = tag & 7;
  if (number === 0) fail(path, `field number 0 at byte ${reader.pos}`);
  if (wireType === 3 || wireType === 4) fail(path, 'protobuf groups are not supported');
  if (wireType > 5) fail(path, `invalid wire type ${wireType} at byte ${reader.pos}`);
  return { number, wireType };
}

function fail(at: string, what: string): never {
  throw new ProtobufDecodeError(`${at}: ${what}`);
}

function expectWireType(actual: number, expected: number, at: string): void {
  if (actual !== expected) fail(at, `expected ${wireTypeName(expected)}, got ${wireTypeName(actual)}`);
}

/**
 * Only scalars lose their zero: a value type that is a message on the wire (IntOrString, Quantity) is
 * there because the Go value was set (`maxUnavailable: 0` is a pointer) or is a struct JSON never omits.
 */
function isScalar(type: FieldSchema['type']): boolean {
  return type === 'string' || type === 'bytes' || type === 'int32' || type === 'int64' || type === 'bool';
}

function isVarintType(type: FieldSchema['type']): boolean {
  return type === 'int32' || type === 'int64' || type === 'bool';
}

function isZero(value: unknown): boolean {
  return value === '' || value === 0 || value === false;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function zeroOf(type: FieldSchema['type']): unknown {
  if (isMessageType(type)) return type.message().unwrap ? [] : {};
  switch (type) {
    case 'string': case 'bytes': return '';
    case 'Quantity': return '0';
    case 'int32': case 'int64': case 'IntOrString': return 0;
    case 'bool': return false;
    case 'Time': case 'MicroTime': case 'RawJSON': return null;
  }
}

function builtin(name: string, fields: Array<[number, string, ValueType]>): MessageSchema {
  const list: FieldSchema[] = fields.map(([number, fieldName, type]) => ({ number, name: fieldName, type, shape: 'single', keepZero: false, inline: false }));
  return { name, fields: list, byNumber: new Map(list.map((f) => [f.number, f])), unwrap: false };
}

/** The apimachinery value types' own messages (google.protobuf.Timestamp's shape, resource.Quantity, ...). */
export const TIMESTAMP = builtin('Timestamp', [[1, 'seconds', 'int64'], [2, 'nanos', 'int32']]);
export const QUANTITY = builtin('Quantity', [[1, 'string', 'string']]);
export const INT_OR_STRING = builtin('IntOrString', [[1, 'type', 'int64'], [2, 'intVal', 'int32'], [3, 'strVal', 'string']]);
export const RAW = builtin('RawExtension', [[1, 'raw', 'bytes']]);
