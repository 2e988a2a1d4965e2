/**
 * A minimal reader for the protobuf wire format (varint, 64-bit, length-delimited and 32-bit fields),
 * enough to walk the gogo-generated Kubernetes messages kubectl sends. Groups (wire types 3/4) are
 * never used by Kubernetes and are rejected.
 */

/** Every malformed or unsupported protobuf body ends in this error, so the API server can answer 400/415. */
export class ProtobufDecodeError extends Error {
  readonly code = 'PROTOBUF_DECODE';
  constructor(message: string) {
    super(message);
    this.name = 'ProtobufDecodeError';
  }
}

export const WireType = { Varint: 0, Fixed64: 1, LengthDelimited: 2, Fixed32: 5 } as const;

export interface FieldTag {
  field: number;
  wireType: number;
}

const WIRE_TYPE_NAMES: Record<number, string> = { 0: 'varint', 1: 'fixed64', 2: 'length-delimited', 3: 'start-group', 4: 'end-group', 5: 'fixed32' };

export function wireTypeName(wireType: number): string {
  return WIRE_TYPE_NAMES[wireType] ?? `wire type ${wireType}`;
}

/** Sequential reader over one message's bytes; `context` names the message in error messages. */
export class WireReader {
  private pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly context: string,
  ) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  private fail(what: string): never {
    throw new ProtobufDecodeError(`${this.context}: ${what} at byte ${this.pos}`);
  }

  readTag(): FieldTag {
    const key = this.readVarint();
    const field = Number(key >> 3n);
    const wireType = Number(key & 7n);
    if (field === 0) this.fail('field number 0');
    if (wireType === 3 || wireType === 4) this.fail('protobuf groups are not supported');
    if (wireType > 5) this.fail(`invalid wire type ${wireType}`);
    return { field, wireType };
  }

  /** Unsigned varint as a bigint (up to 64 bits; callers narrow it to int32/int64/bool). */
  readVarint(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.buf.length) this.fail('truncated varint');
      const byte = this.buf[this.pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return BigInt.asUintN(64, result);
    }
    return this.fail('varint longer than 10 bytes');
  }

  readFixed64(): bigint {
    const bytes = this.take(8, 'fixed64');
    return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  }

  readFixed32(): number {
    const bytes = this.take(4, 'fixed32');
    return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  }

  /** The payload of a length-delimited field (a view, not a copy). */
  readBytes(): Uint8Array {
    const length = this.readVarint();
    if (length > BigInt(this.buf.length - this.pos)) {
      this.fail(`length ${length} runs past the end of the message (${this.buf.length - this.pos} bytes left)`);
    }
    return this.take(Number(length), 'length-delimited field');
  }

  /** Skips a field this decoder has no table entry for. */
  skip(wireType: number): void {
    switch (wireType) {
      case WireType.Varint: this.readVarint(); return;
      case WireType.Fixed64: this.take(8, 'fixed64'); return;
      case WireType.LengthDelimited: this.readBytes(); return;
      case WireType.Fixed32: this.take(4, 'fixed32'); return;
      default: this.fail(`cannot skip ${wireTypeName(wireType)}`);
    }
  }

  private take(n: number, what: string): Uint8Array {
    if (this.pos + n > this.buf.length) this.fail(`truncated ${what}`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}
