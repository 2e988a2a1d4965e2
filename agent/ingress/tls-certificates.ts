/**
 * The ingress proxy's certificates by SNI name: each Ingress TLS entry's Secret (`tls.crt`, `tls.key`)
 * serves its hosts (exact names before `*.` wildcards, an entry without hosts serves any name); a
 * name nothing covers, a missing Secret or a bad certificate gets the fallback self-signed one.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Secret } from '../../api/types.js';
import { hostMatches } from './path-match.js';
import type { TlsEntry } from './routing-table.js';

export interface CertificateEntry {
  hosts: string[];
  context: SecureContext;
}

/** The PEM pair of a TLS Secret, or why it has none. */
export function tlsPairOf(secret: Secret): { cert: string; key: string } | { error: string } {
  const get = (k: string): string | undefined => {
    const b64 = secret.data?.[k];
    if (b64 !== undefined) return Buffer.from(b64, 'base64').toString('utf8');
    return secret.stringData?.[k];
  };
  const cert = get('tls.crt');
  const key = get('tls.key');
  if (!cert || !key) return { error: `secret "${secret.metadata.namespace}/${secret.metadata.name}" has no tls.crt and tls.key` };
  return { cert, key };
}

/** A secure context for a PEM pair, or the reason Node.js refused it. */
export function secureContextOf(pair: { cert: string; key: string }): SecureContext | { error: string } {
  try {
    return createSecureContext({ cert: pair.cert, key: pair.key });
  } catch (err) {
    return { error: (err as Error).message };
  }
}

export class CertificateStore {
  private entries: CertificateEntry[] = [];

  constructor(private readonly fallback: SecureContext) {}

  replace(entries: CertificateEntry[]): void {
    this.entries = entries;
  }

  /** The context for an SNI name (lower case); the fallback when nothing covers it. */
  contextFor(servername: string | undefined): SecureContext {
    const name = (servername ?? '').toLowerCase();
    if (name !== '') {
      const exact = this.entries.find((e) => e.hosts.includes(name));
      if (exact) return exact.context;
      const wildcard = this.entries.find((e) => e.hosts.some((h) => h.startsWith('*.') && hostMatches(h, name)));
      if (wildcard) return wildcard.context;
    }
    return this.entries.find((e) => e.hosts.length === 0)?.context ?? this.fallback;
  }
}

/** `namespace/name` of the Secret an entry needs. */
export function secretKeyOf(entry: Pick<TlsEntry, 'namespace' | 'secretName'>): string {
  return `${entry.namespace}/${entry.secretName}`;
}
