/**
 * Announces LoadBalancer pool addresses on the LAN from exactly one healthy node per address (what
 * MetalLB's layer-2 mode does), chosen through a coordination.k8s.io Lease per address in kube-system
 * (`corral-lb-<address>`). On the controller kit: Service, Node, EndpointSlice and Lease informers only
 * enqueue addresses; `reconcile(address)` is level-triggered:
 *
 * - not wanted any more, or this node not eligible → drop the address, release the Lease if held;
 * - held by this node → renew (every third of the lease), keep the address with a lifetime of one lease
 *   (so the kernel drops it if this agent dies), and once it cannot renew for a whole lease, drop it;
 * - held by another node whose record changed less than a lease ago (by this node's clock, as client-go's
 *   leader election judges it: no clock skew) → make sure the address is not here, look again at expiry;
 * - free or expired → take it (create/update with the resourceVersion read: one node wins a race), add
 *   the address, send gratuitous ARP, record an event on the Service.
 *
 * Eligible: the node carries LoadBalancer traffic (Ready, not opted out, see loadBalancerNodeFilter),
 * its proxy rules are in place, and for `externalTrafficPolicy: Local` it has a ready local endpoint.
 * Addresses that are node InternalIPs (the no-pool default) are never announced: they are the nodes' own.
 * Eligible nodes wait their turn (a stable order per address) before taking a free address, so the
 * addresses of several Services spread over the nodes.
 */
import { createHash } from 'node:crypto';
import type { ApiClient } from '../../api/client/client.js';
import { loadBalancerIngressIPs, loadBalancerNodeFilter, servedByCorral } from '../../api/load-balancer.js';
import { log } from '../../api/log.js';
import { Controller } from '../../api/machinery/controller.js';
import type { EventRecorder } from '../../api/machinery/events.js';
import type { Informer, InformerFactory } from '../../api/machinery/informer.js';
import { ItemExponentialRateLimiter } from '../../api/machinery/rate-limiter.js';
import { microTime } from '../../api/meta.js';
import { LB_LEASE_LABEL, LB_LEASE_NAMESPACE, lbLeaseName } from '../../api/node-identity.js';
import type { EndpointSlice, Lease, Node, Service } from '../../api/types.js';
import { backendsFor, SERVICE_NAME_LABEL } from '../proxy/rules.js';
import { dropAddress, holdAddress, interfaceWithAddress, listLbAddresses, sendGratuitousArp, setArpSysctls } from './lb-address.js';

export interface LbAnnouncerOptions {
  client: ApiClient;
  informers: InformerFactory;
  events: EventRecorder;
  nodeName: string;
  nodeIp: string;
  /** Lease duration: how long a dead holder keeps an address before another node takes it over. */
  leaseSeconds: number;
  /** True once this node's service rules are installed (before that, traffic would go nowhere). */
  proxyReady: () => boolean;
  signal: AbortSignal;
}

/** How long each eligible node in the order waits after its predecessor before taking a free address. */
const TURN_MS = 300;

interface Observed { resourceVersion: string; atMs: number }

/** One address this node holds. */
interface Held { lastRenewMs: number }

export class LbAnnouncer {
  private readonly services: Informer<Service>;
  private readonly nodes: Informer<Node>;
  private readonly slices: Informer<EndpointSlice>;
  private readonly leases: Informer<Lease>;
  private readonly controller: Controller;
  private iface: string | undefined;
  /** When this node saw each Lease's record change (its own clock). */
  private readonly observed = new Map<string, Observed>();
  /** Addresses this node holds, with their last successful renewal. */
  readonly held = new Map<string, Held>();
  /** When each wanted address was first seen without a Lease (the wait for a turn starts then). */
  private readonly firstSeen = new Map<string, number>();
  /** Addresses wanted at the last look, so a removed one is reconciled once more (and dropped). */
  private known = new Set<string>();
  /** Addresses that may be on the interface (held, or found at start): only those are ever deleted. */
  private readonly maybeLocal = new Set<string>();
  /** Takeovers, for tests and the benchmark. */
  takeovers = 0;

  constructor(private readonly o: LbAnnouncerOptions) {
    this.services = o.informers.forKind<Service>('Service');
    this.nodes = o.informers.forKind<Node>('Node');
    this.slices = o.informers.forKind<EndpointSlice>('EndpointSlice');
    this.leases = o.informers.forKind<Lease>('Lease', { namespace: LB_LEASE_NAMESPACE, labelSelector: LB_LEASE_LABEL });
    // A failed write is retried quickly: the lease is short.
    this.controller = new Controller({ name: 'lb-announcer', rateLimiter: new ItemExponentialRateLimiter({ initialMs: 200, maxMs: 2_000 }), reconcile: (ip) => this.reconcile(ip) });
  }

  private get renewMs(): number {
    return Math.max(500, (this.o.leaseSeconds * 1000) / 3);
  }

  async start(): Promise<void> {
    const iface = await interfaceWithAddress(this.o.nodeIp);
    // A node on loopback (a single-machine test setup) has no LAN to announce on.
    if (iface === 'lo') {
      log.info('lb', 'the node IP is on loopback: LoadBalancer pool addresses are not announced from this node', { nodeIP: this.o.nodeIp });
      return;
    }
    this.iface = iface;
    for (const p of await setArpSysctls(this.iface)) log.warn('lb', 'cannot restrict ARP answers to the interface\'s own addresses', { error: p });
    // Addresses a previous run left: reconciled like any other (kept if still held, else dropped).
    for (const ip of await listLbAddresses(this.iface)) {
      this.maybeLocal.add(ip);
      this.controller.enqueue(ip);
    }
    const all = (): void => this.enqueueAll();
    this.services.addHandlers({ onAdd: all, onUpdate: all, onDelete: all });
    this.nodes.addHandlers({ onAdd: all, onUpdate: all, onDelete: all });
    this.slices.addHandlers({ onAdd: all, onUpdate: all, onDelete: all });
    const lease = (l: Lease): void => {
      const ip = l.metadata.labels?.[LB_LEASE_LABEL];
      if (ip) this.controller.enqueue(ip);
    };
    this.leases.addHandlers({ onAdd: lease, onUpdate: (_o, n) => lease(n), onDelete: lease });
    void this.controller.run(this.o.signal);
    void Promise.all([this.services.waitForSync(), this.nodes.waitForSync(), this.slices.waitForSync(), this.leases.waitForSync()]).then(all);
  }

  /** Re-checks every address (called when the proxy became ready too). */
  enqueueAll(): void {
    const wanted = new Set(this.wantedAddresses().keys());
    for (const ip of new Set([...wanted, ...this.known, ...this.held.keys()])) this.controller.enqueue(ip);
    this.known = wanted;
  }

  /** Pool addresses in use → the Services using them. Node InternalIPs (the no-pool default) are left out. */
  private wantedAddresses(): Map<string, Service[]> {
    const nodeIps = new Set(this.nodes.list().flatMap((n) => (n.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address)));
    const out = new Map<string, Service[]>();
    for (const svc of this.services.list()) {
      if (!servedByCorral(svc)) continue;
      for (const ip of loadBalancerIngressIPs(svc)) {
        if (nodeIps.has(ip)) continue;
        out.set(ip, [...(out.get(ip) ?? []), svc]);
      }
    }
    return out;
  }

  /** Nodes that may carry traffic for these Services (this one included or not), sorted. */
  private eligibleNodes(services: readonly Service[]): string[] {
    const nodes = this.nodes.list();
    const carries = loadBalancerNodeFilter(nodes);
    return nodes.filter(carries).map((n) => n.metadata.name ?? '').filter((name) => services.every((svc) => this.servesLocally(svc, name))).sort();
  }

  /** With the Local policy only nodes with a ready endpoint of the Service may announce it. */
  private servesLocally(svc: Service, node: string): boolean {
    if (svc.spec.externalTrafficPolicy !== 'Local') return true;
    const namespace = svc.metadata.namespace ?? 'default';
    const slices = this.slices.list().filter((s) => (s.metadata.namespace ?? 'default') === namespace && s.metadata.labels?.[SERVICE_NAME_LABEL] === svc.metadata.name);
    return (svc.spec.ports ?? []).some((p) => backendsFor(slices, p).some((b) => b.nodeName === node));
  }

  /** This node's place in the address's order of eligible nodes (a hash, so addresses spread). */
  private turnOf(ip: string, eligible: readonly string[]): number {
    const rank = (name: string): string => createHash('sha256').update(`${ip}/${name}`).digest('hex');
    return [...eligible].sort((a, b) => (rank(a) < rank(b) ? -1 : 1)).indexOf(this.o.nodeName);
  }

  private async reconcile(ip: string): Promise<{ requeueAfterMs: number } | void> {
    const iface = this.iface;
    if (!iface || !this.services.hasSynced() || !this.nodes.hasSynced() || !this.leases.hasSynced()) return { requeueAfterMs: 500 };
    const now = Date.now();
    const services = this.wantedAddresses().get(ip);
    const lease = this.leases.get(`${LB_LEASE_NAMESPACE}/${lbLeaseName(ip)}`);
    if (lease) {
      const rv = lease.metadata.resourceVersion ?? '';
      if (this.observed.get(ip)?.resourceVersion !== rv) this.observed.set(ip, { resourceVersion: rv, atMs: now });
    } else {
      this.observed.delete(ip);
    }
    const holder = lease?.spec?.holderIdentity ?? '';
    const eligible = services ? this.eligibleNodes(services) : [];
    // Until this node's service rules are in place it neither takes nor gives up an address (after an
    // agent restart the address it held keeps working; its lifetime runs out if the wait is long).
    if (services !== undefined && !this.o.proxyReady()) return { requeueAfterMs: 500 };
    const mayAnnounce = services !== undefined && eligible.includes(this.o.nodeName);

    if (!mayAnnounce) {
      this.firstSeen.delete(ip);
      await this.release(iface, ip, lease);
      return;
    }
    if (holder === this.o.nodeName && this.held.has(ip)) return this.renew(iface, ip, lease!);

    const durationMs = (lease?.spec?.leaseDurationSeconds ?? this.o.leaseSeconds) * 1000;
    const seen = this.observed.get(ip);
    if (holder !== '' && holder !== this.o.nodeName && seen && now - seen.atMs < durationMs) {
      // Another node holds it: this one must not answer for it.
      await this.dropLocal(iface, ip);
      return { requeueAfterMs: seen.atMs + durationMs - now + 50 };
    }
    // Free, expired, or held by this node in an earlier run: take it when it is this node's turn.
    const freeSince = holder === '' || holder === this.o.nodeName ? (seen?.atMs ?? this.firstSeenAt(ip, now)) : seen!.atMs + durationMs;
    const wait = (holder === this.o.nodeName ? 0 : this.turnOf(ip, eligible) * TURN_MS) - (now - freeSince);
    if (wait > 0) return { requeueAfterMs: wait };
    return this.acquire(iface, ip, lease, services[0]!);
  }

  private firstSeenAt(ip: string, now: number): number {
    const at = this.firstSeen.get(ip) ?? now;
    this.firstSeen.set(ip, at);
    return at;
  }

  private leaseSpec(previous: Lease | undefined, now: Date): NonNullable<Lease['spec']> {
    const before = previous?.spec ?? {};
    const transition = before.holderIdentity !== this.o.nodeName;
    return {
      holderIdentity: this.o.nodeName,
      leaseDurationSeconds: this.o.leaseSeconds,
      acquireTime: transition ? microTime(now) : before.acquireTime ?? microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (before.leaseTransitions ?? 0) + (transition && before.holderIdentity ? 1 : 0),
    };
  }

  private async acquire(iface: string, ip: string, lease: Lease | undefined, svc: Service): Promise<{ requeueAfterMs: number }> {
    const now = new Date();
    const spec = this.leaseSpec(lease, now);
    const name = lbLeaseName(ip);
    if (lease) {
      await this.o.client.update<Lease>('Lease', { ...lease, metadata: { ...lease.metadata, labels: { ...lease.metadata.labels, [LB_LEASE_LABEL]: ip } }, spec });
    } else {
      await this.o.client.create<Lease>('Lease', LB_LEASE_NAMESPACE, {
        apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: LB_LEASE_NAMESPACE, labels: { [LB_LEASE_LABEL]: ip } }, spec,
      });
    }
    this.held.set(ip, { lastRenewMs: now.getTime() });
    this.firstSeen.delete(ip);
    this.maybeLocal.add(ip);
    await holdAddress(iface, ip, this.o.leaseSeconds);
    this.takeovers++;
    log.info('lb', 'announcing a load balancer address', { address: ip, interface: iface, service: `${svc.metadata.namespace}/${svc.metadata.name}` });
    this.o.events.record({ ...svc, kind: 'Service' }, 'Normal', 'nodeAssigned', `announcing from node "${this.o.nodeName}" with protocol "layer2"`);
    // The LAN's ARP caches learn the new MAC now rather than when their entries go stale.
    void sendGratuitousArp(iface, ip, this.o.signal).then((error) => {
      if (error) log.warn('lb', 'gratuitous ARP failed; neighbours learn the address when their ARP entries expire', { address: ip, error });
    });
    return { requeueAfterMs: this.renewMs };
  }

  private async renew(iface: string, ip: string, lease: Lease): Promise<{ requeueAfterMs: number }> {
    const held = this.held.get(ip)!;
    const now = Date.now();
    if (now - held.lastRenewMs >= this.renewMs - 100) {
      try {
        await this.o.client.update<Lease>('Lease', { ...lease, spec: this.leaseSpec(lease, new Date(now)) });
        held.lastRenewMs = now;
      } catch (err) {
        // Not renewed for a whole lease: another node may hold it by now, so stop answering.
        if (Date.now() - held.lastRenewMs >= this.o.leaseSeconds * 1000) {
          log.warn('lb', 'cannot renew a load balancer address lease; giving the address up', { address: ip, error: (err as Error).message });
          await this.dropLocal(iface, ip);
        }
        throw err;
      }
    }
    // Level-triggered: the address is put back if something removed it, and its lifetime refreshed.
    await holdAddress(iface, ip, this.o.leaseSeconds);
    return { requeueAfterMs: Math.max(100, held.lastRenewMs + this.renewMs - Date.now()) };
  }

  /** Drops the address here and, if this node holds the Lease, releases it for another node. */
  private async release(iface: string, ip: string, lease: Lease | undefined): Promise<void> {
    await this.dropLocal(iface, ip);
    if (lease?.spec?.holderIdentity === this.o.nodeName) {
      await this.o.client.update<Lease>('Lease', { ...lease, spec: { ...lease.spec, holderIdentity: '', renewTime: microTime() } });
      log.info('lb', 'released a load balancer address', { address: ip });
    }
  }

  private async dropLocal(iface: string, ip: string): Promise<void> {
    this.held.delete(ip);
    if (!this.maybeLocal.has(ip)) return;
    await dropAddress(iface, ip);
    this.maybeLocal.delete(ip);
  }
}
