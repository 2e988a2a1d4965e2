/**
 * Applies corral's nat rule set with `iptables-restore --noflush` through ONE backend's binaries.
 * --noflush keeps every rule corral does not own; only chains named CORRAL-* are declared (flushed),
 * written or deleted, and the three jumps from built-in chains are added with check-then-insert so
 * they are never duplicated. The first sync (and any sync after a failure) is a full one that also
 * deletes stale CORRAL-* chains found in the kernel; later syncs send only what changed.
 */
import { runCommand, type RunResult } from '../../api/run-command.js';
import { backendBinaries, parseIptablesVersion, type BackendBinaries, type IptablesBackend } from './backend.js';
import { CHAIN_FIREWALL, CHAIN_POSTROUTING, CHAIN_PREFIX, CHAIN_PROXY_FIREWALL, CHAIN_SERVICES, parseInstalledNat, renderLocalnetGuard, renderNatRuleSet, renderProxyFirewall, renderRestartSync, renderServiceDelta, type NatRuleSet } from './rules.js';

export interface IptablesApplierOptions {
  backend: IptablesBackend;
  /** Command prefix to act inside another network namespace, e.g. ['nsenter', '--net=/run/netns/x']. */
  prefix?: readonly string[];
  /** Per-command time limit (default 30 s: a full restore of thousands of chains on a Pi is slow). */
  timeoutMs?: number;
  /** Overrides the binaries (tests, unusual installs). */
  binaries?: BackendBinaries;
}

export interface SyncResult {
  mode: 'full' | 'delta' | 'none';
  /** Wall time of the iptables-restore call(s), ms. */
  ms: number;
  /** Bytes of restore text sent. */
  bytes: number;
  /** Full syncs: time to read the existing chains (iptables-save) and to check/add the jumps, ms. */
  saveMs?: number;
  jumpsMs?: number;
  /** Full syncs that found corral's chains in place: services rewritten (the others were already right). */
  rewrittenServices?: number;
}

/** The jumps from built-in chains into corral's chains, as iptables argv (after -t TABLE -X CHAIN). */
export const JUMP_RULES: readonly { table: 'nat' | 'filter'; chain: string; spec: string[] }[] = [
  { table: 'nat', chain: 'PREROUTING', spec: ['-m', 'comment', '--comment', 'corral service portals', '-j', CHAIN_SERVICES] },
  { table: 'nat', chain: 'OUTPUT', spec: ['-m', 'comment', '--comment', 'corral service portals', '-j', CHAIN_SERVICES] },
  { table: 'nat', chain: 'POSTROUTING', spec: ['-m', 'comment', '--comment', 'corral postrouting rules', '-j', CHAIN_POSTROUTING] },
  { table: 'filter', chain: 'INPUT', spec: ['-m', 'comment', '--comment', 'corral localnet guard', '-j', CHAIN_FIREWALL] },
  ...(['INPUT', 'FORWARD', 'OUTPUT'] as const).map((chain) => ({
    table: 'filter' as const, chain, spec: ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'corral load balancer source ranges', '-j', CHAIN_PROXY_FIREWALL],
  })),
];

export class IptablesError extends Error {
  override readonly name = 'IptablesError';
  constructor(message: string, readonly stderr: string) {
    super(message);
  }
}

export class IptablesApplier {
  readonly backend: IptablesBackend;
  private readonly prefix: readonly string[];
  private readonly timeoutMs: number;
  readonly binaries: BackendBinaries;
  /** What is in the kernel now, as far as we know; undefined forces the next sync to be full. */
  private installed: NatRuleSet | undefined;
  /**
   * Whether a full sync may keep the services whose chains it finds intact (content hash): true for
   * the first sync of a (re)started agent, false after a failed restore (the kernel is not what we
   * thought: rewrite everything once).
   */
  private trustKernel = true;
  /** The CORRAL-PROXY-FIREWALL text last written (filter table), so a sync rewrites it only when it changed. */
  private installedFilter: string | undefined;

  constructor(opts: IptablesApplierOptions) {
    this.backend = opts.backend;
    this.prefix = opts.prefix ?? [];
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    const bins = opts.binaries ?? backendBinaries(opts.backend);
    if (!bins) throw new IptablesError(`no iptables-${opts.backend}, iptables-${opts.backend}-save and iptables-${opts.backend}-restore binaries found`, '');
    this.binaries = bins;
  }

  /** Makes sure the plain `iptables` would not be a different backend than ours (never mix them). */
  async verifyBinaries(signal?: AbortSignal): Promise<void> {
    const r = await this.run(this.binaries.iptables, ['--version'], undefined, signal);
    if (r.code !== 0 || parseIptablesVersion(r.stdout) !== this.backend) {
      throw new IptablesError(`${this.binaries.iptables} is not the ${this.backend} backend: ${r.stdout.trim()}`, r.stderr);
    }
  }

  /** Full sync the first time and after failures; a delta of changed services otherwise. */
  async sync(set: NatRuleSet, signal?: AbortSignal): Promise<SyncResult> {
    if (this.installed === undefined) return this.applyFull(set, signal);
    const delta = renderServiceDelta(this.installed, set);
    if (delta === undefined) {
      await this.syncProxyFirewall(set, signal);
      return { mode: 'none', ms: 0, bytes: 0 };
    }
    const started = performance.now();
    try {
      await this.restore(delta, signal);
    } catch (err) {
      // Someone removed or changed our chains under us: rebuild from scratch.
      this.installed = undefined;
      this.trustKernel = false;
      if (signal?.aborted) throw err;
      return this.applyFull(set, signal);
    }
    this.installed = set;
    await this.syncProxyFirewall(set, signal);
    return { mode: 'delta', ms: performance.now() - started, bytes: Buffer.byteLength(delta) };
  }

  /**
   * Writes the whole rule set, deleting CORRAL-* chains that are no longer wanted, then the jumps.
   * When corral's chains are already there (agent restart) and the kernel is trusted, services whose
   * chains carry the right content hash are left as they are (renderRestartSync).
   */
  async applyFull(set: NatRuleSet, signal?: AbortSignal): Promise<SyncResult> {
    this.installed = undefined;
    const t0 = performance.now();
    const installed = parseInstalledNat(await this.save(signal));
    const saveMs = performance.now() - t0;
    let text: string;
    let rewrittenServices: number | undefined;
    if (this.trustKernel && installed.chains.size > 0) {
      const r = renderRestartSync(set, installed);
      text = r.text;
      rewrittenServices = r.rewritten;
    } else {
      text = renderNatRuleSet(set, { existingChains: [...installed.chains] });
    }
    const started = performance.now();
    try {
      await this.restore(text, signal);
    } catch (err) {
      this.trustKernel = false;
      throw err;
    }
    const ms = performance.now() - started;
    const t1 = performance.now();
    await this.restore(renderLocalnetGuard(), signal);
    this.installedFilter = undefined;
    await this.syncProxyFirewall(set, signal);
    await this.ensureJumps(signal);
    this.installed = set;
    this.trustKernel = true;
    return { mode: 'full', ms, bytes: Buffer.byteLength(text), saveMs, jumpsMs: performance.now() - t1, ...(rewrittenServices !== undefined ? { rewrittenServices } : {}) };
  }

  /** Rewrites the filter table's CORRAL-PROXY-FIREWALL when its rules changed. */
  private async syncProxyFirewall(set: NatRuleSet, signal?: AbortSignal): Promise<void> {
    const text = renderProxyFirewall(set);
    if (text === this.installedFilter) return;
    this.installedFilter = undefined;
    await this.restore(text, signal);
    this.installedFilter = text;
  }

  /** Adds each jump from a built-in chain unless `iptables -C` finds it already there. */
  async ensureJumps(signal?: AbortSignal): Promise<void> {
    for (const { table, chain, spec } of JUMP_RULES) {
      const check = await this.run(this.binaries.iptables, ['-w', '5', '-t', table, '-C', chain, ...spec], undefined, signal);
      if (check.code === 0) continue;
      const insert = await this.run(this.binaries.iptables, ['-w', '5', '-t', table, '-I', chain, '1', ...spec], undefined, signal);
      if (insert.code !== 0) throw new IptablesError(`cannot add the jump from ${table} ${chain}: ${insert.stderr.trim()}`, insert.stderr);
    }
  }

  /** Names of the CORRAL-* chains in the nat table now. */
  async listChains(signal?: AbortSignal): Promise<string[]> {
    const text = await this.save(signal);
    return text.split('\n').filter((l) => l.startsWith(`:${CHAIN_PREFIX}`)).map((l) => l.slice(1).split(' ')[0]!);
  }

  /** `iptables-save -t nat` of our backend. */
  async save(signal?: AbortSignal): Promise<string> {
    const r = await this.run(this.binaries.save, ['-t', 'nat'], undefined, signal);
    if (r.code !== 0) throw new IptablesError(`iptables-save failed: ${r.stderr.trim()}`, r.stderr);
    return r.stdout;
  }

  /** Uninstall: removes the jumps and every CORRAL-* chain, nothing else. */
  async removeAll(signal?: AbortSignal): Promise<void> {
    for (const { table, chain, spec } of JUMP_RULES) {
      for (let i = 0; i < 10; i++) {
        const check = await this.run(this.binaries.iptables, ['-w', '5', '-t', table, '-C', chain, ...spec], undefined, signal);
        if (check.code !== 0) break;
        const del = await this.run(this.binaries.iptables, ['-w', '5', '-t', table, '-D', chain, ...spec], undefined, signal);
        if (del.code !== 0) throw new IptablesError(`cannot remove the jump from ${table} ${chain}: ${del.stderr.trim()}`, del.stderr);
      }
    }
    // Declaring the chain in the same transaction makes its deletion safe when it is already gone.
    const filterChains = [CHAIN_FIREWALL, CHAIN_PROXY_FIREWALL];
    await this.restore(['*filter', ...filterChains.map((c) => `:${c} - [0:0]`), ...filterChains.map((c) => `-X ${c}`), 'COMMIT', ''].join('\n'), signal);
    this.installedFilter = undefined;
    const chains = await this.listChains(signal);
    if (chains.length > 0) {
      const text = ['*nat', ...chains.map((c) => `:${c} - [0:0]`), ...chains.map((c) => `-X ${c}`), 'COMMIT', ''].join('\n');
      await this.restore(text, signal);
    }
    this.installed = undefined;
  }

  /** Forgets what is installed, so the next sync is a full one. */
  invalidate(): void {
    this.installed = undefined;
  }

  /** Like invalidate, after something went wrong: the next full sync rewrites every chain. */
  distrust(): void {
    this.installed = undefined;
    this.trustKernel = false;
  }

  private async restore(text: string, signal?: AbortSignal): Promise<void> {
    const r = await this.run(this.binaries.restore, ['-w', '5', '--noflush'], text, signal);
    if (r.aborted) throw new IptablesError('iptables-restore aborted', '');
    if (r.timedOut) throw new IptablesError(`iptables-restore timed out after ${this.timeoutMs} ms`, r.stderr);
    if (r.code !== 0) throw new IptablesError(`iptables-restore failed: ${r.stderr.trim()}`, r.stderr);
  }

  private run(file: string, args: string[], input: string | undefined, signal: AbortSignal | undefined): Promise<RunResult> {
    const argv = [...this.prefix, file, ...args];
    return runCommand(argv[0]!, argv.slice(1), { timeoutMs: this.timeoutMs, signal, input });
  }
}
