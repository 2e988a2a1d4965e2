/**
 * The node-local cluster DNS server: UDP and TCP on the node's address, answering the cluster zone
 * from the agent's watch cache (cluster-zone.ts) and forwarding everything else (forwarder.ts).
 *
 * What it refuses to be: an open resolver (only loopback, this node and pod sources get an answer;
 * others are dropped, TCP connections closed) and a crash (every packet is decoded inside a try; a
 * packet that does not decode gets FORMERR when its header is readable and is dropped otherwise;
 * responses and oversized queries are dropped; TCP frames are bounded, idle connections closed).
 * UDP answers larger than the client's limit (512 bytes, or its EDNS0 payload size up to 4096) are
 * sent truncated with the TC bit so the client retries over TCP.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, OptAnswer, Packet, Question } from 'dns-packet';
import { log } from '../../api/log.js';
import { resolveInZone, type ClusterView, type ZoneAnswer, type ZoneSettings } from './cluster-zone.js';
import type { Forwarder } from './forwarder.js';
import { AnswerCache } from './answer-cache.js';

const RCODES: Record<string, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };
const QR = 0x8000;
const MAX_QUERY_BYTES = 4096;
const MAX_TCP_FRAME = 16_384;
const MAX_UDP_PAYLOAD = 4096;
const OUR_UDP_PAYLOAD = 1232;
const MAX_FORWARDS_IN_FLIGHT = 256;
const TCP_IDLE_MS = 10_000;

export interface DnsServerOptions {
  zone: ZoneSettings;
  /** `generation` changes whenever the cluster view does (cached answers are then dropped). */
  view: ClusterView & { synced(): boolean; generation?(): number };
  forwarder: Forwarder;
  /** Addresses to listen on (UDP and TCP each). */
  addresses: readonly string[];
  port: number;
  /** Whether a source address may be answered (loopback, the node, pods). */
  allowed(ip: string): boolean;
  maxTcpConnections?: number;
}

export interface DnsStats {
  queries: number;
  zone: number;
  forwarded: number;
  dropped: number;
  formerr: number;
  truncated: number;
}

type Transport = 'udp' | 'tcp';

/** A FORMERR header for a request whose body did not decode (ID and opcode kept, no sections). */
function formErr(buf: Buffer): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt16BE(buf.readUInt16BE(0), 0);
  out.writeUInt16BE(QR | (buf.readUInt16BE(2) & 0x7800) | RCODES['FORMERR']!, 2);
  return out;
}

/** The largest UDP reply a client takes: 512 bytes, or its EDNS0 payload size up to 4096. */
function udpLimit(opt: OptAnswer | undefined): number {
  return opt ? Math.max(512, Math.min(opt.udpPayloadSize, MAX_UDP_PAYLOAD)) : 512;
}

function optOf(req: DecodedPacket): { opts: OptAnswer[] } {
  return { opts: (req.additionals ?? []).filter((r): r is OptAnswer => r.type === 'OPT') };
}

export class DnsServer {
  private readonly udp: Socket[] = [];
  private readonly tcp: Server[] = [];
  private forwardsInFlight = 0;
  readonly stats: DnsStats = { queries: 0, zone: 0, forwarded: 0, dropped: 0, formerr: 0, truncated: 0 };
  private readonly answers = new AnswerCache();

  constructor(private readonly o: DnsServerOptions) {}

  /** Binds every address (UDP and TCP); the ports are known once this resolves. */
  async start(): Promise<void> {
    for (const address of this.o.addresses) {
      // With port 0 (tests) TCP takes the port UDP got, which another program may hold on TCP: try
      // another one a few times. A fixed port is tried once; its error is the operator's to see.
      for (let attempt = 1; ; attempt++) {
        try {
          await this.bindAddress(address);
          break;
        } catch (err) {
          const retry = this.o.port === 0 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 10;
          if (!retry) throw err;
        }
      }
    }
  }

  /** One address's UDP socket and TCP listener on the same port; on failure the UDP socket is closed again. */
  private async bindAddress(address: string): Promise<void> {
    const socket = createSocket({ type: address.includes(':') ? 'udp6' : 'udp4' });
    socket.on('message', (msg, rinfo) => this.onUdp(socket, msg, rinfo.address, rinfo.port));
    socket.on('error', (err) => log.warn('dns', 'UDP socket error', { address, error: err.message }));
    this.udp.push(socket); // closed by close() even when the bind below fails
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.o.port, address, () => { socket.off('error', reject); resolve(); });
    });
    const server = createServer((conn) => this.onTcp(conn));
    server.maxConnections = this.o.maxTcpConnections ?? 128;
    // Same port as UDP (the port may have been 0: take what UDP got).
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socket.address().port, address, () => { server.off('error', reject); resolve(); });
      });
    } catch (err) {
      this.udp.splice(this.udp.indexOf(socket), 1);
      socket.close();
      throw err;
    }
    server.on('error', (err) => log.warn('dns', 'TCP listener error', { address, error: err.message }));
    this.tcp.push(server);
  }

  /** The UDP port of the first address (tests bind port 0). */
  get port(): number {
    return this.udp[0]?.address().port ?? this.o.port;
  }

  /** Closes every socket and listener, also those of a start() that failed half way. */
  async close(): Promise<void> {
    for (const s of this.udp) {
      try {
        s.close();
      } catch { /* never bound */ }
    }
    await Promise.all(this.tcp.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  private onUdp(socket: Socket, msg: Buffer, address: string, port: number): void {
    if (!this.o.allowed(address) || msg.length > MAX_QUERY_BYTES) {
      this.stats.dropped++;
      return;
    }
    const send = (reply: Buffer | undefined): void => {
      if (reply) socket.send(reply, port, address);
    };
    const failed = (err: unknown): void => log.warn('dns', 'query failed', { error: (err as Error).message });
    try {
      const reply = this.handle(msg, 'udp');
      // Zone answers are synchronous: no promise per query on the hot path (less garbage, less RSS).
      if (reply instanceof Promise) reply.then(send, failed);
      else send(reply);
    } catch (err) {
      failed(err);
    }
  }

  private onTcp(conn: TcpSocket): void {
    if (!this.o.allowed(conn.remoteAddress ?? '')) {
      this.stats.dropped++;
      conn.destroy();
      return;
    }
    conn.setTimeout(TCP_IDLE_MS, () => conn.destroy());
    conn.on('error', () => conn.destroy());
    let buf: Buffer = Buffer.alloc(0);
    conn.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (len === 0 || len > MAX_TCP_FRAME) {
          this.stats.dropped++;
          conn.destroy();
          return;
        }
        if (buf.length < 2 + len) return;
        const frame = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        void Promise.resolve().then(() => this.handle(frame, 'tcp')).then((reply) => {
          if (!reply || conn.destroyed) return;
          const head = Buffer.alloc(2);
          head.writeUInt16BE(reply.length, 0);
          conn.write(Buffer.concat([head, reply]));
        }, () => conn.destroy());
      }
    });
  }

  /**
   * One query in, one reply out (undefined: drop). Never throws for bad input. Cluster-zone answers
   * come back synchronously; only forwarded names return a promise.
   */
  handle(msg: Buffer, transport: Transport): Buffer | undefined | Promise<Buffer | undefined> {
    this.stats.queries++;
    if (msg.length < 12 || (msg.readUInt16BE(2) & QR) !== 0) {
      this.stats.dropped++; // too short to answer, or a response: never reflect
      return undefined;
    }
    let req: DecodedPacket;
    try {
      req = dnsPacket.decode(msg);
    } catch {
      this.stats.formerr++;
      return formErr(msg);
    }
    const { opts } = optOf(req);
    const question = req.questions?.[0];
    if (!question || req.questions!.length !== 1 || opts.length > 1 || (req.answers?.length ?? 0) > 0) {
      this.stats.formerr++;
      return formErr(msg);
    }
    const opcode = (msg.readUInt16BE(2) >> 11) & 0xf;
    if (opcode !== 0) return this.reply(req, transport, 'NOTIMP', {});
    const opt = opts[0];
    if (opt && opt.ednsVersion !== 0) return this.reply(req, transport, 'NOERROR', { badVersion: true });
    if ((question.class ?? 'IN') !== 'IN' || question.type === 'AXFR' || question.type === 'IXFR') return this.reply(req, transport, 'REFUSED', {});

    const name = question.name.toLowerCase().replace(/\.$/, '');
    let answer: ZoneAnswer;
    if (!this.o.view.synced() && resolveInZone({ name, type: question.type }, this.o.view, this.o.zone).kind !== 'forward') {
      return this.reply(req, transport, 'SERVFAIL', {}); // no list yet: a client retries rather than caching a wrong NXDOMAIN
    }
    const generation = this.o.view.generation?.() ?? 0;
    const rd = (msg.readUInt16BE(2) & dnsPacket.RECURSION_DESIRED) !== 0;
    const cacheKey = `${name}\u0000${question.type}\u0000${transport === 'udp' ? udpLimit(opt) : 'tcp'}\u0000${opt ? 1 : 0}\u0000${rd ? 1 : 0}`;
    const cached = this.answers.get(cacheKey, msg, generation);
    if (cached) {
      this.stats.zone++;
      return cached;
    }
    try {
      answer = resolveInZone({ name, type: question.type }, this.o.view, this.o.zone);
    } catch (err) {
      log.warn('dns', 'cluster zone lookup failed', { name, error: (err as Error).message });
      return this.reply(req, transport, 'SERVFAIL', {});
    }
    if (answer.kind === 'answer') {
      this.stats.zone++;
      const out = this.reply(req, transport, answer.rcode, { aa: true, answers: answer.answers, authorities: answer.authorities, additionals: answer.additionals });
      this.answers.set(cacheKey, msg, out, generation);
      return out;
    }
    const target: Question = answer.kind === 'cname' ? { name: answer.target, type: question.type, class: 'IN' } : question;
    const prefix = answer.kind === 'cname' ? answer.answers : [];
    if (answer.kind === 'cname' && question.type !== 'A' && question.type !== 'AAAA' && (question.type as string) !== 'ANY') {
      return this.reply(req, transport, 'NOERROR', { aa: true, answers: prefix });
    }
    if (!this.o.forwarder.hasUpstreams()) return this.reply(req, transport, answer.kind === 'cname' ? 'NOERROR' : 'SERVFAIL', { answers: prefix });
    if (this.forwardsInFlight >= MAX_FORWARDS_IN_FLIGHT) return this.reply(req, transport, 'SERVFAIL', { answers: prefix });
    return this.forward(req, transport, target, prefix);
  }

  private async forward(req: DecodedPacket, transport: Transport, target: Question, prefix: Answer[]): Promise<Buffer> {
    this.forwardsInFlight++;
    this.stats.forwarded++;
    try {
      const res = await this.o.forwarder.resolve(target);
      return this.reply(req, transport, res.rcode, { answers: [...prefix, ...res.answers], authorities: res.authorities, additionals: res.additionals });
    } catch {
      return this.reply(req, transport, 'SERVFAIL', { answers: prefix });
    } finally {
      this.forwardsInFlight--;
    }
  }

  private reply(
    req: DecodedPacket, transport: Transport, rcode: string,
    body: { aa?: boolean; answers?: Answer[]; authorities?: Answer[]; additionals?: Answer[]; badVersion?: boolean },
  ): Buffer {
    const reqOpt = optOf(req).opts[0];
    const rc = RCODES[rcode] ?? RCODES['SERVFAIL']!;
    let flags = (req.flags ?? 0) & dnsPacket.RECURSION_DESIRED;
    flags |= dnsPacket.RECURSION_AVAILABLE | rc;
    if (body.aa) flags |= dnsPacket.AUTHORITATIVE_ANSWER;
    const opt: OptAnswer[] = reqOpt
      ? [{ type: 'OPT', name: '.', udpPayloadSize: OUR_UDP_PAYLOAD, extendedRcode: body.badVersion ? 1 : 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }]
      : [];
    const packet: Packet = {
      type: 'response', id: req.id ?? 0, flags, questions: req.questions ?? [],
      answers: body.answers ?? [], authorities: body.authorities ?? [], additionals: [...(body.additionals ?? []), ...opt],
    };
    let out = dnsPacket.encode(packet);
    const limit = transport === 'tcp' ? 65_535 : udpLimit(reqOpt);
    if (out.length > limit) {
      this.stats.truncated++;
      out = dnsPacket.encode({ ...packet, flags: flags | dnsPacket.TRUNCATED_RESPONSE, answers: [], authorities: [], additionals: opt });
    }
    return out;
  }
}
