/**
 * Services + Endpoints → the nat table rules of corral's own chains, as `iptables-restore` text.
 * Pure: no I/O, same input → same text, so the result can be compared, diffed and unit-tested.
 *
 * Shape (kube-proxy's iptables mode, with corral's names):
 *   PREROUTING, OUTPUT  → CORRAL-SERVICES   (jumps installed by the applier, not here)
 *   POSTROUTING         → CORRAL-POSTROUTING
 *   CORRAL-SERVICES     clusterIP:port / externalIP:port / load-balancer IP:port → CORRAL-SVC-<hash> (or
 *                       CORRAL-EXT-<hash>, or CORRAL-FW-<hash> with loadBalancerSourceRanges); last rule → CORRAL-NODEPORTS
 *   CORRAL-NODEPORTS    nodePort → mark for masquerade, → CORRAL-SVC-<hash>
 *   CORRAL-SVC-<hash>   one per service port: mark traffic from outside the pod network, ClientIP affinity
 *                       (`recent`), then random-probability choice of an endpoint
 *   CORRAL-SEP-<hash>   one per endpoint: hairpin mark (pod talking to itself via the VIP), DNAT
 *   CORRAL-MARK-MASQ    sets the masquerade bit
 *   CORRAL-POSTROUTING  masquerades marked packets, and pod traffic leaving the cluster network
 *   CORRAL-FW-<hash>    load-balancer traffic from the allowed source ranges → the service; the rest falls
 *                       through untranslated and the filter chain CORRAL-PROXY-FIREWALL (INPUT, FORWARD,
 *                       OUTPUT, new connections) drops it, as kube-proxy's KUBE-PROXY-FIREWALL does
 *
 * Services without ready endpoints get no rules at all (REJECT-free, nat table only): their ClusterIP
 * is not translated, so a client sees a timeout or an unreachable route, never a wrong backend.
 *
 * Why this file is long: the whole nat rule set is rendered by this one pure module: its chains name
 * each other and the restart/delta renderers must agree on them, so they stay side by side.
 */
import { createHash } from 'node:crypto';
import { loadBalancerIngressIPs, loadBalancerSourceRanges } from '../../api/load-balancer.js';
import type { EndpointSlice, Service, ServicePort } from '../../api/types.js';
import { cidrContains, parseCidr } from '../network/cidr.js';

export const CHAIN_SERVICES = 'CORRAL-SERVICES';
export const CHAIN_NODEPORTS = 'CORRAL-NODEPORTS';
export const CHAIN_POSTROUTING = 'CORRAL-POSTROUTING';
export const CHAIN_MARK_MASQ = 'CORRAL-MARK-MASQ';
export const BASE_CHAINS = [CHAIN_SERVICES, CHAIN_NODEPORTS, CHAIN_POSTROUTING, CHAIN_MARK_MASQ] as const;
/** Every chain corral owns starts with this; nothing else is ever touched. */
export const CHAIN_PREFIX = 'CORRAL-';
/** The packet-mark bit meaning "masquerade this in POSTROUTING" (kube-proxy uses the same bit). */
export const MASQ_MARK = '0x4000';
/** Default ClientIP affinity timeout (Kubernetes default: 3 hours). */
export const DEFAULT_AFFINITY_SECONDS = 10_800;

/** The filter-table chain guarding 127.0.0.0/8 once route_localnet is on (jumped to from INPUT). */
export const CHAIN_FIREWALL = 'CORRAL-FIREWALL';
/** The filter-table chain dropping load-balancer traffic from outside loadBalancerSourceRanges. */
export const CHAIN_PROXY_FIREWALL = 'CORRAL-PROXY-FIREWALL';

/**
 * Node ports on 127.0.0.1 need `net.ipv4.conf.all.route_localnet=1` (a DNATed packet keeps its
 * 127.0.0.1 source on its way out), which also lets the node accept LAN packets addressed to
 * 127.0.0.0/8 (CVE-2020-8558). This filter chain drops those unless they are replies or were
 * DNATed by a service rule, as kube-proxy does; one `iptables-restore --noflush` transaction.
 */
export function renderLocalnetGuard(): string {
  return [
    '*filter',
    `:${CHAIN_FIREWALL} - [0:0]`,
    `-A ${CHAIN_FIREWALL} ! -s 127.0.0.0/8 -d 127.0.0.0/8 ${comment('corral: block incoming localnet connections')} -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`,
    'COMMIT',
    '',
  ].join('\n');
}

/**
 * The filter table's CORRAL-PROXY-FIREWALL in full (one `iptables-restore --noflush` transaction):
 * a new connection to a load-balancer IP:port of a Service with source ranges that the nat rules did
 * not translate came from a range not allowed, and is dropped.
 */
export function renderProxyFirewall(set: NatRuleSet): string {
  return ['*filter', `:${CHAIN_PROXY_FIREWALL} - [0:0]`, ...set.services.flatMap((s) => s.filterRules), 'COMMIT', ''].join('\n');
}

/** The label tying an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface NatInput {
  services: Service[];
  /** Every EndpointSlice (grouped by their `kubernetes.io/service-name` label). */
  endpointSlices: EndpointSlice[];
  /** This node's name: the `Local` traffic policies keep to endpoints whose nodeName is this. */
  nodeName?: string | undefined;
  /**
   * Addresses NodePorts answer on. Empty: every local address of the node (`addrtype --dst-type LOCAL`,
   * which also follows an address change without a resync). Non-empty: only these (like kube-proxy's
   * --nodeport-addresses), e.g. to keep NodePorts off a second, public interface.
   */
  nodeIPs: string[];
  /** This node's own address: load-balancer source ranges that contain it also let the node reach the LB IP. */
  nodeIP?: string | undefined;
  /** This node's pod CIDR: pod traffic from it leaving the cluster network is masqueraded. */
  podCIDR: string;
  /** The whole cluster's pod network: traffic to a service from outside it is masqueraded. */
  clusterCIDR: string;
  /**
   * Node-local cluster DNS: port 53 (UDP and TCP) of the cluster DNS IP goes to this node's own
   * resolver (`ip:port`) instead of any endpoint, so a pod's DNS never depends on another node.
   */
  nodeLocalDns?: { clusterIP: string; target: string } | undefined;
}

/** The rules of one user-defined chain. */
export interface Chain {
  name: string;
  rules: string[];
}

/** Everything one service contributes: its lines in the shared chains and its own chains. */
export interface ServiceRules {
  /** namespace/name */
  key: string;
  /** Its lines in CORRAL-SERVICES (ClusterIP and external IP matches). */
  serviceRules: string[];
  /** Its lines in CORRAL-NODEPORTS. */
  nodePortRules: string[];
  /** Its CORRAL-SVC-*, CORRAL-EXT-*, CORRAL-FW-* and CORRAL-SEP-* chains. */
  chains: Chain[];
  /** Its lines in the filter table's CORRAL-PROXY-FIREWALL (drops outside loadBalancerSourceRanges). */
  filterRules: string[];
}

/** The complete rule set; render it whole (renderNatRuleSet) or as a delta against the previous one. */
export interface NatRuleSet {
  /** Sorted by key so the text is stable. */
  services: ServiceRules[];
  /** CORRAL-SERVICES, CORRAL-NODEPORTS, CORRAL-POSTROUTING, CORRAL-MARK-MASQ in full. */
  base: Chain[];
}

/** Chain name hash: stable for the same input, 16 base32 characters (chain names max out at 28). */
export function chainHash(...parts: string[]): string {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest();
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 16) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= 16) break;
  }
  return out;
}

export function serviceChainName(namespace: string, name: string, portName: string, protocol: string): string {
  return `CORRAL-SVC-${chainHash(namespace, name, portName, protocol)}`;
}

export function endpointChainName(namespace: string, name: string, portName: string, protocol: string, endpoint: string): string {
  return `CORRAL-SEP-${chainHash(namespace, name, portName, protocol, endpoint)}`;
}

interface Backend { ip: string; port: number; nodeName?: string | undefined }

/**
 * The endpoints traffic may go to for one service port, from its EndpointSlices, matched by port name
 * and protocol, sorted for stable output: the ready ones; when none is ready, those still serving while
 * terminating (kube-proxy's fallback, so a rollout's last old pod keeps answering).
 */
export function backendsFor(slices: readonly EndpointSlice[], port: ServicePort): Backend[] {
  const wanted = port.name ?? '';
  const protocol = port.protocol ?? 'TCP';
  const ready: Backend[] = [];
  const terminating: Backend[] = [];
  const seen = new Set<string>();
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4') continue;
    const sp = (slice.ports ?? []).find((p) => (p.name ?? '') === wanted && (p.protocol ?? 'TCP') === protocol);
    if (!sp || sp.port === undefined) continue;
    for (const e of slice.endpoints ?? []) {
      const ip = e.addresses?.[0];
      if (!ip) continue;
      const id = `${ip}:${sp.port}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const b: Backend = { ip, port: sp.port, nodeName: e.nodeName };
      // Unset conditions mean ready (the API's rule for consumers).
      if (e.conditions?.ready !== false) ready.push(b);
      else if (e.conditions?.serving === true && e.conditions.terminating === true) terminating.push(b);
    }
  }
  const out = ready.length > 0 ? ready : terminating;
  return out.sort((a, b) => compareIp(a.ip, b.ip) || a.port - b.port);
}

function compareIp(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 4; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** 1/(n-i) with ten decimals, as kube-proxy writes it (the text must be stable for diffs). */
export function probability(n: number): string {
  return (1 / n).toFixed(10);
}

function protoMatch(protocol: string, port: number): string {
  const p = protocol.toLowerCase();
  return `-p ${p} -m ${p} --dport ${port}`;
}

function comment(text: string): string {
  // Kubernetes names and port names are DNS labels: no quotes or spaces to escape.
  return `-m comment --comment "${text}"`;
}

function hasClusterIP(svc: Service): boolean {
  const ip = svc.spec.clusterIP;
  return ip !== undefined && ip !== '' && ip !== 'None';
}

const HASH_PLACEHOLDER = '@CONTENT-HASH@';
/** Marks the content hash inside the first rule's comment of every CORRAL-SVC chain. */
export const HASH_TAG = 'h=';

/**
 * A short hash of everything one service port installs (its SVC chain with the hash left out, and its
 * SEP chains). Written into the kernel with the rules, it lets a restarted agent tell which services'
 * chains are already exactly right (installedServiceHashes) and rewrite only the others.
 */
function contentHash(chains: readonly Chain[]): string {
  return createHash('sha256').update(JSON.stringify(chains)).digest('hex').slice(0, 12);
}

export function externalChainName(namespace: string, name: string, portName: string, protocol: string): string {
  return `CORRAL-EXT-${chainHash(namespace, name, portName, protocol, 'external')}`;
}

export function firewallChainName(namespace: string, name: string, portName: string, protocol: string): string {
  return `CORRAL-FW-${chainHash(namespace, name, portName, protocol, 'firewall')}`;
}

function rangeContains(range: string, ip: string | undefined): boolean {
  if (ip === undefined) return false;
  try {
    return cidrContains(parseCidr(range), ip);
  } catch {
    return false;
  }
}

function endpointChain(namespace: string, name: string, portName: string, protocol: string, b: Backend, label: string, affinity: boolean): Chain {
  const endpoint = `${b.ip}:${b.port}`;
  const sep = endpointChainName(namespace, name, portName, protocol, endpoint);
  const p = protocol.toLowerCase();
  return {
    name: sep,
    rules: [
      // Hairpin: a pod reaching itself through the service must be masqueraded or it answers itself directly.
      `-A ${sep} -s ${b.ip}/32 ${comment(label)} -j ${CHAIN_MARK_MASQ}`,
      `-A ${sep} -p ${p} ${comment(label)}${affinity ? ` -m recent --set --name ${sep} --mask 255.255.255.255 --rsource` : ''} -m ${p} -j DNAT --to-destination ${endpoint}`,
    ],
  };
}

/** Affinity checks, then a random pick among `backends` (1/n, 1/(n-1), ... 1), as rules of `chain`. */
function pickRules(chain: string, backends: readonly Backend[], seps: ReadonlyMap<string, Chain>, label: string, affinity: { seconds: number } | undefined): string[] {
  const rules: string[] = [];
  const chainsOf = backends.map((b) => seps.get(`${b.ip}:${b.port}`)!);
  if (affinity) {
    for (const sep of chainsOf) {
      rules.push(`-A ${chain} ${comment(`${label} -> ${sep.name.slice(11)}`)} -m recent --rcheck --seconds ${affinity.seconds} --reap --name ${sep.name} --mask 255.255.255.255 --rsource -j ${sep.name}`);
    }
  }
  chainsOf.forEach((sep, i) => {
    const b = backends[i]!;
    const remaining = backends.length - i;
    const pick = remaining > 1 ? ` -m statistic --mode random --probability ${probability(remaining)}` : '';
    rules.push(`-A ${chain} ${comment(`${label} -> ${b.ip}:${b.port}`)}${pick} -j ${sep.name}`);
  });
  return rules;
}

/**
 * The rules of one Service. ExternalName and headless Services get none (DNS only). Traffic policies:
 * `internalTrafficPolicy: Local` sends ClusterIP traffic only to endpoints on this node;
 * `externalTrafficPolicy: Local` sends NodePort and external-IP traffic only to endpoints on this node
 * and does not masquerade it, so the pod sees the client's address (pods of this cluster reaching the
 * node port still take the ClusterIP path). A policy that leaves no endpoint installs no translation.
 */
export function buildServiceRules(svc: Service, slices: readonly EndpointSlice[], input: NatInput): ServiceRules | undefined {
  const namespace = svc.metadata.namespace ?? 'default';
  const name = svc.metadata.name ?? '';
  const type = svc.spec.type ?? 'ClusterIP';
  if (type === 'ExternalName' || !hasClusterIP(svc)) return undefined;
  const clusterIP = svc.spec.clusterIP!;
  const affinity = svc.spec.sessionAffinity === 'ClientIP'
    ? { seconds: svc.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_SECONDS }
    : undefined;
  const internalLocal = svc.spec.internalTrafficPolicy === 'Local';
  const externalLocal = svc.spec.externalTrafficPolicy === 'Local';
  const isLocal = (b: Backend): boolean => input.nodeName !== undefined && b.nodeName === input.nodeName;
  const result: ServiceRules = { key: `${namespace}/${name}`, serviceRules: [], nodePortRules: [], chains: [], filterRules: [] };
  // Load-balancer addresses (status.loadBalancer.ingress) are handled like external IPs, behind a
  // firewall chain when source ranges are set.
  const lbIPs = type === 'LoadBalancer' ? loadBalancerIngressIPs(svc) : [];
  const sourceRanges = lbIPs.length > 0 ? loadBalancerSourceRanges(svc) : [];

  for (const port of svc.spec.ports ?? []) {
    const protocol = port.protocol ?? 'TCP';
    const portName = port.name ?? '';
    const label = `${namespace}/${name}${portName ? `:${portName}` : ''}`;
    const usable = backendsFor(slices, port);
    const clusterBackends = internalLocal ? usable.filter(isLocal) : usable;
    const nodePort = (type === 'NodePort' || type === 'LoadBalancer') && port.nodePort ? port.nodePort : undefined;
    const externalIPs = svc.spec.externalIPs ?? [];
    const hasExternal = nodePort !== undefined || externalIPs.length > 0 || lbIPs.length > 0;
    const fwChain = firewallChainName(namespace, name, portName, protocol);
    if (sourceRanges.length > 0) {
      for (const lb of lbIPs) result.filterRules.push(`-A ${CHAIN_PROXY_FIREWALL} -d ${lb}/32 ${comment(`${label} traffic not accepted by loadBalancerSourceRanges`)} ${protoMatch(protocol, port.port)} -j DROP`);
    }
    // External traffic gets its own chain when a policy makes its endpoints differ from the ClusterIP's.
    const separateExternal = hasExternal && (externalLocal || internalLocal);
    const externalBackends = !hasExternal ? [] : externalLocal ? usable.filter(isLocal) : usable;
    if (clusterBackends.length === 0 && externalBackends.length === 0) continue; // REJECT-free: no endpoints, no translation
    const svcChain = serviceChainName(namespace, name, portName, protocol);
    const extChain = externalChainName(namespace, name, portName, protocol);
    const match = protoMatch(protocol, port.port);

    const seps = new Map<string, Chain>();
    for (const b of [...clusterBackends, ...(separateExternal ? externalBackends : [])]) {
      const id = `${b.ip}:${b.port}`;
      if (!seps.has(id)) seps.set(id, endpointChain(namespace, name, portName, protocol, b, label, affinity !== undefined));
    }
    const sepChains = [...seps.entries()].sort(([a], [b]) => {
      const [ia, pa] = [a.slice(0, a.lastIndexOf(':')), Number(a.slice(a.lastIndexOf(':') + 1))];
      const [ib, pb] = [b.slice(0, b.lastIndexOf(':')), Number(b.slice(b.lastIndexOf(':') + 1))];
      return compareIp(ia, ib) || pa - pb;
    }).map(([, c]) => c);
    const own: Chain[] = [];

    if (clusterBackends.length > 0) {
      result.serviceRules.push(`-A ${CHAIN_SERVICES} -d ${clusterIP}/32 ${comment(`${label} cluster IP`)} ${match} -j ${svcChain}`);
      own.push({
        name: svcChain,
        rules: [
          // Clients outside the pod network (the host itself, other LAN hosts) need SNAT so replies come back through us.
          // Its comment also carries the content hash of this service port's chains (see contentHash).
          `-A ${svcChain} ! -s ${input.clusterCIDR} -d ${clusterIP}/32 ${comment(`${label} cluster IP ${HASH_PLACEHOLDER}`)} ${match} -j ${CHAIN_MARK_MASQ}`,
          ...pickRules(svcChain, clusterBackends, seps, label, affinity),
        ],
      });
    }
    /** The rules sending external traffic matched by `head` on to the service (marked: Cluster policy). */
    const toExternal = (head: string): string[] => separateExternal ? [`${head} -j ${extChain}`] : [`${head} -j ${CHAIN_MARK_MASQ}`, `${head} -j ${svcChain}`];
    const externalReachable = separateExternal ? externalBackends.length > 0 || (externalLocal && clusterBackends.length > 0) : clusterBackends.length > 0;
    if (lbIPs.length > 0 && externalReachable) {
      for (const lb of lbIPs) {
        const head = `-A ${CHAIN_SERVICES} -d ${lb}/32 ${comment(`${label} loadbalancer IP`)} ${match}`;
        result.serviceRules.push(...(sourceRanges.length > 0 ? [`${head} -j ${fwChain}`] : toExternal(head)));
      }
      if (sourceRanges.length > 0) {
        // A VIP held by this node is a local address: the node reaching it has the VIP as source.
        const fromNode = sourceRanges.some((r) => rangeContains(r, input.nodeIP)) ? lbIPs : [];
        const allowed = [...sourceRanges, ...fromNode.map((ip) => `${ip}/32`)];
        own.push({ name: fwChain, rules: allowed.flatMap((r) => toExternal(`-A ${fwChain} -s ${r} ${comment(`${label} loadbalancer IP`)}`)) });
      }
    }
    if (hasExternal && !separateExternal && clusterBackends.length > 0) {
      for (const ext of externalIPs) result.serviceRules.push(...toExternal(`-A ${CHAIN_SERVICES} -d ${ext}/32 ${comment(`${label} external IP`)} ${match}`));
      if (nodePort !== undefined) {
        const np = protoMatch(protocol, nodePort);
        result.nodePortRules.push(`-A ${CHAIN_NODEPORTS} ${comment(`${label} node port`)} ${np} -j ${CHAIN_MARK_MASQ}`);
        result.nodePortRules.push(`-A ${CHAIN_NODEPORTS} ${comment(`${label} node port`)} ${np} -j ${svcChain}`);
      }
    }
    // With a Local policy, pods and the node itself keep the cluster path even when no endpoint is local.
    if (separateExternal && externalReachable) {
      for (const ext of externalIPs) result.serviceRules.push(`-A ${CHAIN_SERVICES} -d ${ext}/32 ${comment(`${label} external IP`)} ${match} -j ${extChain}`);
      if (nodePort !== undefined) result.nodePortRules.push(`-A ${CHAIN_NODEPORTS} ${comment(`${label} node port`)} ${protoMatch(protocol, nodePort)} -j ${extChain}`);
      const first = externalLocal
        // Pods of the cluster keep the ClusterIP path; outside clients keep their source address. The
        // node's own traffic (its addresses, 127.0.0.1 for a loopback node port) is masqueraded, since a
        // 127.0.0.1 source cannot leave the node, and also takes the cluster path.
        ? (clusterBackends.length > 0
          ? [
            `-A ${extChain} -s ${input.clusterCIDR} ${comment(`${label} pods use the cluster path ${HASH_PLACEHOLDER}`)} -j ${svcChain}`,
            `-A ${extChain} ${comment(`${label} masquerade node-local traffic`)} -m addrtype --src-type LOCAL -j ${CHAIN_MARK_MASQ}`,
            `-A ${extChain} ${comment(`${label} node-local traffic uses the cluster path`)} -m addrtype --src-type LOCAL -j ${svcChain}`,
          ]
          : [`-A ${extChain} -s ${input.clusterCIDR} ${comment(`${label} external, local endpoints only ${HASH_PLACEHOLDER}`)} -j RETURN`])
        : [`-A ${extChain} ${comment(`${label} external ${HASH_PLACEHOLDER}`)} -j ${CHAIN_MARK_MASQ}`];
      own.push({ name: extChain, rules: [...first, ...pickRules(extChain, externalBackends, seps, label, affinity)] });
    }
    const hash = contentHash([...own, ...sepChains]);
    for (const c of own) c.rules[0] = c.rules[0]!.replace(HASH_PLACEHOLDER, `${HASH_TAG}${hash}`);
    // The SVC/EXT chains first: a restart sync reads the content hash from them.
    own.sort((a, b) => Number(a.name === fwChain) - Number(b.name === fwChain));
    result.chains.push(...own, ...sepChains);
  }
  if (result.serviceRules.length === 0 && result.chains.length === 0 && result.filterRules.length === 0) return undefined;
  return result;
}

export function buildNatRuleSet(input: NatInput): NatRuleSet {
  const slicesByService = new Map<string, EndpointSlice[]>();
  for (const slice of input.endpointSlices) {
    const svc = slice.metadata.labels?.[SERVICE_NAME_LABEL];
    if (!svc) continue;
    const key = `${slice.metadata.namespace ?? 'default'}/${svc}`;
    const list = slicesByService.get(key);
    if (list) list.push(slice);
    else slicesByService.set(key, [slice]);
  }
  const services: ServiceRules[] = [];
  for (const svc of input.services) {
    const key = `${svc.metadata.namespace ?? 'default'}/${svc.metadata.name ?? ''}`;
    const rules = buildServiceRules(svc, slicesByService.get(key) ?? [], input);
    if (rules) services.push(rules);
  }
  services.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

  const dns = input.nodeLocalDns;
  const dnsRules = dns
    ? ['udp', 'tcp'].map((p) => `-A ${CHAIN_SERVICES} -d ${dns.clusterIP}/32 -p ${p} ${comment('cluster DNS to this node')} -m ${p} --dport 53 -j DNAT --to-destination ${dns.target}`)
    : [];
  const serviceChainRules = [...dnsRules, ...services.flatMap((s) => s.serviceRules)];
  const nodePortJumps = input.nodeIPs.length === 0
    ? [`-A ${CHAIN_SERVICES} ${comment('corral node ports, last rule of this chain')} -m addrtype --dst-type LOCAL -j ${CHAIN_NODEPORTS}`]
    : [...input.nodeIPs].sort().map((ip) => `-A ${CHAIN_SERVICES} -d ${ip}/32 ${comment('corral node ports, last rules of this chain')} -j ${CHAIN_NODEPORTS}`);
  const base: Chain[] = [
    { name: CHAIN_SERVICES, rules: [...serviceChainRules, ...nodePortJumps] },
    { name: CHAIN_NODEPORTS, rules: services.flatMap((s) => s.nodePortRules) },
    {
      name: CHAIN_POSTROUTING,
      rules: [
        `-A ${CHAIN_POSTROUTING} -s ${input.podCIDR} ! -d ${input.clusterCIDR} ${comment('corral pod traffic leaving the cluster network')} -j MASQUERADE --random-fully`,
        `-A ${CHAIN_POSTROUTING} -m mark ! --mark ${MASQ_MARK}/${MASQ_MARK} -j RETURN`,
        // Clear the bit so a packet re-entering (e.g. through a tunnel) is not masqueraded twice.
        `-A ${CHAIN_POSTROUTING} -j MARK --xor-mark ${MASQ_MARK}`,
        `-A ${CHAIN_POSTROUTING} ${comment('corral service traffic requiring SNAT')} -j MASQUERADE --random-fully`,
      ],
    },
    { name: CHAIN_MARK_MASQ, rules: [`-A ${CHAIN_MARK_MASQ} -j MARK --or-mark ${MASQ_MARK}`] },
  ];
  return { services, base };
}

/** All chain names of a rule set. */
export function chainNames(set: NatRuleSet): string[] {
  return [...set.base.map((c) => c.name), ...set.services.flatMap((s) => s.chains.map((c) => c.name))];
}

export interface RenderOptions {
  /**
   * corral chains that exist in the kernel now (from iptables-save); those not in the new rule set
   * are flushed and deleted.
   */
  existingChains?: readonly string[];
}

/** The whole nat rule set as one `iptables-restore --noflush` transaction. */
export function renderNatRuleSet(set: NatRuleSet, opts: RenderOptions = {}): string {
  const wanted = chainNames(set);
  const wantedSet = new Set(wanted);
  const stale = [...new Set(opts.existingChains ?? [])].filter((c) => c.startsWith(CHAIN_PREFIX) && !wantedSet.has(c)).sort();
  const lines = ['*nat'];
  for (const c of [...wanted, ...stale]) lines.push(`:${c} - [0:0]`);
  for (const c of set.base) lines.push(...c.rules);
  for (const s of set.services) for (const c of s.chains) lines.push(...c.rules);
  for (const c of stale) lines.push(`-X ${c}`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** renderNatRuleSet(buildNatRuleSet(input)): the full text for an `iptables-restore --noflush`. */
export function renderNatRules(input: NatInput, opts: RenderOptions = {}): string {
  return renderNatRuleSet(buildNatRuleSet(input), opts);
}

/** What `iptables-save -t nat` shows of corral: its chains, and the content hash of each SVC chain. */
export interface InstalledNat {
  chains: Set<string>;
  /** CORRAL-SVC chain → the hash in its first rule's comment. */
  hashes: Map<string, string>;
}

export function parseInstalledNat(saveText: string): InstalledNat {
  const chains = new Set<string>();
  const hashes = new Map<string, string>();
  const hashRule = new RegExp(`^-A (${CHAIN_PREFIX}(?:SVC|EXT)-\\S+) .*--comment "[^"]* ${HASH_TAG}([0-9a-f]{12})"`);
  for (const line of saveText.split('\n')) {
    if (line.startsWith(`:${CHAIN_PREFIX}`)) chains.add(line.slice(1).split(' ')[0]!);
    else if (line.startsWith(`-A ${CHAIN_PREFIX}SVC-`) || line.startsWith(`-A ${CHAIN_PREFIX}EXT-`)) {
      const m = hashRule.exec(line);
      if (m && !hashes.has(m[1]!)) hashes.set(m[1]!, m[2]!);
    }
  }
  return { chains, hashes };
}

/** The hash a service port's SVC chain carries in the rule set (undefined for other chains). */
function hashOf(chain: Chain): string | undefined {
  const m = new RegExp(` ${HASH_TAG}([0-9a-f]{12})"`).exec(chain.rules[0] ?? '');
  return m?.[1];
}

/** True when every chain of the service is in the kernel and each SVC chain carries the same hash. */
export function serviceInstalled(s: ServiceRules, installed: InstalledNat): boolean {
  for (const c of s.chains) {
    if (!installed.chains.has(c.name)) return false;
    if ((c.name.startsWith(`${CHAIN_PREFIX}SVC-`) || c.name.startsWith(`${CHAIN_PREFIX}EXT-`)) && installed.hashes.get(c.name) !== hashOf(c)) return false;
  }
  return true;
}

/**
 * The first sync of an agent that finds corral's chains already in the kernel (it restarted): one
 * `iptables-restore --noflush` that rewrites the base chains, only the services whose chains are
 * missing or carry another content hash, and deletes corral chains no longer wanted. After a plain
 * restart nothing changed and this is a few hundred rules instead of the whole table. Returns the
 * text and how many services it rewrites.
 */
export function renderRestartSync(set: NatRuleSet, installed: InstalledNat): { text: string; rewritten: number } {
  const wanted = new Set(chainNames(set));
  const declare: string[] = [];
  const rules: string[] = [];
  for (const c of set.base) {
    declare.push(c.name);
    rules.push(...c.rules);
  }
  let rewritten = 0;
  for (const s of set.services) {
    if (serviceInstalled(s, installed)) continue;
    rewritten++;
    for (const c of s.chains) {
      declare.push(c.name);
      rules.push(...c.rules);
    }
  }
  const stale = [...installed.chains].filter((c) => !wanted.has(c)).sort();
  const lines = ['*nat'];
  for (const c of [...declare, ...stale]) lines.push(`:${c} - [0:0]`);
  lines.push(...rules);
  for (const c of stale) lines.push(`-X ${c}`);
  lines.push('COMMIT', '');
  return { text: lines.join('\n'), rewritten };
}

function sameChains(a: readonly Chain[], b: readonly Chain[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((c, i) => c.name === b[i]!.name && c.rules.length === b[i]!.rules.length && c.rules.every((r, j) => r === b[i]!.rules[j]));
}

/**
 * The `iptables-restore --noflush` text that turns `prev` (what is installed) into `next`, rewriting
 * only the chains of services that changed. CORRAL-SERVICES and CORRAL-NODEPORTS are rewritten only
 * when a service's own lines in them changed (added, removed, new IP or port); endpoint churn touches
 * only that service's SVC/SEP chains. Returns undefined when nothing changed.
 */
export function renderServiceDelta(prev: NatRuleSet, next: NatRuleSet): string | undefined {
  const prevByKey = new Map(prev.services.map((s) => [s.key, s]));
  const declare: string[] = [];
  const rules: string[] = [];
  const nextChainNames = new Set(chainNames(next));

  for (const base of next.base) {
    const before = prev.base.find((c) => c.name === base.name);
    if (!before || !sameChains([before], [base])) {
      declare.push(base.name);
      rules.push(...base.rules);
    }
  }
  for (const s of next.services) {
    const before = prevByKey.get(s.key);
    if (before && sameChains(before.chains, s.chains)) continue;
    for (const c of s.chains) {
      declare.push(c.name);
      rules.push(...c.rules);
    }
  }
  const stale: string[] = [];
  for (const s of prev.services) {
    for (const c of s.chains) if (!nextChainNames.has(c.name)) stale.push(c.name);
  }
  if (declare.length === 0 && stale.length === 0) return undefined;
  const lines = ['*nat'];
  for (const c of [...declare, ...stale]) lines.push(`:${c} - [0:0]`);
  lines.push(...rules);
  for (const c of stale) lines.push(`-X ${c}`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}
