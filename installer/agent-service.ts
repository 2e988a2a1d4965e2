/**
 * The agent's service as both installers write it (`corral join` over SSH, and the bundle's own
 * `install` command behind /install.sh): its command line, the 0600 token file, and the config.
 */
import { NODE_PATHS } from './join/probe.js';
import { renderSupervisor, renderSystemdUnit, serviceStartCommand, serviceStopCommand, supervisorPath, systemdUnitPath, type ServiceSpec } from './service-files.js';

export const AGENT_SERVICE = 'corral-agent';

/** Kubernetes node names are lowercase DNS subdomains. */
export function nodeNameFromHostname(hostname: string): string {
  return hostname.toLowerCase().replace(/[^a-z0-9.-]/g, '-').replace(/^[-.]+|[-.]+$/g, '') || 'node';
}

/** Cluster-wide network settings the agent needs; they must match the server's. */
export interface AgentNetwork {
  clusterCidr: string;
  serviceCidr: string;
  /** The cluster DNS domain and the kube-dns Service IP (the server's --cluster-domain / --cluster-dns). */
  clusterDomain: string;
  clusterDns: string;
  /** Pod netns are named `<netnsPrefix><node>-<pod>`; default `corral-`. */
  netnsPrefix: string;
}

export const DEFAULT_NETWORK: AgentNetwork = {
  clusterCidr: '10.42.0.0/16', serviceCidr: '10.43.0.0/16', clusterDomain: 'cluster.local', clusterDns: '10.43.0.10', netnsPrefix: 'corral-',
};

/** This node's pod netns prefix: node-specific, so two agents on one machine never touch each other's pods. */
export function netnsPrefixFor(prefix: string, nodeName: string): string {
  return `${prefix}${nodeName.replace(/[^a-z0-9-]/g, '-').slice(0, 30)}-`;
}

/**
 * V8 flags of every agent process: the installed service's command line has them, and `corral agent`
 * sets them itself (cli/agent-command.ts), where the young generation's size changes nothing: V8 sizes
 * its heap when the process starts. A small young generation (V8 otherwise keeps tens of MiB after
 * a burst of DNS queries, test/bench/dns.bench.ts) and neither optimizing nor baseline compiler: TurboFan's
 * compile zones and code cost the agent ~7-10 MiB resident, Sparkplug's baseline code and the compiler's
 * own pages of the node executable another ~2 MiB, and the agent's hot paths wait on I/O
 * (test/bench/agent.bench.ts, docs/performance.md "Agent memory"). WebAssembly (fetch()) stays.
 * Bytecode a full GC finds unused since the previous one is dropped (V8's default waits five GCs): most
 * of it is the start's run-once code, and the idle agent's full GCs are far apart, so its periodic
 * paths keep theirs (~0.3-0.5 MiB less steady idle).
 */
export const AGENT_V8_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--no-opt', '--no-sparkplug', '--bytecode-old-age=1'];

/**
 * Node.js options of the agent's service (read when the process starts, so `corral agent` run by hand
 * goes without them). `--use-openssl-ca`: the agent trusts only its cluster's CA file, yet every TLS
 * context of Node.js's own CA store starts from its ~140 bundled root certificates, parsed once per
 * process (~0.3 MiB resident); OpenSSL's store loads the system's certificates from their directory
 * only when a verification looks one up, which the agent's never does (docs/performance.md, "Agent memory").
 */
export const AGENT_NODE_OPTIONS: readonly string[] = ['--use-openssl-ca'];

/**
 * glibc malloc settings of the agent's service (glibc reads them when the process starts, so `corral
 * agent` run by hand cannot set them on itself). Parsing and compiling the agent's modules at start
 * peaks at ~7.5 MiB of malloc; freed, it stayed in the main heap (10.4 MiB resident idle, a bare Node.js
 * 2.7 MiB), because glibc returns only a large free top of the heap and raises its mmap threshold after
 * the first large free. A fixed 128 KiB threshold for mmap and for trimming gave back ~5 MiB idle.
 */
export const AGENT_MALLOC_ENVIRONMENT: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: '131072',
  MALLOC_TRIM_THRESHOLD_: '131072',
};

/** The agent's service: node + bundle + flags; the token comes from the 0600 env file, never argv. */
export function agentServiceSpec(o: { nodeBinary: string; serverUrl: string; nodeName: string; nodeIp: string; network?: AgentNetwork }): ServiceSpec & { environmentFile: string } {
  const net = { ...DEFAULT_NETWORK, ...o.network };
  return {
    name: AGENT_SERVICE,
    description: 'corral agent',
    argv: [o.nodeBinary, ...AGENT_NODE_OPTIONS, ...AGENT_V8_FLAGS, NODE_PATHS.bundle, 'agent', '--server', o.serverUrl, '--ca-file', NODE_PATHS.caFile,
      '--node-name', o.nodeName, '--node-ip', o.nodeIp, '--data-dir', NODE_PATHS.dataDir,
      '--netns-prefix', netnsPrefixFor(net.netnsPrefix, o.nodeName), '--cluster-cidr', net.clusterCidr, '--service-cidr', net.serviceCidr,
      '--cluster-domain', net.clusterDomain, '--cluster-dns', net.clusterDns],
    environment: AGENT_MALLOC_ENVIRONMENT,
    runDir: NODE_PATHS.runDir,
    logFile: NODE_PATHS.logFile,
    environmentFile: NODE_PATHS.token,
  };
}

/** The node token file, in environment-file form for both systemd (EnvironmentFile=) and sh (`.`). */
export function renderTokenFile(token: string): string {
  return `CORRAL_TOKEN=${token}\n`;
}


export interface AgentInstall {
  serverUrl: string;
  /** The node token (K10 form), written 0600. */
  token: string;
  caPem: string;
  nodeName: string;
  nodeIp: string;
  nodeBinary: string;
  service: 'systemd' | 'supervisor';
  bundleSha256: string;
  network?: AgentNetwork;
}

export interface FileToWrite { path: string; content: string; mode: string }

/** Every file an agent install writes except the bundle and the node identity (kept across re-joins). */
export function agentFiles(o: AgentInstall): FileToWrite[] {
  const spec = agentServiceSpec(o);
  const net = { ...DEFAULT_NETWORK, ...o.network };
  const config = {
    serverUrl: o.serverUrl, nodeName: o.nodeName, nodeIp: o.nodeIp, caFile: NODE_PATHS.caFile, tokenFile: NODE_PATHS.token,
    dataDir: NODE_PATHS.dataDir, netnsPrefix: netnsPrefixFor(net.netnsPrefix, o.nodeName),
    clusterCidr: net.clusterCidr, serviceCidr: net.serviceCidr, clusterDomain: net.clusterDomain, clusterDns: net.clusterDns, bundleSha256: o.bundleSha256, service: o.service,
  };
  const service: FileToWrite = o.service === 'systemd'
    ? { path: systemdUnitPath(AGENT_SERVICE), content: renderSystemdUnit(spec).replace('[Service]\n', `[Service]\nEnvironmentFile=${spec.environmentFile}\n`), mode: '0644' }
    : { path: supervisorPath(NODE_PATHS.libDir, AGENT_SERVICE), content: renderSupervisor(spec).replace('run() {\n', `run() {\n  set -a; . ${spec.environmentFile}; set +a\n`), mode: '0755' };
  return [
    { path: NODE_PATHS.caFile, content: o.caPem, mode: '0644' },
    { path: NODE_PATHS.token, content: renderTokenFile(o.token), mode: '0600' },
    { path: NODE_PATHS.config, content: `${JSON.stringify(config, null, 2)}\n`, mode: '0644' },
    service,
  ];
}

/** The shell command that (re)starts the agent's service. */
export function agentStartCommand(service: AgentInstall['service']): string {
  return serviceStartCommand(AGENT_SERVICE, service === 'systemd', NODE_PATHS.libDir);
}

/** The shell command that stops the agent's service (before an upgrade, so its last writes are over). */
export function agentStopCommand(service: AgentInstall['service']): string {
  return serviceStopCommand(AGENT_SERVICE, service === 'systemd', NODE_PATHS.libDir);
}
