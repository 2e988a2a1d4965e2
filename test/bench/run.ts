/**
 * Runs every benchmark in test/bench/ (or those whose names contain an argument) one after the
 * other, each as its own process, so their figures print in one report. Nothing is asserted.
 *
 *   npm run bench               all benchmarks
 *   npm run bench -- api store  only these
 *   npm run bench -- --quick    shorter runs where a benchmark supports it
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith('--'));
const names = args.filter((a) => !a.startsWith('--'));
const files = readdirSync(dir).filter((f) => f.endsWith('.bench.js') && (names.length === 0 || names.some((n) => f.includes(n)))).sort();
let failed = 0;
for (const f of files) {
  process.stdout.write(`\n### ${f.replace(/\.js$/, '')}\n`);
  const r = spawnSync(process.execPath, [join(dir, f), ...flags], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    process.stdout.write(`(${f} exited with ${r.status ?? r.signal})\n`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
