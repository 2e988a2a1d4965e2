/**
 * Fuzz: hostile SPDY/3.1 input for `kubectl port-forward`. The frame parser and the header
 * decompressor get valid frames with flipped bits, cut short, with lying lengths and counts, and
 * random bytes, split at random points: they may only return frames or throw SpdyProtocolError.
 * Then whole byte streams like these go into the agent's real PortForwardSession over loopback TCP
 * (its dialer reaches a loopback echo server): the session must end or keep serving, close every
 * pod connection when the tunnel goes, and never throw; the process must stay within an RSS bound.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import {
  encodeData, encodeGoAway, encodePing, encodeRstStream, encodeSettings, encodeSynReply, encodeSynStream, encodeWindowUpdate,
  SpdyFrameParser, SpdyProtocolError,
} from '../../api/spdy/spdy-frames.js';
import { HeaderCompressor, HeaderDecompressor } from '../../api/spdy/spdy-headers.js';
import { PortForwardSession } from '../../agent/portforward/port-forward-session.js';
import { fuzzCount, fuzzSeed, Rng, rssMiB } from '../support/fuzz.js';
import { waitUntil, within } from '../support/wait.js';

const it = suite('fuzz-spdy-frames');
const RSS_GROWTH_BOUND_MIB = 60;

/** A stream of frames like kubectl's: header blocks from one real compression context. */
async function plausibleStream(rng: Rng, echoPort: number): Promise<Buffer[]> {
  const deflater = new HeaderCompressor();
  const frames: Buffer[] = [];
  let id = 1;
  for (let i = rng.range(1, 6); i > 0; i--) {
    const requestId = String(rng.int(4));
    for (const type of ['error', 'data']) {
      const headers: Array<[string, string]> = [['streamtype', type], ['port', rng.chance(0.8) ? String(echoPort) : rng.pick(['0', '-1', '65536', 'x', ''])], ['requestid', requestId]];
      frames.push(encodeSynStream({ streamId: id, headerBlock: await deflater.compress(headers), fin: type === 'error' }));
      if (type === 'data' && rng.chance(0.8)) frames.push(encodeData(id, rng.bytes(rng.range(0, 2000)), rng.chance(0.3)));
      id += 2;
    }
    if (rng.chance(0.3)) frames.push(encodePing(rng.nextU32()));
    if (rng.chance(0.2)) frames.push(encodeWindowUpdate(rng.int(id), rng.range(1, 0x7fffffff)));
    if (rng.chance(0.1)) frames.push(encodeSettings([{ id: rng.range(1, 8), value: rng.nextU32() }]));
    if (rng.chance(0.1)) frames.push(encodeRstStream(rng.range(1, id), rng.range(0, 12)));
    if (rng.chance(0.05)) frames.push(encodeSynReply(rng.range(1, id), await deflater.compress([['x', 'y']])));
  }
  if (rng.chance(0.1)) frames.push(encodeGoAway(id, rng.int(3)));
  deflater.close();
  return frames;
}

function corrupt(rng: Rng, frames: Buffer[]): Buffer {
  const bytes = Buffer.concat(frames);
  switch (rng.int(6)) {
    case 0: return bytes; // valid
    case 1: { // bit flips
      const out = Buffer.from(bytes);
      for (let i = rng.range(1, 8); i > 0 && out.length > 0; i--) {
        const at = rng.int(out.length);
        out[at] = out[at]! ^ (1 << rng.int(8));
      }
      return out;
    }
    case 2: return bytes.subarray(0, rng.int(bytes.length + 1)); // cut short
    case 3: { // a lying length in some frame header
      const out = Buffer.from(bytes);
      if (out.length >= 8) out.writeUIntBE(rng.int(0x1000000), 5, 3);
      return out;
    }
    case 4: return Buffer.concat([bytes.subarray(0, rng.int(bytes.length + 1)), rng.bytes(rng.range(1, 300))]);
    default: return rng.bytes(rng.range(1, 600));
  }
}

function splits(rng: Rng, bytes: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  for (let at = 0; at < bytes.length;) {
    const n = rng.range(1, Math.max(1, Math.min(bytes.length - at, 700)));
    parts.push(bytes.subarray(at, at + n));
    at += n;
  }
  return parts;
}

it('the parser and the header decompressor only return frames or throw SpdyProtocolError', async () => {
  const rng = new Rng(fuzzSeed('spdy-parser'));
  const cases = fuzzCount(400);
  let frames = 0;
  for (let i = 0; i < cases; i++) {
    const r = rng.fork();
    const bytes = corrupt(r, await plausibleStream(r, 80));
    const parser = new SpdyFrameParser();
    const inflater = new HeaderDecompressor();
    try {
      for (const part of splits(r, bytes)) {
        parser.push(part);
        for (let f = parser.next(); f; f = parser.next()) {
          frames++;
          if (f.type === 'syn_stream' || f.type === 'syn_reply' || f.type === 'headers') await inflater.decompress(f.headerBlock);
        }
      }
    } catch (err) {
      if (!(err instanceof SpdyProtocolError)) throw new Error(`case ${i}: ${(err as Error).stack}`);
    } finally {
      inflater.close();
    }
  }
  assert.ok(frames > cases, `frames were parsed (${frames})`);
});

it('the agent\'s session survives hostile tunnels and leaves no pod connection behind', async () => {
  const rng = new Rng(fuzzSeed('spdy-session'));
  const cases = fuzzCount(150);
  const podSockets = new Set<Socket>();
  const echo: Server = createServer((s) => {
    podSockets.add(s);
    s.on('close', () => podSockets.delete(s));
    s.on('error', () => undefined);
    s.pipe(s);
  });
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  const echoPort = (echo.address() as { port: number }).port;
  const tunnels = createServer();
  tunnels.listen(0, '127.0.0.1');
  await once(tunnels, 'listening');
  const tunnelPort = (tunnels.address() as { port: number }).port;
  const rssBefore = rssMiB(process.pid);
  for (let i = 0; i < cases; i++) {
    const r = rng.fork();
    const bytes = corrupt(r, await plausibleStream(r, echoPort));
    const accepted = once(tunnels, 'connection') as Promise<[Socket]>;
    const client = connect(tunnelPort, '127.0.0.1');
    client.on('error', () => undefined);
    client.resume();
    const [agentSide] = await accepted;
    const session = new PortForwardSession(agentSide, {
      pod: 'fuzz/web',
      openDialer: () => ({
        dial: (port) => new Promise<Socket>((resolve, reject) => {
          const s = connect(port, '127.0.0.1');
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        }),
        close: () => undefined,
      }),
      describeFailure: (port, err) => `error forwarding port ${port}: ${err.message}`,
    });
    for (const part of splits(r, bytes)) client.write(part);
    await new Promise((res) => setTimeout(res, r.int(20)));
    client.destroy();
    await within(`case ${i}: the session to end`, session.done, 10_000);
  }
  await waitUntil('every pod connection closed', async () => podSockets.size === 0, 10_000, 20);
  echo.close();
  tunnels.close();
  const growth = rssMiB(process.pid) - rssBefore;
  assert.ok(growth < RSS_GROWTH_BOUND_MIB, `RSS grew ${growth} MiB`);
});

it.run();
