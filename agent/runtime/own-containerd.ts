/**
 * corral's own containerd, for hosts where no service manager starts one (an LXC container, a
 * Docker-less box without systemd): what k3s does with its embedded containerd. The agent starts it
 * before anything talks to the runtime, with its config and root in `<data-dir>/containerd` and its
 * state and socket in /run/corral/containerd, restarts it with back-off when it dies, and stops it
 * when the agent stops. Containers survive a containerd restart: their shims keep running and the
 * new containerd reconnects to them from the state dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { log } from '../../api/log.js';
import { Backoff, sleep, type BackoffPolicy } from '../../api/async-util.js';
import { Ctr } from './ctr.js';

export const OWN_CONTAINERD_STATE_DIR = '/run/corral/containerd';

export interface OwnContainerdPaths {
  /** `<data-dir>/containerd`: config, log and the root (images, snapshots, metadata). */
  dir: string;
  config: string;
  root: string;
  log: string;
  /** Runtime state (shim sockets, runc state); on tmpfs, so a reboot starts clean. */
  state: string;
  socket: string;
  pidFile: string;
}

export function ownContainerdPaths(dataDir: string, stateDir = OWN_CONTAINERD_STATE_DIR): OwnContainerdPaths {
  const dir = join(dataDir, 'containerd');
  return {
    dir,
    config: join(dir, 'config.toml'),
    root: join(dir, 'root'),
    log: join(dir, 'containerd.log'),
    state: stateDir,
    socket: join(stateDir, 'containerd.sock'),
    pidFile: join(stateDir, 'containerd.pid'),
  };
}

/** config.toml (version 2): own root, state and socket; CRI off (corral drives containerd with ctr). */
export function ownContainerdConfig(p: OwnContainerdPaths): string {
  const q = (s: string): string => JSON.stringify(s);
  return [
    '# Written by corral; rewritten at every start of the agent.',
    'version = 2',
    `root = ${q(p.root)}`,
    `state = ${q(p.state)}`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]',
    // Under memory pressure the kernel should kill a container before the runtime.
    'oom_score = -999',
    '',
    '[grpc]',
    `  address = ${q(p.socket)}`,
    '',
    '[ttrpc]',
    '  address = ""',
    '',
    '[debug]',
    '  address = ""',
    '',
    '[metrics]',
    '  address = ""',
    '',
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = ${q(join(p.root, 'opt'))}`,
    '',
  ].join('\n');
}

export interface OwnContainerdOptions {
  dataDir: string;
  /** Default /run/corral/containerd. */
  stateDir?: string;
  /** The containerd binary (default: containerd from PATH). */
  binary?: string;
  /** Restart back-off (default 1 s doubling to 30 s; reset after a minute of running). */
  backoff?: BackoffPolicy;
  /** How long start() waits for the socket to answer (default 30 s). */
  startTimeoutMs?: number;
  /** Told about every unexpected exit, with the delay before the restart. */
  onExit?: (info: { code: number | null; signal: NodeJS.Signals | null; restartInMs: number; restarts: number }) => void;
}

/** The directories containerd and its shims look for runc and containerd-shim-runc-v2 in. */
const SERVICE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const RAN_LONG_ENOUGH_MS = 60_000;

/** True when pid is alive and is a containerd started with this config (a leftover of a killed agent). */
function isOurContainerd(pid: number, config: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.some((a) => a.endsWith('containerd')) && argv.includes(config);
  } catch {
    return false;
  }
}

export class OwnContainerd {
  readonly paths: OwnContainerdPaths;
  private child: ChildProcess | undefined;
  private stopping = false;
  private restartCount = 0;
  private readonly backoff: Backoff;
  private loop: Promise<void> | undefined;
  private readonly wake = new AbortController();

  constructor(private readonly o: OwnContainerdOptions) {
    this.paths = ownContainerdPaths(o.dataDir, o.stateDir);
    this.backoff = new Backoff(o.backoff ?? { initialMs: 1_000, maxMs: 30_000 });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** How many times containerd died and was started again. */
  get restarts(): number {
    return this.restartCount;
  }

  /** Writes the config, ends a containerd a killed agent left behind, starts containerd and waits until it answers. */
  async start(): Promise<void> {
    const p = this.paths;
    mkdirSync(p.dir, { recursive: true, mode: 0o700 });
    mkdirSync(p.root, { recursive: true, mode: 0o700 });
    mkdirSync(p.state, { recursive: true, mode: 0o711 });
    writeFileSync(p.config, ownContainerdConfig(p), { mode: 0o600 });
    await this.endLeftover();
    this.spawnOnce();
    this.loop = this.superviseLoop();
    await this.waitUntilAnswering(this.o.startTimeoutMs ?? 30_000);
    log.info('agent', 'corral\'s own containerd is running', { pid: this.pid, socket: p.socket, root: p.root, log: p.log });
  }

  /** Stops containerd (SIGTERM, then SIGKILL after 10 s); containers keep running in their shims. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake.abort();
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const killed = await Promise.race([gone.then(() => true), sleep(10_000).then(() => false)]);
      if (!killed) {
        child.kill('SIGKILL');
        await gone;
      }
    }
    await this.loop;
    try {
      if (existsSync(this.paths.pidFile)) writeFileSync(this.paths.pidFile, '');
    } catch { /* state dir gone: nothing to clear */ }
  }

  private async endLeftover(): Promise<void> {
    let pid: number;
    try {
      pid = Number(readFileSync(this.paths.pidFile, 'utf8').trim());
    } catch {
      return;
    }
    if (!Number.isInteger(pid) || pid <= 1 || !isOurContainerd(pid, this.paths.config)) return;
    log.warn('agent', 'stopping a containerd an earlier agent left running', { pid });
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && isOurContainerd(pid, this.paths.config); i++) await sleep(100);
    if (isOurContainerd(pid, this.paths.config)) process.kill(pid, 'SIGKILL');
  }

  private spawnOnce(): ChildProcess {
    const fd = openSync(this.paths.log, 'a');
    try {
      // Its own process group: a Ctrl-C meant for the agent does not take containerd down first.
      const child = spawn(this.o.binary ?? 'containerd', ['--config', this.paths.config], {
        stdio: ['ignore', fd, fd],
        detached: true,
        env: { ...process.env, PATH: `${process.env['PATH'] ? `${process.env['PATH']}:` : ''}${SERVICE_PATH}` },
      });
      child.on('error', (err) => log.error('agent', 'cannot start containerd', { error: err.message }));
      this.child = child;
      if (child.pid !== undefined) writeFileSync(this.paths.pidFile, `${child.pid}\n`);
      return child;
    } finally {
      closeSync(fd);
    }
  }

  private async superviseLoop(): Promise<void> {
    while (!this.stopping) {
      const child = this.child!;
      const started = Date.now();
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve([child.exitCode, child.signalCode]);
        else {
          child.once('exit', (c, s) => resolve([c, s]));
          child.once('error', () => resolve([null, null]));
        }
      });
      if (this.stopping) return;
      if (Date.now() - started >= RAN_LONG_ENOUGH_MS) this.backoff.reset();
      const delay = this.backoff.next();
      this.restartCount++;
      log.error('agent', 'containerd exited; restarting it', { code, signal, restartInMs: delay, log: this.paths.log });
      this.o.onExit?.({ code, signal, restartInMs: delay, restarts: this.restartCount });
      await sleep(delay, { signal: this.wake.signal });
      if (this.stopping) return;
      this.spawnOnce();
    }
  }

  /** Resolves once `ctr version` gets an answer from the socket; throws with the log's tail otherwise. */
  async waitUntilAnswering(timeoutMs: number): Promise<void> {
    const ctr = new Ctr({ address: this.paths.socket, timeoutMs: 5_000 });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        if (statSync(this.paths.socket).isSocket()) {
          await ctr.call(['version']);
          return;
        }
      } catch { /* not yet */ }
      if (Date.now() > deadline) {
        const tail = existsSync(this.paths.log) ? readFileSync(this.paths.log, 'utf8').slice(-1500) : '';
        throw new Error(`containerd did not answer on ${this.paths.socket} within ${timeoutMs} ms; its log ${this.paths.log} ends:\n${tail}`);
      }
      await sleep(200);
    }
  }
}
