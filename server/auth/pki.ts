/**
 * The cluster CA and the API server's certificate, generated on first start (ECDSA P-256: fast to
 * create and to handshake on a Raspberry Pi) and kept in `<data-dir>/server/tls/`. The serving
 * certificate is re-issued when its SANs no longer cover this host (new IP, added --tls-san) and before
 * it expires (renewalDue); a running server re-checks on a timer and reloads it without a restart
 * (server/auth/serving-cert-rotation.ts).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto, createHash, X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { renewalDue } from '../../api/tls-policy.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const TEN_YEARS_MS = 3650 * 24 * 3600 * 1000;
const ONE_YEAR_MS = 365 * 24 * 3600 * 1000;

export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
  /** sha256 of the CA certificate's DER, hex: what join tokens pin. */
  caHash: string;
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
}

async function importKeyPem(pem: string): Promise<CryptoKey> {
  const b64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return webcrypto.subtle.importKey('pkcs8', Buffer.from(b64, 'base64'), ALG, true, ['sign']);
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(12))).toString('hex').replace(/^[89a-f]/, '1');
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
  const alt = cert.subjectAltName ?? '';
  return sans.dns.every((d) => alt.includes(`DNS:${d}`)) && sans.ips.every((ip) => alt.includes(`IP Address:${ip.toUpperCase()}`) || alt.includes(`IP Address:${ip}`));
}

/** A certificate and its private key, PEM. */
export interface CertifiedKey { certPem: string; keyPem: string }

/** A new self-signed CA (ten years), named `<commonName>@<unix time>`. */
export async function createCa(commonName = 'corral-ca'): Promise<CertifiedKey> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}@${Math.floor(Date.now() / 1000)}`,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + TEN_YEARS_MS),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

export interface CertificateRequest {
  commonName: string;
  sans: { dns: string[]; ips: string[] };
  /** What the key may be used for: serving TLS, TLS client authentication, or both (etcd peers). */
  usages: ('serverAuth' | 'clientAuth')[];
  lifetimeMs: number;
}

/** A leaf certificate signed by `ca`, with a fresh key. */
export async function issueCertificate(ca: CertifiedKey, req: CertificateRequest): Promise<CertifiedKey> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importKeyPem(ca.keyPem);
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${req.commonName}`,
    issuer: caCert.subject,
    // Back-dated a little for clocks behind ours (at most a tenth of the lifetime).
    notBefore: new Date(Date.now() - Math.min(60_000, req.lifetimeMs / 10)),
    notAfter: new Date(Date.now() + req.lifetimeMs),
    signingKey: caKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(req.usages.map((u) => x509.ExtendedKeyUsage[u])),
      ...(req.sans.dns.length + req.sans.ips.length > 0 ? [new x509.SubjectAlternativeNameExtension([
        ...req.sans.dns.map((value) => ({ type: 'dns' as const, value })),
        ...req.sans.ips.map((value) => ({ type: 'ip' as const, value })),
      ])] : []),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
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
