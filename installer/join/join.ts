/**
 * `corral join`: for every host in parallel — connect (known host keys only), probe, preflight, then
 * install or upgrade the agent in place (bundle over SFTP with checksum, config, node token 0600,
 * node identity, service), start it, and wait until its Node is Ready. One host's failure never stops
 * the others; each ends with a HostResult for the summary table.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ApiClient } from '../../api/client/client.js';
import type { Node } from '../../api/types.js';
import type { AgentBundle } from '../bundle.js';
import { NODE_PASSWORD_ANNOTATION, apiClient, nodeInternalIp, nodeReady, nodeServerUrl, waitNodeReady, type ServerAccess } from './cluster.js';
import { renderPlan, type HostPlan } from './plan.js';
import { hasFailure, missingPackages, preflight, userlandArch, type CheckResult } from './preflight.js';
import { NODE_PATHS, PROBE_SCRIPT, parseProbeOutput, type ProbeFacts } from './probe.js';
import type { HostResult, Phase, ProgressSink } from './progress.js';
import { SshSession, type SshOptions } from './ssh.js';
import type { JoinTarget } from './target.js';
import { agentFiles, agentStartCommand, agentStopCommand, nodeNameFromHostname, type AgentNetwork } from '../agent-service.js';

export { AGENT_SERVICE, agentServiceSpec, renderTokenFile, nodeNameFromHostname } from '../agent-service.js';

export interface JoinOptions {
  targets: readonly JoinTarget[];
  access: ServerAccess;
  ssh: SshOptions;
  installDeps: boolean;
  dryRun: boolean;
  /** Node name for a single host (default: its hostname). */
  nodeName?: string;
  readyTimeoutMs: number;
  network: AgentNetwork;
  bundle: () => Promise<AgentBundle>;
  progress: ProgressSink;
  /** Where `--dry-run` plans are printed. */
  out: (text: string) => void;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

class PhaseClock {
  readonly phases: Partial<Record<Phase, number>> = {};
  private current?: { phase: Phase; at: number };
  constructor(private readonly label: string, private readonly sink: ProgressSink) {}
  enter(phase: Phase, detail?: string): void {
    this.stop();
    this.current = { phase, at: performance.now() };
    this.sink.phase(this.label, phase, detail);
  }
  stop(): void {
    if (this.current) this.phases[this.current.phase] = Math.round(performance.now() - this.current.at);
    delete this.current;
  }
}

interface Probed { facts: ProbeFacts; plan: HostPlan; existing: Node | undefined }

async function probeHost(session: SshSession, t: JoinTarget, o: JoinOptions, api: ApiClient, bundle: AgentBundle): Promise<Probed> {
  // The server's clock, as well as it is known here: what the node's must agree with.
  const localNow = Math.round((Date.now() + o.access.clockOffsetMs) / 1000);
  const r = await session.probe(PROBE_SCRIPT);
  if (r.code !== 0 && !r.stdout.includes('kernel=')) throw new Error(`probe failed (exit ${r.code}): ${r.stderr.trim().slice(0, 300)}`);
  const facts = parseProbeOutput(r.stdout);
  const nodeName = o.nodeName ?? nodeNameFromHostname(facts['hostname'] ?? t.host);
  const existing = await api.tryGet<Node>('Node', undefined, nodeName);
  const existingView = existing ? {
    name: nodeName, ready: nodeReady(existing),
    ...(nodeInternalIp(existing) !== undefined ? { internalIp: nodeInternalIp(existing)! } : {}),
    ...(existing.metadata.annotations?.[NODE_PASSWORD_ANNOTATION] ? { passwordSha256: existing.metadata.annotations[NODE_PASSWORD_ANNOTATION] } : {}),
  } : undefined;
  const checks: CheckResult[] = preflight(facts, { ...(existingView ? { existingNode: existingView } : {}), localNow, nodeName }, { sudo: o.ssh.sudo, installDeps: o.installDeps }, t.host);
  const myPassword = facts['node_password_sha256'];
  // The secret on the host is its identity: kept whenever present; a Node without it is taken over.
  const identity: HostPlan['identity'] = myPassword ? 'kept' : existing ? 'reclaimed' : 'new';
  const plan: HostPlan = {
    label: t.label, address: `${t.host}:${t.port}`, user: t.user, sudo: o.ssh.sudo, nodeName,
    nodeIp: facts['node_ip'] || t.host,
    arch: userlandArch(facts) ?? '', board: facts['board'] ?? '',
    service: facts['systemd'] === '1' ? 'systemd' : 'supervisor',
    installPackages: o.installDeps ? missingPackages(facts) : [],
    uploadBundle: facts['installed_sha256'] !== bundle.sha256,
    bundleBytes: bundle.bytes, bundleSha256: bundle.sha256, identity,
    serverUrl: nodeServerUrl(o.access, facts['ssh_client'] || o.access.host),
    checks,
  };
  return { facts, plan, existing };
}

/**
 * Installs or upgrades the agent and restarts it; returns the Node's resourceVersion while no agent
 * ran, and the credential the node now uses.
 */
async function installOnHost(session: SshSession, p: Probed, o: JoinOptions, api: ApiClient, bundle: AgentBundle, clock: PhaseClock): Promise<{ stoppedAt: string | undefined; token: string }> {
  const { plan, facts } = p;
  clock.enter('upload', plan.uploadBundle ? `${(bundle.bytes / 1024 / 1024).toFixed(1)} MiB` : 'bundle already current');
  if (plan.installPackages.length > 0) {
    await session.runOk('installing packages', 'DEBIAN_FRONTEND=noninteractive; export DEBIAN_FRONTEND; apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@"',
      { args: plan.installPackages, timeoutMs: 15 * 60_000 });
  }
  if (plan.uploadBundle) await session.upload(bundle.path, bundle.sha256, NODE_PATHS.bundle, '0755');

  clock.enter('start');
  const token = await o.access.nodeToken(plan.nodeName);
  const files = agentFiles({
    serverUrl: plan.serverUrl, token, caPem: o.access.caPem, nodeName: plan.nodeName, nodeIp: plan.nodeIp,
    nodeBinary: facts['node_path'] || '/usr/bin/node', service: plan.service, bundleSha256: bundle.sha256, network: o.network,
  });
  // The identity secret is created once and then kept: it is what makes a re-join the same node.
  if (!facts['node_password_sha256']) files.push({ path: NODE_PATHS.nodePassword, content: randomBytes(24).toString('hex'), mode: '0600' });
  await session.writeFiles(files);
  await session.runOk('stopping the running agent', agentStopCommand(plan.service), { timeoutMs: 60_000 });
  const stoppedAt = (await api.tryGet<Node>('Node', undefined, plan.nodeName))?.metadata.resourceVersion;
  await session.runOk('starting the agent', agentStartCommand(plan.service), { timeoutMs: 60_000 });
  // The new service no longer runs the bundle of its old name (the old one ran it until the restart).
  await session.runOk('removing the old agent bundle', `rm -f ${NODE_PATHS.legacyBundle}`, { timeoutMs: 30_000 });
  return { stoppedAt, token };
}

async function joinHost(t: JoinTarget, o: JoinOptions, api: ApiClient, bundle: AgentBundle): Promise<HostResult> {
  const t0 = performance.now();
  const clock = new PhaseClock(t.label, o.progress);
  const result: HostResult = { label: t.label, nodeName: '', arch: '', board: '', result: 'failed', phases: clock.phases, totalMs: 0 };
  let session: SshSession | undefined;
  try {
    clock.enter('connect', `${t.user}@${t.host}:${t.port}`);
    session = await SshSession.connect(t, o.ssh);
    clock.enter('preflight');
    const probed = await probeHost(session, t, o, api, bundle);
    Object.assign(result, { nodeName: probed.plan.nodeName, arch: probed.plan.arch, board: probed.plan.board });
    if (o.dryRun) {
      clock.stop();
      o.out(renderPlan(probed.plan));
      result.result = 'planned';
      return result;
    }
    if (hasFailure(probed.plan.checks)) {
      const failed = probed.plan.checks.filter((c) => c.status === 'fail');
      throw new Error(`preflight failed:\n${failed.map((c) => `  ${c.id}: ${c.detail}\n    fix: ${c.fix ?? ''}`).join('\n')}`);
    }
    const { stoppedAt, token } = await installOnHost(session, probed, o, api, bundle, clock);
    clock.enter('ready', `waiting for Node ${probed.plan.nodeName}`);
    await waitNodeReady(api, probed.plan.nodeName, stoppedAt, o.readyTimeoutMs);
    o.access.retireOldNodeTokens?.(probed.plan.nodeName, token);
    const password = (await session.runOk('reading the node identity', `cat ${NODE_PATHS.nodePassword}`)).trim();
    await api.patch('Node', undefined, probed.plan.nodeName, { metadata: { annotations: { [NODE_PASSWORD_ANNOTATION]: sha256(password) } } });
    clock.stop();
    result.result = probed.existing || probed.facts['installed_sha256'] ? 'upgraded' : 'joined';
    return result;
  } catch (err) {
    clock.stop();
    result.error = (err as Error).message;
    return result;
  } finally {
    session?.close();
    result.totalMs = Math.round(performance.now() - t0);
    o.progress.finished(result);
  }
}

/** Joins every target in parallel; resolves when all have finished (never rejects for one host). */
export async function joinHosts(o: JoinOptions): Promise<HostResult[]> {
  const api = apiClient(o.access);
  const bundle = await o.bundle();
  try {
    return await Promise.all(o.targets.map((t) => joinHost(t, o, api, bundle)));
  } finally {
    o.progress.close();
  }
}
