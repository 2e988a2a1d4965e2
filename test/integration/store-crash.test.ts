/**
 * Durability under kill -9: a child process writes as fast as it can (first one writer, so each
 * write is its own autocommit statement, then 16 concurrent writers, so writes are batched; with
 * compaction and WAL checkpoints running) and prints every write the store
 * acknowledged; the test kills it mid-stream with SIGKILL, reopens the file and checks that every
 * acknowledged write is there and the database is intact. Two rounds on the same file, so the
 * second child also starts from a crashed database.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { openSqliteStore } from '../../server/store/sqlite-store.js';
import { lostWrites } from '../support/durability.js';

const storeModule = new URL('../../server/store/sqlite-store.js', import.meta.url).href;

/** The child: opens the store and writes until it is killed, printing each acknowledged write. */
const CHILD = `
import { writeSync } from 'node:fs';
const { openSqliteStore } = await import(process.env.CRASH_STORE_MODULE);
const round = process.env.CRASH_ROUND;
const store = await openSqliteStore({ path: process.env.CRASH_DB, walAutocheckpointPages: 64, compactChunkRows: 50 });
const say = (line) => writeSync(1, line + '\\n');
say('ready ' + store.currentRevision());
setInterval(() => { store.compact(store.currentRevision() - 300).catch(() => {}); }, 20);
async function writer(w) {
  const shared = '/crash/' + round + '/shared' + w;
  let sharedRev = (await store.create(shared, 'u0')).modRevision;
  say('u ' + sharedRev + ' ' + shared + ' u0');
  for (let n = 0; ; n++) {
    const key = '/crash/' + round + '/w' + w + '/' + n;
    const kv = await store.create(key, 'value-' + n);
    say('c ' + kv.modRevision + ' ' + key + ' value-' + n);
    if (n % 3 === 0) {
      const value = 'u' + (n + 1);
      sharedRev = (await store.update(shared, sharedRev, value)).modRevision;
      say('u ' + sharedRev + ' ' + shared + ' ' + value);
    }
  }
}
for (let w = 0; w < Number(process.env.CRASH_WRITERS); w++) writer(w).catch((err) => { say('error ' + err.message); process.exit(1); });
`;

interface Ack {
  kind: 'c' | 'u';
  revision: number;
  key: string;
  value: string;
}

/** Run the child until it has acknowledged at least `minAcks` writes, then SIGKILL it. */
function runAndKill(path: string, round: number, writers: number, minAcks: number): Promise<{ acks: Ack[]; startRevision: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
      env: { ...process.env, CRASH_DB: path, CRASH_ROUND: String(round), CRASH_WRITERS: String(writers), CRASH_STORE_MODULE: storeModule },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acks: Ack[] = [];
    let startRevision = -1;
    let pending = '';
    let stderr = '';
    let killed = false;
    const failTimer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child made only ${acks.length} acknowledged writes in time; stderr: ${stderr}`));
    }, 60_000);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const [kind, a, b, c] = line.split(' ');
        if (kind === 'ready') startRevision = Number(a);
        else if (kind === 'c' || kind === 'u') acks.push({ kind, revision: Number(a), key: b!, value: c! });
        else if (kind === 'error') reject(new Error(`child failed: ${line}`));
      }
      // Kill at a moment that depends on scheduling, not on a round number of writes.
      if (!killed && acks.length >= minAcks) {
        killed = true;
        setTimeout(() => child.kill('SIGKILL'), Math.random() * 20);
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(failTimer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited ${code}/${signal} before it was killed; stderr: ${stderr}`));
      else resolve({ acks, startRevision });
    });
  });
}

function integrityCheck(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(path, (openErr) => {
      if (openErr) return reject(openErr);
      db.all<{ integrity_check: string }>('PRAGMA integrity_check', (err, rows) => {
        db.close(() => (err ? reject(err) : resolve(rows.map((r) => r.integrity_check).join('\n'))));
      });
    });
  });
}

test('every acknowledged write survives kill -9: one writer (autocommit), then 16 (batched)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-store-crash-'));
  const path = join(dir, 'state.db');
  try {
    let previousMax = 0;
    for (const [round, writers, minAcks] of [[1, 1, 600], [2, 16, 1500]] as const) {
      const { acks, startRevision } = await runAndKill(path, round, writers, minAcks);
      assert.ok(acks.length >= minAcks, `round ${round}: ${acks.length} acknowledged writes`);
      assert.ok(startRevision >= previousMax, 'the child started at or after the last acknowledged revision');

      const store = await openSqliteStore({ path });
      try {
        const maxAcked = Math.max(...acks.map((a) => a.revision));
        assert.ok(store.currentRevision() >= maxAcked, `revision ${store.currentRevision()} < acknowledged ${maxAcked}`);
        const lost = await lostWrites(acks.map((a) => ({ kind: a.kind === 'c' ? 'create' as const : 'update' as const, key: a.key, revision: a.revision, value: a.value, ...(a.kind === 'c' ? { identity: String(a.revision) } : {}) })),
          async (key) => {
            const kv = await store.get(key);
            return kv && { revision: kv.modRevision, value: kv.value, identity: String(kv.createRevision) };
          });
        assert.equal(lost, [], `round ${round}: acknowledged writes lost`);
        const creates = acks.filter((a) => a.kind === 'c').length;
        assert.ok((await store.count(`/crash/${round}/w`)) >= creates);
        // The store keeps working on the recovered file.
        const next = await store.create(`/crash/${round}/after`, 'x');
        assert.ok(next.modRevision > maxAcked);
        previousMax = next.modRevision;
      } finally {
        await store.close();
      }
      assert.is(await integrityCheck(path), 'ok', `round ${round}: integrity_check`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
