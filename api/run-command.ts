/**
 * Runs one external command with a hard time limit and an AbortSignal, collecting its output.
 * Every ctr/iptables call of the agent and every one-shot child Node.js job (the agent's helper
 * process, the server's certificate issuer) goes through here, so that a wedged containerd, xtables
 * lock or child can never hang a loop.
 */
import { spawn } from 'node:child_process';

export interface RunOptions {
  /** Kill the command (SIGKILL) after this many milliseconds. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Written to the command's stdin, which is then closed. */
  input?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

export interface RunResult {
  code: number | null;
  /** Set when the process was ended by a signal (ours or someone else's). */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  aborted: boolean;
}

export function runCommand(file: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  return runCommandInteractive(file, args, opts);
}

export interface InteractiveRunOptions extends RunOptions {
  /** Called with all stdout so far on every chunk; may write to the command's stdin (kept open). */
  onStdout?: (soFar: string, stdin: NodeJS.WritableStream) => void;
}

/** runCommand, plus a stdin that stays open for `onStdout` to answer what the command prints. */
export function runCommandInteractive(file: string, args: readonly string[], opts: InteractiveRunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      resolve({ code: null, signal: null, stdout: '', stderr: '', timedOut: false, aborted: true });
      return;
    }
    const child = spawn(file, args, {
      stdio: [opts.input === undefined && !opts.onStdout ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let aborted = false;
    child.stdin?.on('error', () => { /* the command may exit before reading everything */ });
    child.stdout!.on('data', (c: Buffer) => {
      out.push(c);
      opts.onStdout?.(Buffer.concat(out).toString('utf8'), child.stdin!);
    });
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    const kill = (): void => {
      try { child.kill('SIGKILL'); } catch { /* already gone */ }
    };
    const timer = setTimeout(() => { timedOut = true; kill(); }, opts.timeoutMs);
    const onAbort = (): void => { aborted = true; kill(); };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        aborted,
      });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/**
 * Runs `script` (with `args`) in a child Node.js process, gives it `input` as JSON on stdin and returns
 * the JSON it prints. `what` names the job in errors, which end with the child's last stderr lines.
 */
export async function runNodeJob<T>(what: string, script: string, args: readonly string[], input: unknown, timeoutMs: number): Promise<T> {
  let r: RunResult;
  try {
    r = await runCommand(process.execPath, [script, ...args], { timeoutMs, input: JSON.stringify(input ?? null) });
  } catch (e) {
    throw new Error(`cannot start ${what}: ${(e as Error).message}`);
  }
  if (r.code !== 0) {
    throw new Error(`${what} ${r.timedOut ? `timed out after ${timeoutMs} ms` : `exited ${r.code ?? r.signal}`}: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
  }
  return JSON.parse(r.stdout) as T;
}
