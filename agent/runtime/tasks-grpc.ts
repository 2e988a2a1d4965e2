/**
 * The few containerd Tasks calls ctr 1.6 cannot make: creating a task whose stdin is a FIFO the agent
 * chose while its output goes to the log file (ctr offers either `--log-uri` without stdin or its own
 * FIFOs), resizing the terminal of a task (ctr has no resize command) and closing a task's stdin.
 * Unary gRPC over containerd's socket with Node's http2 client; the messages are a handful of scalar
 * fields, written with protobufjs's Writer (tasks-message.ts, loaded at the first call: most agents never
 * attach, and protobufjs would otherwise stay resident in every one).
 */
import { connect, constants as h2 } from 'node:http2';
import { createConnection } from 'node:net';
import type { Field } from './tasks-message.js';
import { RuntimeError, classifyCtrError } from './errors.js';

const SERVICE = '/containerd.services.tasks.v1.Tasks';

/** The gRPC length-prefixed message: a compression flag (0), the length (big-endian), the bytes. */
export function grpcFrame(message: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

export interface TaskStdio {
  /** A FIFO path the shim reads the task's stdin from ('' for none). */
  stdin: string;
  /** Where output goes: `file:///…` appends both streams to one file (as ctr's --log-uri). */
  stdout: string;
  stderr: string;
  terminal: boolean;
}

export class TasksClient {
  constructor(private readonly address: string, private readonly namespace: string) {}

  /** Creates the task of an existing container (no rootfs mounts: the spec's root is already mounted) and starts it. */
  async createAndStart(containerId: string, io: TaskStdio, timeoutMs = 30_000): Promise<void> {
    await this.call('Create', [[1, containerId], [4, io.stdin], [5, io.stdout], [6, io.stderr], [7, io.terminal]], timeoutMs);
    await this.call('Start', [[1, containerId]], timeoutMs);
  }

  async resizePty(containerId: string, width: number, height: number): Promise<void> {
    await this.call('ResizePty', [[1, containerId], [3, width], [4, height]], 5_000);
  }

  /** Closes the task's stdin: the process reads end of file (stdinOnce after the first attach). */
  async closeStdin(containerId: string): Promise<void> {
    await this.call('CloseIO', [[1, containerId], [3, true]], 5_000);
  }

  private async call(method: string, fields: readonly Field[], timeoutMs: number): Promise<Buffer> {
    const operation = `task ${method.toLowerCase()}`;
    const { encodeMessage } = await import('./tasks-message.js');
    return new Promise<Buffer>((resolve, reject) => {
      let settled = false;
      let reached = false;
      const session = connect('http://containerd', {
        createConnection: () => createConnection(this.address).once('connect', () => { reached = true; }),
      });
      const failed = (err: Error): RuntimeError => (reached
        ? new RuntimeError('Failed', `containerd ${operation}: ${err.message}`, operation, { cause: err })
        : new RuntimeError('Unreachable', `cannot reach containerd at ${this.address}: ${err.message}`, operation, { cause: err }));
      const finish = (err: Error | undefined, body?: Buffer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        session.close();
        if (err) reject(err);
        else resolve(body ?? Buffer.alloc(0));
      };
      const timer = setTimeout(() => {
        session.destroy();
        finish(new RuntimeError('Timeout', `containerd ${operation} timed out after ${timeoutMs} ms`, operation));
      }, timeoutMs);
      session.on('error', (err) => finish(failed(err)));
      const req = session.request({
        [h2.HTTP2_HEADER_METHOD]: 'POST', [h2.HTTP2_HEADER_PATH]: `${SERVICE}/${method}`,
        'content-type': 'application/grpc', te: 'trailers', 'containerd-namespace': this.namespace,
      });
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
      req.on('error', (err) => finish(failed(err)));
      req.on('end', () => {
        if (status === '0') finish(undefined, Buffer.concat(parts).subarray(5));
        else finish(new RuntimeError(classifyCtrError(message), `containerd ${operation}: ${message || `gRPC status ${status ?? 'missing'}`}`, operation));
      });
      req.end(grpcFrame(encodeMessage(fields)));
    });
  }
}
