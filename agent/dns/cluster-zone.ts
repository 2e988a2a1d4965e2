/**
 * The cluster zone (pure): answers one question about `<domain>` (default cluster.local) or a
 * cluster reverse address from a ClusterView, the way Kubernetes' DNS specification describes it:
 *
 *   <svc>.<ns>.svc.<domain>             A → ClusterIP; headless → ready endpoint IPs; ExternalName → CNAME
 *   <host>.<svc>.<ns>.svc.<domain>      A → a headless service's endpoint by hostname or dashed IP
 *   _<port>._<proto>.<svc>.<ns>.svc...  SRV for named ports (targets' A records as additionals)
 *   <a-b-c-d>.<ns>.pod.<domain>         A → the pod with that IP in that namespace
 *   <d>.<c>.<b>.<a>.in-addr.arpa        PTR for ClusterIPs, service endpoints and pod IPs
 *
 * A name that exists without records of the asked type is NODATA (NOERROR, no answers), a name that
 * does not exist NXDOMAIN; both carry the zone's SOA in the authority section. The cluster is
 * single-stack IPv4, so AAAA questions about existing names are NODATA.
 */
import type { Answer, SrvAnswer } from 'dns-packet';
import type { Endpoint, EndpointSlice, Pod, Service } from '../../api/types.js';

export interface ClusterView {
  service(namespace: string, name: string): Service | undefined;
  slices(namespace: string, service: string): readonly EndpointSlice[];
  /** Whether any Service or Pod lives in the namespace (NODATA instead of NXDOMAIN for `<ns>.svc`). */
  namespaceKnown(namespace: string): boolean;
  serviceByClusterIp(ip: string): Service | undefined;
  /** A service endpoint with this address, with its Service. */
  endpointByIp(ip: string): { service: Service; endpoint: Endpoint } | undefined;
  podsByIp(ip: string): readonly Pod[];
  /** Reverse lookups of addresses in these ranges are ours (NXDOMAIN when unknown), others are forwarded. */
  ownsAddress(ip: string): boolean;
}

export interface ZoneSettings {
  domain: string;
  ttl: number;
}

export type ZoneAnswer =
  | { kind: 'answer'; rcode: 'NOERROR' | 'NXDOMAIN'; answers: Answer[]; authorities: Answer[]; additionals: Answer[] }
  /** An ExternalName outside the zone: answer the CNAME, then resolve `target` upstream and append. */
  | { kind: 'cname'; answers: Answer[]; target: string }
  /** Not ours: forward. */
  | { kind: 'forward' };

const REVERSE_SUFFIX = '.in-addr.arpa';

export function soaRecord(s: ZoneSettings): Answer {
  return {
    type: 'SOA', name: s.domain, ttl: s.ttl, class: 'IN',
    data: { mname: `ns.dns.${s.domain}`, rname: `hostmaster.${s.domain}`, serial: 1, refresh: 7200, retry: 1800, expire: 86400, minimum: s.ttl },
  };
}

function negative(rcode: 'NOERROR' | 'NXDOMAIN', s: ZoneSettings): ZoneAnswer {
  return { kind: 'answer', rcode, answers: [], authorities: [soaRecord(s)], additionals: [] };
}

function positive(answers: Answer[], s: ZoneSettings, additionals: Answer[] = []): ZoneAnswer {
  return answers.length === 0 ? negative('NOERROR', s) : { kind: 'answer', rcode: 'NOERROR', answers, authorities: [], additionals };
}

const a = (name: string, ip: string, ttl: number): Answer => ({ type: 'A', name, ttl, class: 'IN', data: ip });

export function dashedIp(ip: string): string {
  return ip.replace(/\./g, '-');
}

function undashIp(label: string): string | undefined {
  const parts = label.split('-');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.join('.');
}

function isHeadless(svc: Service): boolean {
  return svc.spec.clusterIP === 'None';
}

/** Endpoints DNS publishes: ready ones (nil means ready), or all with publishNotReadyAddresses. */
function publishedEndpoints(svc: Service, slices: readonly EndpointSlice[]): { endpoint: Endpoint; slice: EndpointSlice }[] {
  const all = svc.spec.publishNotReadyAddresses === true;
  const out: { endpoint: Endpoint; slice: EndpointSlice }[] = [];
  const seen = new Set<string>();
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4') continue;
    for (const endpoint of slice.endpoints ?? []) {
      if (!all && endpoint.conditions?.ready === false) continue;
      const ip = endpoint.addresses?.[0];
      if (!ip || seen.has(ip)) continue;
      seen.add(ip);
      out.push({ endpoint, slice });
    }
  }
  return out;
}

function endpointLabel(e: Endpoint): string {
  return e.hostname ?? dashedIp(e.addresses[0]!);
}

/** SRV records (and the targets' A records) for one port name/protocol of a service, or all ports. */
function srvRecords(name: string, svc: Service, view: ClusterView, s: ZoneSettings, port?: { name: string; protocol: string }): { answers: Answer[]; additionals: Answer[] } {
  const ns = svc.metadata.namespace ?? 'default';
  const svcName = svc.metadata.name!;
  const svcFqdn = `${svcName}.${ns}.svc.${s.domain}`;
  const answers: Answer[] = [];
  const additionals: Answer[] = [];
  const wanted = (svc.spec.ports ?? []).filter((p) => !port || ((p.name ?? '') === port.name && (p.protocol ?? 'TCP').toLowerCase() === port.protocol));
  if (!isHeadless(svc)) {
    for (const p of wanted) {
      const srv: SrvAnswer = { type: 'SRV', name, ttl: s.ttl, class: 'IN', data: { priority: 0, weight: 100, port: p.port, target: svcFqdn } };
      answers.push(srv);
    }
    if (answers.length > 0 && svc.spec.clusterIP) additionals.push(a(svcFqdn, svc.spec.clusterIP, s.ttl));
    return { answers, additionals };
  }
  const published = publishedEndpoints(svc, view.slices(ns, svcName));
  const added = new Set<string>();
  for (const p of wanted) {
    const matching = published.filter(({ slice }) => (slice.ports ?? []).some((sp) => (sp.name ?? '') === (p.name ?? '') && (sp.protocol ?? 'TCP') === (p.protocol ?? 'TCP')));
    for (const { endpoint, slice } of matching) {
      const sp = (slice.ports ?? []).find((x) => (x.name ?? '') === (p.name ?? '') && (x.protocol ?? 'TCP') === (p.protocol ?? 'TCP'))!;
      const target = `${endpointLabel(endpoint)}.${svcFqdn}`;
      answers.push({ type: 'SRV', name, ttl: s.ttl, class: 'IN', data: { priority: 0, weight: Math.max(1, Math.floor(100 / matching.length)), port: sp.port ?? p.port, target } });
      if (!added.has(target)) {
        added.add(target);
        additionals.push(a(target, endpoint.addresses[0]!, s.ttl));
      }
    }
  }
  return { answers, additionals };
}

function serviceAnswer(name: string, type: string, svc: Service, view: ClusterView, s: ZoneSettings, depth: number): ZoneAnswer {
  if (svc.spec.type === 'ExternalName') {
    const target = (svc.spec.externalName ?? '').toLowerCase().replace(/\.$/, '');
    if (target === '') return negative('NOERROR', s);
    const cname: Answer = { type: 'CNAME', name, ttl: s.ttl, class: 'IN', data: target };
    if (type === 'CNAME') return positive([cname], s);
    if (target === s.domain || target.endsWith(`.${s.domain}`)) {
      if (depth >= 8) return positive([cname], s);
      const inner = resolveInZone({ name: target, type }, view, s, depth + 1);
      if (inner.kind === 'answer') return { ...inner, rcode: inner.rcode, answers: [cname, ...inner.answers] };
      return positive([cname], s);
    }
    return { kind: 'cname', answers: [cname], target };
  }
  if (type === 'SRV') {
    const { answers, additionals } = srvRecords(name, svc, view, s);
    return positive(answers, s, additionals);
  }
  if (type !== 'A' && type !== 'ANY') return negative('NOERROR', s);
  if (!isHeadless(svc)) return positive(svc.spec.clusterIP ? [a(name, svc.spec.clusterIP, s.ttl)] : [], s);
  const ns = svc.metadata.namespace ?? 'default';
  const ips = publishedEndpoints(svc, view.slices(ns, svc.metadata.name!)).map(({ endpoint }) => endpoint.addresses[0]!);
  return positive(ips.map((ip) => a(name, ip, s.ttl)), s);
}

function reverseAnswer(name: string, type: string, view: ClusterView, s: ZoneSettings): ZoneAnswer {
  const octets = name.slice(0, -REVERSE_SUFFIX.length).split('.');
  if (octets.length !== 4 || !octets.every((o) => /^(0|[1-9]\d{0,2})$/.test(o) && Number(o) <= 255)) return { kind: 'forward' };
  const ip = octets.reverse().join('.');
  let target: string | undefined;
  const svc = view.serviceByClusterIp(ip);
  if (svc) target = `${svc.metadata.name}.${svc.metadata.namespace ?? 'default'}.svc.${s.domain}`;
  if (!target) {
    const ep = view.endpointByIp(ip);
    if (ep) target = `${endpointLabel(ep.endpoint)}.${ep.service.metadata.name}.${ep.service.metadata.namespace ?? 'default'}.svc.${s.domain}`;
  }
  if (!target) {
    const pod = view.podsByIp(ip)[0];
    if (pod) target = `${dashedIp(ip)}.${pod.metadata.namespace ?? 'default'}.pod.${s.domain}`;
  }
  if (!target) return view.ownsAddress(ip) ? negative('NXDOMAIN', s) : { kind: 'forward' };
  if (type !== 'PTR' && type !== 'ANY') return negative('NOERROR', s);
  return positive([{ type: 'PTR', name, ttl: s.ttl, class: 'IN', data: target }], s);
}

/** Whether a (lower-case, dot-less) name belongs to the cluster zone or a reverse zone we may own. */
export function inClusterZone(name: string, domain: string): boolean {
  return name === domain || name.endsWith(`.${domain}`);
}

/**
 * Answers one question. `question.name` must be lower-case without the trailing dot. Names outside
 * the zone (and reverse names of addresses that are not ours) come back as `forward`.
 */
export function resolveInZone(question: { name: string; type: string }, view: ClusterView, s: ZoneSettings, depth = 0): ZoneAnswer {
  const name = question.name;
  const type = question.type;
  if (name.endsWith(REVERSE_SUFFIX)) return reverseAnswer(name, type, view, s);
  if (!inClusterZone(name, s.domain)) return { kind: 'forward' };
  if (name === s.domain) {
    if (type === 'SOA') return positive([soaRecord(s)], s);
    if (type === 'NS') return positive([{ type: 'NS', name, ttl: s.ttl, class: 'IN', data: `ns.dns.${s.domain}` }], s);
    return negative('NOERROR', s);
  }
  const labels = name.slice(0, -(s.domain.length + 1)).split('.');
  const kind = labels[labels.length - 1];
  const rest = labels.slice(0, -1);
  if (kind === 'svc') {
    if (rest.length === 0) return negative('NOERROR', s);
    const ns = rest[rest.length - 1]!;
    if (rest.length === 1) return negative(view.namespaceKnown(ns) ? 'NOERROR' : 'NXDOMAIN', s);
    const svc = view.service(ns, rest[rest.length - 2]!);
    if (!svc) return negative('NXDOMAIN', s);
    if (rest.length === 2) return serviceAnswer(name, type, svc, view, s, depth);
    if (rest.length === 4 && rest[0]!.startsWith('_') && rest[1]!.startsWith('_')) {
      const port = { name: rest[0]!.slice(1), protocol: rest[1]!.slice(1) };
      const { answers, additionals } = srvRecords(name, svc, view, s, port);
      if (answers.length === 0) return negative('NXDOMAIN', s);
      return type === 'SRV' || type === 'ANY' ? positive(answers, s, additionals) : negative('NOERROR', s);
    }
    if (rest.length === 3 && isHeadless(svc)) {
      const label = rest[0]!;
      const match = publishedEndpoints(svc, view.slices(ns, svc.metadata.name!)).filter(({ endpoint }) => endpointLabel(endpoint) === label);
      if (match.length === 0) return negative('NXDOMAIN', s);
      if (type !== 'A' && type !== 'ANY') return negative('NOERROR', s);
      return positive(match.map(({ endpoint }) => a(name, endpoint.addresses[0]!, s.ttl)), s);
    }
    return negative('NXDOMAIN', s);
  }
  if (kind === 'pod') {
    if (rest.length <= 1) return negative(rest.length === 0 || view.namespaceKnown(rest[0]!) ? 'NOERROR' : 'NXDOMAIN', s);
    if (rest.length !== 2) return negative('NXDOMAIN', s);
    const ip = undashIp(rest[0]!);
    const ns = rest[1]!;
    // Verified: only an address some pod of that namespace really has.
    if (!ip || !view.podsByIp(ip).some((p) => (p.metadata.namespace ?? 'default') === ns)) return negative('NXDOMAIN', s);
    if (type !== 'A' && type !== 'ANY') return negative('NOERROR', s);
    return positive([a(name, ip, s.ttl)], s);
  }
  return negative('NXDOMAIN', s);
}
