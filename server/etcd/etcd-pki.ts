/**
 * The etcd member's certificates, all signed by the cluster's etcd CA (not the API's CA: a
 * certificate the API's CA signs must never open etcd). `server.crt` serves the client port,
 * `peer.crt` both ends of the peer connections, `client.crt` is what the corral server presents to
 * etcd. Keys are 0600 in a 0700 dir. The CA comes from `--cluster-init` (made here) or from the server
 * a new server joins through; certificates are issued again when they stop covering this host.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { certCovers, createCa, issueCertificate, type CertifiedKey } from '../auth/pki.js';
import { etcdTlsFiles } from './etcd-config.js';

const LEAF_LIFETIME_MS = 365 * 24 * 3600 * 1000;

/** The etcd CA in `tlsDir`: `given` when a joining server brought it, else the one there, else a new one. */
export async function ensureEtcdCa(tlsDir: string, given?: CertifiedKey): Promise<CertifiedKey> {
  await mkdir(tlsDir, { recursive: true, mode: 0o700 });
  const files = etcdTlsFiles(tlsDir);
  if (given) {
    await writeFile(files.caKey, given.keyPem, { mode: 0o600 });
    await writeFile(files.caCert, given.certPem, { mode: 0o644 });
    return given;
  }
  if (!existsSync(files.caCert) || !existsSync(files.caKey)) {
    const ca = await createCa('corral-etcd-ca');
    await writeFile(files.caKey, ca.keyPem, { mode: 0o600 });
    await writeFile(files.caCert, ca.certPem, { mode: 0o644 });
  }
  return { certPem: await readFile(files.caCert, 'utf8'), keyPem: await readFile(files.caKey, 'utf8') };
}

/** Issues the member's server, peer and client certificates where missing or no longer covering `address`. */
export async function ensureMemberCerts(tlsDir: string, ca: CertifiedKey, address: string): Promise<void> {
  const files = etcdTlsFiles(tlsDir);
  const ips = [...new Set(['127.0.0.1', ...(isIP(address) ? [address] : [])])];
  const dns = [...new Set(['localhost', hostname(), ...(isIP(address) ? [] : [address])])];
  const sans = { dns, ips };
  const leaves = [
    { cert: files.serverCert, key: files.serverKey, commonName: 'corral-etcd-server', usages: ['serverAuth'] as const, sans },
    { cert: files.peerCert, key: files.peerKey, commonName: 'corral-etcd-peer', usages: ['serverAuth', 'clientAuth'] as const, sans },
    { cert: files.clientCert, key: files.clientKey, commonName: 'corral-server', usages: ['clientAuth'] as const, sans: { dns: [], ips: [] } },
  ];
  for (const leaf of leaves) {
    if (existsSync(leaf.cert) && existsSync(leaf.key) && await issuedBy(leaf.cert, ca) && certCovers(await readFile(leaf.cert, 'utf8'), leaf.sans)) continue;
    const issued = await issueCertificate(ca, { commonName: leaf.commonName, sans: leaf.sans, usages: [...leaf.usages], lifetimeMs: LEAF_LIFETIME_MS });
    await writeFile(leaf.key, issued.keyPem, { mode: 0o600 });
    await writeFile(leaf.cert, issued.certPem, { mode: 0o644 });
  }
}

/** Whether the certificate in `file` was signed by `ca` (a server that joined again got a new CA). */
async function issuedBy(file: string, ca: CertifiedKey): Promise<boolean> {
  return new X509Certificate(await readFile(file, 'utf8')).verify(new X509Certificate(ca.certPem).publicKey);
}
