/**
 * What `corral join` will do on each host, decided from the probe and the preflight before anything
 * changes: the same plan drives the real run and `--dry-run`'s printout.
 */
import type { CheckResult } from './preflight.js';
import { NODE_PATHS } from './probe.js';

export interface HostPlan {
  label: string;
  /** Address and port sshd answered on. */
  address: string;
  user: string;
  sudo: boolean;
  nodeName: string;
  nodeIp: string;
  arch: string;
  board: string;
  service: 'systemd' | 'supervisor';
  /** Debian packages to install first (`--install-deps`). */
  installPackages: string[];
  /** false when the host already runs this exact bundle (re-join: nothing to upload). */
  uploadBundle: boolean;
  bundleBytes: number;
  bundleSha256: string;
  /** An existing node identity is kept (re-join) or a stale Node of this name is taken over. */
  identity: 'new' | 'kept' | 'reclaimed';
  serverUrl: string;
  checks: CheckResult[];
}

const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/** The ordered steps of a plan, as sentences. */
export function planSteps(p: HostPlan): string[] {
  const steps: string[] = [];
  if (p.installPackages.length > 0) steps.push(`apt-get install ${p.installPackages.join(' ')}`);
  steps.push(p.uploadBundle
    ? `upload the agent bundle (${mib(p.bundleBytes)}, sha256 ${p.bundleSha256.slice(0, 12)}…) to ${NODE_PATHS.bundle} over SFTP, verify its checksum`
    : `keep ${NODE_PATHS.bundle} (already this version, sha256 ${p.bundleSha256.slice(0, 12)}…)`);
  steps.push(`write ${NODE_PATHS.config}, ${NODE_PATHS.caFile} and the node token ${NODE_PATHS.token} (0600)`);
  steps.push(p.identity === 'new' ? `create the node identity ${NODE_PATHS.nodePassword} (0600)`
    : p.identity === 'kept' ? `keep the node identity ${NODE_PATHS.nodePassword}` : `create a new node identity and take over the stale Node ${p.nodeName}`);
  steps.push(p.service === 'systemd' ? 'install the systemd unit corral-agent.service and (re)start it'
    : 'install the supervised service /usr/local/lib/corral/corral-agent.service.sh (pid file, restart) and (re)start it');
  steps.push(`wait until Node ${p.nodeName} (${p.nodeIp}) is Ready on ${p.serverUrl}`);
  return steps;
}

const MARK: Record<CheckResult['status'], string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };

export function renderChecks(checks: readonly CheckResult[]): string {
  return checks.map((c) => `  [${MARK[c.status]}] ${c.id.padEnd(16)} ${c.detail}${c.fix ? `\n         fix: ${c.fix}` : ''}`).join('\n');
}

/** The `--dry-run` printout for one host. */
export function renderPlan(p: HostPlan): string {
  const head = `${p.label} (${p.user}@${p.address}${p.sudo ? ', sudo' : ''}): node ${p.nodeName}, ${p.arch}${p.board ? `, ${p.board}` : ''}`;
  const failed = p.checks.some((c) => c.status === 'fail');
  const body = failed
    ? '  would stop here: preflight failed'
    : planSteps(p).map((s, i) => `  ${i + 1}. ${s}`).join('\n');
  return `${head}\n preflight:\n${renderChecks(p.checks)}\n plan:\n${body}\n`;
}
