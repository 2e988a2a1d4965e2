/**
 * Connects to ports inside a pod's network namespace, for `kubectl port-forward`. Upstream dials
 * localhost inside the netns, so a pod listening only on 127.0.0.1 is reachable; Node cannot
 * setns(), so one small helper process per port-forward session is started in the namespace
 * (netns-dialer-helper.ts, through nsenter) and passes each connected socket back over its IPC
 * channel. The agent then owns the socket: the data never flows through the helper. The helper
 * ends with the session (close()) or with the agent (its channel closes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { DialReply, DialRequest } from './netns-dialer-helper.js';

const HELPER = fileURLToPath(new URL('./netns-dialer-helper.js', import.meta.url));
/** The helper's first argument: in the one-file agent bundle the bundle itself is the helper and dispatches on it. */
export const NETNS_DIAL_JOB = 'netns-dial';
/** A dial that got no answer (the helper hung) fails after this long. */
const REPLY_TIMEOUT_MS = 20_000;

/** Opens a TCP connection to a port of a pod; rejects with the runtime's wording of why not. */
export interface PortDialer {
  dial(port: number): Promise<Socket>;
  close(): void;
}

interface Waiter { resolve(s: Socket): void; reject(err: Error): void; timer: NodeJS.Timeout }

export class NetnsDialer implements PortDialer {
  private child: ChildProcess | undefined;
  private readonly waiting = new Map<number, Waiter>();
  private nextId = 1;
  private stderr = '';
  private closed = false;

  constructor(private readonly o: { netnsPath: string; nodeBinary: string }) {}

  private start(): ChildProcess {
    const child = spawn('nsenter', [`--net=${this.o.netnsPath}`, this.o.nodeBinary, '--max-old-space-size=16', HELPER, NETNS_DIAL_JOB], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    child.stderr!.on('data', (d: Buffer) => {
      if (this.stderr.length < 2000) this.stderr += d.toString('utf8');
    });
    child.on('message', (msg: DialReply, handle: unknown) => {
      const w = this.waiting.get(msg.id);
      if (!w) {
        if (handle instanceof Socket) handle.destroy();
        return;
      }
      this.waiting.delete(msg.id);
      clearTimeout(w.timer);
      if (msg.ok && handle instanceof Socket) w.resolve(handle);
      else w.reject(new Error(msg.ok ? 'the network namespace helper sent no socket' : msg.error));
    });
    const gone = (why: string): void => {
      if (this.child === child) this.child = undefined;
      for (const [id, w] of this.waiting) {
        clearTimeout(w.timer);
        w.reject(new Error(`${why}${this.stderr.trim() ? `: ${this.stderr.trim()}` : ''}`));
        this.waiting.delete(id);
      }
    };
    child.on('error', (err) => gone(`cannot start nsenter: ${err.message}`));
    child.on('exit', (code, signal) => gone(`the network namespace helper exited (${signal ?? `code ${code}`})`));
    return child;
  }

  dial(port: number): Promise<Socket> {
    if (this.closed) return Promise.reject(new Error('the port-forward session is closed'));
    this.child ??= this.start();
    const child = this.child;
    const id = this.nextId++;
    return new Promise<Socket>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`no answer from the network namespace helper within ${REPLY_TIMEOUT_MS / 1000}s`));
      }, REPLY_TIMEOUT_MS);
      this.waiting.set(id, { resolve, reject, timer });
      child.send({ id, port } satisfies DialRequest, (err) => {
        if (!err) return;
        const w = this.waiting.get(id);
        this.waiting.delete(id);
        if (w) {
          clearTimeout(w.timer);
          w.reject(new Error(`cannot reach the network namespace helper: ${err.message}`));
        }
      });
    });
  }

  /** Ends the helper (it would also end on its own when the channel closes). */
  close(): void {
    this.closed = true;
    const child = this.child;
    this.child = undefined;
    if (!child) return;
    if (child.connected) child.disconnect();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
}
