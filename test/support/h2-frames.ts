/** HTTP/2 frames written byte for byte (RFC 9113 §4.1), for tests that speak to a server below node:http2. */

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const DATA = 0, HEADERS = 1, RST_STREAM = 3, SETTINGS = 4, GOAWAY = 7;
export const END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4;

/** One frame; `lyingLength` puts another length in its header than the payload has. */
export function frame(type: number, flags: number, streamId: number, payload: Buffer, lyingLength?: number): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(lyingLength ?? payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId >>> 0, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK integer with an n-bit prefix (RFC 7541 §5.1). */
function hpackInt(value: number, prefixBits: number, first = 0): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([first | value]);
  const out = [first | max];
  value -= max;
  while (value >= 128) { out.push((value % 128) + 128); value = Math.floor(value / 128); }
  out.push(value);
  return Buffer.from(out);
}

/** A header block of literal fields without indexing and without Huffman coding. */
export function headerBlock(fields: [string, string][]): Buffer {
  return Buffer.concat(fields.flatMap(([name, value]) => [Buffer.from([0]), hpackInt(name.length, 7), Buffer.from(name), hpackInt(Buffer.byteLength(value), 7), Buffer.from(value)]));
}
