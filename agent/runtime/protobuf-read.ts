/**
 * Reads the few fields corral needs from containerd's protobuf answers (tasks-grpc.ts) without a
 * protobuf library: a message is a run of (field number, wire type, value); varints and
 * length-delimited fields are kept, the others skipped. Field numbers are containerd's (api/types,
 * api/services).
 */

/** One field as read: a varint as a number, a length-delimited field as its bytes. */
export type WireValue = number | Buffer;

function readVarint(buf: Buffer, at: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (let i = at; i < buf.length && i < at + 10; i++) {
    const b = buf[i]!;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return [value, i + 1];
    scale *= 128;
  }
  throw new Error('protobuf: truncated varint');
}

/** Every field of one message in order (a repeated field appears once per element). */
export function readFields(buf: Buffer): [number, WireValue][] {
  const out: [number, WireValue][] = [];
  let at = 0;
  while (at < buf.length) {
    const [tag, afterTag] = readVarint(buf, at);
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (wireType === 0) {
      const [v, next] = readVarint(buf, afterTag);
      out.push([field, v]);
      at = next;
    } else if (wireType === 2) {
      const [len, start] = readVarint(buf, afterTag);
      if (start + len > buf.length) throw new Error('protobuf: truncated field');
      out.push([field, buf.subarray(start, start + len)]);
      at = start + len;
    } else if (wireType === 1) {
      at = afterTag + 8;
    } else if (wireType === 5) {
      at = afterTag + 4;
    } else {
      throw new Error(`protobuf: unsupported wire type ${wireType}`);
    }
  }
  if (at > buf.length) throw new Error('protobuf: truncated fixed-width field');
  return out;
}

/** The string of a length-delimited field ('' when absent, as proto3 reads it). */
export function stringField(fields: readonly [number, WireValue][], no: number): string {
  const f = fields.find(([n, v]) => n === no && Buffer.isBuffer(v));
  return f ? (f[1] as Buffer).toString('utf8') : '';
}

/** The number of a varint field (0 when absent). */
export function numberField(fields: readonly [number, WireValue][], no: number): number {
  const f = fields.find(([n, v]) => n === no && typeof v === 'number');
  return f ? (f[1] as number) : 0;
}
