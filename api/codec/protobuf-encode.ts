/**
 * Schema-driven encoding of a JSON object (as corral stores and serves it) into a Kubernetes protobuf
 * message, for clients that ask for `application/vnd.kubernetes.protobuf`. Every field present in the
 * JSON is written, zero values included; absent fields are left out, which a Go client reads as the
 * zero value, exactly what encoding/json's omitempty had dropped. JSON fields the schema does not know
 * (none for built-in kinds) are not written.
 */
import protobuf from 'protobufjs/minimal.js';
import { INT_OR_STRING, QUANTITY, RAW, TIMESTAMP, WireType } from './protobuf-decode.js';
import { isMessageType, type FieldSchema, type MessageSchema } from './protobuf-schema.js';

const { Writer } = protobuf;
type Writer = protobuf.Writer;

/** The bytes of `value` as `schema`. */
export function encodeMessage(value: Record<string, unknown>, schema: MessageSchema): Uint8Array {
  const writer = Writer.create();
  writeMessage(writer, value, schema);
  return writer.finish();
}

function writeMessage(writer: Writer, value: unknown, schema: MessageSchema): void {
  if (schema.unwrap) {
    writeField(writer, schema.fields[0]!, value);
    return;
  }
  if (!isObject(value)) return;
  for (const f of schema.fields) {
    if (f.inline) {
      // An embedded struct: its fields sit in this object.
      if (isMessageType(f.type)) writeNested(writer, f.number, value, f.type.message());
      continue;
    }
    const v = value[f.name];
    if (v === undefined || v === null) continue;
    writeField(writer, f, v);
  }
}

function writeField(writer: Writer, f: FieldSchema, v: unknown): void {
  if (f.shape === 'repeated') {
    if (Array.isArray(v)) for (const item of v) if (item !== null) writeValue(writer, f.number, f.type, item);
  } else if (f.shape === 'map') {
    if (!isObject(v)) return;
    for (const [key, item] of Object.entries(v)) {
      writer.uint32(tag(f.number, WireType.LengthDelimited)).fork();
      writer.uint32(tag(1, WireType.LengthDelimited)).string(key);
      if (item !== null && item !== undefined) writeValue(writer, 2, f.type, item);
      writer.ldelim();
    }
  } else {
    writeValue(writer, f.number, f.type, v);
  }
}

function writeValue(writer: Writer, number: number, type: FieldSchema['type'], v: unknown): void {
  if (isMessageType(type)) {
    writeNested(writer, number, v, type.message());
    return;
  }
  switch (type) {
    case 'string':
      writer.uint32(tag(number, WireType.LengthDelimited)).string(String(v));
      return;
    case 'bytes':
      writer.uint32(tag(number, WireType.LengthDelimited)).bytes(Buffer.from(String(v), 'base64'));
      return;
    case 'int32':
      writer.uint32(tag(number, WireType.Varint)).int32(Number(v));
      return;
    case 'int64':
      writer.uint32(tag(number, WireType.Varint)).int64(Number(v));
      return;
    case 'bool':
      writer.uint32(tag(number, WireType.Varint)).bool(v === true);
      return;
    case 'Time':
    case 'MicroTime': {
      const ms = Date.parse(String(v));
      if (Number.isNaN(ms)) return;
      const fraction = /\.(\d{1,9})/.exec(String(v))?.[1] ?? '';
      writeNested(writer, number, { seconds: Math.floor(ms / 1000), nanos: Number(fraction.padEnd(9, '0')) }, TIMESTAMP);
      return;
    }
    case 'Quantity':
      writeNested(writer, number, { string: String(v) }, QUANTITY);
      return;
    case 'IntOrString':
      writeNested(writer, number, typeof v === 'number' ? { type: 0, intVal: v } : { type: 1, strVal: String(v) }, INT_OR_STRING);
      return;
    case 'RawJSON':
      writeNested(writer, number, { raw: Buffer.from(JSON.stringify(v)).toString('base64') }, RAW);
      return;
  }
}

function writeNested(writer: Writer, number: number, value: unknown, schema: MessageSchema): void {
  writer.uint32(tag(number, WireType.LengthDelimited)).fork();
  writeMessage(writer, value, schema);
  writer.ldelim();
}

function tag(number: number, wireType: number): number {
  return ((number << 3) | wireType) >>> 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
