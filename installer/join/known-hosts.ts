/**
 * OpenSSH known_hosts, read the way `ssh` reads it: comma-separated host patterns with `*`/`?`
 * wildcards and `!` negation, `[host]:port` for ports other than 22, hashed names
 * (`|1|salt|HMAC-SHA1(salt, name)`), and the `@revoked` / `@cert-authority` markers. Verification
 * answers match / unknown / changed / revoked; only `match` may ever be trusted.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface KnownHostEntry {
  /** 1-based line number in the file, for messages. */
  line: number;
  marker?: 'revoked' | 'cert-authority';
  /** The raw host field (patterns, or one hashed name). */
  hosts: string;
  keyType: string;
  /** Raw key blob (base64-decoded). */
  key: Buffer;
}

/** Parses a known_hosts text; malformed lines are skipped like OpenSSH does. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift()!;
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else return;
    }
    const [hosts, keyType, keyB64] = fields;
    if (!hosts || !keyType || !keyB64 || !/^[A-Za-z0-9+/]+=*$/.test(keyB64)) return;
    const key = Buffer.from(keyB64, 'base64');
    if (keyTypeOfBlob(key) !== keyType) return;
    out.push({ line: i + 1, ...(marker ? { marker } : {}), hosts, keyType, key });
  });
  return out;
}

/** The name known_hosts stores for a host: `host` on port 22, `[host]:port` otherwise. */
export function hostKeyName(host: string, port = 22): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** The algorithm name inside an SSH public key blob (its first length-prefixed string). */
export function keyTypeOfBlob(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const n = blob.readUInt32BE(0);
  if (n === 0 || n > 64 || blob.length < 4 + n) return undefined;
  return blob.subarray(4, 4 + n).toString('latin1');
}

/** `SHA256:<unpadded base64>`, what `ssh` and `ssh-keygen -l` print. */
export function fingerprintSha256(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

function hashedMatches(field: string, name: string): boolean {
  const parts = field.split('|');
  // ['', '1', salt, hash]
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2]!, 'base64');
  const want = Buffer.from(parts[3]!, 'base64');
  const got = createHmac('sha1', salt).update(name).digest();
  return want.length === got.length && timingSafeEqual(want, got);
}

/** Does the host field of an entry match this name (as produced by hostKeyName)? */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|')) return hashedMatches(field, name);
  let positive = false;
  for (const pattern of field.split(',')) {
    if (pattern.startsWith('!')) {
      if (globToRegExp(pattern.slice(1)).test(name)) return false;
    } else if (globToRegExp(pattern).test(name)) {
      positive = true;
    }
  }
  return positive;
}

export type HostKeyVerdict =
  | { status: 'match'; line: number }
  | { status: 'unknown' }
  | { status: 'revoked'; fingerprint: string; line: number }
  | { status: 'changed'; fingerprint: string; known: { line: number; keyType: string; fingerprint: string }[] };

/**
 * Checks an offered host key against the entries for a host name. A key of a type that was never
 * recorded for a host that does have keys also counts as changed: we never fall back to trusting it.
 */
export function verifyHostKey(entries: readonly KnownHostEntry[], name: string, offered: Buffer): HostKeyVerdict {
  const forHost = entries.filter((e) => e.marker !== 'cert-authority' && hostFieldMatches(e.hosts, name));
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(offered));
  if (revoked) return { status: 'revoked', fingerprint: fingerprintSha256(offered), line: revoked.line };
  const known = forHost.filter((e) => e.marker === undefined);
  const hit = known.find((e) => e.key.equals(offered));
  if (hit) return { status: 'match', line: hit.line };
  if (known.length === 0) return { status: 'unknown' };
  return {
    status: 'changed',
    fingerprint: fingerprintSha256(offered),
    known: known.map((e) => ({ line: e.line, keyType: e.keyType, fingerprint: fingerprintSha256(e.key) })),
  };
}

/** Key types recorded for a host, so the client can ask the server for one of those first. */
export function knownKeyTypes(entries: readonly KnownHostEntry[], name: string): string[] {
  return [...new Set(entries.filter((e) => e.marker === undefined && hostFieldMatches(e.hosts, name)).map((e) => e.keyType))];
}

/** The line to append when a new host key is accepted. */
export function knownHostsLine(name: string, blob: Buffer): string {
  const type = keyTypeOfBlob(blob);
  if (!type) throw new Error('not an SSH public key blob');
  return `${name} ${type} ${blob.toString('base64')}\n`;
}

/** The refusal message for a verdict that is not a match (the fix is part of the message). */
export function hostKeyRefusal(verdict: Exclude<HostKeyVerdict, { status: 'match' }>, name: string, file: string, offered: Buffer): string {
  switch (verdict.status) {
    case 'unknown':
      return `host key of ${name} is not in ${file} (offered ${keyTypeOfBlob(offered)} ${fingerprintSha256(offered)}); ` +
        'check the fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) and re-run with --accept-new-host-key to record it';
    case 'revoked':
      return `host key of ${name} (${verdict.fingerprint}) is marked @revoked in ${file} line ${verdict.line}; refusing to connect`;
    case 'changed':
      return `HOST KEY OF ${name} HAS CHANGED: it offered ${keyTypeOfBlob(offered)} ${verdict.fingerprint}, but ${file} has ` +
        verdict.known.map((k) => `${k.keyType} ${k.fingerprint} (line ${k.line})`).join(', ') +
        '. Someone may be intercepting the connection, or the host was reinstalled. If you are sure it was reinstalled, ' +
        `remove the old key with: ssh-keygen -f ${file} -R '${name}'`;
  }
}
