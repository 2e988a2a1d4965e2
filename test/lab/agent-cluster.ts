/**
 * A corral cluster inside the lab for agent tests: `corral server` on the control host and one
 * `corral agent` per node, each started in its host's namespaces, plus kubectl run from the control
 * host (the test runner itself never talks to a lab address).
 */
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab, LabProcess } from './harness.js';
import { sleep } from './exec.js';
import { AGENT_MALLOC_ENVIRONMENT } from '../../installer/agent-service.js';

export const KUBECTL = process.env['CORRAL_KUBECTL'] ?? '/usr/lib/google-cloud-sdk/bin/kubectl.1.32';
export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'corral.js');
export const API_PORT = 6443;

export interface LabCluster {
  serverData: string;
  kubeconfig: string;
  server: LabProcess;
  agents: Map<string, LabProcess>;
  startServer(): Promise<void>;
  stopServer(): Promise<void>;
  startAgent(node: string): LabProcess;
  killAgent(node: string): Promise<void>;
  kubectl(args: readonly string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  kubectlOk(args: readonly string[], input?: string): Promise<string>;
  getJson<T>(args: readonly string[]): Promise<T>;
}

export interface LabClusterOptions {
  crashBackoff?: string;
  agentArgs?: readonly string[];
  /** More `corral server` flags (e.g. `--lb-pool`). */
  serverArgs?: readonly string[];
  /** NODE_OPTIONS of the agent processes (`corral agent` sets the installed V8 flags itself, installer/agent-service.ts);
   * LAB_AGENT_NODE_OPTIONS sets them for every lab test that does not (to try a V8 flag across the suite). */
  agentNodeOptions?: string;
  /** The agent program instead of `node dist/cli/corral.js`, e.g. `node FLAGS corral-agent.cjs` (the one-file
   * bundle, as installed: it takes no --crash-backoff). */
  agentProgram?: readonly string[];
  /** Node lifecycle timing of the server (default: 60 s grace, 300 s eviction, so outages evict nothing). */
  nodeMonitorGracePeriod?: string;
  podEvictionTimeout?: string;
}

/** `corral agent` on a lab node: its own data dir, containerd and pod netns prefix, the given servers. */
export function labAgentArgv(lab: Lab, name: string, o: { servers: readonly string[]; caFile: string }, extra: readonly string[] = []): string[] {
  const n = lab.node(name);
  return [process.execPath, CLI, 'agent', '--server', o.servers.join(','), '--ca-file', o.caFile,
    '--data-dir', join(n.dir, 'corral'), '--node-name', name, '--node-ip', n.ip, '--containerd-address', n.containerdSocket,
    '--netns-prefix', `${lab.netnsPrefix}${name}-`, '--cluster-cidr', lab.podCidr, '--service-cidr', lab.serviceCidr, ...extra];
}

/** The agent's environment: the installed service's malloc settings (ones the caller's environment sets win),
 * and LAB_AGENT_NODE_OPTIONS where a test sets no Node.js options of its own. */
export function labAgentEnv(env: NodeJS.ProcessEnv, nodeOptions?: string): NodeJS.ProcessEnv {
  const options = nodeOptions ?? process.env['LAB_AGENT_NODE_OPTIONS'];
  const installed = { ...AGENT_MALLOC_ENVIRONMENT, ...env };
  return options ? { ...installed, NODE_OPTIONS: options } : installed;
}

export async function startLabCluster(lab: Lab, opts: LabClusterOptions = {}): Promise<LabCluster> {
  const serverData = join(lab.dir, 'server-data');
  const kubeconfig = join(serverData, 'kubeconfig.yaml');
  const tokens = new Map<string, string>();
  const node = process.execPath;
  const env = { ...process.env, CORRAL_LOG_LEVEL: process.env['CORRAL_LOG_LEVEL'] ?? 'info' };
  for (const n of lab.nodes) {
    const r = await lab.exec('control', [node, CLI, 'token', 'create', '--role', 'node', '--data-dir', serverData, '--description', n.name]);
    if (r.code !== 0) throw new Error(`token create: ${r.stderr}`);
    tokens.set(n.name, r.stdout.trim());
  }
  const cluster: LabCluster = {
    serverData,
    kubeconfig,
    server: undefined as unknown as LabProcess,
    agents: new Map(),
    async startServer() {
      cluster.server = lab.spawn('control', [node, CLI, 'server', '--data-dir', serverData, '--port', String(API_PORT), '--bind-address', '0.0.0.0',
        '--advertise-address', lab.controlIp, '--disable-agent', '--pod-eviction-timeout', opts.podEvictionTimeout ?? '300s', '--node-monitor-grace-period', opts.nodeMonitorGracePeriod ?? '60s', ...(opts.serverArgs ?? [])], { logName: 'server', env });
      for (let i = 0; i < 300; i++) {
        const r = await lab.exec('control', [KUBECTL, '--kubeconfig', kubeconfig, 'get', '--raw', '/readyz'], { timeoutMs: 5_000 }).catch(() => undefined);
        if (r?.code === 0) return;
        if (cluster.server.child.exitCode !== null) throw new Error(`server exited: ${readFileSync(cluster.server.logFile, 'utf8').slice(-3000)}`);
        await sleep(100);
      }
      throw new Error(`server did not become ready: ${readFileSync(cluster.server.logFile, 'utf8').slice(-3000)}`);
    },
    async stopServer() {
      const p = cluster.server;
      if (p.child.exitCode !== null || p.child.signalCode !== null) return;
      p.child.kill('SIGTERM');
      await Promise.race([p.exited, sleep(10_000).then(() => p.child.kill('SIGKILL'))]);
      await p.exited;
    },
    startAgent(name) {
      const args = labAgentArgv(lab, name, { servers: [`https://${lab.controlIp}:${API_PORT}`], caFile: join(serverData, 'server', 'tls', 'ca.crt') },
        [...(opts.crashBackoff ? ['--crash-backoff', opts.crashBackoff] : []), ...(opts.agentArgs ?? [])]);
      if (opts.agentProgram) args.splice(0, 2, ...opts.agentProgram);
      const p = lab.spawn(name, args, { logName: 'agent', env: labAgentEnv({ ...env, CORRAL_TOKEN: tokens.get(name)! }, opts.agentNodeOptions) });
      cluster.agents.set(name, p);
      return p;
    },
    async killAgent(name) {
      const p = cluster.agents.get(name);
      if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
      p.child.kill('SIGKILL');
      // The child is unref'ed by the harness: keep a timer alive while waiting for its exit.
      await Promise.race([p.exited, sleep(10_000)]);
    },
    kubectl: (args, input) => lab.exec('control', [KUBECTL, '--kubeconfig', kubeconfig, ...args], { timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) }),
    async kubectlOk(args, input) {
      const r = await cluster.kubectl(args, input);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} (exit ${r.code}): ${r.stderr.trim()}`);
      return r.stdout;
    },
    async getJson<T>(args: readonly string[]): Promise<T> {
      return JSON.parse(await cluster.kubectlOk([...args, '-o', 'json'])) as T;
    },
  };
  await cluster.startServer();
  for (const n of lab.nodes) cluster.startAgent(n.name);
  return cluster;
}
