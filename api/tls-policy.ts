/**
 * The TLS settings of every corral listener (API server, kubelet endpoint): TLS 1.2 or newer, and
 * with TLS 1.2 only forward-secret AEAD suites (ECDHE with AES-GCM or ChaCha20-Poly1305), as
 * Kubernetes' secure cipher list; no CBC, no SHA-1 MACs, no static RSA key exchange. And when a
 * serving certificate is renewed (the API server's and each agent's kubelet certificate).
 */
import type { SecureContextOptions } from 'node:tls';

export const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'] as const;

export const TLS12_AEAD_SUITES = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
] as const;

export const SERVING_TLS_OPTIONS = {
  minVersion: 'TLSv1.2',
  ciphers: [...TLS13_SUITES, ...TLS12_AEAD_SUITES].join(':'),
  honorCipherOrder: true,
} as const satisfies SecureContextOptions;

/**
 * True when a certificate valid from `notBefore` to `notAfter` should be replaced now: in the last
 * third of its lifetime, at most 30 days before it expires (a one-year certificate: 30 days before).
 */
export function renewalDue(notBefore: Date, notAfter: Date, now = Date.now()): boolean {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  return now >= notAfter.getTime() - Math.min(30 * 24 * 3600 * 1000, lifetime / 3);
}

/** How often a running server checks its certificate: a tenth of the lifetime, at most hourly, at least every second. */
export function rotationCheckIntervalMs(lifetimeMs: number): number {
  return Math.max(1000, Math.min(3600_000, Math.floor(lifetimeMs / 10)));
}
