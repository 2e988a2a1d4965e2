/**
 * Bearer tokens: `<id>.<secret>` with 128 random bits of secret, kept as sha256 hashes in
 * `<data-dir>/server/tokens.json` (mode 0600). Roles:
 * - admin: everything (`system:masters`);
 * - viewer: read-only (`corral:viewers`);
 * - join: trades itself for a node credential at /join/node-token, as upstream's bootstrap tokens
 *   (`system:bootstrap:<id>` in `system:bootstrappers`); it may expire;
 * - node: one node's credential (`system:node:<name>` in `system:nodes`), bound to that node name,
 *   at most one live per node, remembering the join token that minted it.
 * Tokens may expire and can be revoked. The file is rewritten atomically (temp file, fsync, rename)
 * under a lock file, only when tokens change, never per request.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { NODES_GROUP, NODE_USER_PREFIX, MASTERS_GROUP, BOOTSTRAPPERS_GROUP, type UserInfo } from './authorizer.js';
import { AUTHENTICATED_GROUP, VIEWERS_GROUP } from './builtin-roles.js';

export type TokenRole = 'admin' | 'node' | 'viewer' | 'join' | 'user';

export interface TokenRecord {
  id: string;
  secretSha256: string;
  role: TokenRole;
  description: string;
  created: string;
  /** RFC 3339; absent = never expires. */
  expires?: string;
  /** role node: the node this credential acts for. */
  node?: string;
  /** role node: id of the join token that minted it (revoking that one with cascade revokes this). */
  mintedBy?: string;
  /** The user name the token authenticates as (role user; optional for admin and viewer). */
  user?: string;
  /** Groups besides the role's (RBAC bindings name them). */
  groups?: string[];
}

/** Names a token may not claim: `system:` identities belong to nodes, service accounts and Kubernetes itself. */
export function checkTokenIdentity(user: string | undefined, groups: readonly string[]): void {
  if (user !== undefined && (user.trim() === '' || user.startsWith('system:'))) throw new Error(`invalid user "${user}": it must be non-empty and not start with "system:"`);
  for (const g of groups) if (g.trim() === '' || g.startsWith('system:')) throw new Error(`invalid group "${g}": it must be non-empty and not start with "system:"`);
}

export interface AuthenticatedUser extends UserInfo {
  name: string;
  groups: string[];
  role: TokenRole;
  tokenId: string;
  /** role node: the node it acts for. */
  nodeName?: string;
}

/** 8 random bytes: collisions among a home lab's few tokens are astronomically unlikely, and refused anyway. */
const ID_BYTES = 8;
const LOCK_STALE_MS = 10_000;
const LOCK_WAIT_MS = 5_000;
/** Kubernetes node names are DNS subdomains. */
export const NODE_NAME_PATTERN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

const hash = (secret: string): string => createHash('sha256').update(secret).digest('hex');

/**
 * Files from before join tokens and node credentials were told apart held both as role `node`: a
 * record described `node <name>` was minted for that node (by /join/node-token or `corral join`),
 * any other was a join token.
 */
function migrate(r: TokenRecord): TokenRecord {
  if (r.role !== 'node' || r.node) return r;
  const m = /^node (\S+)$/.exec(r.description);
  if (m && NODE_NAME_PATTERN.test(m[1]!)) return { ...r, node: m[1]! };
  return { ...r, role: 'join' };
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export class TokenStore {
  private records = new Map<string, TokenRecord>();
  private readonly ephemeral = new Map<string, TokenRecord>();
  /** The secret whose hash last matched each record (records are replaced, never changed, on reload). */
  private readonly proven = new WeakMap<TokenRecord, Buffer>();
  /** mtime of the file when last read or written, and when it was last checked. */
  private fileMtimeMs = 0;
  private checkedAt = 0;

  constructor(private readonly file: string) {
    this.reload();
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

  /** Re-reads the file (another `corral token` process may have changed it). */
  reload(): void {
    if (!existsSync(this.file)) return;
    const mtime = statSync(this.file).mtimeMs;
    const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as { tokens: TokenRecord[] };
    this.records = new Map(parsed.tokens.map((r) => [r.id, migrate(r)]));
    this.fileMtimeMs = mtime;
  }

  /**
   * Read-modify-write of the file under `<file>.lock`, so the server and a `corral token` command
   * never lose each other's changes. `change` returns whether anything changed.
   */
  private mutate<T>(change: () => { result: T; changed: boolean }): T {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const lock = `${this.file}.lock`;
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        closeSync(openSync(lock, 'wx', 0o600));
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        // A lock left by a process that died mid-write.
        try {
          if (Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) unlinkSync(lock);
        } catch { /* gone meanwhile */ }
        if (Date.now() > deadline) throw new Error(`${lock} is held by another corral process`);
        sleepSync(10);
      }
    }
    try {
      this.reload();
      const { result, changed } = change();
      if (changed) this.save();
      return result;
    } finally {
      unlinkSync(lock);
    }
  }

  /** Temp file (0600), fsync, rename: a crash leaves the old file or the new one, never half of one. */
  private save(): void {
    const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify({ tokens: [...this.records.values()] }, null, 2));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    this.fileMtimeMs = statSync(this.file).mtimeMs;
  }

  private newRecord(role: TokenRole, options: { description?: string; ttlSeconds?: number; id?: string; node?: string; mintedBy?: string; user?: string; groups?: string[] }): { token: string; record: TokenRecord } {
    let id = options.id ?? randomBytes(ID_BYTES).toString('hex');
    // A chosen id that exists is refused; a random one that collides is drawn again. Never a replace.
    if (this.records.has(id) || this.ephemeral.has(id)) {
      if (options.id !== undefined) throw new Error(`a token with id "${id}" exists already`);
      id = randomBytes(ID_BYTES).toString('hex');
      if (this.records.has(id)) throw new Error('token id collision twice in a row: refusing');
    }
    if (role === 'node' && (!options.node || !NODE_NAME_PATTERN.test(options.node))) throw new Error('a node credential needs a node name');
    if (role === 'user' && !options.user) throw new Error('a user token needs a user name');
    checkTokenIdentity(options.user, options.groups ?? []);
    const secret = randomBytes(16).toString('hex');
    const record: TokenRecord = {
      id,
      secretSha256: hash(secret),
      role,
      description: options.description ?? (role === 'node' ? `node ${options.node!}` : ''),
      created: new Date().toISOString(),
      ...(options.ttlSeconds ? { expires: new Date(Date.now() + options.ttlSeconds * 1000).toISOString() } : {}),
      ...(options.user ? { user: options.user } : {}),
      ...(options.groups && options.groups.length > 0 ? { groups: [...options.groups] } : {}),
      ...(role === 'node' ? { node: options.node! } : {}),
      ...(options.mintedBy ? { mintedBy: options.mintedBy } : {}),
    };
    return { token: `${id}.${secret}`, record };
  }

  /** A new token (for role node use mintNodeCredential: one live credential per node). */
  create(role: Exclude<TokenRole, 'node'>, options: { description?: string; ttlSeconds?: number; id?: string; user?: string; groups?: string[] } = {}): { token: string; record: TokenRecord } {
    return this.mutate(() => {
      const made = this.newRecord(role, options);
      this.records.set(made.record.id, made.record);
      return { result: made, changed: true };
    });
  }

  /**
   * The credential of node `node`, replacing (revoking) every other credential of that node: a re-join
   * makes the old one useless, and a node never has two.
   */
  mintNodeCredential(node: string, options: { description?: string; mintedBy?: string; id?: string } = {}): { token: string; record: TokenRecord; replaced: string[] } {
    return this.mutate(() => {
      const made = this.newRecord('node', { ...options, node });
      const replaced = [...this.records.values()].filter((r) => r.role === 'node' && r.node === node).map((r) => r.id);
      for (const id of replaced) this.records.delete(id);
      this.records.set(made.record.id, made.record);
      return { result: { ...made, replaced }, changed: true };
    });
  }

  /** A token that lives only in this process (the server's own controllers and local agent). */
  createEphemeral(role: TokenRole, description: string, node?: string): string {
    const id = `mem-${randomBytes(ID_BYTES).toString('hex')}`;
    const secret = randomBytes(16).toString('hex');
    if (role === 'node' && (!node || !NODE_NAME_PATTERN.test(node))) throw new Error('a node credential needs a node name');
    this.ephemeral.set(id, { id, secretSha256: hash(secret), role, description, created: new Date().toISOString(), ...(node ? { node } : {}) });
    return `${id}.${secret}`;
  }

  list(): TokenRecord[] {
    return [...this.records.values()];
  }

  /**
   * Revokes a token; with `cascade`, also the node credentials it minted (a stolen join token's
   * offspring). Returns the ids revoked, empty if there was no such token.
   */
  revoke(id: string, options: { cascade?: boolean } = {}): string[] {
    return this.mutate(() => {
      if (!this.records.has(id)) return { result: [], changed: false };
      const gone = [id, ...(options.cascade ? [...this.records.values()].filter((r) => r.mintedBy === id).map((r) => r.id) : [])];
      for (const g of gone) this.records.delete(g);
      return { result: gone, changed: true };
    });
  }

  /** The id of a presented token, whether or not it is valid (for logs and rate limits; not secret). */
  static idOf(presented: string): string | undefined {
    const token = /^K10[0-9a-fA-F]{64}::/.test(presented) ? presented.slice(presented.indexOf('::') + 2) : presented;
    const dot = token.indexOf('.');
    return dot > 0 ? token.slice(0, dot) : undefined;
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
    // A token in use (an agent's, the controllers') is hashed once per record, not on every request:
    // the secret that last matched is kept beside the record and compared in constant time.
    const given = Buffer.from(secret);
    const proven = this.proven.get(record);
    if (proven === undefined || proven.length !== given.length || !timingSafeEqual(proven, given)) {
      const a = Buffer.from(hash(secret), 'hex');
      const b = Buffer.from(record.secretSha256, 'hex');
      if (a.length !== b.length || !timingSafeEqual(a, b)) return undefined;
      this.proven.set(record, given);
    }
    const extraGroups = record.groups ?? [];
    switch (record.role) {
      case 'admin': return { name: record.user ?? 'admin', groups: [MASTERS_GROUP, ...extraGroups, AUTHENTICATED_GROUP], role: 'admin', tokenId: id };
      case 'user': return { name: record.user!, groups: [...extraGroups, AUTHENTICATED_GROUP], role: 'user', tokenId: id };
      case 'node': return { name: `${NODE_USER_PREFIX}${record.node!}`, groups: [NODES_GROUP, AUTHENTICATED_GROUP], role: 'node', tokenId: id, nodeName: record.node! };
      case 'join': return { name: `system:bootstrap:${id}`, groups: [BOOTSTRAPPERS_GROUP, AUTHENTICATED_GROUP], role: 'join', tokenId: id };
      case 'viewer': return { name: record.user ?? `viewer:${id}`, groups: [VIEWERS_GROUP, ...extraGroups, AUTHENTICATED_GROUP], role: 'viewer', tokenId: id };
    }
  }
}
