/**
 * `kubectl exec` on the node: a process run in a container through `ctr tasks exec`, its stdio piped
 * back; with a tty, through util-linux `script` (ctr insists on a console), resizable via the pty
 * `script` gave ctr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { sleep } from '../../api/async-util.js';
import type { Ctr } from './ctr.js';
import { isRuntimeError } from './errors.js';
import { runCommand } from '../../api/run-command.js';

export interface ExecOptions {
  execId: string;
  args: string[];
  /** Allocate a terminal (through util-linux `script`, since ctr needs a console on its stdin). */
  tty?: boolean | undefined;
  /** Terminal size the tty starts with (kubectl sends it first). */
  size?: { cols: number; rows: number } | undefined;
  user?: string | undefined;
  cwd?: string | undefined;
  signal?: AbortSignal | undefined;
}

export interface ExecSession {
  /** stdin/stdout/stderr are the exec'd process's, relayed by ctr. The exit code is ctr's. */
  process: ChildProcess;
  /** Kills the process inside the container (killing ctr alone would leave it running). */
  kill(): Promise<void>;
  /**
   * Sets the terminal size of a tty session (kubectl's resize channel); a no-op without a tty.
   * ctr relays its own console's size to the container's pty whenever it gets SIGWINCH, so the size
   * is set on the pty `script` gave ctr (`stty -F`), which makes the kernel send ctr that signal.
   */
  resize(cols: number, rows: number): Promise<void>;
}

/**
 * Runs a process in the container with its stdio piped through ctr (what `kubectl exec` relays).
 * Without a tty, stdout and stderr stay separate.
 */
export function startExec(ctr: Ctr, id: string, opts: ExecOptions): ExecSession {
  const ctrArgs = [...ctr.baseArgs(), 'tasks', 'exec', '--exec-id', opts.execId];
  if (opts.tty) ctrArgs.push('--tty');
  if (opts.user) ctrArgs.push('--user', opts.user);
  if (opts.cwd) ctrArgs.push('--cwd', opts.cwd);
  ctrArgs.push(id, ...opts.args);
  const child = opts.tty
    ? // `script` gives ctr the console it insists on; that outer pty is made raw so it neither echoes
      // nor rewrites line endings a second time (the container's own pty already does).
      spawn('script', ['--quiet', '--return', '--flush', '--command', `stty raw -echo${sttySize(opts.size)} 2>/dev/null; exec ${[ctr.ctrPath, ...ctrArgs].map(shellQuote).join(' ')}`, '/dev/null'], { stdio: 'pipe' })
    : spawn(ctr.ctrPath, ctrArgs, { stdio: 'pipe' });
  const kill = async (): Promise<void> => {
    await ctr.call(['tasks', 'kill', '--exec-id', opts.execId, '--signal', 'SIGKILL', id], { timeoutMs: 10_000 }).catch(ignoreNotFound);
    child.kill('SIGKILL');
  };
  let ctrTty: Promise<string | undefined> | undefined;
  const resize = async (cols: number, rows: number): Promise<void> => {
    if (!opts.tty || child.pid === undefined || !(cols > 0) || !(rows > 0)) return;
    ctrTty ??= findCtrTty(child.pid, ctr.ctrPath);
    const tty = await ctrTty;
    if (!tty) {
      ctrTty = undefined; // not started yet: look again next time
      return;
    }
    await runCommand('stty', ['-F', tty, 'rows', String(Math.floor(rows)), 'cols', String(Math.floor(cols))], { timeoutMs: 5_000 });
  };
  if (opts.signal) {
    const onAbort = (): void => { void kill().catch(() => undefined); };
    if (opts.signal.aborted) onAbort();
    else {
      opts.signal.addEventListener('abort', onAbort, { once: true });
      child.on('close', () => opts.signal!.removeEventListener('abort', onAbort));
    }
  }
  return { process: child, kill, resize };
}

/**
 * The pty ctr runs on inside a `script` session started as `rootPid`: ctr is a descendant (script
 * forks a shell that execs ctr); its stdin is the pty. Waits up to 3 s for ctr to appear.
 */
async function findCtrTty(rootPid: number, ctrPath: string): Promise<string | undefined> {
  const name = ctrPath.slice(ctrPath.lastIndexOf('/') + 1).slice(0, 15);
  for (let i = 0; i < 60; i++) {
    const pid = await findDescendant(rootPid, name);
    if (pid !== undefined) {
      const tty = await readlink(`/proc/${pid}/fd/0`).catch(() => undefined);
      if (tty?.startsWith('/dev/pts/')) return tty;
    }
    await sleep(50);
  }
  return undefined;
}

/** A descendant of `rootPid` whose command name is `comm`, from /proc/<pid>/stat parent links. */
async function findDescendant(rootPid: number, comm: string): Promise<number | undefined> {
  const procs: { pid: number; ppid: number; comm: string }[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const m = /^(\d+) \((.*)\) \S (\d+)/.exec(stat);
    if (m) procs.push({ pid: Number(m[1]), comm: m[2]!, ppid: Number(m[3]) });
  }
  const tree = new Set([rootPid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) {
      if (!tree.has(p.pid) && tree.has(p.ppid)) {
        tree.add(p.pid);
        grew = true;
      }
    }
  }
  return procs.find((p) => p.comm === comm && tree.has(p.pid) && p.pid !== rootPid)?.pid;
}

function sttySize(size: { cols: number; rows: number } | undefined): string {
  if (!size || !Number.isInteger(size.cols) || !Number.isInteger(size.rows) || size.cols <= 0 || size.rows <= 0) return '';
  return ` rows ${size.rows} cols ${size.cols}`;
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function ignoreNotFound(err: unknown): void {
  if (!isRuntimeError(err, 'NotFound')) throw err;
}
