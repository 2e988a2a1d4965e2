/**
 * The ClusterView the DNS server answers from: the agent's shared informers for Services,
 * EndpointSlices and Pods (api/machinery), plus the few indexes a query needs to be O(1) — slices by
 * Service, Services by ClusterIP, Pods by IP, object counts per namespace. The informers keep their
 * caches when the server is unreachable, so names keep resolving from the last state seen.
 */
import type { Informer } from '../../api/machinery/informer.js';
import type { KubeObject } from '../../api/meta.js';
import type { Endpoint, EndpointSlice, Pod, Service } from '../../api/types.js';
import { cidrContains, parseCidr, type Ipv4Cidr } from '../network/cidr.js';
import type { ClusterView } from './cluster-zone.js';

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

function key(o: KubeObject): string {
  return `${o.metadata.namespace ?? 'default'}/${o.metadata.name ?? ''}`;
}

/** A multimap kept in step with informer events: key → (object key → value). */
class Index<V> {
  private readonly byKey = new Map<string, Map<string, V>>();

  set(k: string, id: string, v: V): void {
    let m = this.byKey.get(k);
    if (!m) this.byKey.set(k, (m = new Map()));
    m.set(id, v);
  }

  delete(k: string | undefined, id: string): void {
    if (k === undefined) return;
    const m = this.byKey.get(k);
    if (!m) return;
    m.delete(id);
    if (m.size === 0) this.byKey.delete(k);
  }

  values(k: string): V[] {
    const m = this.byKey.get(k);
    return m ? [...m.values()] : [];
  }

  has(k: string): boolean {
    return this.byKey.has(k);
  }
}

function track<T extends KubeObject>(informer: Informer<T>, keyOf: (o: T) => string | undefined, index: Index<T>, changed: () => void): void {
  informer.addHandlers({
    onAdd: (o) => { const k = keyOf(o); if (k !== undefined) index.set(k, key(o), o); changed(); },
    onUpdate: (old, o) => {
      index.delete(keyOf(old), key(old));
      const k = keyOf(o);
      if (k !== undefined) index.set(k, key(o), o);
      changed();
    },
    onDelete: (o) => { index.delete(keyOf(o), key(o)); changed(); },
  });
}

export interface ClusterIndexOptions {
  services: Informer<Service>;
  slices: Informer<EndpointSlice>;
  pods: Informer<Pod>;
  /** Reverse lookups in these ranges are answered here (NXDOMAIN when unknown): the pod and service networks. */
  ownedCidrs: readonly string[];
}

export class ClusterIndex implements ClusterView {
  private readonly slicesByService = new Index<EndpointSlice>();
  private readonly servicesByIp = new Index<Service>();
  private readonly podsByIpIndex = new Index<Pod>();
  private readonly servicesByNamespace = new Index<Service>();
  private readonly podsByNamespace = new Index<Pod>();
  private readonly owned: Ipv4Cidr[];
  private changes = 0;

  constructor(private readonly o: ClusterIndexOptions) {
    this.owned = o.ownedCidrs.map(parseCidr);
    const sliceKey = (s: EndpointSlice): string | undefined => {
      const svc = s.metadata.labels?.[SERVICE_NAME_LABEL];
      return svc ? `${s.metadata.namespace ?? 'default'}/${svc}` : undefined;
    };
    const changed = (): void => { this.changes++; };
    track(o.slices, sliceKey, this.slicesByService, changed);
    track(o.services, (s) => (s.spec?.clusterIP && s.spec.clusterIP !== 'None' ? s.spec.clusterIP : undefined), this.servicesByIp, changed);
    track(o.services, (s) => s.metadata.namespace ?? 'default', this.servicesByNamespace, changed);
    track(o.pods, (p) => p.status?.podIP || undefined, this.podsByIpIndex, changed);
    track(o.pods, (p) => p.metadata.namespace ?? 'default', this.podsByNamespace, changed);
  }

  /** Counts every change the informers delivered: answers cached at another count are stale. */
  generation(): number {
    return this.changes;
  }

  /** True once every informer listed once (before that, answers would be wrong NXDOMAINs). */
  synced(): boolean {
    return this.o.services.hasSynced() && this.o.slices.hasSynced() && this.o.pods.hasSynced();
  }

  service(namespace: string, name: string): Service | undefined {
    return this.o.services.get(`${namespace}/${name}`);
  }

  slices(namespace: string, service: string): readonly EndpointSlice[] {
    return this.slicesByService.values(`${namespace}/${service}`);
  }

  namespaceKnown(namespace: string): boolean {
    return this.servicesByNamespace.has(namespace) || this.podsByNamespace.has(namespace);
  }

  serviceByClusterIp(ip: string): Service | undefined {
    return this.servicesByIp.values(ip)[0];
  }

  endpointByIp(ip: string): { service: Service; endpoint: Endpoint } | undefined {
    // Reverse lookups are rare: a scan of the slices is cheaper than keeping another index.
    for (const slice of this.o.slices.list()) {
      const endpoint = slice.endpoints?.find((e) => e.addresses?.[0] === ip);
      const svcName = slice.metadata.labels?.[SERVICE_NAME_LABEL];
      if (!endpoint || !svcName) continue;
      const service = this.service(slice.metadata.namespace ?? 'default', svcName);
      if (service) return { service, endpoint };
    }
    return undefined;
  }

  podsByIp(ip: string): readonly Pod[] {
    return this.podsByIpIndex.values(ip).filter((p) => !p.spec.hostNetwork);
  }

  ownsAddress(ip: string): boolean {
    try {
      return this.owned.some((c) => cidrContains(c, ip));
    } catch {
      return false;
    }
  }
}
