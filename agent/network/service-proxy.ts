/**
 * kube-proxy of the node: watches Services and Endpoints, renders corral's nat chains (agent/proxy)
 * and applies them with the backend the machine uses — a full restore the first time, then only the
 * chains of services that changed. Changes are batched for a moment so a burst of endpoint updates
 * (a rollout) costs one iptables-restore. Also serves the Service list for pod environment variables.
 */
import type { ApiClient } from '../../api/client/client.js';
import { log } from '../../api/log.js';
import type { KubeObject } from '../../api/meta.js';
import type { Endpoints, Service } from '../../api/types.js';
import { buildNatRuleSet, detectIptablesBackend, IptablesApplier, type SyncResult } from '../proxy/index.js';

export interface ServiceProxyOptions {
  client: ApiClient;
  clusterCidr: string;
  signal: AbortSignal;
  /** Node-local DNS: the cluster DNS IP and this node's resolver (`ip:port`). */
  nodeLocalDns?: { clusterIP: string; target: string } | undefined;
  /** Milliseconds to gather changes before a sync (default 100). */
  batchMs?: number;
}

function key(o: KubeObject): string {
  return `${o.metadata.namespace ?? 'default'}/${o.metadata.name ?? ''}`;
}

export class ServiceProxy {
  private readonly services = new Map<string, Service>();
  private readonly endpoints = new Map<string, Endpoints>();
  private applier: IptablesApplier | undefined;
  private podCidr: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private dirty = false;
  private servicesSynced = false;
  private endpointsSynced = false;
  /** The last sync's figures (tests and the benchmark read them). */
  lastSync: SyncResult | undefined;
  syncCount = 0;

  constructor(private readonly o: ServiceProxyOptions) {}

  /** Services of one namespace (for the `{SVC}_SERVICE_HOST` variables). */
  servicesIn(namespace: string): Service[] {
    return [...this.services.values()].filter((s) => (s.metadata.namespace ?? 'default') === namespace);
  }

  async start(): Promise<void> {
    const backend = await detectIptablesBackend({ signal: this.o.signal });
    this.applier = new IptablesApplier({ backend });
    await this.applier.verifyBinaries(this.o.signal).catch((err: unknown) => log.warn('proxy', 'iptables binaries look inconsistent', { error: (err as Error).message }));
    log.info('proxy', 'using the iptables backend', { backend });
    void this.watch<Service>('Service', this.services, () => { this.servicesSynced = true; });
    void this.watch<Endpoints>('Endpoints', this.endpoints, () => { this.endpointsSynced = true; });
  }

  /** The node's pod CIDR (known once the server assigned it); rules wait for it. */
  setPodCidr(cidr: string): void {
    if (this.podCidr === cidr) return;
    this.podCidr = cidr;
    this.applier?.invalidate();
    this.schedule();
  }

  /** Uninstall: removes every corral chain and jump. */
  async removeAll(): Promise<void> {
    await this.applier?.removeAll();
  }

  private async watch<T extends KubeObject>(kind: string, into: Map<string, T>, onSynced: () => void): Promise<void> {
    try {
      for await (const ev of this.o.client.watch<T>(kind, undefined, { signal: this.o.signal })) {
        if (ev.type === 'RESYNC') {
          into.clear();
          for (const item of ev.items) into.set(key(item), item);
          onSynced();
        } else if (ev.type === 'DELETED') into.delete(key(ev.object));
        else into.set(key(ev.object), ev.object);
        this.schedule();
      }
    } catch (err) {
      if (!this.o.signal.aborted) log.error('proxy', `${kind} watch ended`, { error: (err as Error).message });
    }
  }

  private schedule(): void {
    this.dirty = true;
    if (this.timer || this.o.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.syncNow();
    }, this.o.batchMs ?? 100);
  }

  /** Applies the current state now (waits for a sync in progress first). */
  async syncNow(): Promise<void> {
    while (this.syncing) await this.syncing;
    if (!this.dirty || !this.applier || !this.podCidr || !this.servicesSynced || !this.endpointsSynced) return;
    this.dirty = false;
    const buildStarted = performance.now();
    const set = buildNatRuleSet({
      services: [...this.services.values()],
      endpoints: [...this.endpoints.values()],
      nodeIPs: [],
      podCIDR: this.podCidr,
      clusterCIDR: this.o.clusterCidr,
      nodeLocalDns: this.o.nodeLocalDns,
    });
    const buildMs = performance.now() - buildStarted;
    this.syncing = (async () => {
      try {
        const t0 = performance.now();
        this.lastSync = await this.applier!.sync(set, this.o.signal);
        this.syncCount++;
        if (this.lastSync.mode !== 'none') log.debug('proxy', 'iptables synced', { ...this.lastSync, buildMs: Math.round(buildMs), totalMs: Math.round(performance.now() - t0 + buildMs), services: this.services.size });
      } catch (err) {
        if (this.o.signal.aborted) return;
        log.warn('proxy', 'iptables sync failed, retrying', { error: (err as Error).message });
        this.applier!.distrust();
        setTimeout(() => this.schedule(), 1_000).unref();
      }
    })().finally(() => { this.syncing = undefined; });
    await this.syncing;
  }
}
