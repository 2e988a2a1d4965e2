/**
 * The pieces of `kubectl attach` with logic of their own: the containerd Tasks messages and gRPC
 * framing (agent/runtime/tasks-message.ts and tasks-grpc.ts, checked against protobufjs's reader and a local HTTP/2 server
 * speaking gRPC on a unix socket), where an attach session's output goes, and the OCI spec's terminal.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type IncomingHttpHeaders, type ServerHttp2Session } from 'node:http2';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs/minimal.js';
import { grpcFrame, TasksClient } from '../../agent/runtime/tasks-grpc.js';
import { encodeMessage } from '../../agent/runtime/tasks-message.js';
import { isRuntimeError } from '../../agent/runtime/errors.js';
import { outputChannel, runAttachSession } from '../../agent/logs/attach-session.js';
import { ContainerdRuntime } from '../../agent/runtime/index.js';
import { WebSocket, WebSocketServer } from 'ws';
import { Socket, createServer as createNetServer, type AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { appendFileSync, closeSync, constants, openSync, readdirSync, readlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { waitUntil } from '../support/wait.js';
import { sleep } from '../../api/async-util.js';
import { CHANNEL } from '../../agent/logs/exec-session.js';
import { buildSpec } from '../../agent/runtime/spec.js';

/** Field number → values, read back with protobufjs's Reader (strings, or varints for wire type 0). */
function decode(bytes: Uint8Array): Map<number, (string | number)[]> {
  const r = protobuf.Reader.create(bytes);
  const out = new Map<number, (string | number)[]>();
  while (r.pos < r.len) {
    const tag = r.uint32();
    const value = (tag & 7) === 2 ? r.string() : r.uint32();
    out.set(tag >>> 3, [...(out.get(tag >>> 3) ?? []), value]);
  }
  return out;
}

test('Tasks messages: strings, bools and numbers by field number; empty values left out as proto3 does', () => {
  const fields = decode(encodeMessage([[1, 'ctr-1'], [2, ''], [3, 120], [4, 40], [5, false], [7, true], [8, 0]]));
  assert.equal([...fields.keys()].sort(), [1, 3, 4, 7]);
  assert.equal(fields.get(1), ['ctr-1']);
  assert.equal(fields.get(3), [120]);
  assert.equal(fields.get(4), [40]);
  assert.equal(fields.get(7), [1]);
  assert.is(encodeMessage([]).length, 0);
});

test('gRPC frame: no compression, big-endian length, then the message', () => {
  const message = encodeMessage([[1, 'x'.repeat(300)]]);
  const f = grpcFrame(message);
  assert.is(f[0], 0);
  assert.is(f.readUInt32BE(1), message.length);
  assert.ok(f.subarray(5).equals(Buffer.from(message)));
});

/** A gRPC server on a unix socket answering every call with `status` (in trailers), recording requests. */
interface GrpcServer {
  socket: string;
  calls: { headers: IncomingHttpHeaders; body: Buffer }[];
  /** Connections the server accepted, open or not. */
  sessions: ServerHttp2Session[];
  dir: string;
  /** Stops the server and ends its connections (the client keeps its connection open). */
  close: () => void;
}

async function grpcServer(status: number, message = ''): Promise<GrpcServer> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-grpc-'));
  const socket = join(dir, 'containerd.sock');
  const calls: { headers: IncomingHttpHeaders; body: Buffer }[] = [];
  const sessions: ServerHttp2Session[] = [];
  const server = createServer();
  server.on('session', (session) => sessions.push(session));
  server.on('stream', (stream, headers) => {
    const parts: Buffer[] = [];
    stream.on('data', (d: Buffer) => parts.push(d));
    stream.on('end', () => {
      calls.push({ headers, body: Buffer.concat(parts) });
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(status), ...(message ? { 'grpc-message': encodeURIComponent(message) } : {}) }));
      stream.end(status === 0 ? grpcFrame(new Uint8Array()) : undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  const close = (): void => {
    server.close();
    for (const session of sessions) session.destroy();
  };
  return { socket, calls, sessions, dir, close };
}

test('TasksClient: path, namespace header and message of a call; a gRPC error becomes a typed RuntimeError', async () => {
  const ok = await grpcServer(0);
  try {
    await new TasksClient(ok.socket, 'k8s.io').resizePty('ctr-1', 111, 33);
    assert.is(ok.calls.length, 1);
    const call = ok.calls[0]!;
    assert.is(call.headers[':path'], '/containerd.services.tasks.v1.Tasks/ResizePty');
    assert.is(call.headers['containerd-namespace'], 'k8s.io');
    assert.is(call.headers['content-type'], 'application/grpc');
    const fields = decode(call.body.subarray(5));
    assert.equal([fields.get(1), fields.get(3), fields.get(4)], [['ctr-1'], [111], [33]]);
    await new TasksClient(ok.socket, 'k8s.io').createAndStart('ctr-2', { stdin: '/s/stdin', stdout: 'file:///l.log', stderr: 'file:///l.log', terminal: false });
    assert.equal(ok.calls.slice(1).map((c) => c.headers[':path']), ['/containerd.services.tasks.v1.Tasks/Create', '/containerd.services.tasks.v1.Tasks/Start']);
    const create = decode(ok.calls[1]!.body.subarray(5));
    assert.equal([create.get(1), create.get(4), create.get(5), create.get(7)], [['ctr-2'], ['/s/stdin'], ['file:///l.log'], undefined]);
  } finally {
    ok.close();
    rmSync(ok.dir, { recursive: true, force: true });
  }
  const missing = await grpcServer(5, 'container "nope" in namespace "k8s.io": not found');
  try {
    const err = await new TasksClient(missing.socket, 'k8s.io').closeStdin('nope').catch((e: unknown) => e);
    assert.ok(isRuntimeError(err, 'NotFound'), String(err));
    assert.match(String(err), 'container "nope" in namespace "k8s.io": not found');
  } finally {
    missing.close();
    rmSync(missing.dir, { recursive: true, force: true });
  }
  const err = await new TasksClient('/nonexistent/containerd.sock', 'k8s.io').closeStdin('x').catch((e: unknown) => e);
  assert.ok(isRuntimeError(err, 'Unreachable'), String(err));
});

test('TasksClient keeps one connection to containerd, and connects again after containerd closed it or went away', async () => {
  const grpc = await grpcServer(0);
  try {
    const client = new TasksClient(grpc.socket, 'k8s.io');
    await Promise.all([client.version(), client.list(), client.resizePty('c', 80, 24)]);
    for (let i = 0; i < 5; i++) await client.list();
    assert.is(grpc.calls.length, 8);
    assert.is(grpc.sessions.length, 1, 'eight calls, one connection');
    // containerd restarted: its end of the connection is gone.
    grpc.sessions[0]!.destroy();
    await sleep(50);
    assert.equal(await client.list(), []);
    assert.is(grpc.sessions.length, 2, 'a new connection after the old one closed');
    // A graceful shutdown (GOAWAY): calls already answered are kept, the next call connects again.
    grpc.sessions[1]!.close();
    await sleep(50);
    await client.version();
    assert.is(grpc.sessions.length, 3, 'a new connection after GOAWAY');
    assert.is(grpc.calls.length, 10);
  } finally {
    grpc.close();
    rmSync(grpc.dir, { recursive: true, force: true });
  }
});

test('TasksClient: a connection closed before the answer fails the call at once, typed, instead of waiting for its timeout', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-grpc-'));
  const socket = join(dir, 'containerd.sock');
  // Accepts the connection and closes it: as a containerd that dies while a call is under way.
  const server = createNetServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  try {
    const started = performance.now();
    const err = await new TasksClient(socket, 'k8s.io').list({ timeoutMs: 10_000 }).catch((e: unknown) => e);
    assert.ok(isRuntimeError(err, 'Failed') || isRuntimeError(err, 'Unreachable'), String(err));
    assert.ok(performance.now() - started < 2_000, `failed after ${Math.round(performance.now() - started)} ms`);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('attach output: stdout when asked for, else stderr (never with a tty), else nowhere', () => {
  assert.is(outputChannel({ stdin: true, stdout: true, stderr: true }, false), CHANNEL.stdout);
  assert.is(outputChannel({ stdin: false, stdout: false, stderr: true }, false), CHANNEL.stderr);
  assert.is(outputChannel({ stdin: true, stdout: false, stderr: true }, true), undefined);
  assert.is(outputChannel({ stdin: true, stdout: false, stderr: false }, false), undefined);
});

test('OCI spec: process.terminal follows the container\'s tty', () => {
  const base = { rootfs: '/r', args: ['sh'], env: [], cwd: '/', user: { uid: 0, gid: 0 }, cgroupsPath: '/corral/x' };
  const terminal = (s: Record<string, unknown>): unknown => (s['process'] as { terminal: boolean }).terminal;
  assert.is(terminal(buildSpec(base) as Record<string, unknown>), false);
  assert.is(terminal(buildSpec({ ...base, terminal: true }) as Record<string, unknown>), true);
});

test('attach session: output from now on (and after a rotation), stdin into the FIFO, resizes in order, stdinOnce closes stdin, the end of the container ends the session', async () => {
  const grpc = await grpcServer(0);
  const log = join(grpc.dir, '0.log');
  const fifo = join(grpc.dir, 'stdin');
  writeFileSync(log, 'before-attach\n');
  execFileSync('mkfifo', [fifo]);
  // The test reads the FIFO as the shim would (a reader must exist before a non-blocking writer opens).
  const reader = new Socket({ fd: openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false });
  let stdinSeen = '';
  reader.on('data', (d: Buffer) => { stdinSeen += d.toString('utf8'); });
  let running = true;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const runtime = new ContainerdRuntime({ address: grpc.socket, stateDir: grpc.dir });
  wss.on('connection', (ws) => runAttachSession(ws, runtime, { containerId: 'c1', logPath: log, stdinPath: fifo, stdinOnce: true, tty: true, running: () => running },
    { stdin: true, stdout: true, stderr: false }));
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
  const connect = async (): Promise<{ ws: WebSocket; frames: Buffer[]; closed: Promise<void> }> => {
    const ws = new WebSocket(url);
    const frames: Buffer[] = [];
    ws.on('message', (d: Buffer) => frames.push(d));
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    return { ws, frames, closed };
  };
  const text = (frames: Buffer[], channel: number): string => frames.filter((f) => f[0] === channel).map((f) => f.subarray(1).toString('utf8')).join('');
  try {
    const first = await connect();
    await sleep(150); // the session notes where the log ends
    appendFileSync(log, 'after-1\n');
    await waitUntil('output after attaching', async () => text(first.frames, CHANNEL.stdout).includes('after-1'), 5_000, 20);
    first.ws.send(Buffer.concat([Buffer.from([CHANNEL.stdin]), Buffer.from('typed\n')]));
    await waitUntil('stdin reached the FIFO', async () => stdinSeen === 'typed\n', 5_000, 20);
    first.ws.send(Buffer.concat([Buffer.from([CHANNEL.resize]), Buffer.from('{"Width":101,"Height":31}')]));
    first.ws.send(Buffer.concat([Buffer.from([CHANNEL.resize]), Buffer.from('{"Width":100,"Height":30}')]));
    first.ws.send(Buffer.concat([Buffer.from([CHANNEL.resize]), Buffer.from('{"Width":"x"}')])); // ignored
    truncateSync(log, 0); // rotated: copy-then-truncate
    appendFileSync(log, 'rotated\n');
    await waitUntil('output after a rotation', async () => text(first.frames, CHANNEL.stdout).includes('rotated'), 5_000, 20);
    assert.not.match(text(first.frames, CHANNEL.stdout), 'before-attach', 'earlier output is not replayed');
    await waitUntil('two resizes', async () => grpc.calls.length >= 2, 5_000, 20);
    const sizes = grpc.calls.map((c) => { const f = decode(c.body.subarray(5)); return `${String(c.headers[':path']).split('/').pop()} ${f.get(3)?.[0]}x${f.get(4)?.[0]}`; });
    assert.equal(sizes, ['ResizePty 101x31', 'ResizePty 100x30'], 'in the order sent');
    first.ws.close();
    await first.closed;
    await waitUntil('stdinOnce: CloseIO after the first session', async () => grpc.calls.some((c) => String(c.headers[':path']).endsWith('/CloseIO')), 5_000, 20);
    const closeIo = decode(grpc.calls.find((c) => String(c.headers[':path']).endsWith('/CloseIO'))!.body.subarray(5));
    assert.equal([closeIo.get(1), closeIo.get(3)], [['c1'], [1]]);

    const second = await connect();
    await sleep(150);
    appendFileSync(log, 'last words\n');
    running = false;
    await second.closed;
    assert.is(text(second.frames, CHANNEL.stdout), 'last words\n', 'the output written before the container stopped is sent');
    assert.equal(JSON.parse(text(second.frames, CHANNEL.status)), { metadata: {}, status: 'Success' });
  } finally {
    reader.destroy();
    wss.close();
    grpc.close();
    rmSync(grpc.dir, { recursive: true, force: true });
  }
});

/** The descriptors of this process open on `path` (the session's end of the stdin FIFO). */
function openDescriptors(path: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`) === path; } catch { return false; } }).length;
}

test('attach session: a client gone mid-session while the container does not read stdin: the FIFO is let go, the session ends; a flood of resizes is coalesced and stops with the session', async () => {
  const grpc = await grpcServer(0);
  const log = join(grpc.dir, '0.log');
  const fifo = join(grpc.dir, 'stdin');
  writeFileSync(log, '');
  execFileSync('mkfifo', [fifo]);
  // The shim's end of the FIFO, which this container never reads.
  const readerFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const runtime = new ContainerdRuntime({ address: grpc.socket, stateDir: grpc.dir });
  const sessions: WebSocket[] = [];
  wss.on('connection', (ws) => {
    sessions.push(ws);
    runAttachSession(ws, runtime, { containerId: 'c1', logPath: log, stdinPath: fifo, stdinOnce: false, tty: true, running: () => true },
      { stdin: true, stdout: true, stderr: false });
  });
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
  try {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    const resizes = 2_000;
    for (let i = 1; i <= resizes; i++) ws.send(Buffer.concat([Buffer.from([CHANNEL.resize]), Buffer.from(`{"Width":${i},"Height":${i}}`)]));
    const chunk = Buffer.concat([Buffer.from([CHANNEL.stdin]), Buffer.alloc(32 * 1024, 'x')]);
    for (let i = 0; i < 64; i++) ws.send(chunk); // 2 MiB, far more than a pipe holds
    await waitUntil('the session holds the FIFO', async () => openDescriptors(fifo) === 2, 5_000, 20);
    await waitUntil('the last size reached containerd', async () => grpc.calls.some((c) => decode(c.body.subarray(5)).get(3)?.[0] === resizes), 10_000, 20);
    assert.ok(grpc.calls.length < resizes / 10, `resizes coalesced: ${grpc.calls.length} ResizePty calls for ${resizes} frames`);
    await sleep(300);
    ws.terminate(); // the client goes away without a close frame (a killed kubectl, a dropped connection)
    const session = sessions[0]!;
    await waitUntil('the session ended', async () => session.readyState === WebSocket.CLOSED, 20_000, 50);
    await waitUntil('the session let go of the FIFO', async () => openDescriptors(fifo) === 1, 5_000, 50);
    const calls = grpc.calls.length;
    await sleep(500);
    assert.is(grpc.calls.length, calls, 'no resize calls after the session ended');
  } finally {
    closeSync(readerFd);
    wss.close();
    grpc.close();
    rmSync(grpc.dir, { recursive: true, force: true });
  }
});

test.run();
