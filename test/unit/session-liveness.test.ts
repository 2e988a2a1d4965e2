/**
 * keepSession's PING health check (server/apiserver/session-liveness.ts) on a real node:http2 server over
 * loopback, with short timeouts:
 * - a session whose connection error came in the same read as a stream's HEADERS (Node then stops
 *   reading and never ends the session, even after the peer closed) is destroyed, and its stream closed;
 * - a peer that answers PINGs keeps its session and its long-running stream across several intervals.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect as netConnect } from 'node:net';
import { createServer, connect as h2Connect, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { keepSession } from '../../server/apiserver/session-liveness.js';
import { DATA, END_HEADERS, HEADERS, PREFACE, SETTINGS, frame, headerBlock } from '../support/h2-frames.js';
import { waitUntil } from '../support/wait.js';
import { sleep } from '../../api/async-util.js';

const OPTIONS = { intervalMs: 200, ackTimeoutMs: 300 };
/** Long enough that the idle close plays no part here (integration/http2 covers it). */
const IDLE_MS = 60_000;

interface Lab { port: number; sessions: ServerHttp2Session[]; streams: ServerHttp2Stream[]; close(): void }

async function lab(liveness: boolean): Promise<Lab> {
  const sessions: ServerHttp2Session[] = [];
  const streams: ServerHttp2Stream[] = [];
  const server = createServer();
  server.on('session', (s) => {
    sessions.push(s);
    s.on('error', () => undefined);
    if (liveness) keepSession(s, { firstMs: IDLE_MS, idleMs: IDLE_MS, liveness: OPTIONS });
  });
  // A long-running answer, as a watch: headers and a first chunk, then nothing.
  server.on('stream', (stream) => {
    streams.push(stream);
    stream.on('error', () => undefined);
    setTimeout(() => { if (!stream.destroyed) { stream.respond({ ':status': 200 }); stream.write('{}'); } }, 20);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port, sessions, streams,
    close: () => { for (const s of sessions) s.destroy(); server.close(); },
  };
}

/**
 * HEADERS of a GET and, in the same write, a DATA frame on stream 0 (a connection error); once the
 * server has the stream, the client goes away.
 */
async function abandonBrokenSession(l: Lab): Promise<void> {
  const socket = netConnect(l.port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(Buffer.concat([
    PREFACE,
    frame(SETTINGS, 0, 0, Buffer.alloc(0)),
    frame(HEADERS, END_HEADERS, 1, headerBlock([[':method', 'GET'], [':scheme', 'http'], [':path', '/watch'], [':authority', 'x']])),
    frame(DATA, 0, 0, Buffer.from('zz')),
  ]));
  await waitUntil('the stream', async () => l.streams.length === 1 || undefined, 2_000);
  await sleep(100);
  socket.destroy();
}

test('without the check, the session of a connection error outlives its peer (the Node behaviour it works around)', async () => {
  const l = await lab(false);
  try {
    await abandonBrokenSession(l);
    await sleep(1_000);
    assert.is(l.sessions[0]!.destroyed, false, 'Node ended the session by itself: the check may no longer be needed');
    assert.is(l.streams[0]!.closed, false);
  } finally {
    l.close();
  }
});

test('with the check, that session is destroyed once a PING goes unanswered, and its stream closes', async () => {
  const l = await lab(true);
  try {
    await abandonBrokenSession(l);
    await waitUntil('the session destroyed', async () => l.sessions[0]!.destroyed || undefined, 2_000);
    await waitUntil('the stream closed', async () => l.streams[0]!.closed || undefined, 1_000);
  } finally {
    l.close();
  }
});

test('a peer that answers PINGs keeps its session and its open stream', async () => {
  const l = await lab(true);
  const client = h2Connect(`http://127.0.0.1:${l.port}`);
  client.on('error', () => undefined);
  try {
    const req = client.request({ ':path': '/watch' });
    req.on('error', () => undefined);
    let got = '';
    req.on('data', (d: Buffer) => { got += d.toString(); });
    await waitUntil('the first chunk', async () => got === '{}' || undefined, 2_000);
    await sleep(OPTIONS.intervalMs * 5 + OPTIONS.ackTimeoutMs);
    assert.is(l.sessions[0]!.destroyed, false);
    assert.is(l.streams[0]!.closed, false);
    assert.is(req.closed, false);
  } finally {
    client.destroy();
    l.close();
  }
});

test.run();
