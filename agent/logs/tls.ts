/**
 * The agent's own serving certificate for its kubelet endpoint: self-signed ECDSA P-256, created once
 * under `<data-dir>/agent/tls/`. The server does not trust it through a CA; it pins exactly this
 * certificate, which the agent publishes in its credentials Secret. It is renewed before it expires
 * (renewalDue) and the running endpoint reloads it (KubeletServer). Checking the certificate needs only
 * node:crypto; making one runs @peculiar/x509 in a helper process (self-signed-cert.ts).
 */
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renewalDue } from '../../api/tls-policy.js';
import { runHelper } from '../helper-process/run-helper.js';

export interface ServingCert { certPem: string; keyPem: string }

/** Lifetime of a kubelet serving certificate (one year, as kubelet's; tests shorten it). */
export const KUBELET_CERT_LIFETIME_MS = 365 * 86400_000;

/** The certificate in `dir`, or a new one when missing, not covering `ips`, or due for renewal. */
export async function ensureServingCert(dir: string, nodeName: string, ips: string[], lifetimeMs = KUBELET_CERT_LIFETIME_MS): Promise<ServingCert> {
  const certFile = join(dir, 'kubelet.crt');
  const keyFile = join(dir, 'kubelet.key');
  if (existsSync(certFile) && existsSync(keyFile)) {
    const certPem = await readFile(certFile, 'utf8');
    const cert = new X509Certificate(certPem);
    const covered = ips.every((ip) => cert.checkIP(ip) !== undefined);
    if (covered && !renewalDue(new Date(cert.validFrom), new Date(cert.validTo))) return { certPem, keyPem: await readFile(keyFile, 'utf8') };
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
export function createSelfSignedCert(o: SelfSignedOptions): Promise<ServingCert> {
  return runHelper<ServingCert>('self-signed-cert', o);
}
