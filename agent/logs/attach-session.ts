/**
 * One `kubectl attach` session on the agent side (v5.channel.k8s.io, framed as in exec-session.ts):
 * stdin frames go into the container's stdin FIFO (held open by containerd's shim, see
 * ContainerSpec.stdio), and the output the container writes to its log file from now on comes back
 * (as upstream, earlier output is not replayed). Without a tty the log holds stdout and stderr
 * interleaved in one file, so both come back on the stream the client asked for first (stdout).
 * Resize frames resize the task's pty. A `stdinOnce` container's stdin is closed when the first
 * session that attached to it ends. When the container stops, a Success status ends the session.
 */
import { constants, open as openFd } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { sleep } from '../../api/async-util.js';
import { log } from '../../api/log.js';
import type { ContainerdRuntime } from '../runtime/index.js';
import { CHANNEL, exitStatus, frame, parseResize } from './exec-session.js';

export interface AttachTarget {
  containerId: string;
  logPath: string;
  /** The stdin FIFO (a container with `stdin: true`), else undefined: stdin is ignored, as containerd's CRI does. */
  stdinPath: string | undefined;
  stdinOnce: boolean;
  /** The container's own `tty` (what the session uses whatever the client asked, as kubelet does). */
  tty: boolean;
  running: () => boolean;
}

export interface AttachStreams { stdin: boolean; stdout: boolean; stderr: boolean }

const POLL_MS = 40;
const CHUNK = 64 * 1024;
/** WebSocket close code 1006: the connection ended without a close frame. */
const ABNORMAL_CLOSURE = 1006;
const HELD_PING_MS = 2_000;

/** Where output goes: stdout if asked for, else stderr (not with a tty), else nowhere. */
export function outputChannel(streams: AttachStreams, tty: boolean): number | undefined {
  if (streams.stdout) return CHANNEL.stdout;
  if (streams.stderr && !tty) return CHANNEL.stderr;
  return undefined;
}

export function runAttachSession(ws: WebSocket, runtime: ContainerdRuntime, target: AttachTarget, streams: AttachStreams): void {
  let closed = false;
  const send = (channel: number, data: Buffer | string): void => {
    if (ws.readyState === ws.OPEN) ws.send(frame(channel, data));
  };
  let stdin: Socket | undefined;
  let stdinEnded = false;
  const early: Buffer[] = [];
  // The size to set next, and whether a ResizePty call is in flight: one call at a time, in order
  // (kubectl sends a size one larger and then the real one right after, to make the screen redraw,
  // and two calls racing could leave the larger one), and a burst of sizes costs one call for the last.
  let nextSize: { width: number; height: number } | undefined;
  let resizing = false;
  const resize = async (): Promise<void> => {
    if (resizing) return;
    resizing = true;
    for (let size = nextSize; size && !closed; size = nextSize) {
      nextSize = undefined;
      await runtime.tasks.resizePty(target.containerId, size.width, size.height).catch(() => undefined);
    }
    resizing = false;
  };
  /** Stops writing stdin; `abandon` drops what the container has not read yet (the client is gone). */
  const endStdin = (abandon: boolean): void => {
    if (stdinEnded || !streams.stdin || !target.stdinPath) return;
    stdinEnded = true;
    if (abandon) stdin?.destroy(); // end() would wait for a reader that may never read
    else stdin?.end();
    if (target.stdinOnce) {
      void runtime.tasks.closeStdin(target.containerId).catch((err: unknown) => {
        log.debug('attach', 'cannot close stdin', { id: target.containerId, error: (err as Error).message });
      });
    }
  };

  // Where the output this session sends starts: taken before any stdin reaches the container, so
  // what the container answers to this session's input is never counted as earlier output.
  const outputFrom = stat(target.logPath).then((s) => s.size, () => 0);
  const stdinPath = streams.stdin ? target.stdinPath : undefined;
  if (stdinPath) {
    // A plain descriptor (not a FileHandle, which would close it a second time when collected): the
    // Socket owns it and writes through libuv's pipe handling (the FIFO is non-blocking).
    void outputFrom.then(() => openFd(stdinPath, constants.O_WRONLY | constants.O_NONBLOCK, (err, fd) => {
      if (err) {
        // ENXIO: no reader any more, the container's stdin was closed (stdinOnce): input is dropped.
        const level = err.code === 'ENXIO' ? 'debug' : 'warn';
        log[level]('attach', 'cannot open the stdin FIFO', { id: target.containerId, error: err.message });
        stdinEnded = true;
        early.length = 0;
        return;
      }
      const socket = new Socket({ fd, readable: false, writable: true });
      socket.on('error', () => undefined);
      socket.on('finish', () => socket.destroy()); // closes the descriptor
      stdin = socket;
      if (stdinEnded) {
        socket.end(); // the session ended while the FIFO was being opened
        return;
      }
      for (const b of early.splice(0)) onFrame(b);
    }));
  }
  // While input is held the socket is not read, so a client that vanished would go unnoticed (and
  // the session, its log reader and its end of the FIFO would stay) until the container stops:
  // a ping now and then fails once the peer is gone, and that closes the session.
  let held = false;
  let pinging = false;
  const holdInput = (): void => {
    ws.pause();
    held = true;
    if (pinging) return;
    pinging = true;
    void (async () => {
      while (held && !closed) {
        await sleep(HELD_PING_MS);
        if (held && ws.readyState === ws.OPEN) ws.ping();
      }
      pinging = false;
    })();
  };
  const resumeInput = (): void => {
    held = false;
    ws.resume();
  };
  const onFrame = (buf: Buffer): void => {
    if (buf.length === 0) return;
    const channel = buf[0];
    const body = buf.subarray(1);
    if (channel === CHANNEL.resize) {
      const size = target.tty ? parseResize(body) : undefined;
      if (size) {
        nextSize = size;
        void resize();
      }
      return;
    }
    if (!streams.stdin || !target.stdinPath || stdinEnded) return;
    if (!stdin) {
      early.push(buf); // the FIFO is still being opened
      return;
    }
    if (channel === CHANNEL.stdin && !stdin.write(body)) {
      // The container is not reading (or its stdin was closed): stop reading the socket until the
      // FIFO drains, so an unread stdin holds no more than one pipe's worth in the agent.
      holdInput();
      stdin.once('drain', resumeInput);
      stdin.once('close', resumeInput);
    } else if (channel === CHANNEL.close && body[0] === CHANNEL.stdin) endStdin(false);
  };
  ws.on('message', (data: Buffer, isBinary: boolean) => onFrame(isBinary ? data : Buffer.from(data)));
  ws.on('close', (code: number) => {
    closed = true;
    endStdin(code === ABNORMAL_CLOSURE);
  });
  void followOutput(target, outputFrom, outputChannel(streams, target.tty), send, () => closed).then(() => {
    if (closed) return;
    send(CHANNEL.status, exitStatus(0));
    ws.close(1000);
  }, (err: unknown) => {
    send(CHANNEL.status, exitStatus(1, `cannot read the container's output: ${(err as Error).message}`));
    ws.close(1000);
  });
}

/**
 * Sends what is appended to the log from now on, until the container stops (and its last output is
 * sent) or the session closes. A shrinking file was rotated (copy-then-truncate): read from its start.
 */
async function followOutput(target: AttachTarget, from: Promise<number>, channel: number | undefined, send: (channel: number, data: Buffer) => void, closed: () => boolean): Promise<void> {
  let offset = await from;
  const fh = await open(target.logPath, 'r');
  try {
    for (;;) {
      if (closed()) return;
      const stopped = !target.running();
      const size = (await fh.stat()).size;
      if (size < offset) offset = 0;
      if (size > offset) {
        const buf = Buffer.alloc(Math.min(CHUNK, size - offset));
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        offset += bytesRead;
        if (channel !== undefined && bytesRead > 0) send(channel, buf.subarray(0, bytesRead));
        continue;
      }
      if (stopped) return;
      await sleep(POLL_MS);
    }
  } finally {
    await fh.close();
  }
}
