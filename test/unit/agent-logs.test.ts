/**
 * Agent log files: the per-file time index that dates lines (sinceSeconds, sinceTime, timestamps),
 * size-based rotation keeping N files with their indexes, and the reader over rotated + live files.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, existsSync, appendFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { indexPath, linesSince, parseIndex, sinceCutoff, timeLines } from '../../agent/logs/time-index.js';
import { LogKeeper } from '../../agent/logs/rotation.js';
import { streamLog } from '../../agent/logs/log-reader.js';

test('each line gets the time of the first sample that covers its end; later lines the fallback', () => {
  const content = Buffer.from('a1\na2\nb1\nc1\nc2');
  // Samples: 6 bytes at t=1000 (a1, a2), 9 bytes at t=2000 (b1).
  const lines = timeLines(content, parseIndex('6 1000\n9 2000\ngarbage\n'), 5000);
  assert.equal(lines.map((l) => [l.text, l.at]), [['a1\n', 1000], ['a2\n', 1000], ['b1\n', 2000], ['c1\n', 5000], ['c2', 5000]]);
  assert.equal(linesSince(lines, 2000).map((l) => l.text), ['b1\n', 'c1\n', 'c2']);
  assert.equal(linesSince(lines, undefined).length, 5);
});

test('byte offsets, not characters: multi-byte output is dated correctly', () => {
  const content = Buffer.from('é1\nx\n'); // "é" is two bytes: the first line ends at byte 4
  const lines = timeLines(content, [{ size: 4, at: 10 }, { size: 6, at: 20 }], 99);
  assert.equal(lines.map((l) => l.at), [10, 20]);
});

test('sinceSeconds and sinceTime cut-offs; malformed values are refused', () => {
  assert.is(sinceCutoff({ sinceSeconds: '5' }, 100_000), 95_000);
  assert.is(sinceCutoff({ sinceTime: '2024-01-02T03:04:05Z' }, 0), Date.parse('2024-01-02T03:04:05Z'));
  assert.is(sinceCutoff({ sinceSeconds: null, sinceTime: null }, 1), undefined);
  assert.throws(() => sinceCutoff({ sinceSeconds: '-3' }, 0), /positive integer/);
  assert.throws(() => sinceCutoff({ sinceTime: 'yesterday' }, 0), /RFC 3339/);
});

function logsDir(): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'corral-logs-'));
  const cdir = join(dir, 'default_p_uid', 'main');
  mkdirSync(cdir, { recursive: true });
  return { dir, file: join(cdir, '0.log') };
}

test('the keeper samples grown files and rotates at the size limit, keeping N files with their indexes', async () => {
  const { dir, file } = logsDir();
  try {
    const keeper = new LogKeeper(() => [file], 100, 2);
    writeFileSync(file, 'first\n');
    await keeper.runOnce(1_000);
    await keeper.runOnce(1_500); // no growth: no new sample
    assert.equal(parseIndex(readFileSync(indexPath(file), 'utf8')), [{ size: 6, at: 1_000 }]);
    appendFileSync(file, `${'x'.repeat(120)}\n`);
    assert.is(await keeper.runOnce(2_000), 1, 'rotated once over 100 bytes');
    assert.is(readFileSync(file, 'utf8'), '', 'live file truncated');
    assert.ok(readFileSync(`${file}.1`, 'utf8').startsWith('first\n'));
    assert.equal(parseIndex(readFileSync(indexPath(`${file}.1`), 'utf8')).map((e) => e.at), [1_000, 2_000, 2_000]);
    for (let round = 0; round < 3; round++) {
      appendFileSync(file, `round-${round}-${'y'.repeat(110)}\n`);
      await keeper.runOnce(3_000 + round * 1000);
    }
    assert.ok(existsSync(`${file}.1`) && existsSync(`${file}.2`), 'two rotated files');
    assert.not.ok(existsSync(`${file}.3`), 'no third one: logMaxFiles = 2');
    assert.match(readFileSync(`${file}.2`, 'utf8'), /^round-1-/);
    assert.match(readFileSync(`${file}.1`, 'utf8'), /^round-2-/);
    assert.ok(existsSync(indexPath(`${file}.2`)), 'indexes move with their files');
    assert.not.ok(existsSync(indexPath(`${file}.3`)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a new keeper (agent restart) continues the index on disk instead of re-dating old bytes', async () => {
  const { dir, file } = logsDir();
  try {
    writeFileSync(file, 'old\n');
    await new LogKeeper(() => [file], 1_000_000, 2).runOnce(1_000);
    await new LogKeeper(() => [file], 1_000_000, 2).runOnce(9_000);
    assert.equal(parseIndex(readFileSync(indexPath(file), 'utf8')), [{ size: 4, at: 1_000 }]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the reader honours sinceMs across rotated and live files, with timestamps from the index', async () => {
  const { dir, file } = logsDir();
  try {
    writeFileSync(`${file}.1`, 'old-1\nold-2\n');
    writeFileSync(indexPath(`${file}.1`), '12 1000\n');
    writeFileSync(file, 'new-1\nnew-2\n');
    writeFileSync(indexPath(file), '6 5000\n12 6000\n');
    const read = async (o: Parameters<typeof streamLog>[2]): Promise<string> => {
      let out = '';
      await streamLog(file, 2, o, (c) => { out += c; return true; });
      return out;
    };
    assert.is(await read({}), 'old-1\nold-2\nnew-1\nnew-2\n');
    assert.is(await read({ sinceMs: 5_500 }), 'new-2\n');
    assert.is(await read({ sinceMs: 4_000, tailLines: 1 }), 'new-2\n');
    assert.is(await read({ sinceMs: 0, tailLines: 3 }), 'old-2\nnew-1\nnew-2\n');
    assert.is(await read({ sinceMs: 5_000, timestamps: true }), '1970-01-01T00:00:05.000000000Z new-1\n1970-01-01T00:00:06.000000000Z new-2\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
