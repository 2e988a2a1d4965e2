/**
 * One `kubectl exec` session on the agent side, speaking the v5.channel.k8s.io WebSocket protocol:
 * each binary frame is a channel byte plus data (0 stdin, 1 stdout, 2 stderr, 3 status, 4 resize,
 * 255 close). The process runs through the runtime (`ctr tasks exec`); its exit code goes back as a
 * Status on channel 3, then the socket closes.
 */
import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { ContainerdRuntime, ExecSession } from '../runtime/index.js';

export const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, status: 3, resize: 4, close: 255 } as const;

export function frame(channel: number, data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  return Buffer.concat([Buffer.from([channel]), body]);
}

/** The Status kubectl turns into its own exit code. */
export function exitStatus(code: number | null, message?: string): string {
  if (code === 0) return JSON.stringify({ metadata: {}, status: 'Success' });
  const exitCode = code ?? 1;
  return JSON.stringify({
    metadata: {},
    status: 'Failure',
    message: message ?? `command terminated with non-zero exit code: error executing command [...], exit code ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  });
}

/** A resize frame's body: `{"Width":80,"Height":24}` (client-go's TerminalSize). */
export function parseResize(body: Buffer): { width: number; height: number } | undefined {
  try {
    const v = JSON.parse(body.toString('utf8')) as { Width?: unknown; Height?: unknown };
    const width = Number(v.Width);
    const height = Number(v.Height);
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0 || width > 10_000 || height > 10_000) return undefined;
    return { width, height };
  } catch {
    return undefined;
  }
}

export interface ExecRequest {
  containerId: string;
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** How long a tty session waits for kubectl's first size before it starts the process anyway. */
const FIRST_SIZE_WAIT_MS = 500;

export function runExecSession(ws: WebSocket, runtime: ContainerdRuntime, req: ExecRequest): void {
  // A tty process should see its terminal size from its first instruction (`stty size`, a shell
  // laying out its prompt): kubectl sends the size right after connecting, so wait briefly for it.
  const early: Buffer[] = [];
  let size: { width: number; height: number } | undefined;
  let session: ExecSession | undefined;
  const onEarly = (data: Buffer, isBinary: boolean): void => {
    const buf = isBinary ? data : Buffer.from(data);
    if (buf[0] === CHANNEL.resize && req.tty) {
      size = parseResize(buf.subarray(1)) ?? size;
      if (size) begin();
      return;
    }
    early.push(buf);
  };
  const onEarlyClose = (): void => { clearTimeout(timer); };
  const timer = setTimeout(() => begin(), req.tty ? FIRST_SIZE_WAIT_MS : 0);
  ws.on('message', onEarly);
  ws.once('close', onEarlyClose);
  function begin(): void {
    if (session) return;
    clearTimeout(timer);
    ws.off('message', onEarly);
    ws.off('close', onEarlyClose);
    if (ws.readyState !== ws.OPEN) return;
    session = runtime.exec(req.containerId, {
      execId: `exec-${randomBytes(6).toString('hex')}`, args: req.command, tty: req.tty,
      ...(size ? { size: { cols: size.width, rows: size.height } } : {}),
    });
    relay(ws, session, req, early);
  }
}

function relay(ws: WebSocket, session: ExecSession, req: ExecRequest, early: Buffer[]): void {
  const child = session.process;
  let finished = false;
  const send = (channel: number, data: Buffer): void => {
    if (ws.readyState === ws.OPEN) ws.send(frame(channel, data));
  };
  if (req.stdout) child.stdout?.on('data', (d: Buffer) => send(CHANNEL.stdout, d));
  else child.stdout?.resume();
  if (req.stderr && !req.tty) child.stderr?.on('data', (d: Buffer) => send(CHANNEL.stderr, d));
  else if (req.tty) child.stderr?.on('data', (d: Buffer) => send(CHANNEL.stdout, d));
  else child.stderr?.resume();
  child.stdin?.on('error', () => undefined);
  if (!req.stdin) child.stdin?.end();

  const onFrame = (buf: Buffer): void => {
    if (buf.length === 0) return;
    const channel = buf[0];
    const body = buf.subarray(1);
    if (channel === CHANNEL.stdin && req.stdin) child.stdin?.write(body);
    else if (channel === CHANNEL.close && body[0] === CHANNEL.stdin) child.stdin?.end();
    else if (channel === CHANNEL.resize && req.tty) {
      const size = parseResize(body);
      if (size) void session.resize(size.width, size.height).catch(() => undefined);
    }
  };
  for (const b of early) onFrame(b);
  ws.on('message', (data: Buffer, isBinary: boolean) => onFrame(isBinary ? data : Buffer.from(data)));
  ws.on('close', () => {
    if (!finished) void session.kill().catch(() => undefined);
  });
  child.on('close', (code) => {
    finished = true;
    // Let pending stdout/stderr frames go out before the status.
    setImmediate(() => {
      send(CHANNEL.status, Buffer.from(exitStatus(code)));
      ws.close(1000);
    });
  });
  child.on('error', (err) => {
    finished = true;
    send(CHANNEL.status, Buffer.from(exitStatus(126, `cannot exec: ${err.message}`)));
    ws.close(1000);
  });
}
