/**
 * The agent's side of one `kubectl port-forward` connection: a SPDY/3.1 server session on the
 * upgraded socket, with upstream's portforward.k8s.io semantics (kubelet's httpstream handler).
 * For every TCP connection kubectl accepts it opens two streams carrying the headers `streamType`
 * (`error` or `data`), `port` and `requestID`; once both of a request are here, the port is dialled
 * inside the pod's network namespace and the data stream is spliced to that socket. A failure is
 * written on the error stream in upstream's words (kubectl prints it), then both streams finish.
 *
 * Flow control: kubectl's SPDY stack (moby/spdystream) neither sends WINDOW_UPDATE nor honours
 * windows, so this side does not wait for windows either (it would stall after 64 KiB); frames are
 * parsed and validated and otherwise ignored. Backpressure is TCP's: a full pod socket pauses the
 * tunnel, a full tunnel pauses the pod sockets.
 */
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import {
  dataFrameHeader, encodeGoAway, encodePing, encodeRstStream, encodeSynReply, GoAwayStatus, MAX_FRAME_PAYLOAD, RstStatus,
  SpdyFrameParser, SpdyProtocolError, type SpdyFrame,
} from '../../api/spdy/spdy-frames.js';
import { HeaderCompressor, HeaderDecompressor, headerValue } from '../../api/spdy/spdy-headers.js';
import { log } from '../../api/log.js';
import type { PortDialer } from './netns-dialer.js';

export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';
/** How long the second stream of a request may take to arrive (upstream's stream creation timeout). */
const PAIR_TIMEOUT_MS = 30_000;
/** Data kubectl sends before the pod's socket is connected is held up to this much per stream. */
const EARLY_DATA_LIMIT = 1 << 20;

export interface PortForwardSessionOptions {
  /** Created at the first request and closed with the session. */
  openDialer(): PortDialer;
  /** Upstream's text on the error stream for a port that could not be reached. */
  describeFailure(port: number, err: Error): string;
  /** For log lines. */
  pod: string;
}

interface Stream {
  id: number;
  kind: 'error' | 'data';
  requestId: string;
  port: number;
  /** We sent FIN / the peer sent FIN. */
  localDone: boolean;
  remoteDone: boolean;
  socket?: Socket;
  /** The tunnel is paused until this stream's socket drains. */
  draining?: boolean;
  early: Buffer[];
  earlyBytes: number;
}

interface Pair { error?: Stream; data?: Stream; timer: NodeJS.Timeout; started: boolean }

export class PortForwardSession {
  private readonly parser = new SpdyFrameParser();
  private readonly inflater = new HeaderDecompressor();
  private readonly deflater = new HeaderCompressor();
  private readonly streams = new Map<number, Stream>();
  private readonly pairs = new Map<string, Pair>();
  private dialer: PortDialer | undefined;
  private lastPeerStreamId = 0;
  private pumping = false;
  private holds = 0;
  /**
   * Frames wait behind a header block still being compressed, so a SYN_REPLY precedes its stream's
   * DATA. Undefined whenever nothing is queued, so frames then go out at once.
   */
  private sendChain: Promise<void> | undefined;
  private closed = false;
  private readonly waitingForDrain = new Set<Socket>();
  readonly done: Promise<void>;
  private finish!: () => void;

  constructor(private readonly transport: Duplex, private readonly o: PortForwardSessionOptions) {
    this.done = new Promise((resolve) => { this.finish = resolve; });
    transport.on('data', (chunk: Buffer) => {
      // After GOAWAY the peer's bytes are read and dropped: unread bytes would make the final destroy a RST.
      if (this.closed) return;
      this.parser.push(chunk);
      this.pump();
    });
    transport.on('end', () => this.close());
    transport.on('close', () => this.close());
    transport.on('error', (err: Error) => {
      log.debug('portforward', 'tunnel failed', { pod: o.pod, error: err.message });
      this.close();
    });
  }

  /** Open streams, for tests and leak checks. */
  get openStreams(): number {
    return this.streams.size;
  }

  private hold(): void {
    if (this.holds++ === 0) this.transport.pause();
  }

  private release(): void {
    if (--this.holds === 0 && !this.closed) this.transport.resume();
  }

  private pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    void this.drainFrames().finally(() => { this.pumping = false; });
  }

  private async drainFrames(): Promise<void> {
    for (;;) {
      if (this.closed) return;
      let frame: SpdyFrame | undefined;
      try {
        frame = this.parser.next();
      } catch (err) {
        this.protocolError(err as Error);
        return;
      }
      if (!frame) return;
      const work = this.onFrame(frame);
      if (work) {
        this.hold();
        try {
          await work;
        } catch (err) {
          this.protocolError(err as Error);
          return;
        } finally {
          this.release();
        }
      }
    }
  }

  private protocolError(err: Error): void {
    log.info('portforward', 'closing a tunnel that broke the SPDY protocol', { pod: this.o.pod, error: err.message });
    this.send(encodeGoAway(this.lastPeerStreamId, err instanceof SpdyProtocolError ? GoAwayStatus.ProtocolError : GoAwayStatus.InternalError));
    this.close();
  }

  private onFrame(f: SpdyFrame): Promise<void> | undefined {
    switch (f.type) {
      case 'syn_stream':
        return this.onSynStream(f);
      case 'headers':
      case 'syn_reply':
        // The block still advances the peer's compression context: read it, then drop it.
        return this.inflater.decompress(f.headerBlock, f.streamId).then(() => undefined);
      case 'data':
        this.onData(f.streamId, f.data, f.fin);
        return undefined;
      case 'rst_stream':
        this.resetPairOf(f.streamId, false);
        return undefined;
      case 'ping':
        // Odd ids are the client's; answering our own (even) would loop.
        if (f.id % 2 === 1) this.send(encodePing(f.id));
        return undefined;
      case 'goaway':
        this.close();
        return undefined;
      case 'settings':
      case 'window_update':
      case 'unknown':
        return undefined;
    }
  }

  private async onSynStream(f: Extract<SpdyFrame, { type: 'syn_stream' }>): Promise<void> {
    if (f.streamId % 2 === 0 || f.streamId <= this.lastPeerStreamId) {
      throw new SpdyProtocolError(`stream id ${f.streamId} is not a new client stream (last ${this.lastPeerStreamId})`);
    }
    this.lastPeerStreamId = f.streamId;
    const headers = await this.inflater.decompress(f.headerBlock, f.streamId);
    const kind = headerValue(headers, 'streamtype');
    const portText = headerValue(headers, 'port') ?? '';
    const requestId = headerValue(headers, 'requestid');
    const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if ((kind !== 'error' && kind !== 'data') || requestId === undefined || !(port >= 1 && port <= 65535)) {
      log.debug('portforward', 'refusing a stream', { pod: this.o.pod, streamType: kind, port: portText, requestID: requestId });
      this.send(encodeRstStream(f.streamId, RstStatus.RefusedStream));
      return;
    }
    let pair = this.pairs.get(requestId);
    if (pair?.[kind]) {
      this.send(encodeRstStream(f.streamId, RstStatus.ProtocolError));
      return;
    }
    const stream: Stream = { id: f.streamId, kind, requestId, port, localDone: false, remoteDone: f.fin, early: [], earlyBytes: 0 };
    this.streams.set(stream.id, stream);
    this.sendReply(stream.id);
    if (!pair) {
      const timer = setTimeout(() => this.pairTimedOut(requestId), PAIR_TIMEOUT_MS);
      timer.unref();
      pair = { timer, started: false };
      this.pairs.set(requestId, pair);
    }
    pair[kind] = stream;
    if (pair.error && pair.data) {
      clearTimeout(pair.timer);
      pair.started = true;
      void this.forward(pair.error, pair.data);
    }
  }

  private pairTimedOut(requestId: string): void {
    const pair = this.pairs.get(requestId);
    if (!pair || pair.started) return;
    const present = pair.error ?? pair.data;
    if (pair.error) this.sendData(pair.error, Buffer.from(`timed out waiting for the second stream of request ${requestId}`));
    if (present) this.resetPairOf(present.id, true);
  }

  private onData(streamId: number, data: Buffer, fin: boolean): void {
    const s = this.streams.get(streamId);
    if (!s || s.remoteDone) {
      this.send(encodeRstStream(streamId, s ? RstStatus.StreamAlreadyClosed : RstStatus.InvalidStream));
      return;
    }
    if (fin) s.remoteDone = true;
    if (s.kind === 'error') {
      // kubectl writes nothing on the error stream; it only half-closes it.
      this.maybeRetire(s);
      return;
    }
    if (s.socket) {
      if (data.length > 0 && !s.socket.write(data) && !s.draining) {
        s.draining = true;
        this.hold();
        s.socket.once('drain', () => this.stopDraining(s));
      }
      if (fin) s.socket.end();
    } else if (data.length > 0) {
      s.early.push(data);
      s.earlyBytes += data.length;
      if (s.earlyBytes > EARLY_DATA_LIMIT) this.resetPairOf(s.id, true);
    }
    this.maybeRetire(s);
  }

  private stopDraining(s: Stream): void {
    if (!s.draining) return;
    s.draining = false;
    this.release();
  }

  private async forward(errorStream: Stream, dataStream: Stream): Promise<void> {
    let socket: Socket;
    try {
      this.dialer ??= this.o.openDialer();
      socket = await this.dialer.dial(dataStream.port);
    } catch (err) {
      if (this.closed) return;
      const message = this.o.describeFailure(dataStream.port, err as Error);
      log.debug('portforward', 'port not reachable', { pod: this.o.pod, port: dataStream.port, error: message });
      this.sendData(errorStream, Buffer.from(message));
      this.finishStream(errorStream);
      this.finishStream(dataStream);
      return;
    }
    if (this.closed || !this.streams.has(dataStream.id)) {
      socket.destroy();
      return;
    }
    dataStream.socket = socket;
    socket.setNoDelay(true);
    for (const chunk of dataStream.early.splice(0)) socket.write(chunk);
    dataStream.earlyBytes = 0;
    if (dataStream.remoteDone) socket.end();
    socket.on('data', (chunk: Buffer) => {
      this.sendData(dataStream, chunk);
      if (this.transport.writableNeedDrain && !socket.isPaused()) this.pauseUntilDrained(socket);
    });
    socket.on('end', () => this.finishStream(dataStream));
    socket.on('error', (err) => log.debug('portforward', 'pod connection failed', { pod: this.o.pod, port: dataStream.port, error: err.message }));
    socket.on('close', () => {
      this.waitingForDrain.delete(socket);
      this.stopDraining(dataStream);
      // Reset by the pod, or closed after both halves: either way the request is over.
      this.finishStream(dataStream);
      this.finishStream(errorStream);
    });
    socket.resume();
  }

  /** Pod sockets wait for the tunnel to drain; one listener resumes them all. */
  private pauseUntilDrained(socket: Socket): void {
    socket.pause();
    if (this.waitingForDrain.size === 0) {
      this.transport.once('drain', () => {
        for (const s of this.waitingForDrain) s.resume();
        this.waitingForDrain.clear();
      });
    }
    this.waitingForDrain.add(socket);
  }

  private sendReply(streamId: number): void {
    if (this.closed) return;
    const frame = this.deflater.compress([]).then((block) => encodeSynReply(streamId, block));
    this.enqueue(async () => {
      const bytes = await frame.catch(() => undefined);
      if (bytes) this.write(bytes);
    });
  }

  /** Nothing is sent once the session is closed; what was queued before still goes out (GOAWAY last). */
  private send(frame: Buffer): void {
    if (this.closed) return;
    if (this.sendChain) this.enqueue(() => this.write(frame));
    else this.write(frame);
  }

  private enqueue(link: () => void | Promise<void>): void {
    const next: Promise<void> = (this.sendChain ?? Promise.resolve()).then(link)
      .catch((err: Error) => log.debug('portforward', 'a frame was not written', { pod: this.o.pod, error: err.message }))
      .finally(() => {
        if (this.sendChain === next) this.sendChain = undefined;
      });
    this.sendChain = next;
  }

  private write(frame: Buffer): void {
    if (this.transport.writable) this.transport.write(frame);
  }

  private sendData(s: Stream, data: Buffer): void {
    for (let at = 0; at < data.length; at += MAX_FRAME_PAYLOAD) {
      const part = data.subarray(at, at + MAX_FRAME_PAYLOAD);
      this.send(Buffer.concat([dataFrameHeader(s.id, part.length, false), part]));
    }
  }

  /** Sends our FIN on a stream (once) and forgets it when the peer is done too. */
  private finishStream(s: Stream): void {
    if (s.localDone) return;
    s.localDone = true;
    if (this.streams.has(s.id)) this.send(dataFrameHeader(s.id, 0, true));
    this.maybeRetire(s);
  }

  private maybeRetire(s: Stream): void {
    if (!s.localDone || !s.remoteDone) return;
    this.streams.delete(s.id);
    const pair = this.pairs.get(s.requestId);
    if (pair && !this.streams.has(pair.error?.id ?? -1) && !this.streams.has(pair.data?.id ?? -1)) {
      clearTimeout(pair.timer);
      this.pairs.delete(s.requestId);
    }
  }

  /** Ends both streams of the request `streamId` belongs to; `tellPeer` sends RST_STREAM for them. */
  private resetPairOf(streamId: number, tellPeer: boolean): void {
    const s = this.streams.get(streamId);
    if (!s) return;
    const pair = this.pairs.get(s.requestId);
    for (const member of [pair?.error, pair?.data, s]) {
      if (!member || !this.streams.has(member.id)) continue;
      this.streams.delete(member.id);
      member.socket?.destroy();
      if (tellPeer) this.send(encodeRstStream(member.id, RstStatus.Cancel));
    }
    if (pair) clearTimeout(pair.timer);
    this.pairs.delete(s.requestId);
  }

  /** Ends everything: sockets, the namespace helper, zlib contexts, the tunnel. Idempotent. */
  close(): void {
    if (this.closed) return;
    const finishWrites = this.sendChain ?? Promise.resolve();
    this.closed = true;
    for (const s of this.streams.values()) s.socket?.destroy();
    this.streams.clear();
    for (const p of this.pairs.values()) clearTimeout(p.timer);
    this.pairs.clear();
    this.dialer?.close();
    this.inflater.close();
    // A hold may have paused the tunnel; reading on lets the peer's FIN arrive and keeps the kernel buffer empty.
    this.transport.resume();
    void finishWrites.finally(() => {
      this.deflater.close();
      this.transport.end();
      // A peer that never closes its side does not keep the socket.
      setTimeout(() => this.transport.destroy(), 5_000).unref();
      this.finish();
    });
  }
}
