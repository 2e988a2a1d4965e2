/**
 * The whole-suite runner: runs every `*.test.js` file of the selected tiers in its own Node process
 * (isolation, and a hard time limit per file so one hung test cannot hang CI), reads uvu's totals
 * and ends with the line `N passed, N failed` that CI reads.
 *
 *   node dist/test/run.js                  all tiers but bench (fuzz included: seeded, bounded; CORRAL_FUZZ_SEED, CORRAL_FUZZ_COUNT)
 *   node dist/test/run.js unit integration  only these tiers (arm64: the emulated arm64 node, see docs/hil.md)
 *   node dist/test/run.js store             files whose path contains "store"
 *   node dist/test/run.js ha                the high-availability scenario on real lab hosts (test/ha/)
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const TIERS = ['unit', 'integration', 'browser', 'lab', 'fuzz', 'ha', 'arm64'] as const;
const FILE_TIMEOUT_MS = Number(process.env['CORRAL_TEST_FILE_TIMEOUT_MS'] ?? 15 * 60_000);

const testRoot = dirname(fileURLToPath(import.meta.url));

interface FileResult { file: string; passed: number; failed: number; skipped: number; ms: number; note?: string }

function listTestFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...listTestFiles(full));
    else if (name.endsWith('.test.js')) out.push(full);
  }
  return out;
}

function selectFiles(args: string[]): string[] {
  const tierArgs = args.filter((a) => (TIERS as readonly string[]).includes(a) || a === 'bench');
  const filters = args.filter((a) => !tierArgs.includes(a));
  const tiers = tierArgs.length > 0 ? tierArgs : [...TIERS];
  const files = tiers.flatMap((t) => listTestFiles(join(testRoot, t)));
  if (filters.length === 0) return files;
  return files.filter((f) => filters.some((flt) => relative(testRoot, f).includes(flt)));
}

const ANSI = /\u001b\[[0-9;]*m/g;

function readCount(output: string, label: string): number | undefined {
  const m = new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'm').exec(output);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

function runFile(file: string): Promise<FileResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', file], {
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    const onData = (chunk: Buffer, sink: NodeJS.WriteStream): void => {
      const text = chunk.toString('utf8');
      output += text.replace(ANSI, '');
      sink.write(text);
    };
    child.stdout.on('data', (c: Buffer) => onData(c, process.stdout));
    child.stderr.on('data', (c: Buffer) => onData(c, process.stderr));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
    }, FILE_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      const name = relative(testRoot, file);
      const total = readCount(output, 'Total');
      const passed = readCount(output, 'Passed') ?? 0;
      const skipped = readCount(output, 'Skipped') ?? 0;
      const ms = Date.now() - started;
      if (timedOut) {
        resolve({ file: name, passed, failed: Math.max(1, (total ?? 0) - passed), skipped, ms, note: `timed out after ${FILE_TIMEOUT_MS} ms` });
      } else if (total === undefined) {
        resolve({ file: name, passed: 0, failed: 1, skipped: 0, ms, note: `exited ${code} before uvu printed totals` });
      } else {
        // uvu's Total counts the tests that ran; skipped ones are reported apart.
        let failed = Math.max(0, total - passed);
        // A file that reported all passed but exited non-zero (e.g. a teardown crash) still failed.
        if (failed === 0 && code !== 0) failed = 1;
        resolve({ file: name, passed, failed, skipped, ms, ...(failed > 0 && code !== 0 ? { note: `exit code ${code}` } : {}) });
      }
    });
  });
}

async function main(): Promise<void> {
  const files = selectFiles(process.argv.slice(2));
  const results: FileResult[] = [];
  for (const file of files) {
    process.stdout.write(`\n=== ${relative(testRoot, file)}\n`);
    results.push(await runFile(file));
  }
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  process.stdout.write('\n--- summary\n');
  for (const r of results) {
    passed += r.passed;
    failed += r.failed;
    skipped += r.skipped;
    const mark = r.failed > 0 ? 'FAIL' : 'ok  ';
    process.stdout.write(`${mark} ${r.file}  ${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ''}  (${(r.ms / 1000).toFixed(1)} s)${r.note ? `  ${r.note}` : ''}\n`);
  }
  if (files.length === 0) {
    process.stdout.write('no test files matched\n');
    failed += 1;
  }
  process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  process.exitCode = failed > 0 ? 1 : 0;
}

await main();
