/**
 * SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00 and the 3.1 flow-control amendment), as kubectl
 * speaks it for `port-forward` (k8s.io/apimachinery httpstream/spdy over moby/spdystream): encoders
 * for every frame this side sends and an incremental parser that accepts bytes in any split and
 * turns malformed input into a SpdyProtocolError instead of a crash. Header blocks stay compressed
 * here; spdy-headers.ts (de)compresses them, because zlib is one context per connection and side.
 */

export const SPDY_VERSION = 3;
/** The largest payload the 24-bit length field can carry. */
export const MAX_FRAME_PAYLOAD = 0xffffff;
/** Control frames carry headers and small fixed fields: anything longer is refused, not buffered. */
export const MAX_CONTROL_PAYLOAD = 1 << 20;
/** SPDY/3.1's default stream window (section 2.6.8); 31 bits is the largest a window may grow. */
export const DEFAULT_INITIAL_WINDOW = 64 * 1024;
export const MAX_WINDOW = 0x7fffffff;

export const FrameType = {
  SynStream: 1, SynReply: 2, RstStream: 3, Settings: 4, Ping: 6, GoAway: 7, Headers: 8, WindowUpdate: 9,
} as const;

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;

/** RST_STREAM status codes (section 2.6.3). */
export const RstStatus = {
  ProtocolError: 1, InvalidStream: 2, RefusedStream: 3, UnsupportedVersion: 4, Cancel: 5, InternalError: 6,
  FlowControlError: 7, StreamInUse: 8, StreamAlreadyClosed: 9, FrameTooLarge: 11,
} as const;

/** GOAWAY status codes (section 2.6.6). */
export const GoAwayStatus = { Ok: 0, ProtocolError: 1, InternalError: 2 } as const;

export type SpdyFrame =
  | { type: 'data'; streamId: number; fin: boolean; data: Buffer }
  | { type: 'syn_stream'; streamId: number; associatedTo: number; priority: number; fin: boolean; unidirectional: boolean; headerBlock: Buffer }
  | { type: 'syn_reply'; streamId: number; fin: boolean; headerBlock: Buffer }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'settings'; clearPrevious: boolean; entries: Array<{ flags: number; id: number; value: number }> }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'headers'; streamId: number; fin: boolean; headerBlock: Buffer }
  | { type: 'window_update'; streamId: number; delta: number }
  /** Unknown control frame types must be ignored (section 2.2.1). */
  | { type: 'unknown'; frameType: number };

/** The peer broke the protocol; the session answers with GOAWAY (or RST_STREAM) and closes. */
export class SpdyProtocolError extends Error {
  constructor(message: string, readonly streamId = 0, readonly status: number = RstStatus.ProtocolError) {
    super(message);
    this.name = 'SpdyProtocolError';
  }
}

const STREAM_ID_MASK = 0x7fffffff;

function controlHeader(type: number, flags: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  b.writeUInt16BE(type, 2);
  b.writeUInt32BE(((flags & 0xff) << 24 | length) >>> 0, 4);
  return b;
}

function checkStreamId(id: number): void {
  if (!Number.isInteger(id) || id <= 0 || id > STREAM_ID_MASK) throw new RangeError(`invalid stream id ${id}`);
}

/** The 8-byte header of a DATA frame; the payload is written after it (kept apart to avoid a copy). */
export function dataFrameHeader(streamId: number, length: number, fin: boolean): Buffer {
  checkStreamId(streamId);
  if (length > MAX_FRAME_PAYLOAD) throw new RangeError(`data frame of ${length} bytes exceeds ${MAX_FRAME_PAYLOAD}`);
  const b = Buffer.allocUnsafe(8);
  b.writeUInt32BE(streamId & STREAM_ID_MASK, 0);
  b.writeUInt32BE(((fin ? FLAG_FIN : 0) << 24 | length) >>> 0, 4);
  return b;
}

export function encodeData(streamId: number, data: Buffer, fin = false): Buffer {
  return Buffer.concat([dataFrameHeader(streamId, data.length, fin), data]);
}

export function encodeSynStream(o: { streamId: number; associatedTo?: number; priority?: number; fin?: boolean; unidirectional?: boolean; headerBlock: Buffer }): Buffer {
  checkStreamId(o.streamId);
  const body = Buffer.allocUnsafe(10);
  body.writeUInt32BE(o.streamId, 0);
  body.writeUInt32BE((o.associatedTo ?? 0) & STREAM_ID_MASK, 4);
  body.writeUInt8(((o.priority ?? 0) & 0x7) << 5, 8);
  body.writeUInt8(0, 9);
  const flags = (o.fin ? FLAG_FIN : 0) | (o.unidirectional ? FLAG_UNIDIRECTIONAL : 0);
  return Buffer.concat([controlHeader(FrameType.SynStream, flags, body.length + o.headerBlock.length), body, o.headerBlock]);
}

export function encodeSynReply(streamId: number, headerBlock: Buffer, fin = false): Buffer {
  checkStreamId(streamId);
  const body = Buffer.allocUnsafe(4);
  body.writeUInt32BE(streamId, 0);
  return Buffer.concat([controlHeader(FrameType.SynReply, fin ? FLAG_FIN : 0, 4 + headerBlock.length), body, headerBlock]);
}

function fixed(type: number, flags: number, words: number[]): Buffer {
  const b = Buffer.allocUnsafe(8 + words.length * 4);
  controlHeader(type, flags, words.length * 4).copy(b, 0);
  words.forEach((w, i) => b.writeUInt32BE(w >>> 0, 8 + i * 4));
  return b;
}

export function encodeRstStream(streamId: number, status: number): Buffer {
  checkStreamId(streamId);
  return fixed(FrameType.RstStream, 0, [streamId, status]);
}

export function encodePing(id: number): Buffer {
  return fixed(FrameType.Ping, 0, [id]);
}

export function encodeGoAway(lastGoodStreamId: number, status: number = GoAwayStatus.Ok): Buffer {
  return fixed(FrameType.GoAway, 0, [lastGoodStreamId & STREAM_ID_MASK, status]);
}

export function encodeWindowUpdate(streamId: number, delta: number): Buffer {
  if (!Number.isInteger(delta) || delta < 1 || delta > MAX_WINDOW) throw new RangeError(`invalid window delta ${delta}`);
  return fixed(FrameType.WindowUpdate, 0, [streamId & STREAM_ID_MASK, delta]);
}

export function encodeSettings(entries: Array<{ id: number; value: number; flags?: number }>): Buffer {
  const b = Buffer.allocUnsafe(8 + 4 + entries.length * 8);
  controlHeader(FrameType.Settings, 0, 4 + entries.length * 8).copy(b, 0);
  b.writeUInt32BE(entries.length, 8);
  entries.forEach((e, i) => {
    b.writeUInt32BE((((e.flags ?? 0) & 0xff) << 24 | (e.id & 0xffffff)) >>> 0, 12 + i * 8);
    b.writeUInt32BE(e.value >>> 0, 16 + i * 8);
  });
  return b;
}

/**
 * Incremental frame parser: push() bytes as they arrive, then take frames with next() until it
 * returns undefined (a frame is not complete yet). Throws SpdyProtocolError on malformed input; the
 * parser is then unusable (the connection must go).
 */
export class SpdyFrameParser {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private broken = false;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** Bytes received and not yet returned as frames. */
  get pending(): number {
    return this.buffered;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  private take(n: number): Buffer {
    const head = this.peek(n);
    const out = head.subarray(0, n);
    if (head.length === n) this.chunks.shift();
    else this.chunks[0] = head.subarray(n);
    this.buffered -= n;
    return out;
  }

  next(): SpdyFrame | undefined {
    if (this.broken) throw new SpdyProtocolError('the frame parser already failed');
    if (this.buffered < 8) return undefined;
    const head = this.peek(8);
    const length = head.readUInt32BE(4) & 0xffffff;
    const isControl = (head[0]! & 0x80) !== 0;
    if (isControl) {
      const version = head.readUInt16BE(0) & 0x7fff;
      if (version !== SPDY_VERSION) return this.fail(`unsupported SPDY version ${version}`, 0, RstStatus.UnsupportedVersion);
      if (length > MAX_CONTROL_PAYLOAD) return this.fail(`control frame of ${length} bytes exceeds ${MAX_CONTROL_PAYLOAD}`, 0, RstStatus.FrameTooLarge);
    }
    if (this.buffered < 8 + length) return undefined;
    const frame = this.take(8 + length);
    const flags = frame[4]!;
    const payload = frame.subarray(8);
    if (!isControl) {
      const streamId = frame.readUInt32BE(0) & STREAM_ID_MASK;
      if (streamId === 0) return this.fail('data frame on stream 0');
      return { type: 'data', streamId, fin: (flags & FLAG_FIN) !== 0, data: payload };
    }
    return this.control(frame.readUInt16BE(2), flags, payload);
  }

  private fail(message: string, streamId = 0, status: number = RstStatus.ProtocolError): never {
    this.broken = true;
    throw new SpdyProtocolError(message, streamId, status);
  }

  private need(type: string, payload: Buffer, exact: number | undefined, atLeast = 0): void {
    if (exact !== undefined ? payload.length !== exact : payload.length < atLeast) {
      this.fail(`${type} frame has a payload of ${payload.length} bytes, expected ${exact !== undefined ? exact : `at least ${atLeast}`}`);
    }
  }

  private streamIdOf(type: string, payload: Buffer): number {
    const id = payload.readUInt32BE(0) & STREAM_ID_MASK;
    if (id === 0) this.fail(`${type} frame on stream 0`);
    return id;
  }

  private control(type: number, flags: number, p: Buffer): SpdyFrame {
    const fin = (flags & FLAG_FIN) !== 0;
    switch (type) {
      case FrameType.SynStream:
        this.need('SYN_STREAM', p, undefined, 10);
        return {
          type: 'syn_stream', streamId: this.streamIdOf('SYN_STREAM', p), associatedTo: p.readUInt32BE(4) & STREAM_ID_MASK,
          priority: p[8]! >> 5, fin, unidirectional: (flags & FLAG_UNIDIRECTIONAL) !== 0, headerBlock: p.subarray(10),
        };
      case FrameType.SynReply:
        this.need('SYN_REPLY', p, undefined, 4);
        return { type: 'syn_reply', streamId: this.streamIdOf('SYN_REPLY', p), fin, headerBlock: p.subarray(4) };
      case FrameType.Headers:
        this.need('HEADERS', p, undefined, 4);
        return { type: 'headers', streamId: this.streamIdOf('HEADERS', p), fin, headerBlock: p.subarray(4) };
      case FrameType.RstStream:
        this.need('RST_STREAM', p, 8);
        return { type: 'rst_stream', streamId: this.streamIdOf('RST_STREAM', p), status: p.readUInt32BE(4) };
      case FrameType.Ping:
        this.need('PING', p, 4);
        return { type: 'ping', id: p.readUInt32BE(0) };
      case FrameType.GoAway:
        this.need('GOAWAY', p, 8);
        return { type: 'goaway', lastGoodStreamId: p.readUInt32BE(0) & STREAM_ID_MASK, status: p.readUInt32BE(4) };
      case FrameType.WindowUpdate: {
        this.need('WINDOW_UPDATE', p, 8);
        const streamId = p.readUInt32BE(0) & STREAM_ID_MASK;
        const delta = p.readUInt32BE(4) & 0x7fffffff;
        if (delta === 0) this.fail('WINDOW_UPDATE with a delta of 0', streamId, RstStatus.FlowControlError);
        return { type: 'window_update', streamId, delta };
      }
      case FrameType.Settings: {
        this.need('SETTINGS', p, undefined, 4);
        const count = p.readUInt32BE(0);
        if (p.length !== 4 + count * 8) this.fail(`SETTINGS frame announces ${count} entries in ${p.length - 4} bytes`);
        const entries: Array<{ flags: number; id: number; value: number }> = [];
        for (let i = 0; i < count; i++) {
          const word = p.readUInt32BE(4 + i * 8);
          entries.push({ flags: word >>> 24, id: word & 0xffffff, value: p.readUInt32BE(8 + i * 8) });
        }
        return { type: 'settings', clearPrevious: (flags & 0x01) !== 0, entries };
      }
      default:
        return { type: 'unknown', frameType: type };
    }
  }
}
