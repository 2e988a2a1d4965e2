/**
 * A pod's /etc/resolv.conf, as kubelet composes it (pure):
 *  - ClusterFirst (the default): the cluster DNS IP as the only nameserver, the search list
 *    `<ns>.svc.<domain> svc.<domain> <domain>` followed by the node's own search domains, `ndots:5`.
 *    A hostNetwork pod with ClusterFirst gets the node's configuration instead (ClusterFirstWithHostNet
 *    asks for the cluster one), and so does any ClusterFirst pod when no cluster DNS is configured.
 *  - Default: the node's resolver configuration (see pickHostResolvConf for the local-stub case).
 *  - None: only what `dnsConfig` says.
 * `dnsConfig` is then merged in: nameservers and searches appended without duplicates, options
 * merged by name (the pod's value wins). Finally upstream's limits: 3 nameservers, 32 search domains,
 * no search domain over 253 characters, and a search line of at most 2048 characters.
 */
import type { Pod } from '../../api/types.js';

export const MAX_NAMESERVERS = 3;
export const MAX_SEARCH_DOMAINS = 32;
export const MAX_SEARCH_LINE_CHARS = 2048;
const MAX_DOMAIN_LENGTH = 253;

export interface ResolvConf {
  nameservers: string[];
  searches: string[];
  options: string[];
}

export interface ClusterDnsSettings {
  /** The cluster DNS Service IP (empty: no cluster DNS). */
  clusterDns: string;
  /** e.g. cluster.local */
  clusterDomain: string;
}

export interface PodDnsResult {
  conf: ResolvConf;
  /** Upstream's event texts when a limit cut something (the agent records them on the pod). */
  warnings: string[];
}

/** Parses resolv.conf text: every nameserver, the last search (or domain) line, every option. */
export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], searches: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    if (line === '') continue;
    const [keyword, ...fields] = line.split(/\s+/);
    if (keyword === 'nameserver' && fields[0]) conf.nameservers.push(fields[0]);
    else if (keyword === 'search' || keyword === 'domain') conf.searches = fields.map((f) => f.replace(/\.$/, '') || '.');
    else if (keyword === 'options') conf.options.push(...fields);
  }
  return conf;
}

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

/**
 * Which resolv.conf describes the node's upstream resolvers: /etc/resolv.conf, unless every
 * nameserver in it is a loopback stub (systemd-resolved's 127.0.0.53, dnsmasq on 127.0.0.1) which a
 * pod cannot reach from its own network namespace; then the stub's upstream file
 * (/run/systemd/resolve/resolv.conf) when it has real nameservers. Returns the chosen path and text.
 */
export function pickHostResolvConf(candidates: readonly { path: string; text: string | undefined }[]): { path: string; text: string } | undefined {
  let first: { path: string; text: string } | undefined;
  for (const c of candidates) {
    if (c.text === undefined) continue;
    const entry = { path: c.path, text: c.text };
    first ??= entry;
    const ns = parseResolvConf(c.text).nameservers;
    if (ns.length > 0 && !ns.every(isLoopback)) return entry;
  }
  return first;
}

/** The resolv.conf files looked at, in order (kubelet's --resolv-conf with k3s' systemd-resolved fallback). */
export const HOST_RESOLV_CONF_PATHS = ['/etc/resolv.conf', '/run/systemd/resolve/resolv.conf'] as const;

function unique(list: readonly string[]): string[] {
  return [...new Set(list)];
}

/** Options keyed by name, later values winning, first-seen order kept. */
function mergeOptions(base: readonly string[], pod: readonly { name?: string; value?: string }[]): string[] {
  const merged = new Map<string, string>();
  for (const op of base) {
    const i = op.indexOf(':');
    if (i >= 0) merged.set(op.slice(0, i), op.slice(i + 1));
    else merged.set(op, '');
  }
  for (const op of pod) if (op.name) merged.set(op.name, op.value ?? '');
  return [...merged].map(([name, value]) => (value === '' ? name : `${name}:${value}`));
}

function fitSearches(searches: string[], warnings: string[]): string[] {
  let cut = false;
  let out = searches;
  if (out.length > MAX_SEARCH_DOMAINS) {
    out = out.slice(0, MAX_SEARCH_DOMAINS);
    cut = true;
  }
  const fitting = out.filter((s) => s.length <= MAX_DOMAIN_LENGTH);
  if (fitting.length !== out.length) cut = true;
  out = fitting;
  let lineLength = out.join(' ').length;
  while (lineLength > MAX_SEARCH_LINE_CHARS && out.length > 0) {
    lineLength -= out[out.length - 1]!.length + 1;
    out = out.slice(0, -1);
    cut = true;
  }
  if (cut) warnings.push(`Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${out.join(' ')}`);
  return out;
}

type DnsMode = 'cluster' | 'host' | 'none';

function dnsModeOf(pod: Pod, settings: ClusterDnsSettings): DnsMode {
  const policy = pod.spec.dnsPolicy ?? 'ClusterFirst';
  if (policy === 'None') return 'none';
  if (policy === 'Default') return 'host';
  const wantsCluster = policy === 'ClusterFirstWithHostNet' || !pod.spec.hostNetwork;
  return wantsCluster && settings.clusterDns !== '' ? 'cluster' : 'host';
}

/** The resolv.conf a pod gets, given the node's own (parsed) configuration. */
export function podResolvConf(pod: Pod, host: ResolvConf, settings: ClusterDnsSettings): PodDnsResult {
  const warnings: string[] = [];
  const mode = dnsModeOf(pod, settings);
  let conf: ResolvConf;
  if (mode === 'none') conf = { nameservers: [], searches: [], options: [] };
  else if (mode === 'host') conf = { nameservers: [...host.nameservers], searches: [...host.searches], options: [...host.options] };
  else {
    const domain = settings.clusterDomain;
    const ns = pod.metadata.namespace ?? 'default';
    conf = {
      nameservers: [settings.clusterDns],
      searches: unique([`${ns}.svc.${domain}`, `svc.${domain}`, domain, ...host.searches.filter((s) => s !== '.')]),
      options: ['ndots:5'],
    };
  }
  const extra = pod.spec.dnsConfig;
  if (extra) {
    conf.nameservers = unique([...conf.nameservers, ...(extra.nameservers ?? [])]);
    conf.searches = unique([...conf.searches, ...(extra.searches ?? [])]);
    conf.options = mergeOptions(conf.options, extra.options ?? []);
  }
  conf.searches = fitSearches(conf.searches, warnings);
  if (conf.nameservers.length > MAX_NAMESERVERS) {
    conf.nameservers = conf.nameservers.slice(0, MAX_NAMESERVERS);
    warnings.push(`Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ${conf.nameservers.join(' ')}`);
  }
  return { conf, warnings };
}

/** resolv.conf text (the format kubelet writes). */
export function renderResolvConf(conf: ResolvConf): string {
  const lines: string[] = [];
  if (conf.searches.length > 0) lines.push(`search ${conf.searches.join(' ')}`);
  for (const ns of conf.nameservers) lines.push(`nameserver ${ns}`);
  if (conf.options.length > 0) lines.push(`options ${conf.options.join(' ')}`);
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
