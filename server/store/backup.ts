/**
 * `corral backup FILE` and `corral restore FILE`.
 *
 * Backup copies the SQLite store of a running (or stopped) server with SQLite's online backup API on
 * a second, read-only connection: every page is copied in one step inside one read transaction, so
 * the copy is a consistent snapshot at one revision while the server keeps writing (WAL readers do
 * not block the writer). The copy is written next to FILE, integrity-checked, then renamed into place.
 * It holds every Secret: the file is created 0600 before SQLite writes a page into it (SQLite gives its
 * journal files the database file's mode), so at no moment is any of it readable by other users.
 *
 * Restore puts such a file into a STOPPED server's data dir: it refuses while the data dir's server
 * runs, checks the file first, and keeps the old database (with its -wal/-shm) aside instead of
 * deleting it.
 */
import { chmodSync, closeSync, copyFileSync, existsSync, fchmodSync, mkdirSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import sqlite3 from 'sqlite3';
import { paths } from '../config.js';
import { runningServerPid } from '../pid-file.js';

export interface SnapshotInfo {
  /** Highest revision in the snapshot (the store's resourceVersion at backup time). */
  revision: number;
  /** Objects that exist at that revision (keys whose latest row is not a delete). */
  objects: number;
  bytes: number;
}

interface NativeBackup {
  step(pages: number, cb: (err: Error | null) => void): void;
  finish(cb?: (err: Error | null) => void): void;
  completed: boolean;
  failed: boolean;
}

function open(file: string, mode: number): Promise<sqlite3.Database> {
  return new Promise((resolveDb, reject) => {
    const db = new sqlite3.Database(file, mode, (err) => (err ? reject(err) : resolveDb(db)));
  });
}

function all<Row>(db: sqlite3.Database, sql: string): Promise<Row[]> {
  return new Promise((resolveRows, reject) => db.all<Row>(sql, (err, rows) => (err ? reject(err) : resolveRows(rows))));
}

function close(db: sqlite3.Database): Promise<void> {
  return new Promise((resolveClose) => db.close(() => resolveClose()));
}

/** Checks a database file the way `corral restore` needs it: intact and a corral store. */
export async function inspectSnapshot(file: string): Promise<SnapshotInfo> {
  if (!existsSync(file)) throw new Error(`${file} does not exist`);
  const db = await open(file, sqlite3.OPEN_READONLY);
  try {
    const check = await all<{ integrity_check: string }>(db, 'PRAGMA integrity_check');
    const verdict = check.map((r) => r.integrity_check).join('; ');
    if (verdict !== 'ok') throw new Error(`${file} failed the SQLite integrity check: ${verdict}`);
    const tables = await all<{ name: string }>(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('log', 'meta')");
    if (tables.length !== 2) throw new Error(`${file} is not a corral store (no log/meta tables)`);
    const [rev] = await all<{ revision: number | null }>(db, 'SELECT MAX(id) AS revision FROM log');
    const [count] = await all<{ objects: number }>(db,
      'SELECT COUNT(*) AS objects FROM log l JOIN (SELECT MAX(id) AS id FROM log GROUP BY name) latest ON l.id = latest.id WHERE l.deleted = 0');
    return { revision: rev?.revision ?? 0, objects: count?.objects ?? 0, bytes: statSync(file).size };
  } finally {
    await close(db);
  }
}

/** Creates an empty file only its owner can read (0600 whatever the umask; refuses to follow a planted file). */
function createPrivateFile(file: string): void {
  const fd = openSync(file, 'wx', 0o600);
  try {
    fchmodSync(fd, 0o600);
  } finally {
    closeSync(fd);
  }
}

/** Online snapshot of the store at `source` into `dest` (atomic: a temporary file renamed at the end). */
export async function backupStore(source: string, dest: string): Promise<SnapshotInfo> {
  if (!existsSync(source)) throw new Error(`no store at ${source}: is this the server's data dir?`);
  const target = resolve(dest);
  const tmp = `${target}.partial-${process.pid}`;
  mkdirSync(dirname(target), { recursive: true });
  rmSync(tmp, { force: true });
  createPrivateFile(tmp);
  const db = await open(source, sqlite3.OPEN_READONLY);
  try {
    db.configure('busyTimeout', 10_000);
    const backup = (db as unknown as { backup(file: string, cb: (err: Error | null) => void): NativeBackup }).backup.bind(db);
    await new Promise<void>((resolveBackup, reject) => {
      const b = backup(tmp, (err) => {
        if (err) return reject(err);
        // -1: all pages in one step, inside one read transaction = one consistent revision. A step
        // that met SQLITE_BUSY/LOCKED reports no error but is not complete: try again shortly.
        let attempts = 0;
        const step = (): void => b.step(-1, (stepErr) => {
          if (stepErr) return b.finish(() => reject(stepErr));
          if (!b.completed && !b.failed && ++attempts < 200) return void setTimeout(step, 50);
          if (!b.completed) return b.finish(() => reject(new Error('the database stayed busy; try again')));
          b.finish((finishErr) => (finishErr ? reject(finishErr) : resolveBackup()));
        });
        step();
      });
    });
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new Error(`backing up ${source}: ${(err as Error).message}`, { cause: err });
  } finally {
    await close(db);
  }
  try {
    // The copy inherits WAL mode from the store; make it one self-contained file (no -wal/-shm).
    const copy = await open(tmp, sqlite3.OPEN_READWRITE);
    try {
      await all(copy, 'PRAGMA journal_mode=DELETE');
    } finally {
      await close(copy);
    }
    const info = await inspectSnapshot(tmp);
    renameSync(tmp, target);
    return info;
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  } finally {
    rmSync(`${tmp}-wal`, { force: true });
    rmSync(`${tmp}-shm`, { force: true });
  }
}

export interface RestoreResult extends SnapshotInfo {
  /** Where the previous database was moved, if there was one. */
  keptAside?: string;
  db: string;
}

/** Restores `file` into the data dir of a stopped server. */
export async function restoreStore(file: string, dataDir: string, now = new Date()): Promise<RestoreResult> {
  const pid = runningServerPid(dataDir);
  if (pid !== undefined) {
    throw new Error(`the corral server for ${dataDir} is running (pid ${pid}): stop it first (systemctl stop corral, or kill ${pid}), then restore`);
  }
  const info = await inspectSnapshot(file);
  const db = paths.db(dataDir);
  mkdirSync(dirname(db), { recursive: true, mode: 0o700 });
  let keptAside: string | undefined;
  if (existsSync(db)) {
    keptAside = `${db}.before-restore-${now.toISOString().replace(/[:.]/g, '-')}`;
    // The -wal file belongs to the old database: it must go with it, or SQLite would replay it onto the restored one.
    for (const suffix of ['', '-wal', '-shm']) {
      if (existsSync(db + suffix)) renameSync(db + suffix, keptAside + suffix);
    }
  }
  const tmp = `${db}.restoring`;
  rmSync(tmp, { force: true });
  copyFileSync(file, tmp);
  chmodSync(tmp, 0o600); // copyFileSync copies the source's mode, and an old backup may be 0644
  renameSync(tmp, db);
  return { ...info, db, ...(keptAside ? { keptAside } : {}) };
}

export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(1)} ${units[i]}`;
}
