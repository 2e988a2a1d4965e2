/**
 * Forwarding of names outside the cluster zone to the node's upstream resolvers, with a small cache.
 * Each upstream query goes out over UDP from a fresh socket (random source port) with a random ID and
 * must come back from the resolver it was sent to with the same ID and question; a truncated answer
 * is asked again over TCP. Identical questions in flight share one upstream query. The cache holds at
 * most `maxEntries` answers (least recently used go first) for their smallest TTL, capped at
 * `maxTtlSeconds`; negative answers are kept for the SOA minimum, capped at `maxNegativeTtlSeconds`.
 * The served TTLs count down with the time spent in the cache.
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Question } from 'dns-packet';

export interface ForwarderOptions {
  /** Upstream resolvers, `ip` or `ip:port`. */
  upstreams: readonly string[];
  timeoutMs?: number;
  maxEntries?: number;
  maxTtlSeconds?: number;
  maxNegativeTtlSeconds?: number;
}

export interface ForwardResult {
  rcode: string;
  answers: Answer[];
  authorities: Answer[];
  /** Additional records, without any OPT record. */
  additionals: Answer[];
  /** The upstream set RA/AD etc.; we only carry the rcode and sections. */
  fromCache: boolean;
}

interface CacheEntry {
  storedAt: number;
  expiresAt: number;
  rcode: string;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
}

function parseUpstream(u: string): { host: string; port: number } {
  const m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(u) ?? /^\[?([0-9a-fA-F:]+)\]?(?::(\d+))?$/.exec(u);
  if (!m) throw new Error(`invalid upstream resolver address ${u}`);
  return { host: m[1]!, port: m[2] ? Number(m[2]) : 53 };
}

function withTtl(records: readonly Answer[], elapsedSeconds: number): Answer[] {
  return records.map((r) => ('ttl' in r && typeof r.ttl === 'number' ? { ...r, ttl: Math.max(0, r.ttl - elapsedSeconds) } : r)) as Answer[];
}

function minTtl(records: readonly Answer[]): number | undefined {
  let min: number | undefined;
  for (const r of records) if ('ttl' in r && typeof r.ttl === 'number') min = min === undefined ? r.ttl : Math.min(min, r.ttl);
  return min;
}

export class Forwarder {
  private readonly upstreams: { host: string; port: number }[];
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<ForwardResult>>();
  private readonly timeoutMs: number;
  private readonly maxEntries: number;
  private readonly maxTtl: number;
  private readonly maxNegativeTtl: number;
  /** Counters for the benchmark and tests. */
  readonly stats = { hits: 0, misses: 0, failures: 0 };

  constructor(o: ForwarderOptions) {
    this.upstreams = o.upstreams.map(parseUpstream);
    this.timeoutMs = o.timeoutMs ?? 2_000;
    this.maxEntries = o.maxEntries ?? 1_000;
    this.maxTtl = o.maxTtlSeconds ?? 30;
    this.maxNegativeTtl = o.maxNegativeTtlSeconds ?? 5;
  }

  get cacheSize(): number {
    return this.cache.size;
  }

  hasUpstreams(): boolean {
    return this.upstreams.length > 0;
  }

  /** Answers a question from the cache or the upstreams; throws when no upstream answered. */
  async resolve(q: Question): Promise<ForwardResult> {
    const key = `${q.name.toLowerCase()}|${q.type}|${q.class ?? 'IN'}`;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.expiresAt > now) {
      this.stats.hits++;
      // Refresh its place in the LRU order.
      this.cache.delete(key);
      this.cache.set(key, hit);
      const elapsed = Math.floor((now - hit.storedAt) / 1000);
      return { rcode: hit.rcode, answers: withTtl(hit.answers, elapsed), authorities: withTtl(hit.authorities, elapsed), additionals: withTtl(hit.additionals, elapsed), fromCache: true };
    }
    if (hit) this.cache.delete(key);
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    this.stats.misses++;
    const p = this.query(q).then((res) => {
      this.store(key, res);
      return res;
    }).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  private store(key: string, res: ForwardResult): void {
    let ttl: number;
    if (res.rcode === 'NOERROR' && res.answers.length > 0) ttl = Math.min(minTtl(res.answers) ?? 0, this.maxTtl);
    else if (res.rcode === 'NOERROR' || res.rcode === 'NXDOMAIN') {
      const soa = res.authorities.find((r) => r.type === 'SOA');
      const soaMin = soa && soa.type === 'SOA' ? Math.min(soa.ttl ?? 0, soa.data.minimum ?? 0) : 0;
      ttl = Math.min(soaMin, this.maxNegativeTtl);
    } else return; // SERVFAIL, REFUSED...: ask again next time
    if (ttl <= 0) return;
    const now = Date.now();
    this.cache.set(key, { storedAt: now, expiresAt: now + ttl * 1000, rcode: res.rcode, answers: res.answers, authorities: res.authorities, additionals: res.additionals });
    while (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
  }

  private async query(q: Question): Promise<ForwardResult> {
    let lastError: Error = new Error('no upstream resolvers configured');
    for (const upstream of this.upstreams) {
      try {
        let reply = await this.udpQuery(upstream, q);
        if (reply.flag_tc) reply = await this.tcpQuery(upstream, q);
        return {
          rcode: (reply as DecodedPacket & { rcode?: string }).rcode ?? 'NOERROR',
          answers: reply.answers ?? [],
          authorities: reply.authorities ?? [],
          additionals: (reply.additionals ?? []).filter((r) => r.type !== 'OPT'),
          fromCache: false,
        };
      } catch (err) {
        lastError = err as Error;
      }
    }
    this.stats.failures++;
    throw lastError;
  }

  private request(q: Question, id: number): dnsPacket.Packet {
    return {
      type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: q.name, type: q.type, class: q.class ?? 'IN' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
    };
  }

  private matches(reply: DecodedPacket, id: number, q: Question): boolean {
    const rq = reply.questions?.[0];
    return reply.type === 'response' && reply.id === id && rq !== undefined && rq.name.toLowerCase() === q.name.toLowerCase() && rq.type === q.type;
  }

  private udpQuery(upstream: { host: string; port: number }, q: Question): Promise<DecodedPacket> {
    const id = randomInt(0, 65536);
    const msg = dnsPacket.encode(this.request(q, id));
    const socket = createSocket(upstream.host.includes(':') ? 'udp6' : 'udp4');
    return new Promise<DecodedPacket>((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`upstream ${upstream.host}:${upstream.port} did not answer in ${this.timeoutMs} ms`)), this.timeoutMs);
      const finish = (err: Error | undefined, reply?: DecodedPacket): void => {
        clearTimeout(timer);
        socket.close();
        if (err) reject(err);
        else resolve(reply!);
      };
      socket.on('error', (err) => finish(err));
      socket.on('message', (buf, rinfo) => {
        if (rinfo.address !== upstream.host || rinfo.port !== upstream.port) return;
        let reply: DecodedPacket;
        try {
          reply = dnsPacket.decode(buf);
        } catch {
          return; // garbage: keep waiting for the real answer
        }
        if (this.matches(reply, id, q)) finish(undefined, reply);
      });
      socket.send(msg, upstream.port, upstream.host, (err) => { if (err) finish(err); });
    });
  }

  private tcpQuery(upstream: { host: string; port: number }, q: Question): Promise<DecodedPacket> {
    const id = randomInt(0, 65536);
    const msg = dnsPacket.streamEncode(this.request(q, id));
    return new Promise<DecodedPacket>((resolve, reject) => {
      const socket = connect({ host: upstream.host, port: upstream.port });
      let buf = Buffer.alloc(0);
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`upstream ${upstream.host}:${upstream.port} did not answer over TCP in ${this.timeoutMs} ms`)); }, this.timeoutMs);
      socket.on('connect', () => socket.write(msg));
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
        clearTimeout(timer);
        socket.destroy();
        try {
          const reply = dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
          if (this.matches(reply, id, q)) resolve(reply);
          else reject(new Error('upstream TCP answer does not match the question'));
        } catch (err) {
          reject(err as Error);
        }
      });
      socket.on('error', (err) => { clearTimeout(timer); reject(err); });
    });
  }
}
