/**
 * ClusterIP and NodePort allocation as an admission plugin, so that a Service write carrying an
 * address or port someone else holds is refused (422) before it reaches the store.
 *
 * State is two bitmaps (service CIDR, NodePort range) kept in memory and rebuilt from the stored
 * Services at start-up (`rebuild`), which is why nothing is handed out twice across restarts.
 * Check-and-take is synchronous (no await in between), so concurrent creates in this process can
 * never take the same offset: the bitmap bit is the lock. A failed write gives its reservation back
 * through the undo function the registry calls. Addresses and ports an update drops stay taken until
 * the store confirms the update landed (`confirmRelease`), so a failed update never leaves its old
 * values free for someone else while it still holds them. With several API servers on one etcd, every
 * value taken is also claimed cluster-wide (cluster-reservations.ts) before the write is admitted.
 *
 * Why this file is long: the bitmaps, the pending releases and the claims are one piece of state that
 * every admission path (create, update, delete, confirmation, claims of other servers) changes; split
 * apart, each part would need the others' internals.
 */
import type { KubeObject } from '../../../api/meta.js';
import type { Service, ServicePort } from '../../../api/types.js';
import { resourceForKind, type ResourceInfo } from '../../../api/resources.js';
import { errors, type StatusCause } from '../../../api/status.js';
import { log } from '../../../api/log.js';
import type { AdmissionPlugin, Registry } from '../registry.js';
import { BitmapAllocator } from './bitmap.js';
import { IPv4Range } from './ipv4-range.js';
import type { ClaimKind, ClusterReservations } from './cluster-reservations.js';

export const NODE_PORT_RANGE = { min: 30000, max: 32767 } as const;

export interface ServiceAllocatorOptions {
  serviceCidr: string;
  nodePortRange?: { min: number; max: number };
  /** Start offsets of dynamic allocations (tests make them deterministic). */
  random?: () => number;
  /** How often an update's dropped values are checked against the store. */
  confirmIntervalMs?: number;
  /** Several API servers on one store: every value taken is also claimed cluster-wide. */
  reservations?: ClusterReservations;
}

/** Attempts at a dynamic value before giving up when other servers keep winning the claims. */
const CLAIM_ATTEMPTS = 8;

/** What one service holds: offsets in the two bitmaps. */
interface Holdings { ips: number[]; ports: number[] }

type Undo = () => Promise<void>;

const SERVICE_KIND = 'Service';

function needsNodePorts(spec: Service['spec']): boolean {
  if (spec.type === 'NodePort') return true;
  return spec.type === 'LoadBalancer' && (spec as { allocateLoadBalancerNodePorts?: boolean }).allocateLoadBalancerNodePorts !== false;
}

/** Upstream allocates a health-check node port for LoadBalancer Services that keep traffic local. */
export function needsHealthCheckNodePort(spec: Service['spec']): boolean {
  return spec.type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local';
}

function healthCheckNodePortOf(spec: Service['spec']): number | undefined {
  const port = (spec as { healthCheckNodePort?: number }).healthCheckNodePort;
  return typeof port === 'number' && port > 0 ? port : undefined;
}

function requestedClusterIP(spec: Service['spec']): string {
  return spec.clusterIPs?.[0] ?? spec.clusterIP ?? '';
}

/** Who a cluster-wide claim belongs to: the Service's namespace and name. */
function ownerOf(svc: Service): string {
  return `${svc.metadata.namespace ?? ''}/${svc.metadata.name ?? svc.metadata.generateName ?? ''}`;
}

function goSlice(values: string[]): string {
  return `[]string{${values.map((v) => JSON.stringify(v)).join(', ')}}`;
}

/**
 * Upstream splits each range into a lower band reserved for explicitly requested values and an
 * upper band dynamic allocation prefers (KEP-3070/3668): min(max(16, size/16), 256) offsets.
 */
function staticBand(size: number): number {
  return Math.min(Math.max(16, Math.floor(size / 16)), 256);
}

export class ServiceAllocator implements AdmissionPlugin {
  readonly name = 'ServiceAllocator';
  readonly range: IPv4Range;
  readonly ports: { min: number; max: number };
  private readonly ipMap: BitmapAllocator;
  private readonly portMap: BitmapAllocator;
  /** Dropped by an update whose write is not confirmed yet: offset → service uid. Still taken. */
  private readonly pendingIPs = new Map<number, string>();
  private readonly pendingPorts = new Map<number, string>();
  private readonly confirmIntervalMs: number;
  private readonly reservations: ClusterReservations | undefined;
  private readonly stopFollowing = new AbortController();

  constructor(private readonly registry: Registry, opts: ServiceAllocatorOptions) {
    this.range = new IPv4Range(opts.serviceCidr);
    this.ports = opts.nodePortRange ?? NODE_PORT_RANGE;
    this.ipMap = new BitmapAllocator(this.range.size, opts.random);
    this.portMap = new BitmapAllocator(this.ports.max - this.ports.min + 1, opts.random);
    this.confirmIntervalMs = opts.confirmIntervalMs ?? 200;
    this.reservations = opts.reservations;
  }

  /** The address of the `kubernetes` service: the first of the range. */
  get apiServerServiceIP(): string {
    return this.range.addressAt(0);
  }

  /** Counts for logs and tests. */
  usage(): { ips: number; nodePorts: number } {
    return { ips: this.ipMap.count, nodePorts: this.portMap.count };
  }

  /**
   * Marks everything the stored Services hold. Call once, before the API serves requests.
   * Values stored twice (impossible through this plugin, possible in an old store) are logged.
   */
  async rebuild(): Promise<void> {
    const info = resourceForKind(SERVICE_KIND)!;
    const list = await this.registry.list(info, undefined);
    for (const item of list.items as Service[]) {
      const held = this.holdingsOf(item);
      for (const off of held.ips) {
        if (!this.ipMap.allocate(off)) log.warn('allocator', 'cluster IP stored twice', { ip: this.range.addressAt(off), service: `${item.metadata.namespace}/${item.metadata.name}` });
      }
      for (const off of held.ports) {
        if (!this.portMap.allocate(off)) log.warn('allocator', 'node port stored twice', { port: off + this.ports.min, service: `${item.metadata.namespace}/${item.metadata.name}` });
      }
    }
    if (this.reservations) {
      this.followClaims(this.reservations);
      for (const item of list.items as Service[]) {
        const held = this.holdingsOf(item);
        const owner = ownerOf(item);
        for (const c of this.claimsOf(held)) {
          if (!(await this.reservations.claim(c.kind, c.value, owner))) log.warn('allocator', 'a stored value is claimed by another service', { kind: c.kind, value: c.value, service: owner });
        }
      }
    }
    log.info('allocator', 'service allocations rebuilt', { services: list.items.length, ...this.usage() });
  }

  /** Keeps the bitmaps in step with what the other servers claim and give back. */
  private followClaims(reservations: ClusterReservations): void {
    void reservations.follow({
      claimed: (kind, value) => {
        const off = this.offsetOfClaim(kind, value);
        if (off !== undefined) (kind === 'ip' ? this.ipMap : this.portMap).allocate(off);
      },
      released: (kind, value) => {
        const off = this.offsetOfClaim(kind, value);
        const pending = kind === 'ip' ? this.pendingIPs : this.pendingPorts;
        // Our own pending releases finish through confirmRelease; a claim re-made later re-marks the bit.
        if (off !== undefined && !pending.has(off)) (kind === 'ip' ? this.ipMap : this.portMap).release(off);
      },
    }, this.stopFollowing.signal);
  }

  /** What claims name for held offsets: the address, or the port number. */
  private claimsOf(held: Holdings): { kind: ClaimKind; offset: number; value: string | number }[] {
    return [
      ...held.ips.map((offset) => ({ kind: 'ip' as const, offset, value: this.range.addressAt(offset) })),
      ...held.ports.map((offset) => ({ kind: 'port' as const, offset, value: offset + this.ports.min })),
    ];
  }

  /** The bitmap offset a claim's value stands for (undefined: outside this server's ranges). */
  private offsetOfClaim(kind: ClaimKind, value: string): number | undefined {
    if (kind === 'ip') return this.range.offsetOf(value);
    const port = Number(value);
    return port >= this.ports.min && port <= this.ports.max ? port - this.ports.min : undefined;
  }

  /** Stops following the cluster-wide claims (server shutdown). */
  close(): void {
    this.stopFollowing.abort();
  }

  /** The offsets a stored service holds (values outside the current ranges are ignored). */
  private holdingsOf(svc: Service): Holdings {
    const spec = svc.spec ?? {};
    const ips: number[] = [];
    const ip = spec.type === 'ExternalName' ? '' : requestedClusterIP(spec);
    if (ip && ip !== 'None') {
      const off = this.range.offsetOf(ip);
      if (off !== undefined) ips.push(off);
    }
    const ports = new Set<number>();
    for (const p of spec.ports ?? []) {
      const np = p.nodePort;
      if (typeof np === 'number' && np >= this.ports.min && np <= this.ports.max) ports.add(np - this.ports.min);
    }
    const hc = needsHealthCheckNodePort(spec) ? healthCheckNodePortOf(spec) : undefined;
    if (hc !== undefined && hc >= this.ports.min && hc <= this.ports.max) ports.add(hc - this.ports.min);
    return { ips, ports: [...ports] };
  }

  // ------------------------------------------------------------------ admission

  async admitCreate(info: ResourceInfo, obj: KubeObject): Promise<Undo | void> {
    if (info.kind !== SERVICE_KIND || info.group !== '') return;
    const svc = obj as Service;
    const taken: Holdings = { ips: [], ports: [] };
    const undo = this.releaser(taken);
    try {
      await this.assignClaimed(svc, undefined, taken, undo);
    } catch (err) {
      await undo();
      throw err;
    }
    return undo;
  }

  /**
   * Assigns ClusterIP and node ports, then (several servers) claims every value taken cluster-wide.
   * A value another server won is left marked here; the rest go back and the assignment runs again
   * from the request as it came, or is refused when that value was asked for explicitly.
   */
  private async assignClaimed(svc: Service, old: Service | undefined, taken: Holdings, undo: Undo): Promise<void> {
    const requested = structuredClone(svc.spec);
    for (let attempt = 1; ; attempt++) {
      this.assignClusterIP(svc, old, taken);
      this.assignNodePorts(svc, old, taken);
      this.assignHealthCheckNodePort(svc, old, taken);
      const lost = await this.claimTaken(ownerOf(svc), taken);
      if (!lost) return;
      // Someone else's now: keep it marked in this server's bitmap, give back the rest.
      const list = lost.kind === 'ip' ? taken.ips : taken.ports;
      list.splice(list.indexOf(lost.offset), 1);
      await undo();
      if (this.wasRequested(requested, lost)) {
        const field = lost.kind === 'ip' ? 'spec.clusterIPs' : 'spec.ports';
        const shown = lost.kind === 'ip' ? goSlice([this.range.addressAt(lost.offset)]) : String(lost.offset + this.ports.min);
        this.invalid(svc, { reason: 'FieldValueInvalid', field, message: `Invalid value: ${shown}: provided ${lost.kind === 'ip' ? 'IP' : 'port'} is already allocated` });
      }
      if (attempt >= CLAIM_ATTEMPTS) throw errors.internal('Internal error occurred: failed to allocate a service value: other API servers keep taking the same ones, try again');
      svc.spec = structuredClone(requested);
    }
  }

  /** The first value taken that another service holds cluster-wide (undefined: all claimed). */
  private async claimTaken(owner: string, taken: Holdings): Promise<{ kind: ClaimKind; offset: number } | undefined> {
    if (!this.reservations) return undefined;
    for (const c of this.claimsOf(taken)) {
      if (!(await this.reservations.claim(c.kind, c.value, owner))) return { kind: c.kind, offset: c.offset };
    }
    return undefined;
  }

  private wasRequested(spec: Service['spec'], lost: { kind: ClaimKind; offset: number }): boolean {
    if (lost.kind === 'ip') return requestedClusterIP(spec) === this.range.addressAt(lost.offset);
    const port = lost.offset + this.ports.min;
    return (spec.ports ?? []).some((p) => p.nodePort === port) || healthCheckNodePortOf(spec) === port;
  }

  /** Gives the cluster-wide claims of released values back. */
  private releaseClaims(ips: Iterable<number>, ports: Iterable<number>): void {
    if (!this.reservations) return;
    for (const c of this.claimsOf({ ips: [...ips], ports: [...ports] })) this.reservations.release(c.kind, c.value);
  }

  async admitUpdate(info: ResourceInfo, obj: KubeObject, old: KubeObject): Promise<Undo | void> {
    if (info.kind !== SERVICE_KIND || info.group !== '') return;
    const svc = obj as Service;
    const before = old as Service;
    const taken: Holdings = { ips: [], ports: [] };
    const release = this.releaser(taken);
    let dropped: Holdings;
    try {
      await this.assignClaimed(svc, before, taken, release);
      const held = this.holdingsOf(before);
      const now = this.holdingsOf(svc);
      dropped = {
        ips: held.ips.filter((o) => !now.ips.includes(o)),
        ports: held.ports.filter((o) => !now.ports.includes(o)),
      };
    } catch (err) {
      await release();
      throw err;
    }
    const uid = before.metadata.uid ?? '';
    for (const o of dropped.ips) this.pendingIPs.set(o, uid);
    for (const o of dropped.ports) this.pendingPorts.set(o, uid);
    if (dropped.ips.length > 0 || dropped.ports.length > 0) {
      this.confirmRelease(before, dropped);
    }
    return async () => {
      // The write failed: the old values are still the service's, the new ones go back.
      for (const o of dropped.ips) if (this.pendingIPs.get(o) === uid) this.pendingIPs.delete(o);
      for (const o of dropped.ports) if (this.pendingPorts.get(o) === uid) this.pendingPorts.delete(o);
      await release();
    };
  }

  async afterDelete(info: ResourceInfo, obj: KubeObject): Promise<void> {
    if (info.kind !== SERVICE_KIND || info.group !== '') return;
    const svc = obj as Service;
    const held = this.holdingsOf(svc);
    const uid = svc.metadata.uid ?? '';
    const ips = new Set(held.ips);
    const ports = new Set(held.ports);
    for (const [o, owner] of this.pendingIPs) if (owner === uid) { ips.add(o); this.pendingIPs.delete(o); }
    for (const [o, owner] of this.pendingPorts) if (owner === uid) { ports.add(o); this.pendingPorts.delete(o); }
    for (const o of ips) this.ipMap.release(o);
    for (const o of ports) this.portMap.release(o);
    this.releaseClaims(ips, ports);
  }

  private releaser(taken: Holdings): Undo {
    return async () => {
      const ips = taken.ips.splice(0);
      const ports = taken.ports.splice(0);
      for (const o of ips) this.ipMap.release(o);
      for (const o of ports) this.portMap.release(o);
      this.releaseClaims(ips, ports);
    };
  }

  /**
   * Frees what an update dropped once the store shows the update (or a later write, or the
   * deletion) landed. Values the failed-write undo took back are skipped.
   */
  private confirmRelease(before: Service, dropped: Holdings): void {
    const info = resourceForKind(SERVICE_KIND)!;
    const uid = before.metadata.uid ?? '';
    const oldRv = before.metadata.resourceVersion;
    const deadline = Date.now() + 60_000;
    const check = async (): Promise<void> => {
      const stillPending = dropped.ips.some((o) => this.pendingIPs.get(o) === uid) || dropped.ports.some((o) => this.pendingPorts.get(o) === uid);
      if (!stillPending) return;
      const current = (await this.registry.tryGet(info, before.metadata.namespace, before.metadata.name!)) as Service | undefined;
      const landed = !current || current.metadata.uid !== uid || current.metadata.resourceVersion !== oldRv;
      if (!landed) {
        if (Date.now() < deadline) setTimeout(() => void check().catch(retry), this.confirmIntervalMs).unref();
        return;
      }
      const keep = current && current.metadata.uid === uid ? this.holdingsOf(current) : { ips: [], ports: [] };
      for (const o of dropped.ips) {
        if (this.pendingIPs.get(o) !== uid) continue;
        this.pendingIPs.delete(o);
        if (!keep.ips.includes(o)) {
          this.ipMap.release(o);
          this.releaseClaims([o], []);
        }
      }
      for (const o of dropped.ports) {
        if (this.pendingPorts.get(o) !== uid) continue;
        this.pendingPorts.delete(o);
        if (!keep.ports.includes(o)) {
          this.portMap.release(o);
          this.releaseClaims([], [o]);
        }
      }
    };
    const retry = (err: unknown): void => {
      log.warn('allocator', 'confirming a released service allocation failed', { error: String(err) });
      if (Date.now() < deadline) setTimeout(() => void check().catch(retry), this.confirmIntervalMs).unref();
    };
    setTimeout(() => void check().catch(retry), 0).unref();
  }

  private invalid(svc: Service, cause: StatusCause): never {
    throw errors.invalid('Service', svc.metadata.name ?? svc.metadata.generateName ?? '', [cause]);
  }

  /** Claims an offset this service held before (pending release) or one that is free. */
  private claim(map: BitmapAllocator, pending: Map<number, string>, offset: number, uid: string | undefined): boolean {
    if (uid !== undefined && pending.get(offset) === uid) {
      pending.delete(offset);
      return true;
    }
    return map.allocate(offset);
  }

  private assignClusterIP(svc: Service, old: Service | undefined, taken: Holdings): void {
    const spec = svc.spec;
    if (spec.type === 'ExternalName') {
      delete spec.clusterIP;
      delete spec.clusterIPs;
      return;
    }
    const oldIP = old && old.spec.type !== 'ExternalName' ? requestedClusterIP(old.spec) : '';
    let ip = requestedClusterIP(spec);
    if (ip === '' && oldIP !== '') ip = oldIP; // an update that leaves clusterIP out keeps it
    if (ip === 'None') {
      spec.clusterIP = 'None';
      spec.clusterIPs = ['None'];
      return;
    }
    if (ip !== '' && ip === oldIP) {
      spec.clusterIP = ip;
      spec.clusterIPs = [ip];
      return;
    }
    if (ip === '') {
      const off = this.ipMap.allocateNext({ preferFrom: staticBand(this.range.size), skip: new Set([0]) });
      if (off === undefined) throw errors.internal('Internal error occurred: failed to allocate a serviceIP: range is full');
      taken.ips.push(off);
      ip = this.range.addressAt(off);
    } else {
      const off = this.range.offsetOf(ip);
      if (off === undefined) {
        this.invalid(svc, {
          reason: 'FieldValueInvalid', field: 'spec.clusterIPs',
          message: `Invalid value: ${goSlice([ip])}: failed to allocate IP ${ip}: the provided IP (${ip}) is not in the valid range. The range of valid IPs is ${this.range.cidr}`,
        });
      }
      if (!this.claim(this.ipMap, this.pendingIPs, off, old?.metadata.uid)) {
        this.invalid(svc, {
          reason: 'FieldValueInvalid', field: 'spec.clusterIPs',
          message: `Invalid value: ${goSlice([ip])}: failed to allocate IP ${ip}: provided IP is already allocated`,
        });
      }
      taken.ips.push(off);
    }
    spec.clusterIP = ip;
    spec.clusterIPs = [ip];
  }

  /**
   * `spec.healthCheckNodePort` of a LoadBalancer Service with the Local policy: the requested one (it
   * must be free), the one the Service already holds, or a free one from the node-port range.
   */
  private assignHealthCheckNodePort(svc: Service, old: Service | undefined, taken: Holdings): void {
    const spec = svc.spec;
    if (!needsHealthCheckNodePort(spec)) return;
    const held = old && needsHealthCheckNodePort(old.spec) ? healthCheckNodePortOf(old.spec) : undefined;
    const requested = healthCheckNodePortOf(spec);
    const nodePorts = new Set((spec.ports ?? []).map((p) => p.nodePort));
    if (requested !== undefined) {
      if (requested === held) return;
      const off = requested - this.ports.min;
      if (nodePorts.has(requested) || !this.claim(this.portMap, this.pendingPorts, off, old?.metadata.uid)) {
        this.invalid(svc, { reason: 'FieldValueInvalid', field: 'spec.healthCheckNodePort', message: `Invalid value: ${requested}: provided port is already allocated` });
      }
      taken.ports.push(off);
      return;
    }
    if (held !== undefined && !nodePorts.has(held)) {
      (spec as { healthCheckNodePort?: number }).healthCheckNodePort = held;
      return;
    }
    const off = this.portMap.allocateNext({ preferFrom: staticBand(this.portMap.size) });
    if (off === undefined) throw errors.internal('Internal error occurred: failed to allocate a nodePort: range is full');
    taken.ports.push(off);
    (spec as { healthCheckNodePort?: number }).healthCheckNodePort = off + this.ports.min;
  }

  private assignNodePorts(svc: Service, old: Service | undefined, taken: Holdings): void {
    const spec = svc.spec;
    const ports = spec.ports ?? [];
    if (!needsNodePorts(spec)) return;
    const oldPorts: ServicePort[] = old && needsNodePorts(old.spec) ? old.spec.ports ?? [] : [];
    const oldHeld = new Set(oldPorts.map((p) => p.nodePort).filter((n): n is number => typeof n === 'number' && n > 0));
    const inThisSpec = new Set<number>();
    // Explicit ports first, so a dynamic pick cannot take one asked for further down the list.
    ports.forEach((p, i) => {
      const np = p.nodePort;
      if (typeof np !== 'number' || np === 0) return;
      if (inThisSpec.has(np) || oldHeld.has(np)) {
        inThisSpec.add(np);
        return; // the same port for another protocol, or one this service already holds
      }
      const off = np - this.ports.min;
      if (!this.claim(this.portMap, this.pendingPorts, off, old?.metadata.uid)) {
        this.invalid(svc, {
          reason: 'FieldValueInvalid', field: `spec.ports[${i}].nodePort`,
          message: `Invalid value: ${np}: provided port is already allocated`,
        });
      }
      taken.ports.push(off);
      inThisSpec.add(np);
    });
    for (const p of ports) {
      if (typeof p.nodePort === 'number' && p.nodePort !== 0) continue;
      // An update that leaves a nodePort out keeps the one the same port had.
      const previous = oldPorts.find((o) => (p.name !== undefined && p.name !== '' && o.name === p.name) || (o.port === p.port && (o.protocol ?? 'TCP') === (p.protocol ?? 'TCP')));
      if (previous?.nodePort && !inThisSpec.has(previous.nodePort)) {
        p.nodePort = previous.nodePort;
        inThisSpec.add(previous.nodePort);
        continue;
      }
      const off = this.portMap.allocateNext({ preferFrom: staticBand(this.portMap.size) });
      if (off === undefined) throw errors.internal('Internal error occurred: failed to allocate a nodePort: range is full');
      taken.ports.push(off);
      p.nodePort = off + this.ports.min;
      inThisSpec.add(p.nodePort);
    }
  }
}
