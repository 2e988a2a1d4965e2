/**
 * Bearer tokens: `<id>.<secret>` with 128 random bits of secret, kept as sha256 hashes in
 * `<data-dir>/server/tokens.json` (mode 0600). Roles: admin (everything), node (agents and joins),
 * viewer (read-only). Tokens may expire and can be revoked. The file is small and rewritten
 * atomically only when tokens change, never per request.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, existsSync, writeFileSync, renameSync, mkdirSync, statSync } from 'node:fs';
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
  /** mtime of the file when last read or written, and when it was last checked. */
  private fileMtimeMs = 0;
  private checkedAt = 0;

  constructor(private readonly file: string) {
    if (existsSync(file)) {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { tokens: TokenRecord[] };
      for (const r of parsed.tokens) this.records.set(r.id, r);
      this.fileMtimeMs = statSync(file).mtimeMs;
    }
  }

  /**
   * `corral token create|revoke` runs in another process and rewrites the file: pick its changes up
   * (at most one stat a second), so a new token works and a revoked one stops working without a restart.
   */
  private refreshFromFile(now: number, minIntervalMs = 1000): void {
    if (now - this.checkedAt < minIntervalMs) return;
    this.checkedAt = now;
    try {
      const mtime = statSync(this.file).mtimeMs;
      if (mtime !== this.fileMtimeMs) this.reload();
    } catch {
      // No file yet (or it is being replaced): keep what is in memory.
    }
  }

  private save(): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ tokens: [...this.records.values()] }, null, 2), { mode: 0o600 });
    renameSync(tmp, this.file);
    this.fileMtimeMs = statSync(this.file).mtimeMs;
  }

  /** Re-reads the file (another `corral token` process may have changed it). */
  reload(): void {
    if (!existsSync(this.file)) return;
    const mtime = statSync(this.file).mtimeMs;
    const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as { tokens: TokenRecord[] };
    this.records = new Map(parsed.tokens.map((r) => [r.id, r]));
    this.fileMtimeMs = mtime;
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

  authenticate(presented: string, now = Date.now()): AuthenticatedUser | undefined {
    // A join token `K10<CA hash>::<id>.<secret>` pins the CA for the client; the credential follows `::`.
    const token = /^K10[0-9a-fA-F]{64}::/.test(presented) ? presented.slice(presented.indexOf('::') + 2) : presented;
    const dot = token.indexOf('.');
    if (dot <= 0) return undefined;
    const id = token.slice(0, dot);
    const secret = token.slice(dot + 1);
    if (!id.startsWith('mem-')) this.refreshFromFile(now);
    // An id we do not know may have been created a moment ago by `corral token create`: look at the
    // file again sooner (still rate-limited, so unknown tokens cannot make every request stat it).
    if (!id.startsWith('mem-') && !this.records.has(id)) this.refreshFromFile(now, 100);
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

/** What a request addresses, as far as authorization cares (absent for non-resource URLs). */
export interface AccessTarget {
  /** Resource plural, e.g. `pods`. */
  resource: string;
  subresource?: string | undefined;
}

/**
 * Subresources that act even on GET (exec and attach upgrade a GET to a WebSocket; proxy and
 * portforward reach into workloads): a read-only token must not use them.
 */
const ACTING_SUBRESOURCES = new Set(['exec', 'attach', 'portforward', 'proxy']);
/** Resources a viewer cannot read: Secrets hold credentials (as in Kubernetes' `view` role). */
const VIEWER_HIDDEN_RESOURCES = new Set(['secrets']);

/**
 * What an agent (node role) may change: its Node and its status, Leases (heartbeats), pod status and
 * pod deletion (the final grace-0 delete after stopping containers), Events, and the Secret holding its
 * kubelet endpoint's credentials. It may read everything (pods' Secret and ConfigMap volumes), but
 * not create workloads, delete namespaces or exec into pods: a stolen join token is not an admin token.
 */
const NODE_WRITABLE: Record<string, ReadonlySet<string>> = {
  nodes: new Set(['POST', 'PUT', 'PATCH', 'DELETE']),
  'nodes/status': new Set(['PUT', 'PATCH']),
  leases: new Set(['POST', 'PUT', 'PATCH', 'DELETE']),
  'pods/status': new Set(['PUT', 'PATCH']),
  pods: new Set(['DELETE']),
  events: new Set(['POST', 'PUT', 'PATCH']),
  secrets: new Set(['POST', 'PUT', 'PATCH']),
  // The local-path cleanup finalizer, removed once the node has deleted the volume's directory.
  persistentvolumes: new Set(['PATCH']),
};

/**
 * Whether a role may make a request. Admins may do anything. Viewers get GET/HEAD only (list, get,
 * watch, logs), never an acting subresource, never Secrets. Nodes read everything and write only what
 * an agent writes (NODE_WRITABLE).
 */
export function roleAllows(role: TokenRole, method: string, target?: AccessTarget): boolean {
  if (role === 'admin') return true;
  const read = method === 'GET' || method === 'HEAD';
  if (role === 'node') {
    if (!target) return true;
    if (target.subresource !== undefined && ACTING_SUBRESOURCES.has(target.subresource)) return false;
    if (read) return true;
    const key = target.subresource ? `${target.resource}/${target.subresource}` : target.resource;
    return NODE_WRITABLE[key]?.has(method) ?? false;
  }
  if (!read) return false;
  if (!target) return true;
  if (VIEWER_HIDDEN_RESOURCES.has(target.resource)) return false;
  return target.subresource === undefined || !ACTING_SUBRESOURCES.has(target.subresource);
}
