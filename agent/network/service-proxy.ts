/**
 * kube-proxy of the node, on the controller kit: shared informers of Services and EndpointSlices whose
 * handlers only enqueue the one key of this loop (after a short batch delay, so a burst of endpoint
 * updates in a rollout costs one iptables-restore). `reconcile` is level-triggered: it renders corral's
 * nat chains (agent/proxy) from the informer caches and applies them with the machine's backend — a
 * full restore the first time, then only the chains of services that changed. A failed apply is
 * retried with the queue's back-off. Also serves the Service list for pod environment variables.
 */
import { log } from '../../api/log.js';
import { Controller } from '../../api/machinery/controller.js';
import type { Informer, InformerFactory } from '../../api/machinery/informer.js';
import { ItemExponentialRateLimiter } from '../../api/machinery/rate-limiter.js';
import type { EndpointSlice, Service } from '../../api/types.js';
import { buildNatRuleSet, detectIptablesBackend, IptablesApplier, type SyncResult } from '../proxy/index.js';
import { sysctl } from './ip.js';
import { healthCheckTargets, ServiceHealthServers } from './service-health.js';

export interface ServiceProxyOptions {
  informers: InformerFactory;
  clusterCidr: string;
  /** This node: the Local traffic policies keep to its endpoints. */
  nodeName: string;
  /** This node's address (load-balancer source ranges containing it let the node reach its VIPs). */
  nodeIP?: string | undefined;
  signal: AbortSignal;
  /** Node-local DNS: the cluster DNS IP and this node's resolver (`ip:port`). */
  nodeLocalDns?: { clusterIP: string; target: string } | undefined;
  /** Milliseconds to gather changes before a sync (default 100). */
  batchMs?: number;
  /** Each rule sync that ran, with its duration (kube-proxy's sync_proxy_rules metric). */
  onSync?: (seconds: number) => void;
}

/** The single key of the proxy's queue: the whole rule set is one level-triggered state. */
const RULES = 'nat-rules';

export class ServiceProxy {
  private readonly services: Informer<Service>;
  private readonly slices: Informer<EndpointSlice>;
  private readonly controller: Controller;
  private applier: IptablesApplier | undefined;
  private podCidr: string | undefined;
  /** The health-check node ports of LoadBalancer Services with the Local policy. */
  readonly health = new ServiceHealthServers();
  /** The last sync's figures (tests and the benchmark read them). */
  lastSync: SyncResult | undefined;
  syncCount = 0;

  constructor(private readonly o: ServiceProxyOptions) {
    this.services = o.informers.forKind<Service>('Service');
    this.slices = o.informers.forKind<EndpointSlice>('EndpointSlice');
    // A failed iptables apply comes back after 1 s, doubling to 30 s.
    this.controller = new Controller({ name: 'service-proxy', rateLimiter: new ItemExponentialRateLimiter({ initialMs: 1_000, maxMs: 30_000 }), reconcile: () => this.reconcile() });
  }

  /** Services of one namespace (for the `{SVC}_SERVICE_HOST` variables). */
  servicesIn(namespace: string): Service[] {
    return this.services.list().filter((s) => (s.metadata.namespace ?? 'default') === namespace);
  }

  async start(): Promise<void> {
    const backend = await detectIptablesBackend({ signal: this.o.signal });
    this.applier = new IptablesApplier({ backend });
    await this.applier.verifyBinaries(this.o.signal).catch((err: unknown) => log.warn('proxy', 'iptables binaries look inconsistent', { error: (err as Error).message }));
    log.info('proxy', 'using the iptables backend', { backend });
    // Node ports answer on 127.0.0.1 too (kube-proxy's default): a DNATed packet keeps its loopback
    // source on its way to a pod. The applier's localnet guard closes what this opens to the LAN.
    for (const p of await sysctl({ 'net.ipv4.conf.all.route_localnet': '1' }, ['net.ipv4.conf.all.route_localnet'])) {
      log.warn('proxy', 'node ports will not answer on 127.0.0.1', { error: p });
    }
    const changed = (): void => this.schedule();
    for (const inf of [this.services, this.slices] as Informer[]) inf.addHandlers({ onAdd: changed, onUpdate: changed, onDelete: changed });
    this.o.signal.addEventListener('abort', () => this.health.close(), { once: true });
    void this.controller.run(this.o.signal);
    void Promise.all([this.services.waitForSync(), this.slices.waitForSync()]).then(changed);
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

  private schedule(): void {
    this.controller.queue.addAfter(RULES, this.o.batchMs ?? 100);
  }

  /** Applies what the caches hold now (a no-op until the backend, the pod CIDR and both caches are there). */
  private async reconcile(): Promise<void> {
    if (!this.services.hasSynced() || !this.slices.hasSynced()) return;
    this.health.sync(healthCheckTargets(this.services.list(), this.slices.list(), this.o.nodeName));
    if (!this.applier || !this.podCidr) return;
    const buildStarted = performance.now();
    const set = buildNatRuleSet({
      services: this.services.list(),
      endpointSlices: this.slices.list(),
      nodeName: this.o.nodeName,
      nodeIP: this.o.nodeIP,
      nodeIPs: [],
      podCIDR: this.podCidr,
      clusterCIDR: this.o.clusterCidr,
      nodeLocalDns: this.o.nodeLocalDns,
    });
    const buildMs = performance.now() - buildStarted;
    const t0 = performance.now();
    try {
      this.lastSync = await this.applier.sync(set, this.o.signal);
    } catch (err) {
      // What is installed is unknown now: the retry reads it back (iptables-save) before applying.
      this.applier.distrust();
      throw new Error(`iptables sync failed: ${(err as Error).message}`, { cause: err });
    }
    this.syncCount++;
    this.o.onSync?.((performance.now() - buildStarted) / 1000);
    if (this.lastSync.mode !== 'none') log.debug('proxy', 'iptables synced', { ...this.lastSync, buildMs: Math.round(buildMs), totalMs: Math.round(performance.now() - t0 + buildMs), services: this.services.list().length });
  }
}
