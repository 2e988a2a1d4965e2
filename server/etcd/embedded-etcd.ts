/**
 * The etcd member a server runs itself (`corral server --cluster-init`, or `--server URL` to join the
 * servers that already run one), as k3s's embedded etcd but with etcd as its own supervised process:
 *   first start, --cluster-init: make the etcd CA, start a one-member cluster (state new);
 *   first start, --server URL:   join through a running server (join-client.ts), which adds the member
 *                                (MemberAdd) and hands over the etcd CA; start with state existing;
 *   later starts:                the member's data dir exists: start it again, nothing else.
 * The server then uses the member on loopback as its datastore (client certificate auth).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { step } from '../../api/async-util.js';
import { log } from '../../api/log.js';
import type { DatastoreConfig, EmbeddedEtcdSettings } from '../config.js';
import type { CertifiedKey } from '../auth/pki.js';
import { etcdPaths, etcdTlsFiles, hasEmbeddedEtcd, etcdUrl, renderEtcdConfig, type EtcdMemberSettings } from './etcd-config.js';
import { ensureEtcdCa, ensureMemberCerts } from './etcd-pki.js';
import { EtcdSupervisor } from './etcd-supervisor.js';
import { joinCluster } from './join-client.js';
import type { EtcdMember, MemberAdmin } from './join-routes.js';

export const DEFAULT_ETCD_BINARY = '/usr/bin/etcd';

export interface EmbeddedEtcd {
  /** The member on loopback, with the client certificate: the server's datastore. */
  datastore: DatastoreConfig;
  etcdCa: CertifiedKey;
  members: MemberAdmin;
  supervisor: EtcdSupervisor;
  close(): Promise<void>;
}

async function memberName(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  // Unique even when two machines share a hostname (cloned SD cards), like k3s's.
  const name = `${hostname().replace(/[^a-zA-Z0-9.-]/g, '-').slice(0, 50) || 'server'}-${randomBytes(4).toString('hex')}`;
  await writeFile(file, `${name}\n`, { mode: 0o600 });
  return name;
}

export async function startEmbeddedEtcd(o: { serverDir: string; advertiseAddress: string; settings: EmbeddedEtcdSettings }): Promise<EmbeddedEtcd> {
  const secret = o.settings.clusterSecret;
  const p = etcdPaths(o.serverDir);
  await mkdir(p.root, { recursive: true, mode: 0o700 });
  await mkdir(p.data, { recursive: true, mode: 0o700 });
  const name = await memberName(p.name);
  const peerUrl = etcdUrl(o.advertiseAddress, o.settings.peerPort);
  const self = { name, peerUrl };
  let member: Pick<EtcdMemberSettings, 'initialCluster' | 'initialClusterState'>;
  let ca: CertifiedKey;
  if (hasEmbeddedEtcd(o.serverDir)) {
    // etcd ignores the initial cluster once its data dir holds a member.
    ca = await ensureEtcdCa(p.tls);
    member = { initialCluster: [self], initialClusterState: 'existing' };
  } else if (o.settings.joinUrls && o.settings.joinUrls.length > 0) {
    const urls = o.settings.joinUrls;
    const answer = await step(`joining the etcd cluster through ${urls.join(', ')}`, () => joinCluster(urls, secret, self));
    ca = await ensureEtcdCa(p.tls, answer.etcdCa);
    member = { initialCluster: answer.members, initialClusterState: 'existing' };
  } else {
    ca = await ensureEtcdCa(p.tls);
    member = { initialCluster: [self], initialClusterState: 'new' };
  }
  await ensureMemberCerts(p.tls, ca, o.advertiseAddress);
  const settings: EtcdMemberSettings = {
    name, dataDir: p.data, tlsDir: p.tls, advertiseAddress: o.advertiseAddress,
    clientPort: o.settings.clientPort, peerPort: o.settings.peerPort, ...member,
  };
  await writeFile(p.config, await renderEtcdConfig(settings), { mode: 0o600 });
  const files = etcdTlsFiles(p.tls);
  const clientUrl = etcdUrl('127.0.0.1', o.settings.clientPort);
  const clientTls = { caPem: ca.certPem, certPem: await readFile(files.clientCert, 'utf8'), keyPem: await readFile(files.clientKey, 'utf8') };
  const supervisor = new EtcdSupervisor({ binary: o.settings.binary, configFile: p.config, pidFile: p.pid, clientUrl, tls: clientTls });
  try {
    await step(`starting etcd member ${name} (${member.initialClusterState} cluster)`, () => supervisor.start(o.settings.startTimeoutMs ?? 120_000));
  } catch (err) {
    await supervisor.stop();
    throw err;
  }
  log.info('etcd', 'etcd member is up', { name, clientUrl, peerUrl });
  const admin = new Etcd3({
    hosts: [clientUrl], dialTimeout: 5_000,
    credentials: { rootCertificate: Buffer.from(clientTls.caPem), certChain: Buffer.from(clientTls.certPem), privateKey: Buffer.from(clientTls.keyPem) },
  });
  const toMember = (m: { ID: string; name: string; peerURLs: string[] }): EtcdMember => ({ id: m.ID, name: m.name, peerUrls: m.peerURLs });
  return {
    datastore: { endpoints: [clientUrl], caFile: files.caCert, certFile: files.clientCert, keyFile: files.clientKey, clusterSecret: secret },
    etcdCa: ca,
    supervisor,
    members: {
      list: async () => (await admin.cluster.memberList({})).members.map(toMember),
      add: async (url) => (await admin.cluster.memberAdd({ peerURLs: [url] })).members.map(toMember),
    },
    async close() {
      admin.close();
      await supervisor.stop();
    },
  };
}
