/**
 * The agent's DNS: shared informers for Services, EndpointSlices and Pods (api/machinery), the
 * ClusterIndex over them, the forwarder to the node's upstream resolvers and the DNS server on the
 * node IP (and loopback). Pods reach it through the cluster DNS IP, which every node's proxy rules
 * DNAT to its own resolver (node-local: a pod never depends on another node being up).
 */
import type { Informer, InformerFactory } from '../../api/machinery/informer.js';
import type { ApiClient } from '../../api/client/client.js';
import { log } from '../../api/log.js';
import { Backoff, sleep } from '../../api/async-util.js';
import type { EndpointSlice, Pod, Service } from '../../api/types.js';
import { cidrContains, parseCidr } from '../network/cidr.js';
import { readHostResolvConf } from '../pods/pod-dns-files.js';
import { ClusterIndex } from './cluster-index.js';
import { DnsServer } from './dns-server.js';
import { Forwarder } from './forwarder.js';

export interface NodeDnsOptions {
  client: ApiClient;
  /** The agent's shared informers (the Service informer is the service proxy's too). */
  informers: InformerFactory;
  nodeIp: string;
  port: number;
  clusterDomain: string;
  clusterCidr: string;
  serviceCidr: string;
  ttlSeconds: number;
  resolvConf?: string | undefined;
  signal: AbortSignal;
}

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1' || ip.startsWith('::ffff:127.');
}

export class NodeDns {
  readonly services: Informer<Service>;
  readonly slices: Informer<EndpointSlice>;
  readonly pods: Informer<Pod>;
  readonly index: ClusterIndex;
  server: DnsServer | undefined;
  forwarder: Forwarder | undefined;

  constructor(private readonly o: NodeDnsOptions) {
    this.services = o.informers.forKind<Service>('Service');
    this.slices = o.informers.forKind<EndpointSlice>('EndpointSlice');
    this.pods = o.informers.forKind<Pod>('Pod');
    this.index = new ClusterIndex({ services: this.services, slices: this.slices, pods: this.pods, ownedCidrs: [o.clusterCidr, o.serviceCidr] });
  }

  /** Starts the informers and binds the server (UDP + TCP) on the node IP and 127.0.0.1. */
  async start(): Promise<void> {
    for (const inf of [this.services, this.slices, this.pods] as Informer<never>[]) inf.start(this.o.signal);
    const host = await readHostResolvConf(this.o.resolvConf);
    // The agent runs in the node's network namespace, so a local stub (127.0.0.53) is reachable here;
    // but never forward to ourselves.
    const upstreams = (host?.conf.nameservers ?? []).filter((ns) => !(ns === this.o.nodeIp));
    if (upstreams.length === 0) log.warn('dns', 'no upstream resolvers: names outside the cluster will not resolve', { resolvConf: host?.path ?? this.o.resolvConf ?? '/etc/resolv.conf' });
    this.forwarder = new Forwarder({ upstreams });
    const pods = parseCidr(this.o.clusterCidr);
    const allowed = (ip: string): boolean => {
      const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
      if (isLoopback(v4) || v4 === this.o.nodeIp) return true;
      try {
        return cidrContains(pods, v4);
      } catch {
        return false;
      }
    };
    const forwarder = this.forwarder;
    const listen = async (): Promise<void> => {
      const server = new DnsServer({
        zone: { domain: this.o.clusterDomain, ttl: this.o.ttlSeconds },
        view: this.index,
        forwarder,
        addresses: [...new Set([this.o.nodeIp, '127.0.0.1'])],
        port: this.o.port,
        allowed,
      });
      try {
        await server.start();
      } catch (err) {
        await server.close();
        throw err;
      }
      this.server = server;
      log.info('dns', 'node-local DNS is listening', { address: this.o.nodeIp, port: server.port, upstreams: upstreams.join(',') });
    };
    // A port already taken (a Pi-hole, dnsmasq) or an address not up yet costs cluster DNS, not the
    // agent: say so once and keep trying in the background.
    try {
      await listen();
    } catch (err) {
      log.error('dns', `cluster DNS cannot listen on ${this.o.nodeIp}:${this.o.port} (another DNS server there? set --cluster-dns-port); retrying`, { error: (err as Error).message });
      void this.retryListen(listen);
    }
  }

  private async retryListen(listen: () => Promise<void>): Promise<void> {
    const backoff = new Backoff({ initialMs: 1_000, maxMs: 30_000 });
    while (!this.o.signal.aborted) {
      await sleep(backoff.next(), { signal: this.o.signal, unref: true }).catch(() => undefined);
      if (this.o.signal.aborted) return;
      try {
        await listen();
        return;
      } catch { /* said once already */ }
    }
  }

  async close(): Promise<void> {
    await this.server?.close();
  }
}
