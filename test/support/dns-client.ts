/**
 * Test helpers for DNS: a one-shot client (UDP or TCP, optional EDNS0) and a tiny fake upstream
 * resolver that answers from a table (the lab's "outside world"; never the real network).
 */
import { createSocket, type Socket } from 'node:dgram';
import { connect, createServer, type Server } from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, RecordType } from 'dns-packet';

export interface QueryOptions {
  tcp?: boolean;
  /** EDNS0 UDP payload size to advertise (no OPT record when undefined). */
  edns?: number;
  timeoutMs?: number;
  host?: string;
}

export function dnsQuery(port: number, name: string, type: RecordType | 'ANY', o: QueryOptions = {}): Promise<DecodedPacket & { rcode: string }> {
  const host = o.host ?? '127.0.0.1';
  const packet: dnsPacket.Packet = {
    type: 'query', id: Math.floor(Math.random() * 65536), flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as RecordType, class: 'IN' }],
    ...(o.edns !== undefined ? { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: o.edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] } : {}),
  };
  return o.tcp ? sendTcp(port, dnsPacket.encode(packet), host, o.timeoutMs) : sendUdp(port, dnsPacket.encode(packet), host, o.timeoutMs) as Promise<DecodedPacket & { rcode: string }>;
}

/** Sends raw bytes over UDP; resolves with the decoded reply, or undefined when none came in time. */
export function sendUdpRaw(port: number, msg: Buffer, host = '127.0.0.1', timeoutMs = 1_000): Promise<Buffer | undefined> {
  const socket = createSocket('udp4');
  return new Promise((resolve) => {
    const timer = setTimeout(() => { socket.close(); resolve(undefined); }, timeoutMs);
    socket.on('message', (buf) => { clearTimeout(timer); socket.close(); resolve(buf); });
    socket.send(msg, port, host);
  });
}

async function sendUdp(port: number, msg: Buffer, host: string, timeoutMs = 2_000): Promise<DecodedPacket> {
  const buf = await sendUdpRaw(port, msg, host, timeoutMs);
  if (!buf) throw new Error(`no UDP answer from ${host}:${port} in ${timeoutMs} ms`);
  return dnsPacket.decode(buf);
}

function sendTcp(port: number, msg: Buffer, host: string, timeoutMs = 2_000): Promise<DecodedPacket & { rcode: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no TCP answer from ${host}:${port}`)); }, timeoutMs);
    socket.on('connect', () => {
      const head = Buffer.alloc(2);
      head.writeUInt16BE(msg.length, 0);
      socket.write(Buffer.concat([head, msg]));
    });
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))) as DecodedPacket & { rcode: string });
      }
    });
    socket.on('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

/**
 * A fake upstream resolver on UDP and TCP: answers A questions from `records` (name → IPs),
 * NXDOMAIN otherwise; names in `large` get 60 A records (so UDP answers come back truncated).
 */
export class FakeUpstream {
  readonly queries: string[] = [];
  private udp: Socket | undefined;
  private tcp: Server | undefined;

  constructor(private readonly records: Record<string, string[]>, private readonly large: readonly string[] = []) {}

  answer(req: DecodedPacket, transport: 'udp' | 'tcp'): Buffer {
    const q = req.questions![0]!;
    this.queries.push(`${transport}:${q.name}:${q.type}`);
    const name = q.name.toLowerCase();
    const big = this.large.includes(name);
    const ips = big ? Array.from({ length: 60 }, (_, i) => `198.51.100.${i + 1}`) : this.records[name];
    const answers: Answer[] = q.type === 'A' ? (ips ?? []).map((ip) => ({ type: 'A', name: q.name, ttl: 60, class: 'IN', data: ip })) : [];
    const soa: Answer = { type: 'SOA', name: 'example', ttl: 60, class: 'IN', data: { mname: 'ns.example', rname: 'root.example', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 60 } };
    const response: dnsPacket.Packet = {
      type: 'response', id: req.id ?? 0, flags: dnsPacket.RECURSION_AVAILABLE | (ips ? 0 : 3), questions: req.questions ?? [],
      answers, authorities: ips ? [] : [soa],
    };
    let out = dnsPacket.encode(response);
    if (transport === 'udp' && out.length > 512) out = dnsPacket.encode({ ...response, flags: (response.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers: [] });
    return out;
  }

  async start(host = '127.0.0.1', port = 0): Promise<number> {
    const udp = createSocket('udp4');
    udp.on('message', (msg, rinfo) => {
      try {
        udp.send(this.answer(dnsPacket.decode(msg), 'udp'), rinfo.port, rinfo.address);
      } catch { /* ignore garbage */ }
    });
    await new Promise<void>((resolve) => udp.bind(port, host, resolve));
    this.udp = udp;
    const bound = udp.address().port;
    this.tcp = createServer((conn) => {
      let buf = Buffer.alloc(0);
      conn.on('error', () => conn.destroy());
      conn.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
        const out = this.answer(dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))), 'tcp');
        const head = Buffer.alloc(2);
        head.writeUInt16BE(out.length, 0);
        conn.end(Buffer.concat([head, out]));
      });
    });
    await new Promise<void>((resolve) => this.tcp!.listen(bound, host, resolve));
    return bound;
  }

  close(): void {
    this.udp?.close();
    this.tcp?.close();
  }
}
