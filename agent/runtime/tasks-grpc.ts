/**
 * containerd's Tasks and Version services over gRPC, for what ctr 1.6 cannot do and for what the
 * agent asks often: creating a task whose stdin is a FIFO the agent chose while its output goes to the
 * log file (ctr offers either `--log-uri` without stdin or its own FIFOs), resizing the terminal of a
 * task (ctr has no resize command), closing a task's stdin, and listing the tasks and reading the
 * version — the pod resync and the node status check ask every few seconds, and a `ctr` process each
 * time (a fork of the agent and a Go binary's start) was most of an idle agent's CPU.
 * Unary gRPC over containerd's socket with Node's http2 client, over one kept connection; requests
 * are a handful of scalar fields, written with protobufjs's Writer (tasks-message.ts, loaded at the
 * first call that has fields: most agents never attach, and protobufjs would otherwise stay resident
 * in every one); answers are read with protobuf-read.ts.
 */
import { connect, constants as h2, type ClientHttp2Session } from 'node:http2';
import { createConnection } from 'node:net';
import type { Field } from './tasks-message.js';
import { RuntimeError, classifyCtrError } from './errors.js';
import { numberField, readFields, stringField } from './protobuf-read.js';
import { checkContainerdSocket } from './ctr.js';

const TASKS = '/containerd.services.tasks.v1.Tasks';
const VERSION = '/containerd.services.version.v1.Version';

/** containerd.v1.types.Status, by number. */
const TASK_STATUS = ['UNKNOWN', 'CREATED', 'RUNNING', 'STOPPED', 'PAUSED', 'PAUSING'] as const;

export interface ListedTask { id: string; pid: number; status: (typeof TASK_STATUS)[number] }

export interface GrpcCallOptions {
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** The gRPC length-prefixed message: a compression flag (0), the length (big-endian), the bytes. */
export function grpcFrame(message: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

export interface TaskStdio {
  /** A FIFO path the shim reads the task's stdin from ('' for none). */
  stdin: string;
  /** Where output goes: a FIFO, or a regular file the shim appends to (log-stdio.ts). */
  stdout: string;
  stderr: string;
  terminal: boolean;
}

export class TasksClient {
  private current: { session: ClientHttp2Session; reached: () => boolean } | undefined;

  constructor(
    private readonly address: string,
    private readonly namespace: string,
    /** Every finished call: its operation (`task list`), duration and whether it failed (the agent's metrics). */
    private readonly onCall?: (operation: string, seconds: number, failed: boolean) => void,
  ) {}

  /** Every task of the namespace (ListTasks; as `ctr tasks ls`, without a process). */
  async list(opts: GrpcCallOptions = {}): Promise<ListedTask[]> {
    const body = await this.call(TASKS, 'List', [], opts.timeoutMs ?? 10_000, opts.signal);
    const out: ListedTask[] = [];
    // ListTasksResponse: repeated Process tasks = 1 (container_id = 1, id = 2, pid = 3, status = 4).
    for (const [no, value] of readFields(body)) {
      if (no !== 1 || !Buffer.isBuffer(value)) continue;
      const p = readFields(value);
      out.push({ id: stringField(p, 1) || stringField(p, 2), pid: numberField(p, 3), status: TASK_STATUS[numberField(p, 4)] ?? 'UNKNOWN' });
    }
    return out;
  }

  /** containerd's version (VersionResponse: version = 1, revision = 2). */
  async version(opts: GrpcCallOptions = {}): Promise<string> {
    return stringField(readFields(await this.call(VERSION, 'Version', [], opts.timeoutMs ?? 5_000, opts.signal)), 1);
  }

  /** Creates the task of an existing container (no rootfs mounts: the spec's root is already mounted) and starts it. */
  async createAndStart(containerId: string, io: TaskStdio, timeoutMs = 30_000): Promise<void> {
    await this.call(TASKS, 'Create', [[1, containerId], [4, io.stdin], [5, io.stdout], [6, io.stderr], [7, io.terminal]], timeoutMs);
    await this.call(TASKS, 'Start', [[1, containerId]], timeoutMs);
  }

  async resizePty(containerId: string, width: number, height: number): Promise<void> {
    await this.call(TASKS, 'ResizePty', [[1, containerId], [3, width], [4, height]], 5_000);
  }

  /** Closes the task's stdin: the process reads end of file (stdinOnce after the first attach). */
  async closeStdin(containerId: string): Promise<void> {
    await this.call(TASKS, 'CloseIO', [[1, containerId], [3, true]], 5_000);
  }

  private async call(service: string, method: string, fields: readonly Field[], timeoutMs: number, signal?: AbortSignal): Promise<Buffer> {
    const operation = service === TASKS ? `task ${method.toLowerCase()}` : method.toLowerCase();
    const started = performance.now();
    let failed = true;
    try {
      await checkContainerdSocket(this.address);
      const body = await this.request(service, method, operation, fields, timeoutMs, signal);
      failed = false;
      return body;
    } finally {
      this.onCall?.(operation, (performance.now() - started) / 1000, failed);
    }
  }

  /**
   * The one HTTP/2 connection to containerd, opened at the first call and kept: the node status check
   * and the pod resync call every few seconds, and a connection each time (socket, SETTINGS, teardown)
   * was part of an idle agent's CPU. Dropped when containerd closes it or sends GOAWAY (a restart),
   * or a call on it times out; the next call connects again. Unref'd: it keeps no process alive.
   */
  private session(): { session: ClientHttp2Session; reached: () => boolean } {
    if (this.current && !this.current.session.closed && !this.current.session.destroyed) return this.current;
    let reached = false;
    const session = connect('http://containerd', {
      createConnection: () => createConnection(this.address).once('connect', () => { reached = true; }),
    });
    const kept = { session, reached: () => reached };
    const drop = (): void => {
      if (this.current === kept) this.current = undefined;
    };
    session.once('close', drop);
    session.once('goaway', drop);
    // A connection error reaches the streams on it; the session itself only needs to be dropped.
    session.on('error', drop);
    session.unref();
    this.current = kept;
    return kept;
  }

  private async request(service: string, method: string, operation: string, fields: readonly Field[], timeoutMs: number, signal: AbortSignal | undefined): Promise<Buffer> {
    if (signal?.aborted) throw new RuntimeError('Aborted', `containerd ${operation} aborted`, operation);
    // An empty request needs no encoder (and so no protobufjs in an agent that never attaches).
    const body = fields.length === 0 ? new Uint8Array(0) : (await import('./tasks-message.js')).encodeMessage(fields);
    const { session, reached } = this.session();
    return new Promise<Buffer>((resolve, reject) => {
      let settled = false;
      const failed = (err: Error): RuntimeError => (reached()
        ? new RuntimeError('Failed', `containerd ${operation}: ${err.message}`, operation, { cause: err })
        : new RuntimeError('Unreachable', `cannot reach containerd at ${this.address}: ${err.message}`, operation, { cause: err }));
      const onAbort = (): void => {
        req.close(h2.NGHTTP2_CANCEL);
        finish(new RuntimeError('Aborted', `containerd ${operation} aborted`, operation));
      };
      const finish = (err: Error | undefined, body?: Buffer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(body ?? Buffer.alloc(0));
      };
      const timer = setTimeout(() => {
        req.close(h2.NGHTTP2_CANCEL);
        // containerd did not answer in time: the connection may be what hangs, so later calls get a
        // new one (session() takes no closed session).
        session.close();
        finish(new RuntimeError('Timeout', `containerd ${operation} timed out after ${timeoutMs} ms`, operation));
      }, timeoutMs);
      const req = session.request({
        [h2.HTTP2_HEADER_METHOD]: 'POST', [h2.HTTP2_HEADER_PATH]: `${service}/${method}`,
        'content-type': 'application/grpc', te: 'trailers', 'containerd-namespace': this.namespace,
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      const parts: Buffer[] = [];
      let status: string | undefined;
      let message = '';
      const readStatus = (h: Record<string, unknown>): void => {
        if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
        if (h['grpc-message'] !== undefined) message = decodeURIComponent(String(h['grpc-message']));
      };
      req.on('response', (h) => readStatus(h));
      req.on('trailers', (h) => readStatus(h));
      req.on('data', (d: Buffer) => parts.push(d));
      // A failed connection cancels its streams; the cause says why (ECONNREFUSED, EPIPE...).
      req.on('error', (err: Error) => finish(failed(err.cause instanceof Error ? err.cause : err)));
      req.on('end', () => {
        if (status === '0') finish(undefined, Buffer.concat(parts).subarray(5));
        else finish(new RuntimeError(classifyCtrError(message), `containerd ${operation}: ${message || `gRPC status ${status ?? 'missing'}`}`, operation));
      });
      // A connection closed before the answer ends the stream with neither 'end' nor 'error'.
      req.on('close', () => finish(failed(new Error(`the connection closed before an answer (stream code ${req.rstCode ?? 'none'})`))));
      req.end(grpcFrame(body));
    });
  }
}
