/**
 * Running commands for the lab harness: one place that spawns a process, feeds it input, bounds it in
 * time and collects its output, so every other lab module can stay declarative.
 */
import { spawn } from 'node:child_process';
import { sleep } from '../../api/async-util.js';

export interface ExecOptions {
  /** Written to the process's standard input, which is then closed. */
  input?: string | Buffer;
  /** Killed with SIGKILL after this long; the result then has `timedOut: true`. Default 30 s. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit code; -1 when the process was killed by a signal (for example on timeout). */
  code: number;
  timedOut: boolean;
}

/** Runs argv to completion and reports what happened; never throws for a non-zero exit. */
export function exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('exec: empty argv'));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(opts.env !== undefined ? { env: opts.env } : {}),
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${file}: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        code: code ?? -1,
        timedOut,
      });
    });
    // A process that exits without reading its input must not crash us with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs argv and throws, with the command and its stderr, unless it exits 0. Returns stdout. */
export async function execOk(argv: readonly string[], opts: ExecOptions = {}): Promise<string> {
  const r = await exec(argv, opts);
  if (r.code !== 0) {
    const why = r.timedOut ? `timed out after ${opts.timeoutMs ?? 30_000} ms` : `exited ${r.code}`;
    throw new Error(`${argv.join(' ')} ${why}: ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}

/** The tree's one sleep, re-exported for the lab's many importers. */
export { sleep };

/** Polls check() until it returns true or the deadline passes; then throws with what was awaited. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}
