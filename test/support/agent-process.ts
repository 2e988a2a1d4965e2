/**
 * Runs the real `corral agent` command as a child process next to a ServerProcess, for tests of
 * the agent's own listener (the kubelet endpoint). The agent binds its endpoint to loopback and is
 * given a containerd socket that does not exist and a server without controllers, so it gets no pod
 * CIDR: it touches no network configuration of the machine and runs no containers.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect } from 'node:tls';
import { readFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, type ServerProcess } from './server-process.js';
import { waitUntil } from './wait.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'corral.js');

/** `corral token create --role ROLE` against the server's data dir; returns the bearer token (`id.secret`). */
export function createToken(server: ServerProcess, role: 'admin' | 'node' | 'viewer', description = `test ${role}`): string {
  const r = spawnSync(process.execPath, [CLI, 'token', 'create', '--role', role, '--description', description, '--data-dir', server.dataDir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`corral token create --role ${role}: ${r.stderr}`);
  const printed = r.stdout.trim();
  // Node tokens are printed pinned to the CA (K10<hash>::id.secret); the bearer is the credential part.
  return printed.includes('::') ? printed.slice(printed.indexOf('::') + 2) : printed;
}

export interface AgentProcessOptions {
  nodeName?: string;
  env?: Record<string, string>;
  extraArgs?: string[];
}

export class AgentProcess {
  logs = '';
  /** The endpoint's bearer token, read from the agent's data dir once it started. */
  kubeletToken = '';
  kubeletCertPem = '';

  private constructor(readonly child: ChildProcess, readonly dataDir: string, readonly kubeletPort: number, readonly nodeName: string) {}

  static async start(server: ServerProcess, o: AgentProcessOptions = {}): Promise<AgentProcess> {
    const dataDir = mkdtempSync(join(tmpdir(), 'corral-agent-'));
    const kubeletPort = await freePort();
    const nodeName = o.nodeName ?? `agent-${process.pid}`;
    const token = createToken(server, 'node', nodeName);
    const caFile = join(server.dataDir, 'server', 'tls', 'ca.crt');
    const child = spawn(process.execPath, [CLI, 'agent', '--server', server.url, '--ca-file', caFile, '--data-dir', dataDir,
      '--node-name', nodeName, '--node-ip', '127.0.0.1', '--kubelet-port', String(kubeletPort),
      '--containerd-address', join(dataDir, 'no-containerd.sock'), '--netns-prefix', `cfz${process.pid % 100000}-`,
      '--cluster-cidr', '10.251.0.0/16', '--service-cidr', '10.252.0.0/16',
      // These agents run in the machine's own namespace: they must not take its ports 80 and 443.
      '--disable-ingress', ...(o.extraArgs ?? [])], {
      env: { ...process.env, CORRAL_LOG_LEVEL: 'warn', CORRAL_TOKEN: token, ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const p = new AgentProcess(child, dataDir, kubeletPort, nodeName);
    child.stdout!.on('data', (d: Buffer) => { p.logs += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { p.logs += d.toString(); });
    const tls = join(dataDir, 'agent', 'tls');
    await waitUntil('the agent\'s kubelet endpoint', async () => {
      if (child.exitCode !== null) throw new Error(`corral agent exited with ${child.exitCode}:\n${p.logs}`);
      return existsSync(join(tls, 'kubelet.crt')) && await p.answers();
    }, 30_000).catch((err: unknown) => { throw new Error(`${(err as Error).message}\n${p.logs}`); });
    p.kubeletToken = readFileSync(join(tls, 'kubelet-token'), 'utf8').trim();
    p.kubeletCertPem = readFileSync(join(tls, 'kubelet.crt'), 'utf8');
    return p;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** True once the endpoint accepts TLS connections. */
  private answers(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = connect({ host: '127.0.0.1', port: this.kubeletPort, rejectUnauthorized: false });
      s.once('secureConnect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
  }

  async destroy(): Promise<void> {
    if (this.alive) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
