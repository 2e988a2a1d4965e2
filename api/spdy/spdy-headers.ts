/**
 * SPDY/3 header blocks (section 2.6.10): a 32-bit pair count, then length-prefixed lower-case names
 * and values (several values of one name joined by NUL), compressed with zlib and the SPDY/3
 * dictionary. Each direction of a connection is ONE zlib stream flushed (Z_SYNC_FLUSH) after every
 * block, so a block can only be read or written after the ones before it: HeaderCompressor and
 * HeaderDecompressor keep one node:zlib context each and run their blocks strictly in order.
 */
import { constants, createDeflate, createInflate, type Deflate, type Inflate } from 'node:zlib';
import { SPDY3_DICTIONARY } from './spdy-dictionary.js';
import { SpdyProtocolError } from './spdy-frames.js';

/** Header names to their values (lower-case names; a name may have several values). */
export type SpdyHeaders = Map<string, string[]>;

/** What a decompressed header block may grow to; a zlib bomb stops here. */
export const MAX_HEADER_BLOCK = 256 * 1024;

export function headerValue(h: SpdyHeaders, name: string): string | undefined {
  return h.get(name)?.[0];
}

export function encodeHeaderBlock(headers: Iterable<[string, string | readonly string[]]>): Buffer {
  const parts: Buffer[] = [];
  let count = 0;
  const u32 = (n: number): Buffer => {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(n, 0);
    return b;
  };
  for (const [rawName, value] of headers) {
    const name = Buffer.from(rawName.toLowerCase(), 'utf8');
    const joined = Buffer.from(typeof value === 'string' ? value : value.join('\0'), 'utf8');
    parts.push(u32(name.length), name, u32(joined.length), joined);
    count++;
  }
  return Buffer.concat([u32(count), ...parts]);
}

/** Parses an uncompressed header block; throws SpdyProtocolError on anything malformed. */
export function parseHeaderBlock(block: Buffer, streamId = 0): SpdyHeaders {
  const bad = (why: string): never => {
    throw new SpdyProtocolError(`malformed header block: ${why}`, streamId);
  };
  let at = 0;
  const u32 = (): number => {
    if (at + 4 > block.length) bad('truncated');
    const n = block.readUInt32BE(at);
    at += 4;
    return n;
  };
  const bytes = (n: number): Buffer => {
    if (n > block.length - at) bad('a length runs past the end');
    const out = block.subarray(at, at + n);
    at += n;
    return out;
  };
  const count = u32();
  // Every pair takes at least 8 bytes: a count larger than that is a lie, not a reason to loop.
  if (count > (block.length - at) / 8) bad(`${count} pairs cannot fit in ${block.length} bytes`);
  const headers: SpdyHeaders = new Map();
  for (let i = 0; i < count; i++) {
    const name = bytes(u32()).toString('utf8');
    if (name.length === 0) bad('an empty header name');
    if (name !== name.toLowerCase()) bad(`header name "${name}" is not lower-case`);
    if (headers.has(name)) bad(`header "${name}" appears twice`);
    headers.set(name, bytes(u32()).toString('utf8').split('\0'));
  }
  if (at !== block.length) bad(`${block.length - at} bytes after the last pair`);
  return headers;
}

/** One persistent zlib context; each call writes a block, sync-flushes and returns that block's output. */
class ZlibSequence {
  private chain: Promise<unknown> = Promise.resolve();
  private out: Buffer[] = [];
  private size = 0;
  private failure: Error | undefined;

  constructor(private readonly z: Deflate | Inflate, private readonly limit: number) {
    z.on('data', (chunk: Buffer) => {
      this.out.push(chunk);
      this.size += chunk.length;
      if (this.size > this.limit && !this.failure) {
        this.failure = new SpdyProtocolError(`a header block decompresses to more than ${this.limit} bytes`);
        z.destroy(this.failure);
      }
    });
    z.on('error', (err: Error) => {
      this.failure ??= new SpdyProtocolError(`header compression failed: ${err.message}`);
    });
  }

  run(input: Buffer): Promise<Buffer> {
    const step = this.chain.then(() => new Promise<Buffer>((resolve, reject) => {
      if (this.failure) {
        reject(this.failure);
        return;
      }
      this.out = [];
      this.size = 0;
      const onError = (): void => reject(this.failure);
      this.z.once('error', onError);
      this.z.write(input);
      this.z.flush(constants.Z_SYNC_FLUSH, () => {
        // Output pushed while flushing may still sit in a nextTick of the readable side.
        setImmediate(() => {
          this.z.off('error', onError);
          if (this.failure) reject(this.failure);
          else resolve(Buffer.concat(this.out));
        });
      });
    }));
    this.chain = step.catch(() => undefined);
    return step;
  }

  close(): void {
    this.z.destroy();
  }
}

/** Compresses this side's header blocks (one per SYN_STREAM / SYN_REPLY / HEADERS, in send order). */
export class HeaderCompressor {
  private readonly z = new ZlibSequence(createDeflate({ dictionary: SPDY3_DICTIONARY }), Number.MAX_SAFE_INTEGER);

  compress(headers: Iterable<[string, string | readonly string[]]>): Promise<Buffer> {
    return this.z.run(encodeHeaderBlock(headers));
  }

  close(): void {
    this.z.close();
  }
}

/** Decompresses the peer's header blocks, in the order they arrived. */
export class HeaderDecompressor {
  private readonly z = new ZlibSequence(createInflate({ dictionary: SPDY3_DICTIONARY }), MAX_HEADER_BLOCK);

  async decompress(block: Buffer, streamId = 0): Promise<SpdyHeaders> {
    return parseHeaderBlock(await this.z.run(block), streamId);
  }

  close(): void {
    this.z.close();
  }
}
