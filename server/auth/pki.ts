/**
 * The cluster CA and the API server's certificate, generated on first start (ECDSA P-256: fast to
 * create and to handshake on a Raspberry Pi) and kept in `<data-dir>/server/tls/`. The serving
 * certificate is re-issued when its SANs no longer cover this host (new IP, added --tls-san) and before
 * it expires (renewalDue); a running server re-checks on a timer and reloads it without a restart
 * (server/auth/serving-cert-rotation.ts). Reading certificates uses node:crypto; making them runs
 * @peculiar/x509 in a child process (cert-issuer.ts says why).
 */
import { createHash, X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { isIP, SocketAddress } from 'node:net';
import { fileURLToPath } from 'node:url';
import { renewalDue } from '../../api/tls-policy.js';
import { runNodeJob } from '../../api/run-command.js';

const ONE_YEAR_MS = 365 * 24 * 3600 * 1000;

export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
  /** sha256 of the CA certificate's DER, hex: what join tokens pin. */
  caHash: string;
}

/** Every name and address a client on the LAN may use to reach this server. */
export function defaultSans(extra: string[] = []): { dns: string[]; ips: string[] } {
  const dns = new Set<string>(['localhost', hostname(), 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc']);
  const ips = new Set<string>(['127.0.0.1', '::1']);
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) ips.add(a.address.split('%')[0]!);
  }
  for (const e of extra) (isIP(e) ? ips : dns).add(e);
  return { dns: [...dns], ips: [...ips] };
}

export function caHashOf(caPem: string): string {
  return createHash('sha256').update(new X509Certificate(caPem).raw).digest('hex');
}

/** Whether a certificate names every one of `sans` and is not yet due for renewal. */
export function certCovers(certPem: string, sans: { dns: string[]; ips: string[] }): boolean {
  const cert = new X509Certificate(certPem);
  if (renewalDue(new Date(cert.validFrom), new Date(cert.validTo))) return false;
  const names = (cert.subjectAltName ?? '').split(', ');
  const dns = new Set(names.filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4)));
  const ips = new Set(names.filter((n) => n.startsWith('IP Address:')).map((n) => canonicalIp(n.slice(11))));
  return sans.dns.every((d) => dns.has(d)) && sans.ips.every((ip) => ips.has(canonicalIp(ip)));
}

/** One spelling per address: node:crypto lists IPv6 SANs uncompressed (`0:0:0:0:0:0:0:1`), hosts compressed (`::1`). */
function canonicalIp(ip: string): string {
  const family = isIP(ip);
  return family === 0 ? ip : new SocketAddress({ address: ip, family: family === 6 ? 'ipv6' : 'ipv4' }).address;
}

/** A certificate and its private key, PEM. */
export interface CertifiedKey { certPem: string; keyPem: string }

export interface CertificateRequest {
  commonName: string;
  sans: { dns: string[]; ips: string[] };
  /** What the key may be used for: serving TLS, TLS client authentication, or both (etcd peers). */
  usages: ('serverAuth' | 'clientAuth')[];
  lifetimeMs: number;
}

/** What cert-issuer-process.ts is asked to make. */
export type IssueJob = { kind: 'ca'; commonName: string } | { kind: 'leaf'; ca: CertifiedKey; request: CertificateRequest };

const ISSUER = fileURLToPath(new URL('./cert-issuer-process.js', import.meta.url));

/** Runs one IssueJob in a child Node.js process; the job (with the CA's key) goes through its stdin. */
function issueInChild(job: IssueJob): Promise<CertifiedKey> {
  return runNodeJob<CertifiedKey>('the certificate issuer', ISSUER, [], job, 60_000);
}

/** A new self-signed CA (ten years), named `<commonName>@<unix time>`. */
export function createCa(commonName = 'corral-ca'): Promise<CertifiedKey> {
  return issueInChild({ kind: 'ca', commonName });
}

/** A leaf certificate signed by `ca`, with a fresh key. */
export function issueCertificate(ca: CertifiedKey, request: CertificateRequest): Promise<CertifiedKey> {
  return issueInChild({ kind: 'leaf', ca, request });
}

function issueServingCert(caCertPem: string, caKeyPem: string, sans: { dns: string[]; ips: string[] }, lifetimeMs: number): Promise<CertifiedKey> {
  return issueCertificate({ certPem: caCertPem, keyPem: caKeyPem }, { commonName: 'corral-apiserver', sans, usages: ['serverAuth'], lifetimeMs });
}

/** Lifetime of the API server's serving certificate (one year; tests shorten it). */
export const SERVING_CERT_LIFETIME_MS = ONE_YEAR_MS;

/**
 * Loads the TLS material from `dir`, creating the CA and/or serving certificate when needed: missing,
 * not covering this host's names, or due for renewal.
 */
export async function ensureTls(dir: string, extraSans: string[] = [], servingLifetimeMs = SERVING_CERT_LIFETIME_MS): Promise<TlsMaterial> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caCrt = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  const srvCrt = join(dir, 'server.crt');
  const srvKey = join(dir, 'server.key');
  if (!existsSync(caCrt) || !existsSync(caKey)) {
    const ca = await createCa();
    await writeFile(caKey, ca.keyPem, { mode: 0o600 });
    await writeFile(caCrt, ca.certPem, { mode: 0o644 });
  }
  const caPem = await readFile(caCrt, 'utf8');
  const caKeyPem = await readFile(caKey, 'utf8');
  const sans = defaultSans(extraSans);
  if (!existsSync(srvCrt) || !existsSync(srvKey) || !certCovers(await readFile(srvCrt, 'utf8'), sans)) {
    const srv = await issueServingCert(caPem, caKeyPem, sans, servingLifetimeMs);
    await writeFile(srvKey, srv.keyPem, { mode: 0o600 });
    await writeFile(srvCrt, srv.certPem, { mode: 0o644 });
  }
  return {
    caPem,
    certPem: await readFile(srvCrt, 'utf8'),
    keyPem: await readFile(srvKey, 'utf8'),
    caHash: caHashOf(caPem),
  };
}
