/**
 * What several servers on one etcd must share so that any of them serves any client: the cluster CA
 * (certificate and key), the service-account signing key, the admin token and the token file. Like
 * k3s's bootstrap data, it is kept in the datastore, encrypted with the cluster secret every server
 * is started with (`--token-file`, or CORRAL_TOKEN): AES-256-GCM under a key derived with scrypt,
 * so whoever can read etcd but lacks the secret learns nothing.
 *
 * - At start the first server stores its material (create-if-absent); every later server takes the
 *   stored material and writes it into its own data dir (0600 for secrets), replacing what it had.
 * - While running, the token file is kept the same on every server: a local change (`corral token
 *   create/revoke` on that machine) is written to etcd guarded by the revision it was based on, and a
 *   change from another server is written to the local file, which the TokenStore then reloads.
 *   Edits of the token file on two servers within the same second: the one that reaches etcd first
 *   wins (the other is refused by the revision check) and the other server's file is replaced by it,
 *   so that edit has to be made again.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, scryptSync } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { log } from '../api/log.js';
import { sleep } from '../api/async-util.js';
import { paths } from './config.js';
import { StoreError, type Store } from './store/store.js';

export const BOOTSTRAP_KEY = '/corral/bootstrap';
export const TOKENS_KEY = '/corral/tokens';

/** Files shared by every server, relative to the data dir, with their modes. */
function sharedFiles(dataDir: string): { name: string; path: string; mode: number }[] {
  return [
    { name: 'ca.crt', path: join(paths.tlsDir(dataDir), 'ca.crt'), mode: 0o644 },
    { name: 'ca.key', path: join(paths.tlsDir(dataDir), 'ca.key'), mode: 0o600 },
    { name: 'service-account.key', path: paths.serviceAccountKey(dataDir), mode: 0o600 },
    { name: 'admin-token', path: paths.adminToken(dataDir), mode: 0o600 },
  ];
}

/** Seals `plain` with the cluster secret: salt(16) | iv(12) | tag(16) | ciphertext, base64. */
export function seal(secret: string, plain: string): string {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', scryptSync(secret, salt, 32), iv);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return Buffer.concat([salt, iv, cipher.getAuthTag(), body]).toString('base64');
}

export function unseal(secret: string, sealed: string): string {
  const raw = Buffer.from(sealed, 'base64');
  const salt = raw.subarray(0, 16);
  const iv = raw.subarray(16, 28);
  const tag = raw.subarray(28, 44);
  const decipher = createDecipheriv('aes-256-gcm', scryptSync(secret, salt, 32), iv);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(raw.subarray(44)), decipher.final()]).toString('utf8');
  } catch {
    throw new Error('the cluster bootstrap data in etcd cannot be decrypted with this server\'s token: start every server with the same --token-file');
  }
}

/** Writes `content` to `file` atomically with `mode`. */
function writePrivate(file: string, content: string, mode: number): void {
  const tmp = `${file}.sync-${process.pid}`;
  writeFileSync(tmp, content, { mode });
  renameSync(tmp, file);
}

/**
 * Makes this server's shared material the cluster's: stores ours if etcd has none yet, else takes
 * etcd's. Returns true when local files were replaced (the caller re-reads TLS and tokens).
 */
export async function syncBootstrap(store: Store, dataDir: string, secret: string): Promise<boolean> {
  const local: Record<string, string> = {};
  for (const f of sharedFiles(dataDir)) {
    if (!existsSync(f.path)) throw new Error(`${f.path} is missing: the server makes it before the bootstrap data is shared`);
    local[f.name] = readFileSync(f.path, 'utf8');
  }
  let stored = await store.get(BOOTSTRAP_KEY);
  if (!stored) {
    try {
      await store.create(BOOTSTRAP_KEY, seal(secret, JSON.stringify(local)));
      log.info('bootstrap', 'this server\'s CA, keys and tokens are now the cluster\'s (stored encrypted in etcd)');
      return false;
    } catch (err) {
      if (!(err instanceof StoreError && err.code === 'KeyExists')) throw err;
      stored = await store.get(BOOTSTRAP_KEY);
    }
  }
  const shared = JSON.parse(unseal(secret, stored!.value)) as Record<string, string>;
  let replaced = false;
  for (const f of sharedFiles(dataDir)) {
    const content = shared[f.name];
    if (content === undefined || content === local[f.name]) continue;
    writePrivate(f.path, content, f.mode);
    replaced = true;
  }
  if (replaced) {
    // The serving certificate was signed by the CA this server had: let ensureTls issue a new one.
    for (const name of ['server.crt', 'server.key']) rmSync(join(paths.tlsDir(dataDir), name), { force: true });
    log.info('bootstrap', 'took the cluster\'s CA, keys and admin token from etcd');
  }
  return replaced;
}

const hash = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Keeps the token file the same on every server until `signal` aborts (see the header). */
export async function syncTokens(store: Store, dataDir: string, secret: string, onChanged: () => void, signal: AbortSignal, intervalMs = 1_000): Promise<void> {
  const file = paths.tokens(dataDir);
  const readLocal = (): string => (existsSync(file) ? readFileSync(file, 'utf8') : '');
  let synced = ''; // hash of the content both sides agreed on last
  let revision = 0;
  const pull = async (): Promise<void> => {
    const kv = await store.get(TOKENS_KEY);
    if (!kv) return;
    revision = kv.modRevision;
    const content = unseal(secret, kv.value);
    if (hash(content) !== hash(readLocal())) {
      writePrivate(file, content, 0o600);
      onChanged();
    }
    synced = hash(content);
  };
  const push = async (content: string): Promise<void> => {
    const sealed = seal(secret, content);
    const kv = revision === 0 ? await store.create(TOKENS_KEY, sealed) : await store.update(TOKENS_KEY, revision, sealed);
    revision = kv.modRevision;
    synced = hash(content);
  };
  // At start the cluster's file wins (a new server brings no tokens of its own worth keeping).
  await pull();
  if (revision === 0) await push(readLocal()).catch(() => pull());
  while (!signal.aborted) {
    await sleep(intervalMs, { signal, unref: true }).catch(() => undefined);
    if (signal.aborted) return;
    try {
      const current = await store.get(TOKENS_KEY);
      if (current && current.modRevision !== revision) {
        await pull(); // another server changed the tokens
        continue;
      }
      const local = readLocal();
      if (hash(local) !== synced) await push(local);
    } catch (err) {
      if (err instanceof StoreError && (err.code === 'Conflict' || err.code === 'KeyExists')) continue; // pulled next round
      log.warn('bootstrap', 'syncing the token file with etcd failed, will retry', { error: (err as Error).message });
    }
  }
}
