/**
 * A small SPDY/3.1 client for tests, built on api/spdy: opens streams with compressed headers,
 * sends data and FIN, and collects what comes back per stream (replies, data, FIN, resets) plus
 * the connection's PINGs and GOAWAY. It plays kubectl's part where a test needs to reach inside
 * the protocol (malformed frames, exact stream states); the lab tests use the real kubectl.
 */
import type { Socket } from 'node:net';
import {
  encodeData, encodePing, encodeSynStream, SpdyFrameParser, type SpdyFrame,
} from '../../api/spdy/spdy-frames.js';
import { HeaderCompressor, HeaderDecompressor } from '../../api/spdy/spdy-headers.js';

export interface ClientStream {
  id: number;
  replied: boolean;
  data: Buffer[];
  fin: boolean;
  reset?: number;
}

export class SpdyTestClient {
  private readonly parser = new SpdyFrameParser();
  private readonly deflater = new HeaderCompressor();
  private readonly inflater = new HeaderDecompressor();
  private nextId = 1;
  private chain: Promise<unknown> = Promise.resolve();
  readonly streams = new Map<number, ClientStream>();
  readonly pings: number[] = [];
  goAway: { lastGoodStreamId: number; status: number } | undefined;
  closed = false;
  /** Why the client stopped reading (a frame it could not parse); every wait fails with it. */
  failure: Error | undefined;
  private waiters: Array<() => void> = [];

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.parser.push(chunk);
      this.chain = this.chain.then(() => this.drain()).catch((err: Error) => {
        this.failure ??= err;
        this.notify();
      });
    });
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
    socket.on('error', () => undefined);
  }

  private async drain(): Promise<void> {
    if (this.failure) return;
    for (let f = this.parser.next(); f; f = this.parser.next()) await this.onFrame(f);
    this.notify();
  }

  private async onFrame(f: SpdyFrame): Promise<void> {
    const s = 'streamId' in f ? this.streams.get(f.streamId) : undefined;
    switch (f.type) {
      case 'syn_reply':
        await this.inflater.decompress(f.headerBlock);
        if (s) s.replied = true;
        break;
      case 'data':
        if (s) {
          if (f.data.length > 0) s.data.push(f.data);
          if (f.fin) s.fin = true;
        }
        break;
      case 'rst_stream':
        if (s) s.reset = f.status;
        break;
      case 'ping':
        this.pings.push(f.id);
        break;
      case 'goaway':
        this.goAway = { lastGoodStreamId: f.lastGoodStreamId, status: f.status };
        break;
      default:
        break;
    }
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /**
   * Resolves when `cond` holds (checked after every batch of frames and at the close); rejects after
   * `ms`, or at once if the client cannot read what the server sent.
   */
  until<T>(what: string, cond: () => T | undefined | false, ms = 5_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
      const check = (): void => {
        const v = cond();
        if (v !== undefined && v !== false) {
          clearTimeout(timer);
          resolve(v);
        } else if (this.failure) {
          clearTimeout(timer);
          reject(new Error(`waiting for ${what}: the client could not read the server's frames: ${this.failure.message}`));
        } else this.waiters.push(check);
      };
      check();
    });
  }

  /**
   * Opens a stream with these headers (in order, as kubectl sends them); `then` goes out in the
   * same write, so the peer reads both in one chunk.
   */
  async open(headers: Array<[string, string]>, fin = false, then: Buffer = Buffer.alloc(0)): Promise<ClientStream> {
    const id = this.nextId;
    this.nextId += 2;
    const s: ClientStream = { id, replied: false, data: [], fin: false };
    this.streams.set(id, s);
    const block = await this.deflater.compress(headers);
    this.socket.write(Buffer.concat([encodeSynStream({ streamId: id, headerBlock: block, fin }), then]));
    return s;
  }

  /** kubectl's pair for one connection: the error stream (half-closed at once), then the data stream. */
  async forward(port: number, requestId: number): Promise<{ error: ClientStream; data: ClientStream }> {
    const error = await this.open([['streamtype', 'error'], ['port', String(port)], ['requestid', String(requestId)]], true);
    const data = await this.open([['streamtype', 'data'], ['port', String(port)], ['requestid', String(requestId)]]);
    return { error, data };
  }

  send(s: ClientStream, data: Buffer, fin = false): void {
    this.socket.write(encodeData(s.id, data, fin));
  }

  ping(id: number): void {
    this.socket.write(encodePing(id));
  }

  text(s: ClientStream): string {
    return Buffer.concat(s.data).toString('utf8');
  }

  close(): void {
    this.deflater.close();
    this.inflater.close();
    this.socket.destroy();
  }
}
