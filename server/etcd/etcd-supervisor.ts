/**
 * Runs the server's etcd member (Debian's `etcd-server` binary) as a child process: started with
 * `--config-file` only, restarted with back-off when it dies, stopped (SIGTERM, then SIGKILL) when the
 * server stops. Its pid is kept in a file so that a member left behind by a server that was killed
 * (-9) is ended before a new one takes its data dir and ports. etcd's own log goes to the server's
 * log (warnings and errors; etcd runs with log-level warn).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { log } from '../../api/log.js';
import { Backoff, sleep } from '../../api/async-util.js';

export interface EtcdSupervisorOptions {
  binary: string;
  configFile: string;
  pidFile: string;
  /** The member's loopback client URL and the TLS files the health check presents. */
  clientUrl: string;
  tls: { caPem: string; certPem: string; keyPem: string };
}

/** How long etcd must have run for a later death to count as a new first failure. */
const STABLE_RUN_MS = 60_000;

export class EtcdSupervisor {
  private child: ChildProcess | undefined;
  private stopping = false;
  private readonly backoff = new Backoff({ initialMs: 1_000, maxMs: 30_000 });
  private readonly stopped = new AbortController();
  /** The last lines etcd wrote, for the error when it cannot start. */
  private tail = '';

  /** A server that exits without stop() (a failed start-up step) takes its member down with it. */
  private readonly killOnExit = (): void => { this.child?.kill('SIGKILL'); };

  constructor(private readonly o: EtcdSupervisorOptions) {
    process.on('exit', this.killOnExit);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts etcd (ending a stale member first) and waits until it answers /health, or throws with its last output. */
  async start(timeoutMs: number): Promise<void> {
    if (!existsSync(this.o.binary)) throw new Error(`${this.o.binary} is missing: install the etcd server (Debian: apt install etcd-server), or name it with --etcd-binary`);
    await this.endStaleMember();
    this.launch();
    const deadline = Date.now() + timeoutMs;
    while (!(await this.healthy())) {
      if (Date.now() > deadline) throw new Error(`etcd did not become healthy within ${Math.round(timeoutMs / 1000)} s; its last output:\n${this.tail.slice(-3000)}`);
      await sleep(250, { signal: this.stopped.signal });
      if (this.stopping) throw new Error('stopped while etcd was starting');
    }
  }

  /** Whether the member answers /health with `"health":"true"` (it has a leader and serves). */
  healthy(): Promise<boolean> {
    return new Promise((resolve) => {
      const req = request(`${this.o.clientUrl}/health`, { ca: this.o.tls.caPem, cert: this.o.tls.certPem, key: this.o.tls.keyPem, timeout: 2_000 }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => { body += d.toString(); });
        res.on('end', () => resolve(res.statusCode === 200 && /"health":\s*"true"/.test(body)));
        res.on('error', () => resolve(false));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
  }

  private launch(): void {
    const startedAt = Date.now();
    // etcd 3.4 runs on arm64 and arm only when told to (Debian's package is built for them).
    const arch = process.arch === 'arm64' ? 'arm64' : process.arch === 'arm' ? 'arm' : '';
    const child = spawn(this.o.binary, ['--config-file', this.o.configFile], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...(arch ? { ETCD_UNSUPPORTED_ARCH: arch } : {}) },
    });
    this.child = child;
    if (child.pid !== undefined) writeFileSync(this.o.pidFile, `${child.pid}\n`, { mode: 0o600 });
    child.stderr!.on('data', (d: Buffer) => {
      const text = d.toString();
      this.tail = (this.tail + text).slice(-10_000);
      for (const line of text.split('\n')) if (line.trim()) log.warn('etcd', line.trim().slice(0, 2_000));
    });
    child.on('error', (err) => { this.tail += `\n${err.message}`; });
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.stopping) return;
      if (Date.now() - startedAt > STABLE_RUN_MS) this.backoff.reset();
      const delay = this.backoff.next();
      log.error('etcd', `etcd exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`, { restarts: this.backoff.failureCount });
      void sleep(delay, { signal: this.stopped.signal }).then(() => { if (!this.stopping) this.launch(); });
    });
  }

  /** Ends an etcd this data dir's pid file names, if it still runs with our config (a server killed with -9 left it). */
  private async endStaleMember(): Promise<void> {
    if (!existsSync(this.o.pidFile)) return;
    const pid = Number(readFileSync(this.o.pidFile, 'utf8').trim());
    rmSync(this.o.pidFile, { force: true });
    if (!Number.isInteger(pid) || pid <= 1) return;
    const ours = (): boolean => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(this.o.configFile);
      } catch {
        return false;
      }
    };
    if (!ours()) return;
    log.warn('etcd', 'ending the etcd member a previous server left running', { pid });
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 50 && ours(); i++) await sleep(100);
  }

  /** Stops etcd: SIGTERM, SIGKILL after 10 s. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopped.abort();
    process.off('exit', this.killOnExit);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.o.pidFile, { force: true });
  }
}
