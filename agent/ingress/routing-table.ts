/**
 * The ingress proxy's routing table, built (pure) from the Ingresses of corral's classes, their
 * Services and EndpointSlices: which backend answers a host and path, and what is wrong with each
 * Ingress (a missing Service or port) for its Events. Host groups are tried in order: exact hosts,
 * then `*.` wildcards, then rules without a host; inside a group the most precise path wins, then
 * the oldest Ingress. Nothing matched: the oldest Ingress's defaultBackend, else 404.
 */
import type { Ingress, IngressBackend, PathType } from '../../api/networking-types.js';
import type { EndpointSlice, Service } from '../../api/types.js';
import { comparePathPrecedence, hostMatches, pathMatches } from './path-match.js';

/** Where a request goes: the Service's ready endpoints (`ip:port`), or why it cannot go anywhere (503). */
export interface Target {
  /** `namespace/name` of the Ingress the rule came from. */
  ingress: string;
  /** `namespace/service:port`, for logs and error pages. */
  backend: string;
  endpoints: string[];
  problem?: string;
}

export interface IngressProblem {
  reason: 'ServiceNotFound' | 'ServicePortNotFound' | 'UnsupportedBackend';
  message: string;
}

export interface TlsEntry {
  /** Lower-case hosts (exact or `*.` wildcard); empty: any name. */
  hosts: string[];
  namespace: string;
  secretName: string;
  ingress: string;
}

interface PathRoute {
  pathType: PathType;
  path: string;
  target: Target;
}

interface HostGroup {
  host: string;
  paths: PathRoute[];
}

export interface RoutingSources {
  service(namespace: string, name: string): Service | undefined;
  slices(namespace: string, service: string): EndpointSlice[];
}

const ingressKey = (ing: Ingress): string => `${ing.metadata.namespace}/${ing.metadata.name}`;

/** Oldest first, then by key: who wins a conflict (as most controllers decide it). */
function byAge(a: Ingress, b: Ingress): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = ingressKey(a);
  const kb = ingressKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** The ready endpoints of a Service port, as `ip:targetPort`. */
function readyEndpoints(slices: readonly EndpointSlice[], portName: string): string[] {
  const out: string[] = [];
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4') continue;
    const port = (slice.ports ?? []).find((p) => (p.name ?? '') === portName && (p.protocol ?? 'TCP') === 'TCP')?.port;
    if (port === undefined) continue;
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      for (const ip of ep.addresses ?? []) out.push(`${ip}:${port}`);
    }
  }
  return [...new Set(out)].sort();
}

export class RoutingTable {
  private readonly exact = new Map<string, HostGroup>();
  private readonly wildcards: HostGroup[] = [];
  private readonly anyHost: PathRoute[] = [];
  private defaultTarget: Target | undefined;
  /** Problems per Ingress key, for Events. */
  readonly problems = new Map<string, IngressProblem[]>();
  readonly tls: TlsEntry[] = [];

  constructor(ingresses: readonly Ingress[], private readonly sources: RoutingSources) {
    for (const ing of [...ingresses].sort(byAge)) this.add(ing);
    const sort = (paths: PathRoute[]): void => { paths.sort(comparePathPrecedence); };
    for (const g of this.exact.values()) sort(g.paths);
    for (const g of this.wildcards) sort(g.paths);
    sort(this.anyHost);
  }

  /** Number of distinct backends (for logs). */
  get size(): number {
    return this.exact.size + this.wildcards.length + (this.anyHost.length > 0 ? 1 : 0);
  }

  /** The target for a request (`host` normalized, `path` without the query), or undefined (404). */
  route(host: string, path: string): Target | undefined {
    const pick = (paths: readonly PathRoute[]): Target | undefined => paths.find((p) => pathMatches(p.pathType, p.path, path))?.target;
    const exact = this.exact.get(host);
    const found = (exact && pick(exact.paths))
      ?? this.wildcards.filter((g) => hostMatches(g.host, host)).map((g) => pick(g.paths)).find((t) => t !== undefined)
      ?? pick(this.anyHost);
    return found ?? this.defaultTarget;
  }

  private add(ing: Ingress): void {
    const key = ingressKey(ing);
    const ns = ing.metadata.namespace ?? 'default';
    const spec = ing.spec ?? {};
    if (spec.defaultBackend && !this.defaultTarget) this.defaultTarget = this.resolve(ing, spec.defaultBackend);
    for (const rule of spec.rules ?? []) {
      const host = (rule.host ?? '').toLowerCase();
      const paths = host === '' ? this.anyHost : this.group(host).paths;
      for (const p of rule.http?.paths ?? []) {
        const pathType = p.pathType ?? 'ImplementationSpecific';
        const path = p.path ?? (pathType === 'ImplementationSpecific' ? '' : '/');
        // The oldest Ingress keeps a host+path two of them claim.
        if (paths.some((r) => r.pathType === pathType && r.path === path)) continue;
        paths.push({ pathType, path, target: this.resolve(ing, p.backend) });
      }
    }
    for (const t of spec.tls ?? []) {
      if (!t.secretName) continue;
      this.tls.push({ hosts: (t.hosts ?? []).map((h) => h.toLowerCase()), namespace: ns, secretName: t.secretName, ingress: key });
    }
  }

  private group(host: string): HostGroup {
    if (host.startsWith('*.')) {
      let g = this.wildcards.find((w) => w.host === host);
      if (!g) this.wildcards.push((g = { host, paths: [] }));
      return g;
    }
    let g = this.exact.get(host);
    if (!g) this.exact.set(host, (g = { host, paths: [] }));
    return g;
  }

  private problem(ing: Ingress, p: IngressProblem): void {
    const key = ingressKey(ing);
    const list = this.problems.get(key) ?? [];
    if (!list.some((x) => x.message === p.message)) list.push(p);
    this.problems.set(key, list);
  }

  private resolve(ing: Ingress, backend: IngressBackend): Target {
    const ns = ing.metadata.namespace ?? 'default';
    const key = ingressKey(ing);
    const svcRef = backend.service;
    if (!svcRef) {
      const message = `resource backends (${backend.resource?.kind ?? '?'}/${backend.resource?.name ?? '?'}) are not supported by the corral ingress proxy`;
      this.problem(ing, { reason: 'UnsupportedBackend', message });
      return { ingress: key, backend: `${ns}/${backend.resource?.name ?? ''}`, endpoints: [], problem: message };
    }
    const portText = svcRef.port?.name ?? String(svcRef.port?.number ?? '');
    const label = `${ns}/${svcRef.name}:${portText}`;
    const svc = this.sources.service(ns, svcRef.name);
    if (!svc) {
      const message = `service "${ns}/${svcRef.name}" not found`;
      this.problem(ing, { reason: 'ServiceNotFound', message });
      return { ingress: key, backend: label, endpoints: [], problem: message };
    }
    const port = (svc.spec.ports ?? []).find((p) => (svcRef.port?.name ? p.name === svcRef.port.name : p.port === svcRef.port?.number));
    if (!port) {
      const message = `service "${ns}/${svcRef.name}" has no port ${portText}`;
      this.problem(ing, { reason: 'ServicePortNotFound', message });
      return { ingress: key, backend: label, endpoints: [], problem: message };
    }
    if (svc.spec.type === 'ExternalName') {
      const message = `service "${ns}/${svcRef.name}" is an ExternalName service, which the corral ingress proxy does not forward to`;
      this.problem(ing, { reason: 'UnsupportedBackend', message });
      return { ingress: key, backend: label, endpoints: [], problem: message };
    }
    const endpoints = readyEndpoints(this.sources.slices(ns, svcRef.name), port.name ?? '');
    return endpoints.length > 0 ? { ingress: key, backend: label, endpoints } : { ingress: key, backend: label, endpoints, problem: `service "${ns}/${svcRef.name}" has no ready endpoints` };
  }
}
