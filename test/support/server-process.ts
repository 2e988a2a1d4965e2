/**
 * Runs the real `corral server` command as a child process on a loopback port with its own data dir,
 * and the real kubectl v1.32 against it. Used by the integration tier.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../../api/client/client.js';
import { HttpsTransport } from '../../api/client/transport.js';
import { SERVER_MALLOC_ENVIRONMENT, SERVER_V8_FLAGS } from '../../installer/service.js';
import { serverBundle } from '../../installer/server-bundle.js';

export const KUBECTL = process.env['CORRAL_KUBECTL'] ?? '/usr/lib/google-cloud-sdk/bin/kubectl.1.32';
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'corral.js');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface ServerProcessOptions {
  dataDir?: string;
  port?: number;
  extraArgs?: string[];
  env?: Record<string, string>;
  /** As the installed service runs: the server bundle (installer/server-bundle.ts) with its V8 flags and malloc settings (installer/service.ts), as the footprint benches measure. */
  asInstalled?: boolean;
}

export class ServerProcess {
  child: ChildProcess | undefined;
  logs = '';
  readonly kubeconfig: string;
  caPem = '';
  token = '';
  client!: ApiClient;
  private transport: HttpsTransport | undefined;

  private constructor(readonly dataDir: string, readonly port: number, private readonly o: ServerProcessOptions) {
    this.kubeconfig = join(dataDir, 'kubeconfig.yaml');
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  static async start(o: ServerProcessOptions = {}): Promise<ServerProcess> {
    const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'corral-it-'));
    const port = o.port ?? await freePort();
    const p = new ServerProcess(dataDir, port, o);
    await p.launch();
    return p;
  }

  async launch(): Promise<void> {
    // CORRAL_SERVER_NODE_ARGS passes Node flags to the server (e.g. --cpu-prof for profiling a test).
    const nodeArgs = (process.env['CORRAL_SERVER_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
    const installed = this.o.asInstalled ? { flags: SERVER_V8_FLAGS, env: SERVER_MALLOC_ENVIRONMENT, program: await serverBundle() } : { flags: [], env: {}, program: CLI };
    const args = [...installed.flags, ...nodeArgs, installed.program, 'server', '--data-dir', this.dataDir, '--port', String(this.port), '--bind-address', '127.0.0.1', '--disable-agent', ...(this.o.extraArgs ?? [])];
    const child = spawn(process.execPath, args, { env: { ...process.env, ...installed.env, CORRAL_LOG_LEVEL: 'warn', ...this.o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => { this.logs += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { this.logs += d.toString(); });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`corral server exited with ${child.exitCode}:\n${this.logs}`);
      if (existsSync(this.kubeconfig) && await this.ready()) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!(await this.ready())) throw new Error(`corral server did not become ready in 30 s:\n${this.logs}`);
    this.caPem = readFileSync(join(this.dataDir, 'server', 'tls', 'ca.crt'), 'utf8');
    this.token = readFileSync(join(this.dataDir, 'server', 'admin-token'), 'utf8').trim();
    this.transport?.close();
    this.transport = new HttpsTransport({ server: this.url, caPem: this.caPem, token: this.token });
    this.client = new ApiClient(this.transport);
  }

  private async ready(): Promise<boolean> {
    try {
      const t = new HttpsTransport({ server: this.url, insecure: true, timeoutMs: 2000 });
      const res = await t.request({ method: 'GET', path: '/readyz' });
      const text = await res.text();
      t.close();
      return res.status === 200 && text === 'ok';
    } catch {
      return false;
    }
  }

  /** A client with another token (or none). */
  clientWithToken(token: string | undefined): ApiClient {
    return new ApiClient(new HttpsTransport({ server: this.url, caPem: this.caPem, ...(token !== undefined ? { token } : {}) }));
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  async destroy(): Promise<void> {
    await this.stop();
    this.transport?.close();
    if (!this.o.dataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export interface KubectlResult { code: number; stdout: string; stderr: string }

/** Runs kubectl v1.32 with the server's kubeconfig and a private discovery cache. */
export function kubectl(server: ServerProcess, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    if (!existsSync(KUBECTL)) {
      reject(new Error(`kubectl v1.32 not found at ${KUBECTL} (set CORRAL_KUBECTL)`));
      return;
    }
    const child = spawn(KUBECTL, ['--kubeconfig', server.kubeconfig, '--cache-dir', join(server.dataDir, 'kube-cache'), ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, HOME: server.dataDir },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Starts kubectl and returns the process (for `get -w`). */
export function kubectlSpawn(server: ServerProcess, args: string[]): ChildProcess {
  return spawn(KUBECTL, ['--kubeconfig', server.kubeconfig, '--cache-dir', join(server.dataDir, 'kube-cache'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HOME: server.dataDir },
  });
}
