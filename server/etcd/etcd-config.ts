/**
 * The configuration file of the etcd member a server runs (`corral server --cluster-init` or
 * `--server URL`): pure, so it can be checked without an etcd. etcd reads it with `--config-file`
 * and then ignores its command line and ETCD_* variables, so nothing (no path to a key, no secret)
 * is on etcd's command line. Both ports speak TLS only and demand a client certificate signed by the
 * etcd CA: a peer must be a member, a client must be a corral server.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Where the member keeps its files, under `<data-dir>/server/etcd/`. */
export function etcdPaths(serverDir: string): {
  root: string; data: string; tls: string; config: string; name: string; pid: string;
} {
  const root = join(serverDir, 'etcd');
  return { root, data: join(root, 'data'), tls: join(root, 'tls'), config: join(root, 'config.yaml'), name: join(root, 'name'), pid: join(root, 'etcd.pid') };
}

/** Whether `serverDir` holds an etcd member's data (the server was started with --cluster-init or --server once). */
export function hasEmbeddedEtcd(serverDir: string): boolean {
  return existsSync(join(etcdPaths(serverDir).data, 'member'));
}

/** The certificate files in the member's tls dir. */
export function etcdTlsFiles(tlsDir: string): {
  caCert: string; caKey: string; serverCert: string; serverKey: string; peerCert: string; peerKey: string; clientCert: string; clientKey: string;
} {
  const f = (name: string): string => join(tlsDir, name);
  return {
    caCert: f('ca.crt'), caKey: f('ca.key'),
    serverCert: f('server.crt'), serverKey: f('server.key'),
    peerCert: f('peer.crt'), peerKey: f('peer.key'),
    clientCert: f('client.crt'), clientKey: f('client.key'),
  };
}

export interface EtcdMemberSettings {
  /** The member's name (unique in the cluster; a server keeps it in `<etcd dir>/name`). */
  name: string;
  dataDir: string;
  tlsDir: string;
  /** The address other members reach this one at (the server's advertise address). */
  advertiseAddress: string;
  clientPort: number;
  peerPort: number;
  /** Every member's name and peer URL, this one included (read only when the data dir is new). */
  initialCluster: { name: string; peerUrl: string }[];
  /** `new` for `--cluster-init`, `existing` for a server joining a running cluster. */
  initialClusterState: 'new' | 'existing';
}

/** `https://address:port`, with an IPv6 address in brackets. */
export function etcdUrl(address: string, port: number): string {
  return `https://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

export function isLoopback(address: string): boolean {
  return address === '::1' || address === 'localhost' || address.startsWith('127.');
}

/** The settings as etcd's config file keys (etcd 3.4 and later). */
export function etcdConfig(s: EtcdMemberSettings): Record<string, unknown> {
  const tls = etcdTlsFiles(s.tlsDir);
  const local = etcdUrl('127.0.0.1', s.clientPort);
  const advertisedClient = etcdUrl(s.advertiseAddress, s.clientPort);
  // The local server uses the loopback URL; other members and etcdctl on the LAN the advertised one.
  const listenClient = isLoopback(s.advertiseAddress) ? [local] : [local, advertisedClient];
  const peer = etcdUrl(s.advertiseAddress, s.peerPort);
  if (!s.initialCluster.some((m) => m.name === s.name && m.peerUrl === peer)) {
    throw new Error(`the initial cluster (${s.initialCluster.map((m) => `${m.name}=${m.peerUrl}`).join(',')}) does not name this member ${s.name}=${peer}`);
  }
  return {
    name: s.name,
    'data-dir': s.dataDir,
    'listen-client-urls': listenClient.join(','),
    'advertise-client-urls': advertisedClient,
    'listen-peer-urls': peer,
    'initial-advertise-peer-urls': peer,
    'initial-cluster': s.initialCluster.map((m) => `${m.name}=${m.peerUrl}`).join(','),
    'initial-cluster-state': s.initialClusterState,
    'initial-cluster-token': 'corral',
    'client-transport-security': {
      'cert-file': tls.serverCert, 'key-file': tls.serverKey, 'trusted-ca-file': tls.caCert, 'client-cert-auth': true,
    },
    'peer-transport-security': {
      'cert-file': tls.peerCert, 'key-file': tls.peerKey, 'trusted-ca-file': tls.caCert, 'client-cert-auth': true,
    },
    // corral's store compacts old revisions itself (server/store/etcd-store.ts startCompactor).
    'auto-compaction-retention': '0',
    // A member refuses a reconfiguration that would cost the cluster its quorum.
    'strict-reconfig-check': true,
    'enable-v2': false,
    logger: 'zap',
    'log-level': 'warn',
    'log-outputs': ['stderr'],
  };
}

/** The config file's text (YAML). */
export async function renderEtcdConfig(s: EtcdMemberSettings): Promise<string> {
  // yaml loads here only: `corral agent` shares the CLI that imports this module's paths (docs/performance.md).
  const { stringify } = await import('yaml');
  return `# Written by corral server; rewritten at every start.\n${stringify(etcdConfig(s))}`;
}
