/** Server settings and where things live under the data dir. */
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface ServerConfig {
  dataDir: string;
  port: number;
  /** Address to listen on (default all). */
  bindAddress: string;
  /** Extra names/IPs for the serving certificate. */
  tlsSans: string[];
  disableAgent: boolean;
  /** Address nodes and clients use to reach this server (default: first LAN address). */
  advertiseAddress?: string;
  nodeIp?: string;
  containerdAddress?: string;
  /** The local agent starts and supervises corral's own containerd (agent/runtime/own-containerd.ts). */
  ownContainerd?: boolean;
  /** The local agent's containerd snapshotter (default overlayfs). */
  snapshotter?: string;
  /** Seconds a node's pods tolerate its loss before eviction. */
  podEvictionTimeoutSeconds: number;
  /** Seconds without a node Lease renewal before the node is marked NotReady. */
  nodeMonitorGracePeriodSeconds: number;
  /** Controllers, scheduler and node lifecycle can be turned off for tests of the bare API. */
  disableControllers: boolean;
  serviceCidr: string;
  clusterCidr: string;
  /** The cluster DNS domain and the kube-dns Service IP (shared with every agent). */
  clusterDomain: string;
  clusterDns: string;
  /** The local agent's reserved cpu/memory (allocatable = capacity − reserved) and pod netns prefix. */
  reservedCpu?: string;
  reservedMemory?: string;
  netnsPrefix?: string;
  /** Where the local-path provisioner puts volumes on every node (default `<data-dir>/storage`). */
  storageDir?: string;
  /** Directories besides storageDir a PersistentVolume's hostPath/local path may point into (default /mnt, /srv, /data). */
  pvHostPathRoots?: string[];
  /** The local agent's devices file (`--devices-config`; default /etc/corral/devices.yaml when it exists). */
  devicesConfig?: string;
  /** The local agent's ingress proxy settings (`--disable-ingress`, `--ingress-http-port`, ...); unset: the agent's defaults. */
  localAgentIngress?: Partial<{ disableIngress: boolean; ingressHttpPort: number; ingressHttpsPort: number; ingressBindAddress: string; ingressMaxBodyBytes: number }>;
  /** LoadBalancer address pool (`--lb-pool`: ranges and CIDRs, comma separated); unset: node addresses. */
  lbPool?: string;
  /** The etcd cluster holding the state (`--datastore-endpoint`); unset: SQLite under the data dir. */
  datastore?: DatastoreConfig;
  /** The server runs its own etcd member (`--cluster-init`, `--server URL`) and keeps the state there. */
  embeddedEtcd?: EmbeddedEtcdSettings;
}

export interface EmbeddedEtcdSettings {
  /** Join the cluster through one of these servers (first start only); unset: start a new cluster (`--cluster-init`). */
  joinUrls?: string[];
  /** The secret every server of the cluster is started with (see DatastoreConfig.clusterSecret). */
  clusterSecret: string;
  clientPort: number;
  peerPort: number;
  /** The etcd server binary (Debian's etcd-server installs /usr/bin/etcd). */
  binary: string;
  /** How long a starting member may take to become healthy (a joining one copies the data first). */
  startTimeoutMs?: number;
}

export interface DatastoreConfig {
  endpoints: string[];
  /** The secret every server of the cluster is started with; encrypts the shared CA, keys and tokens in etcd. */
  clusterSecret?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

export function defaultDataDir(): string {
  return process.getuid?.() === 0 ? '/var/lib/corral' : join(homedir(), '.corral');
}

export function defaultServerConfig(): ServerConfig {
  return {
    dataDir: defaultDataDir(),
    port: 6443,
    bindAddress: '0.0.0.0',
    tlsSans: [],
    disableAgent: false,
    podEvictionTimeoutSeconds: 30,
    nodeMonitorGracePeriodSeconds: 20,
    disableControllers: false,
    serviceCidr: '10.43.0.0/16',
    clusterCidr: '10.42.0.0/16',
    clusterDomain: 'cluster.local',
    clusterDns: '10.43.0.10',
  };
}

export const paths = {
  serverDir: (dataDir: string): string => join(dataDir, 'server'),
  tlsDir: (dataDir: string): string => join(dataDir, 'server', 'tls'),
  db: (dataDir: string): string => join(dataDir, 'server', 'db', 'state.db'),
  tokens: (dataDir: string): string => join(dataDir, 'server', 'tokens.json'),
  adminToken: (dataDir: string): string => join(dataDir, 'server', 'admin-token'),
  /** The private key that signs service-account tokens (PKCS#8 PEM, mode 0600). */
  serviceAccountKey: (dataDir: string): string => join(dataDir, 'server', 'service-account.key'),
  kubeconfig: (dataDir: string): string => join(dataDir, 'kubeconfig.yaml'),
  agentDir: (dataDir: string): string => join(dataDir, 'agent'),
  storage: (dataDir: string): string => join(dataDir, 'storage'),
};
