/**
 * Moving the state between SQLite and etcd, with the backup file (a SQLite store) as the go-between:
 *
 * - `corral backup FILE --datastore-endpoint …` lists every key in etcd at one revision and writes
 *   them into a new SQLite store file, oldest write first (0600, integrity-checked, renamed into place).
 * - `corral restore FILE --datastore-endpoint …` writes the live keys of a backup into an etcd that
 *   holds no cluster state yet, oldest write first.
 *
 * Values are copied byte for byte, so uids, names and every field are kept. Revisions are renumbered
 * by the target (etcd's revision counter is its own) but keep their order: a key written after
 * another in the source is written after it in the target.
 */
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, chmodSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { inspectSnapshot, type SnapshotInfo } from './backup.js';
import { openEtcdStore, type EtcdStoreOptions } from './etcd-store.js';
import { openSqliteStore } from './sqlite-store.js';
import type { KeyValue, Store } from './store.js';

/** The cluster's keys (the compaction marker and anything else outside it are etcd housekeeping). */
const STATE_PREFIX = '/registry/';
const PAGE = 500;

/** Every live key under `prefix` at one revision, in pages, ordered by the revision that wrote it. */
async function snapshot(store: Store, prefix: string): Promise<{ kvs: KeyValue[]; revision: number }> {
  const kvs: KeyValue[] = [];
  let revision: number | undefined;
  let startAfter: string | undefined;
  for (;;) {
    const page = await store.list(prefix, { limit: PAGE, ...(revision !== undefined ? { revision } : {}), ...(startAfter !== undefined ? { startAfter } : {}) });
    revision = page.revision;
    kvs.push(...page.kvs);
    if (!page.more || page.kvs.length === 0) break;
    startAfter = page.kvs.at(-1)!.key;
  }
  kvs.sort((a, b) => a.modRevision - b.modRevision);
  return { kvs, revision: revision ?? 0 };
}

/** Writes etcd's state into a new backup file at `dest` (atomically). */
export async function backupEtcd(etcd: EtcdStoreOptions, dest: string): Promise<SnapshotInfo & { etcdRevision: number }> {
  const target = resolve(dest);
  mkdirSync(dirname(target), { recursive: true });
  const work = mkdtempSync(join(dirname(target), '.corral-backup-'));
  chmodSync(work, 0o700);
  const tmp = join(work, 'state.db');
  const source = await openEtcdStore(etcd);
  try {
    const { kvs, revision } = await snapshot(source, STATE_PREFIX);
    const sqlite = await openSqliteStore({ path: tmp });
    try {
      for (const kv of kvs) await sqlite.create(kv.key, kv.value);
    } finally {
      await sqlite.close();
    }
    chmodSync(tmp, 0o600);
    const info = await inspectSnapshot(tmp);
    // A self-contained file: the store ran in WAL mode, and close() checkpointed it.
    for (const suffix of ['-wal', '-shm']) rmSync(tmp + suffix, { force: true });
    renameSync(tmp, target);
    return { ...info, etcdRevision: revision };
  } finally {
    await source.close();
    rmSync(work, { recursive: true, force: true });
  }
}

/** Writes a backup file's live keys into an etcd that holds no cluster state yet. */
export async function restoreIntoEtcd(file: string, etcd: EtcdStoreOptions): Promise<SnapshotInfo & { etcdRevision: number }> {
  const info = await inspectSnapshot(file);
  // Open a private copy: opening a store may write (WAL, schema checks), and the backup stays as it was.
  const work = mkdtempSync(join(tmpdir(), 'corral-restore-'));
  const copy = join(work, 'state.db');
  copyFileSync(file, copy);
  chmodSync(copy, 0o600);
  const target = await openEtcdStore(etcd);
  try {
    const existing = await target.count(STATE_PREFIX);
    if (existing > 0) throw new Error(`etcd at ${etcd.endpoints.join(',')} already holds ${existing} keys under ${STATE_PREFIX}: restore needs an etcd without cluster state (a new cluster, or delete that prefix first)`);
    const sqlite = await openSqliteStore({ path: copy });
    let kvs: KeyValue[];
    try {
      kvs = (await snapshot(sqlite, '')).kvs;
    } finally {
      await sqlite.close();
    }
    for (const kv of kvs) await target.create(kv.key, kv.value);
    return { ...info, objects: kvs.length, etcdRevision: target.currentRevision() };
  } finally {
    await target.close();
    if (existsSync(work)) rmSync(work, { recursive: true, force: true });
  }
}
