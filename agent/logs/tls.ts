/**
 * The agent's own serving certificate for its kubelet endpoint: self-signed ECDSA P-256, created once
 * under `<data-dir>/agent/tls/`. The server does not trust it through a CA; it pins exactly this
 * certificate, which the agent publishes in its credentials Secret. It is renewed before it expires
 * (renewalDue) and the running endpoint reloads it (KubeletServer).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renewalDue } from '../../api/tls-policy.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface ServingCert { certPem: string; keyPem: string }

/** Lifetime of a kubelet serving certificate (one year, as kubelet's; tests shorten it). */
export const KUBELET_CERT_LIFETIME_MS = 365 * 86400_000;

/** The certificate in `dir`, or a new one when missing, not covering `ips`, or due for renewal. */
export async function ensureServingCert(dir: string, nodeName: string, ips: string[], lifetimeMs = KUBELET_CERT_LIFETIME_MS): Promise<ServingCert> {
  const certFile = join(dir, 'kubelet.crt');
  const keyFile = join(dir, 'kubelet.key');
  if (existsSync(certFile) && existsSync(keyFile)) {
    const certPem = await readFile(certFile, 'utf8');
    const cert = new x509.X509Certificate(certPem);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    const covered = ips.every((ip) => san?.names.items.some((n) => n.type === 'ip' && n.value === ip));
    if (covered && !renewalDue(cert.notBefore, cert.notAfter)) return { certPem, keyPem: await readFile(keyFile, 'utf8') };
  }
  const { certPem, keyPem } = await createSelfSignedCert({ commonName: nodeName, dnsNames: [nodeName], ips, lifetimeMs });
  await writeFile(keyFile, keyPem, { mode: 0o600 });
  await writeFile(certFile, certPem);
  return { certPem, keyPem };
}

export interface SelfSignedOptions {
  commonName: string;
  dnsNames: readonly string[];
  ips: readonly string[];
  lifetimeMs: number;
}

/** A fresh self-signed ECDSA P-256 serving certificate and its PKCS#8 key, in PEM (nothing written). */
export async function createSelfSignedCert(o: SelfSignedOptions): Promise<ServingCert> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(12))).toString('hex').replace(/^[89a-f]/, '1'),
    name: `CN=${o.commonName}`,
    notBefore: new Date(Date.now() - Math.min(60_000, o.lifetimeMs / 10)),
    notAfter: new Date(Date.now() + o.lifetimeMs),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...o.dnsNames.map((value) => ({ type: 'dns' as const, value })),
        ...o.ips.map((value) => ({ type: 'ip' as const, value })),
      ]),
    ],
  });
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
  return { certPem: cert.toString('pem'), keyPem };
}
