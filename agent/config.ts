/**
 * Settings of `corral agent` (and of the server's local agent), with the defaults a Raspberry Pi
 * install needs, plus the helpers that fill the defaults that depend on the machine (node IP).
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { isValidQuantity, quantityToMilli, quantityToNumber } from '../api/quantity.js';
import { runCommand } from '../api/run-command.js';
import { isDNS1123Subdomain, isIPv4 } from '../api/validation/names.js';

export interface AgentConfig {
  /** API server `https://host:port`, or several comma separated (the agent fails over between them). */
  serverUrl: string;
  /** Bearer token (role node, or the server's own for the local agent). */
  token: string;
  /** PEM of the cluster CA the server's certificate is checked against. */
  caPem: string;
  /** Root of the agent's files: `<dataDir>/agent/...`. */
  dataDir: string;
  nodeName: string;
  /** The address other nodes and the server reach this node on (InternalIP). */
  nodeIp: string;
  containerdAddress: string;
  /**
   * Start and supervise corral's own containerd (config and root in `<data-dir>/containerd`, socket in
   * /run/corral/containerd) for hosts where no service manager runs one. An explicit containerdAddress wins.
   */
  ownContainerd?: boolean | undefined;
  /** containerd snapshotter for image unpacking and container filesystems (default overlayfs). */
  snapshotter?: string | undefined;
  /** containerd namespace (k8s.io like kubelet). */
  containerdNamespace: string;
  /**
   * Prefix of every pod network namespace this agent creates under /run/netns. Node-specific so two
   * agents on one machine (the lab, a server plus agent) never touch each other's pods.
   */
  netnsPrefix: string;
  /** Port of the agent's HTTPS endpoint for logs and exec (kubelet's 10250). 0 = any free port. */
  kubeletPort: number;
  /** Address the kubelet endpoint binds to (default: the node IP). */
  kubeletBindAddress?: string | undefined;
  /** The whole pod network; traffic from pods to outside it is masqueraded. */
  clusterCidr: string;
  serviceCidr: string;
  /** Seconds between Lease renewals. */
  leaseRenewSeconds: number;
  /** Seconds between Node status checks (written only when something changed). */
  statusCheckSeconds: number;
  /** Back-off of restarting containers: first delay and cap, ms (kubelet: 10 s and 300 s). */
  crashBackoffInitialMs: number;
  crashBackoffMaxMs: number;
  /** Per-container log file size that triggers a rotation, and how many rotated files are kept. */
  logMaxBytes: number;
  logMaxFiles: number;
  /** Seconds between measurements of pods' disk emptyDirs against their sizeLimit (kubelet: 10 s). */
  evictionMonitoringSeconds: number;
  /** Maximum pods (the Node's pods capacity). */
  maxPods: number;
  /** CPU and memory held back from pods for the OS and corral (allocatable = capacity − reserved), e.g. 250m, 256Mi. */
  reservedCpu?: string | undefined;
  reservedMemory?: string | undefined;
  /** Registries (`host:port`) pulled from over plain HTTP: a LAN registry without TLS. */
  plainHttpRegistries?: string[] | undefined;
  /** The cluster's DNS domain (kubelet's --cluster-domain). */
  clusterDomain: string;
  /** The cluster DNS Service IP written into pods' resolv.conf (kubelet's --cluster-dns); every node answers it locally. */
  clusterDns: string;
  /** Port the node-local DNS server listens on at the node IP (the cluster DNS IP's port 53 is sent there). */
  dnsPort: number;
  /** TTL of cluster DNS answers, seconds. */
  dnsTtlSeconds: number;
  /** The node's resolver file (kubelet's --resolv-conf); default /etc/resolv.conf, or systemd-resolved's upstream file behind a stub. */
  resolvConf?: string | undefined;
  /** Seconds a LoadBalancer pool address Lease lasts: a dead announcer's address moves after about this long. */
  lbLeaseSeconds: number;
  /** Directory of this node's local-path volumes (default `<dataDir>/storage`), published on the Node. */
  storageDir?: string | undefined;
  /** No ingress proxy on this node (k3s: `--disable traefik`). */
  disableIngress: boolean;
  /** Port of the ingress proxy's plain HTTP listener; 0 turns that listener off. */
  ingressHttpPort: number;
  /** Port of the ingress proxy's TLS listener; 0 turns that listener off. */
  ingressHttpsPort: number;
  /** Address the ingress proxy binds to (default: every address of the node). */
  ingressBindAddress: string;
  /** Largest request body the ingress proxy forwards, bytes (413 beyond). */
  ingressMaxBodyBytes: number;
  /** Where the agent's node binary lives (used to run probe helpers in a pod's netns). */
  nodeBinary: string;
  /** The devices file (resources by match rules); unset: /etc/corral/devices.yaml when it exists. */
  devicesConfig?: string | undefined;
  /** Where the device inventory reads sysfs and /dev (default /sys and /dev; a test points them at a fake tree). */
  sysfsRoot?: string | undefined;
  devRoot?: string | undefined;
}

export function agentDir(cfg: Pick<AgentConfig, 'dataDir'>): string {
  return join(cfg.dataDir, 'agent');
}

export const agentPaths = {
  images: (cfg: Pick<AgentConfig, 'dataDir'>): string => join(agentDir(cfg), 'images'),
  pods: (cfg: Pick<AgentConfig, 'dataDir'>): string => join(agentDir(cfg), 'pods'),
  logs: (cfg: Pick<AgentConfig, 'dataDir'>): string => join(agentDir(cfg), 'logs'),
  containers: (cfg: Pick<AgentConfig, 'dataDir'>): string => join(agentDir(cfg), 'containers'),
  ipam: (cfg: Pick<AgentConfig, 'dataDir'>): string => join(agentDir(cfg), 'ipam'),
  tls: (cfg: Pick<AgentConfig, 'dataDir'>): string => join(agentDir(cfg), 'tls'),
  storage: (cfg: Pick<AgentConfig, 'dataDir' | 'storageDir'>): string => cfg.storageDir ?? join(cfg.dataDir, 'storage'),
};

export type AgentConfigInput = Pick<AgentConfig, 'serverUrl' | 'token' | 'caPem' | 'dataDir'> & Partial<AgentConfig>;

/** The prefix of a node's pod netns names unless configured (uninstall finds them by it too). */
export function defaultNetnsPrefix(nodeName: string): string {
  return `corral-${nodeName.replace(/[^a-z0-9-]/g, '-').slice(0, 30)}-`;
}

/** Kubernetes node names are lowercase DNS subdomains. */
export function defaultNodeName(): string {
  return hostname().toLowerCase().replace(/[^a-z0-9.-]/g, '-');
}

/**
 * The IPv4 address of the interface that holds the default route (a route lookup only: no packet
 * is sent). Falls back to the first global address when there is no default route (a lab node).
 */
export async function defaultNodeIp(): Promise<string> {
  const r = await runCommand('ip', ['-j', '-4', 'route', 'show', 'default'], { timeoutMs: 5_000 });
  let dev: string | undefined;
  if (r.code === 0) {
    const routes = JSON.parse(r.stdout || '[]') as { dev?: string }[];
    dev = routes[0]?.dev;
  }
  const a = await runCommand('ip', ['-j', '-4', 'addr', 'show', ...(dev ? ['dev', dev] : []), 'scope', 'global'], { timeoutMs: 5_000 });
  if (a.code === 0) {
    const links = JSON.parse(a.stdout || '[]') as { ifname?: string; addr_info?: { local?: string }[] }[];
    for (const l of links) {
      if (l.ifname === 'cni0') continue;
      const ip = l.addr_info?.[0]?.local;
      if (ip) return ip;
    }
  }
  throw new Error('cannot find the node IP: no interface with a global IPv4 address (use --node-ip)');
}

/**
 * The reserved amounts as the Node status wants them, refusing what cannot be a reservation
 * (a typo would otherwise silently reserve nothing, or everything).
 */
export function reservedResources(cfg: Pick<AgentConfig, 'reservedCpu' | 'reservedMemory'>): { cpu?: string; memory?: string } {
  const out: { cpu?: string; memory?: string } = {};
  for (const [what, value] of [['cpu', cfg.reservedCpu], ['memory', cfg.reservedMemory]] as const) {
    if (value === undefined || value === '') continue;
    const flag = `--reserved-${what}`;
    if (!isValidQuantity(value)) throw new Error(`invalid ${flag} "${value}": use a quantity like ${what === 'cpu' ? '250m or 1' : '256Mi or 1Gi'}`);
    const amount = what === 'cpu' ? quantityToMilli(value) : quantityToNumber(value);
    if (!(amount >= 0)) throw new Error(`invalid ${flag} "${value}": must not be negative`);
    out[what] = value;
  }
  return out;
}

/** Completes a partial config with defaults; the node IP is looked up when not given. */
export async function resolveAgentConfig(input: AgentConfigInput): Promise<AgentConfig> {
  const nodeName = input.nodeName ?? defaultNodeName();
  reservedResources(input);
  if (input.clusterDomain !== undefined && isDNS1123Subdomain(input.clusterDomain).length > 0) {
    throw new Error(`invalid --cluster-domain "${input.clusterDomain}": must be a DNS domain like cluster.local`);
  }
  if (input.clusterDns !== undefined && input.clusterDns !== '' && !isIPv4(input.clusterDns)) {
    throw new Error(`invalid --cluster-dns "${input.clusterDns}": must be an IPv4 address in the service range`);
  }
  if (input.dnsTtlSeconds !== undefined && !(Number.isInteger(input.dnsTtlSeconds) && input.dnsTtlSeconds >= 0 && input.dnsTtlSeconds <= 3600)) {
    throw new Error(`invalid --cluster-dns-ttl "${input.dnsTtlSeconds}": whole seconds from 0 to 3600`);
  }
  if (input.lbLeaseSeconds !== undefined && !(Number.isInteger(input.lbLeaseSeconds) && input.lbLeaseSeconds >= 2 && input.lbLeaseSeconds <= 300)) {
    throw new Error(`invalid --lb-lease-duration "${input.lbLeaseSeconds}s": whole seconds from 2 to 300`);
  }
  if (input.dnsPort !== undefined && !(Number.isInteger(input.dnsPort) && input.dnsPort > 0 && input.dnsPort < 65536)) {
    throw new Error(`invalid --cluster-dns-port "${input.dnsPort}": must be a port number`);
  }
  for (const [flag, port] of [['--ingress-http-port', input.ingressHttpPort], ['--ingress-https-port', input.ingressHttpsPort]] as const) {
    if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) throw new Error(`invalid ${flag} "${port}": a port number, or 0 for none`);
  }
  if (input.ingressBindAddress !== undefined && !isIPv4(input.ingressBindAddress)) {
    throw new Error(`invalid --ingress-bind-address "${input.ingressBindAddress}": must be an IPv4 address (0.0.0.0 for all)`);
  }
  if (input.ingressMaxBodyBytes !== undefined && !(Number.isFinite(input.ingressMaxBodyBytes) && input.ingressMaxBodyBytes >= 0)) {
    throw new Error(`invalid --ingress-max-body-size "${input.ingressMaxBodyBytes}": a size like 64Mi`);
  }
  return {
    containerdAddress: '/run/containerd/containerd.sock',
    containerdNamespace: 'k8s.io',
    netnsPrefix: defaultNetnsPrefix(nodeName),
    kubeletPort: 10250,
    clusterCidr: '10.42.0.0/16',
    serviceCidr: '10.43.0.0/16',
    leaseRenewSeconds: 10,
    statusCheckSeconds: 10,
    crashBackoffInitialMs: 10_000,
    crashBackoffMaxMs: 300_000,
    logMaxBytes: 10 * 1024 * 1024,
    logMaxFiles: 2,
    maxPods: 110,
    evictionMonitoringSeconds: 10,
    clusterDomain: 'cluster.local',
    clusterDns: '10.43.0.10',
    dnsPort: 10053,
    dnsTtlSeconds: 5,
    lbLeaseSeconds: 10,
    nodeBinary: process.execPath,
    disableIngress: false,
    ingressHttpPort: 80,
    ingressHttpsPort: 443,
    ingressBindAddress: '0.0.0.0',
    ingressMaxBodyBytes: 64 * 1024 * 1024,
    ...stripUndefined(input),
    nodeName,
    nodeIp: input.nodeIp ?? (await defaultNodeIp()),
  };
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
