/**
 * Table-driven decoding of Kubernetes protobuf messages into the JSON shape Kubernetes itself prints.
 *
 * gogo-protobuf (which Kubernetes generates its marshallers with) writes every non-pointer field, even
 * "" / 0 / false, while Go's encoding/json drops those for `omitempty` fields. A field table therefore
 * says, besides the field number and type, whether a zero value is kept (`keepZero`: pointer fields such
 * as Deployment `spec.replicas`, which the wire carries only when set, and fields without `omitempty`
 * such as a container's `name`). Nested messages are always kept when present, because non-pointer
 * structs are never omitted by encoding/json (hence `"status": {}` and `"resources": {}`).
 */
import { rfc3339 } from '../meta.js';
import { ProtobufDecodeError, WireReader, WireType, wireTypeName } from './protobuf-wire.js';

/**
 * Value types: scalars, metav1.Time (RFC 3339; the zero time is omitted, as the wire leaves it empty),
 * resource.Quantity (a message holding its string form), intstr.IntOrString, or a nested message.
 */
export type ScalarType = 'string' | 'bytes' | 'int32' | 'int64' | 'bool';
export type ValueType = ScalarType | 'time' | 'quantity' | 'intOrString' | MessageTable;

export interface FieldSpec {
  readonly name: string;
  readonly type: ValueType;
  /** `repeated` = JSON list; `map` = map<string, type> (wire entries are messages {1: key, 2: value}). */
  readonly shape?: 'repeated' | 'map';
  /** Keep "", 0 and false (pointer fields, and fields whose JSON tag has no `omitempty`). */
  readonly keepZero?: boolean;
  /** An embedded Go struct whose JSON fields are inlined into the parent (e.g. LocalObjectReference). */
  readonly inline?: boolean;
}

export interface MessageTable {
  readonly name: string;
  readonly fields: Readonly<Record<number, FieldSpec>>;
}

export type JsonObject = Record<string, unknown>;

const utf8 = new TextDecoder('utf-8');

/** Builds a table; a helper only so tables read as `message('Name', { 1: str('name') })`. */
export function message(name: string, fields: Record<number, FieldSpec>): MessageTable {
  return { name, fields };
}

export function decodeMessage(bytes: Uint8Array, table: MessageTable, path: string): JsonObject {
  const out: JsonObject = {};
  const reader = new WireReader(bytes, path);
  while (!reader.done) {
    const { field, wireType } = reader.readTag();
    const spec = table.fields[field];
    if (spec === undefined) {
      reader.skip(wireType);
      continue;
    }
    const at = `${path}.${spec.name}`;
    if (spec.shape === 'map') {
      expectWireType(wireType, WireType.LengthDelimited, at);
      const [key, value] = decodeMapEntry(reader.readBytes(), spec.type, at);
      const map = (out[spec.name] ??= {}) as JsonObject;
      map[key] = value;
    } else if (spec.shape === 'repeated') {
      const list = (out[spec.name] ??= []) as unknown[];
      if (wireType === WireType.LengthDelimited && isVarintType(spec.type)) {
        // A packed list of numbers or bools (proto3 style); Kubernetes writes them unpacked, accept both.
        const packed = new WireReader(reader.readBytes(), at);
        while (!packed.done) list.push(narrowVarint(packed.readVarint(), spec.type as ScalarType));
      } else {
        list.push(readValue(reader, wireType, spec.type, at) ?? null);
      }
    } else {
      const value = readValue(reader, wireType, spec.type, at);
      if (spec.inline === true && isObject(value)) {
        Object.assign(out, value);
      } else if (value === undefined || (spec.keepZero !== true && isZero(value))) {
        delete out[spec.name];
      } else {
        out[spec.name] = value;
      }
    }
  }
  return out;
}

function readValue(reader: WireReader, wireType: number, type: ValueType, at: string): unknown {
  if (typeof type === 'object') {
    expectWireType(wireType, WireType.LengthDelimited, at);
    return decodeMessage(reader.readBytes(), type, at);
  }
  switch (type) {
    case 'string':
      expectWireType(wireType, WireType.LengthDelimited, at);
      return utf8.decode(reader.readBytes());
    case 'bytes':
      expectWireType(wireType, WireType.LengthDelimited, at);
      return Buffer.from(reader.readBytes()).toString('base64');
    case 'int32':
    case 'int64':
    case 'bool':
      expectWireType(wireType, WireType.Varint, at);
      return narrowVarint(reader.readVarint(), type);
    case 'time':
      expectWireType(wireType, WireType.LengthDelimited, at);
      return decodeTime(reader.readBytes(), at);
    case 'quantity': {
      expectWireType(wireType, WireType.LengthDelimited, at);
      return decodeMessage(reader.readBytes(), QUANTITY, at)['string'] ?? '';
    }
    case 'intOrString': {
      expectWireType(wireType, WireType.LengthDelimited, at);
      const v = decodeMessage(reader.readBytes(), INT_OR_STRING, at);
      return v['type'] === 1 ? (v['strVal'] ?? '') : (v['intVal'] ?? 0);
    }
  }
}

function decodeMapEntry(bytes: Uint8Array, valueType: ValueType, at: string): [string, unknown] {
  const entry = new WireReader(bytes, at);
  let key = '';
  let value: unknown;
  while (!entry.done) {
    const { field, wireType } = entry.readTag();
    if (field === 1) {
      expectWireType(wireType, WireType.LengthDelimited, `${at} key`);
      key = utf8.decode(entry.readBytes());
    } else if (field === 2) {
      value = readValue(entry, wireType, valueType, `${at}[${JSON.stringify(key)}]`);
    } else {
      entry.skip(wireType);
    }
  }
  // An entry without a value field carries the zero value (Go maps print it, e.g. "key": "").
  return [key, value ?? zeroOf(valueType)];
}

/** metav1.Time is {1: seconds, 2: nanos}; JSON prints it to the second, in UTC. Zero means unset. */
function decodeTime(bytes: Uint8Array, at: string): string | undefined {
  const t = decodeMessage(bytes, TIMESTAMP, at);
  const seconds = (t['seconds'] as number | undefined) ?? 0;
  const nanos = (t['nanos'] as number | undefined) ?? 0;
  if (seconds === 0 && nanos === 0) return undefined;
  const ms = seconds * 1000;
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) throw new ProtobufDecodeError(`${at}: time out of range (${seconds} s)`);
  return rfc3339(new Date(ms));
}

function narrowVarint(v: bigint, type: ScalarType): number | boolean {
  if (type === 'bool') return v !== 0n;
  if (type === 'int32') return Number(BigInt.asIntN(32, v));
  return Number(BigInt.asIntN(64, v));
}

function isVarintType(type: ValueType): boolean {
  return type === 'int32' || type === 'int64' || type === 'bool';
}

function expectWireType(actual: number, expected: number, at: string): void {
  if (actual !== expected) {
    throw new ProtobufDecodeError(`${at}: expected ${wireTypeName(expected)}, got ${wireTypeName(actual)}`);
  }
}

function isZero(value: unknown): boolean {
  return value === '' || value === 0 || value === false;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function zeroOf(type: ValueType): unknown {
  if (typeof type === 'object') return {};
  switch (type) {
    case 'string': case 'bytes': case 'quantity': return type === 'quantity' ? '0' : '';
    case 'int32': case 'int64': case 'intOrString': return 0;
    case 'bool': return false;
    case 'time': return null;
  }
}

const TIMESTAMP = message('Timestamp', { 1: { name: 'seconds', type: 'int64' }, 2: { name: 'nanos', type: 'int32' } });
const QUANTITY = message('Quantity', { 1: { name: 'string', type: 'string' } });
const INT_OR_STRING = message('IntOrString', {
  1: { name: 'type', type: 'int64' },
  2: { name: 'intVal', type: 'int32' },
  3: { name: 'strVal', type: 'string' },
});

/** Table shorthand: `field('replicas', 'int32', PTR)`. */
export function field(name: string, type: ValueType, options: Omit<FieldSpec, 'name' | 'type'> = {}): FieldSpec {
  return { name, type, ...options };
}

/** Pointer field (or no `omitempty`): a zero value on the wire is meaningful and kept. */
export const KEEP = { keepZero: true } as const;
export const LIST = { shape: 'repeated' } as const;
export const MAP = { shape: 'map' } as const;
