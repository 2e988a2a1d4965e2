/**
 * `corral server --cluster-init` and `--server URL[,URL...]`: the server runs its own etcd member
 * (server/etcd/). A server whose data dir already holds a member runs it again without either flag.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { delimiter, join } from 'node:path';
import { paths, type DatastoreConfig, type EmbeddedEtcdSettings } from '../server/config.js';
import { etcdPaths, etcdTlsFiles, hasEmbeddedEtcd } from '../server/etcd/etcd-config.js';
import { bool, str } from './flags.js';
import { clusterSecret } from './datastore-flags.js';

export const EMBEDDED_ETCD_USAGE = '[--cluster-init | --server https://first:6443,...] [--etcd-client-port 2379] [--etcd-peer-port 2380] [--etcd-binary /usr/bin/etcd]';

export const embeddedEtcdOptions = {
  'cluster-init': { type: 'boolean' },
  server: { type: 'string' },
  'etcd-client-port': { type: 'string' },
  'etcd-peer-port': { type: 'string' },
  'etcd-binary': { type: 'string' },
} as const;

/** Where `--cluster-init` keeps the cluster token it made when none was given (0600). */
export const clusterTokenFile = (dataDir: string): string => join(paths.serverDir(dataDir), 'cluster-token');

function port(values: Record<string, unknown>, flag: string, envName: string, fallback: number): number {
  const text = str(values, flag, envName);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`invalid --${flag} "${text}"`);
  return n;
}

/** `--etcd-binary`, else /usr/bin/etcd, else `etcd` on PATH. */
function etcdBinary(values: Record<string, unknown>): string {
  const given = str(values, 'etcd-binary', 'ETCD_BINARY');
  if (given) return given;
  const onPath = (process.env['PATH'] ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'etcd'));
  return ['/usr/bin/etcd', ...onPath].find((f) => existsSync(f)) ?? '/usr/bin/etcd';
}

/** The embedded etcd the flags ask for (or the data dir already holds); undefined: none. */
export function embeddedEtcdSettings(values: Record<string, unknown>, dataDir: string, usesDatastoreEndpoint: boolean): EmbeddedEtcdSettings | undefined {
  const init = bool(values, 'cluster-init', 'CLUSTER_INIT');
  const server = str(values, 'server', 'SERVER');
  const existing = hasEmbeddedEtcd(paths.serverDir(dataDir));
  if (init && server) throw new Error('--cluster-init starts a new cluster and --server joins one: give one of them');
  if (!init && !server && !existing) return undefined;
  if (usesDatastoreEndpoint) throw new Error('--cluster-init and --server run etcd in the server; --datastore-endpoint names an external one: give one or the other');
  const joinUrls = server?.split(',').map((u) => u.trim()).filter((u) => u !== '') ?? [];
  for (const u of joinUrls) {
    if (!/^https:\/\/[^/\s]+(:\d+)?\/?$/.test(u)) throw new Error(`invalid --server "${u}": expected https://HOST:PORT of a running server`);
  }
  if (server !== undefined && joinUrls.length === 0) throw new Error('--server names no server');
  let secret = clusterSecret(values);
  const generated = clusterTokenFile(dataDir);
  if (!secret && existsSync(generated)) secret = readFileSync(generated, 'utf8').trim();
  if (!secret) {
    if (joinUrls.length > 0 && !existing) {
      throw new Error('--server needs the cluster token of the first server: --token-file FILE or CORRAL_TOKEN (the first server keeps it in DATA_DIR/server/cluster-token unless it was started with one)');
    }
    // Like k3s's server token: made once, kept in the data dir for the other servers to be started with.
    secret = randomBytes(32).toString('hex');
    mkdirSync(paths.serverDir(dataDir), { recursive: true, mode: 0o700 });
    writeFileSync(generated, `${secret}\n`, { mode: 0o600 });
  }
  return {
    ...(joinUrls.length > 0 ? { joinUrls } : {}),
    clusterSecret: secret,
    clientPort: port(values, 'etcd-client-port', 'ETCD_CLIENT_PORT', 2379),
    peerPort: port(values, 'etcd-peer-port', 'ETCD_PEER_PORT', 2380),
    binary: etcdBinary(values),
  };
}

/** The server's own etcd member (from its config file), for `corral backup` on a server started with --cluster-init or --server. */
export async function localMemberDatastore(dataDir: string): Promise<DatastoreConfig | undefined> {
  const serverDir = paths.serverDir(dataDir);
  const p = etcdPaths(serverDir);
  if (!hasEmbeddedEtcd(serverDir) || !existsSync(p.config)) return undefined;
  // yaml loads here only: `corral agent` shares this CLI (docs/performance.md, "Agent memory").
  const { parse } = await import('yaml');
  const config = parse(readFileSync(p.config, 'utf8')) as { 'listen-client-urls'?: string };
  const endpoint = config['listen-client-urls']?.split(',')[0];
  if (!endpoint) return undefined;
  const tls = etcdTlsFiles(p.tls);
  return { endpoints: [endpoint], caFile: tls.caCert, certFile: tls.clientCert, keyFile: tls.clientKey };
}
