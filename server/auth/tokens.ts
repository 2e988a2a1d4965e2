/**
 * Bearer tokens: `<id>.<secret>` with 128 random bits of secret, kept as sha256 hashes in
 * `<data-dir>/server/tokens.json` (mode 0600). Roles: admin (everything), node (agents and joins),
 * viewer (read-only). Tokens may expire and can be revoked. The file is small and rewritten
 * atomically only when tokens change, never per request.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, existsSync, writeFileSync, renameSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type TokenRole = 'admin' | 'node' | 'viewer';

export interface TokenRecord {
  id: string;
  secretSha256: string;
  role: TokenRole;
  description: string;
  created: string;
  /** RFC 3339; absent = never expires. */
  expires?: string;
}

export interface AuthenticatedUser {
  name: string;
  groups: string[];
  role: TokenRole;
  tokenId: string;
}

const hash = (secret: string): string => createHash('sha256').update(secret).digest('hex');

export class TokenStore {
  private records = new Map<string, TokenRecord>();
  private readonly ephemeral = new Map<string, TokenRecord>();

  constructor(private readonly file: string) {
    if (existsSync(file)) {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { tokens: TokenRecord[] };
      for (const r of parsed.tokens) this.records.set(r.id, r);
    }
  }

  private save(): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ tokens: [...this.records.values()] }, null, 2), { mode: 0o600 });
    renameSync(tmp, this.file);
  }

  /** Re-reads the file (another `corral token` process may have changed it). */
  reload(): void {
    if (!existsSync(this.file)) return;
    const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as { tokens: TokenRecord[] };
    this.records = new Map(parsed.tokens.map((r) => [r.id, r]));
  }

  create(role: TokenRole, options: { description?: string; ttlSeconds?: number; id?: string } = {}): { token: string; record: TokenRecord } {
    const id = options.id ?? randomBytes(3).toString('hex');
    const secret = randomBytes(16).toString('hex');
    const record: TokenRecord = {
      id,
      secretSha256: hash(secret),
      role,
      description: options.description ?? '',
      created: new Date().toISOString(),
      ...(options.ttlSeconds ? { expires: new Date(Date.now() + options.ttlSeconds * 1000).toISOString() } : {}),
    };
    this.records.set(id, record);
    this.save();
    return { token: `${id}.${secret}`, record };
  }

  /** A token that lives only in this process (the server's own controllers and local agent). */
  createEphemeral(role: TokenRole, description: string): string {
    const id = `mem-${randomBytes(4).toString('hex')}`;
    const secret = randomBytes(16).toString('hex');
    this.ephemeral.set(id, { id, secretSha256: hash(secret), role, description, created: new Date().toISOString() });
    return `${id}.${secret}`;
  }

  list(): TokenRecord[] {
    return [...this.records.values()];
  }

  revoke(id: string): boolean {
    const had = this.records.delete(id);
    if (had) this.save();
    return had;
  }

  authenticate(token: string, now = Date.now()): AuthenticatedUser | undefined {
    const dot = token.indexOf('.');
    if (dot <= 0) return undefined;
    const id = token.slice(0, dot);
    const secret = token.slice(dot + 1);
    const record = this.records.get(id) ?? this.ephemeral.get(id);
    if (!record) return undefined;
    if (record.expires && Date.parse(record.expires) <= now) return undefined;
    const a = Buffer.from(hash(secret), 'hex');
    const b = Buffer.from(record.secretSha256, 'hex');
    if (a.length !== b.length || !timingSafeEqual(a, b)) return undefined;
    switch (record.role) {
      case 'admin': return { name: 'admin', groups: ['system:masters', 'system:authenticated'], role: 'admin', tokenId: id };
      case 'node': return { name: `system:node-token:${id}`, groups: ['system:nodes', 'system:authenticated'], role: 'node', tokenId: id };
      case 'viewer': return { name: `viewer:${id}`, groups: ['corral:viewers', 'system:authenticated'], role: 'viewer', tokenId: id };
    }
  }
}

/** Read-only verbs a viewer may use. */
export function roleAllows(role: TokenRole, method: string): boolean {
  if (role !== 'viewer') return true;
  return method === 'GET' || method === 'HEAD';
}
