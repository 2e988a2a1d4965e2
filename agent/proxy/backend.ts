/**
 * Which iptables backend to program: nft or legacy. Both can be active in one network namespace and
 * then both rule sets apply, so corral must use the one the machine already uses and never mix them.
 *
 * Heuristic (kube-proxy's iptables-wrapper, plus one corral rule):
 *   1. a backend that already holds corral's chains wins (we installed there before);
 *   2. otherwise the backend with more rules (another component, e.g. a firewall or Docker, uses it);
 *   3. otherwise, with no rules anywhere, the default of the `iptables` command (`iptables --version`
 *      says "(nf_tables)" or "(legacy)").
 */
import { existsSync } from 'node:fs';
import { runCommand } from '../../api/run-command.js';
import { CHAIN_PREFIX } from './rules.js';

export type IptablesBackend = 'nft' | 'legacy';

export interface BackendBinaries {
  iptables: string;
  save: string;
  restore: string;
}

export interface DetectOptions {
  /** Command prefix to run inside another network namespace, e.g. ['nsenter', '--net=/run/netns/x']. */
  prefix?: readonly string[];
  timeoutMs?: number;
  signal?: AbortSignal;
}

const SBIN_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

function findBinary(name: string): string | undefined {
  for (const dir of SBIN_DIRS) {
    const p = `${dir}/${name}`;
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * The backend-specific binaries (iptables-nft-restore, ...). On systems that ship only one flavour
 * under the plain names, those are used once `iptables --version` confirms the flavour.
 */
export function backendBinaries(backend: IptablesBackend): BackendBinaries | undefined {
  const iptables = findBinary(`iptables-${backend}`);
  const save = findBinary(`iptables-${backend}-save`);
  const restore = findBinary(`iptables-${backend}-restore`);
  if (iptables && save && restore) return { iptables, save, restore };
  return undefined;
}

/** The flavour named by `iptables --version` ("iptables v1.8.9 (nf_tables)"); old versions print no flavour: legacy. */
export function parseIptablesVersion(text: string): IptablesBackend {
  return /nf_tables/.test(text) ? 'nft' : 'legacy';
}

/** Counts rules (`-A` lines) and corral chains in iptables-save output. */
export function summarizeSave(text: string): { rules: number; corralChains: number } {
  let rules = 0;
  let corralChains = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('-A ')) rules++;
    else if (line.startsWith(`:${CHAIN_PREFIX}`)) corralChains++;
  }
  return { rules, corralChains };
}

/** Chooses a backend from what each one holds; pure so the decision can be tested. */
export function chooseBackend(
  legacy: { rules: number; corralChains: number } | undefined,
  nft: { rules: number; corralChains: number } | undefined,
  commandDefault: IptablesBackend,
): IptablesBackend {
  if (nft && nft.corralChains > 0 && !(legacy && legacy.corralChains > 0)) return 'nft';
  if (legacy && legacy.corralChains > 0 && !(nft && nft.corralChains > 0)) return 'legacy';
  const l = legacy?.rules ?? 0;
  const n = nft?.rules ?? 0;
  if (l > n) return 'legacy';
  if (n > l) return 'nft';
  return commandDefault;
}

async function saveOf(backend: IptablesBackend, opts: DetectOptions): Promise<{ rules: number; corralChains: number } | undefined> {
  const bins = backendBinaries(backend);
  if (!bins) return undefined;
  const argv = [...(opts.prefix ?? []), bins.save];
  const r = await runCommand(argv[0]!, argv.slice(1), { timeoutMs: opts.timeoutMs ?? 10_000, signal: opts.signal });
  if (r.code !== 0) return undefined;
  return summarizeSave(r.stdout);
}

export async function detectIptablesBackend(opts: DetectOptions = {}): Promise<IptablesBackend> {
  const [legacy, nft] = await Promise.all([saveOf('legacy', opts), saveOf('nft', opts)]);
  let commandDefault: IptablesBackend = nft ? 'nft' : 'legacy';
  const plain = findBinary('iptables');
  if (plain) {
    const r = await runCommand(plain, ['--version'], { timeoutMs: opts.timeoutMs ?? 10_000, ...(opts.signal ? { signal: opts.signal } : {}) });
    if (r.code === 0) commandDefault = parseIptablesVersion(r.stdout);
  }
  if (!legacy && !nft && !plain) throw new Error('no iptables binaries found (install the iptables package)');
  return chooseBackend(legacy, nft, commandDefault);
}
