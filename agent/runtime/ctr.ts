/**
 * The lowest layer of the containerd driver: runs `ctr` against one containerd socket and one
 * containerd namespace, with a time limit and AbortSignal on every call, and turns failures into
 * typed RuntimeErrors.
 */
import { statSync } from 'node:fs';
import { RuntimeError, classifyCtrError } from './errors.js';
import { runCommand, type RunResult } from '../../api/run-command.js';
import { runWithSecretPrompt, type SecretPrompt } from './secret-prompt.js';

export const DEFAULT_CONTAINERD_ADDRESS = '/run/containerd/containerd.sock';
export const DEFAULT_CONTAINERD_NAMESPACE = 'k8s.io';

export interface CtrOptions {
  /** containerd's GRPC socket (default /run/containerd/containerd.sock). */
  address?: string;
  /** containerd namespace (default k8s.io, like kubelet's CRI). */
  namespace?: string;
  /** The ctr binary (default `ctr` from PATH). */
  ctrPath?: string;
  /** Default time limit of one call (default 30 s); image pulls and imports pass their own. */
  timeoutMs?: number;
  /** Every finished call: its operation (`task start`), duration and whether it failed (the agent's metrics). */
  onCall?: (operation: string, seconds: number, failed: boolean) => void;
  /** containerd snapshotter for image unpacking and mounts (default: ctr's, overlayfs). */
  snapshotter?: string | undefined;
}

export interface CallOptions {
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
  input?: string | undefined;
  /** A secret the command asks for on its terminal (never put on the command line). */
  secretPrompt?: SecretPrompt | undefined;
}

/** A call's operation for metrics: its leading subcommand words, without flags (`run`, `task start`). */
export function metricOperation(args: readonly string[]): string {
  const words: string[] = [];
  for (const a of args) {
    if (a.startsWith('-') || words.length === 2) break;
    words.push(a);
  }
  return words.join(' ');
}

/** Unreachable, with a message that says so, when containerd's socket file is missing or not a socket. */
export async function checkContainerdSocket(address: string): Promise<void> {
  // Synchronous: one stat in microseconds, before every call (the agent's task list runs every 5 s),
  // where a promise-based one is a thread-pool round trip.
  let st;
  try {
    st = statSync(address, { throwIfNoEntry: false });
  } catch (err) {
    throw new RuntimeError('Unreachable', `containerd socket ${address} cannot be read: ${(err as Error).message}`, undefined, { cause: err });
  }
  if (!st) throw new RuntimeError('Unreachable', `containerd socket ${address} does not exist (is containerd running?)`);
  if (!st.isSocket()) throw new RuntimeError('Unreachable', `containerd address ${address} is not a socket`);
}

export class Ctr {
  readonly address: string;
  readonly namespace: string;
  readonly ctrPath: string;
  readonly timeoutMs: number;
  private readonly onCall: CtrOptions['onCall'];
  /** ctr reads its --snapshotter default from CONTAINERD_SNAPSHOTTER: one setting for pull, import and mount. */
  private readonly env: NodeJS.ProcessEnv | undefined;

  constructor(opts: CtrOptions = {}) {
    this.env = opts.snapshotter ? { ...process.env, CONTAINERD_SNAPSHOTTER: opts.snapshotter } : undefined;
    this.address = opts.address ?? DEFAULT_CONTAINERD_ADDRESS;
    this.namespace = opts.namespace ?? DEFAULT_CONTAINERD_NAMESPACE;
    this.ctrPath = opts.ctrPath ?? 'ctr';
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.onCall = opts.onCall;
  }

  /** The global flags every call starts with. */
  baseArgs(): string[] {
    // ctr waits 10 s for a socket that does not exist; a short connect timeout keeps the
    // "containerd is down" path fast.
    return ['--address', this.address, '--namespace', this.namespace, '--connect-timeout', '3s'];
  }

  /** Fails fast with Unreachable when the socket file is missing (ctr itself would wait 10 s). */
  async checkSocket(): Promise<void> {
    await checkContainerdSocket(this.address);
  }

  /** Runs `ctr <args>`; resolves with stdout/stderr when it exits 0, throws a RuntimeError otherwise. */
  async call(args: readonly string[], opts: CallOptions = {}): Promise<RunResult> {
    if (!this.onCall) return this.run(args, opts);
    const started = performance.now();
    let failed = true;
    try {
      const result = await this.run(args, opts);
      failed = false;
      return result;
    } finally {
      this.onCall(metricOperation(args), (performance.now() - started) / 1000, failed);
    }
  }

  private async run(args: readonly string[], opts: CallOptions): Promise<RunResult> {
    const operation = args.slice(0, 2).join(' ');
    await this.checkSocket();
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    let result: RunResult;
    try {
      result = opts.secretPrompt
        ? await runWithSecretPrompt(this.ctrPath, [...this.baseArgs(), ...args], opts.secretPrompt, { timeoutMs, signal: opts.signal, env: this.env })
        : await runCommand(this.ctrPath, [...this.baseArgs(), ...args], { timeoutMs, signal: opts.signal, input: opts.input, env: this.env });
    } catch (err) {
      throw new RuntimeError('Failed', `cannot run ${this.ctrPath}: ${(err as Error).message}`, operation, { cause: err });
    }
    if (result.aborted) throw new RuntimeError('Aborted', `ctr ${operation} aborted`, operation);
    if (result.timedOut) throw new RuntimeError('Timeout', `ctr ${operation} timed out after ${timeoutMs} ms`, operation);
    if (result.code !== 0) {
      const message = result.stderr.trim() || `exit code ${result.code}`;
      throw new RuntimeError(classifyCtrError(message), `ctr ${operation}: ${message.replace(/^ctr: /, '')}`, operation);
    }
    return result;
  }
}
