/**
 * The agent's port-forward session (agent/portforward/port-forward-session.ts) over a real loopback
 * TCP tunnel, with a SPDY client built on the codec and a dialer that connects to real loopback
 * servers (the lab test covers the network-namespace helper and real kubectl): several ports and
 * concurrent connections in one session, early data, half-close, the error stream in upstream's
 * words, PING, refused and unknown streams, malformed input (GOAWAY, no crash), and no socket or
 * dialer left once the tunnel goes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { PortForwardSession } from '../../agent/portforward/port-forward-session.js';
import type { PortDialer } from '../../agent/portforward/netns-dialer.js';
import { RstStatus } from '../../api/spdy/spdy-frames.js';
import { SpdyTestClient } from '../support/spdy-client.js';
import { waitUntil, within } from '../support/wait.js';

interface Rig {
  client: SpdyTestClient;
  session: PortForwardSession;
  dialer: { closed: boolean; dials: number };
  /** Sockets the pod-side servers accepted and still hold open. */
  podSockets: Set<Socket>;
  ports: { echo: number; upper: number; closed: number };
  /** Closes the tunnel and waits (bounded) for the session to end; frees every socket and server either way. */
  stop(): Promise<void>;
}

/** Rigs not stopped yet: a failed test's rig is torn down after it, so its servers cannot keep the file alive. */
const liveRigs = new Set<Rig>();
test.after.each(async () => {
  for (const r of [...liveRigs]) await r.stop().catch(() => undefined);
});

async function listen(handler: (s: Socket) => void, sockets: Set<Socket>): Promise<Server> {
  const srv = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    handler(s);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return srv;
}

const portOf = (srv: Server): number => (srv.address() as { port: number }).port;

async function rig(): Promise<Rig> {
  const podSockets = new Set<Socket>();
  const echo = await listen((s) => s.pipe(s), podSockets);
  const upper = await listen((s) => s.on('data', (d: Buffer) => s.write(d.toString().toUpperCase())).on('end', () => s.end()), podSockets);
  const closedSrv = await listen(() => undefined, podSockets);
  const closedPort = portOf(closedSrv);
  closedSrv.close();
  const dialer = { closed: false, dials: 0 };
  const tunnelServer = createServer();
  tunnelServer.listen(0, '127.0.0.1');
  await once(tunnelServer, 'listening');
  const accepted = once(tunnelServer, 'connection') as Promise<[Socket]>;
  const clientSocket = connect(portOf(tunnelServer), '127.0.0.1');
  const [agentSide] = await accepted;
  const session = new PortForwardSession(agentSide, {
    pod: 'default/web',
    openDialer: (): PortDialer => ({
      dial: (port) => new Promise((resolve, reject) => {
        dialer.dials++;
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => resolve(s));
        s.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`IPv4: dial tcp4 127.0.0.1:${port}: ${err.code === 'ECONNREFUSED' ? 'connect: connection refused' : err.message}`)));
      }),
      close: () => { dialer.closed = true; },
    }),
    describeFailure: (port, err) => `error forwarding port ${port} to pod uid-1, uid : ${err.message}`,
  });
  const client = new SpdyTestClient(clientSocket);
  const r: Rig = {
    client, session, dialer, podSockets, ports: { echo: portOf(echo), upper: portOf(upper), closed: closedPort },
    async stop() {
      liveRigs.delete(r);
      client.close();
      try {
        await within('the session to end after the tunnel closed', session.done, 5_000);
      } finally {
        agentSide.destroy();
        for (const s of podSockets) s.destroy();
        for (const srv of [echo, upper, tunnelServer]) srv.close();
      }
    },
  };
  liveRigs.add(r);
  return r;
}

test('two ports and 30 concurrent connections in one session; each answer on its own stream; all streams retire', async () => {
  const r = await rig();
  const pairs = await Promise.all(Array.from({ length: 30 }, async (_v, i) => {
    const port = i % 2 ? r.ports.upper : r.ports.echo;
    return { i, port, ...(await r.client.forward(port, i)) };
  }));
  for (const p of pairs) r.client.send(p.data, Buffer.from(`msg-${p.i}`), true);
  await r.client.until('every data stream finished', () => pairs.every((p) => p.data.fin && p.error.fin));
  for (const p of pairs) {
    assert.ok(p.data.replied && p.error.replied, 'SYN_REPLY on both streams');
    assert.is(r.client.text(p.data), p.port === r.ports.upper ? `MSG-${p.i}` : `msg-${p.i}`);
    assert.is(r.client.text(p.error), '', 'nothing on the error stream');
  }
  assert.is(r.dialer.dials, 30);
  await waitUntil('the session forgot every stream', async () => r.session.openStreams === 0, 5_000, 10);
  await r.stop();
  assert.ok(r.dialer.closed, 'the dialer closed with the session');
});

test('data sent before the pod connection exists arrives in order; a large transfer passes whole', async () => {
  const r = await rig();
  const { data } = await r.client.forward(r.ports.echo, 1);
  const big = Buffer.alloc(4 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = i % 251;
  r.client.send(data, big.subarray(0, 1000));
  r.client.send(data, big.subarray(1000), true);
  await r.client.until('the echo finished', () => data.fin, 20_000);
  assert.ok(Buffer.concat(data.data).equals(big), 'the echo equals what was sent');
  await r.stop();
});

test('a closed port: upstream\'s text on the error stream, both streams finished, nothing left open', async () => {
  const r = await rig();
  const { error, data } = await r.client.forward(r.ports.closed, 7);
  await r.client.until('both streams finished', () => error.fin && data.fin);
  assert.is(r.client.text(error), `error forwarding port ${r.ports.closed} to pod uid-1, uid : IPv4: dial tcp4 127.0.0.1:${r.ports.closed}: connect: connection refused`);
  assert.is(r.client.text(data), '');
  // kubectl finishes its data stream too; then the session holds nothing for the request.
  r.client.send(data, Buffer.alloc(0), true);
  await waitUntil('no streams', async () => r.session.openStreams === 0, 5_000, 10);
  await r.stop();
});

test('the client PINGs are answered with the same id; an even (server) id is not echoed', async () => {
  const r = await rig();
  r.client.ping(1);
  r.client.ping(2);
  r.client.ping(0xfffffffd);
  await r.client.until('two pongs', () => r.client.pings.length >= 2);
  await new Promise((res) => setTimeout(res, 50));
  assert.equal(r.client.pings, [1, 0xfffffffd]);
  await r.stop();
});

test('streams without requestID or with a bad port are refused; data on an unknown stream is reset', async () => {
  const r = await rig();
  const noId = await r.client.open([['streamtype', 'data'], ['port', '80']]);
  const badPort = await r.client.open([['streamtype', 'data'], ['port', '70000'], ['requestid', '1']]);
  const badType = await r.client.open([['streamtype', 'stdin'], ['port', '80'], ['requestid', '2']]);
  await r.client.until('three resets', () => noId.reset && badPort.reset && badType.reset);
  assert.equal([noId.reset, badPort.reset, badType.reset], [RstStatus.RefusedStream, RstStatus.RefusedStream, RstStatus.RefusedStream]);
  r.client.streams.set(99, { id: 99, replied: false, data: [], fin: false });
  r.client.send(r.client.streams.get(99)!, Buffer.from('x'));
  await r.client.until('invalid stream reset', () => r.client.streams.get(99)!.reset);
  assert.is(r.client.streams.get(99)!.reset, RstStatus.InvalidStream);
  // The session is still usable afterwards.
  const ok = await r.client.forward(r.ports.echo, 3);
  r.client.send(ok.data, Buffer.from('still here'), true);
  await r.client.until('echo', () => ok.data.fin);
  assert.is(r.client.text(ok.data), 'still here');
  await r.stop();
});

test('malformed input ends the session with GOAWAY(PROTOCOL_ERROR); pod sockets are closed, no crash', async () => {
  const r = await rig();
  const { data } = await r.client.forward(r.ports.echo, 1);
  r.client.send(data, Buffer.from('hello'));
  await r.client.until('first echo', () => r.client.text(data) === 'hello');
  assert.is(r.podSockets.size, 1);
  r.client.socket.write(Buffer.from([0x80, 0x02, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 1])); // SPDY/2 PING
  await r.client.until('GOAWAY and close', () => r.client.goAway && r.client.closed);
  assert.is(r.client.goAway!.status, 1);
  assert.is(r.client.goAway!.lastGoodStreamId, 3);
  await within('the session to end', r.session.done, 5_000);
  await waitUntil('the pod connection closed', async () => r.podSockets.size === 0, 5_000, 10);
  assert.ok(r.dialer.closed);
  await r.stop();
});

test('malformed input right behind a new stream: GOAWAY(PROTOCOL_ERROR) still reaches the client before the close', async () => {
  const r = await rig();
  // The session reads both in one chunk, so the error comes while the stream's SYN_REPLY is still being compressed.
  await r.client.open([['streamtype', 'error'], ['port', String(r.ports.echo)], ['requestid', '1']], true, Buffer.from([0x80, 0x02, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 1]));
  await r.client.until('GOAWAY and close', () => r.client.goAway && r.client.closed);
  assert.equal(r.client.goAway, { lastGoodStreamId: 1, status: 1 });
  await within('the session to end', r.session.done, 5_000);
  await r.stop();
});

test('kubectl going away (tunnel closed) closes every pod connection and the dialer', async () => {
  const r = await rig();
  const pairs = await Promise.all([1, 2, 3].map((i) => r.client.forward(r.ports.echo, i)));
  for (const p of pairs) r.client.send(p.data, Buffer.from('x'));
  await r.client.until('three echoes', () => pairs.every((p) => r.client.text(p.data) === 'x'));
  assert.is(r.podSockets.size, 3);
  r.client.close();
  await within('the session to end', r.session.done, 5_000);
  await waitUntil('every pod connection closed', async () => r.podSockets.size === 0, 5_000, 10);
  assert.ok(r.dialer.closed);
  await r.stop();
});

test.run();
