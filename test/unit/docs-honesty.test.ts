/**
 * The docs keep up with the code where a machine can tell:
 *   - every flag any `corral` command accepts appears (backticked) in docs/operations.md, and so does
 *     every CORRAL_* variable the code reads directly;
 *   - every resource in api/resources.ts has a row in docs/api.md's Resources table;
 *   - every controller `corral server` starts (server/controllers/manager.ts) is named in the README.
 * A failure says exactly what to add, so whoever adds a flag, a resource or a controller can fix it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commands } from '../../cli/corral.js';
import { apiVersionOf, RESOURCES } from '../../api/resources.js';
import { sourceFiles } from '../support/import-graph.js';

const REPO = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');
const read = (path: string): string => readFileSync(join(REPO, path), 'utf8');

test('every CLI flag is in docs/operations.md', () => {
  const ops = read('docs/operations.md');
  const missing: string[] = [];
  for (const [name, cmd] of Object.entries(commands)) {
    for (const flag of Object.keys(cmd.options)) {
      if (!ops.includes(`\`${flag}\``)) missing.push(`corral ${name} --${flag}`);
    }
  }
  assert.ok(Object.keys(commands).length >= 10, 'the command table was read');
  assert.ok(missing.length === 0, `docs/operations.md does not mention these flags; add a row to its Settings table for each,\n` +
    `e.g. "| \`flag\` | \`CORRAL_FLAG\` | default | commands |":\n${[...new Set(missing)].map((m) => `  ${m}`).join('\n')}`);
});

test('every CORRAL_* variable the code reads is in docs/operations.md', () => {
  const ops = read('docs/operations.md');
  const read_ = new Set<string>();
  for (const file of sourceFiles(REPO)) {
    for (const m of read(file).matchAll(/['"`](CORRAL_[A-Z][A-Z0-9_]*)\b/g)) read_.add(`${m[1]} (${file})`);
  }
  assert.ok(read_.size > 3, 'the sources were read');
  const missing = [...read_].filter((v) => !ops.includes(`\`${v.split(' ')[0]}\``));
  assert.ok(missing.length === 0, `docs/operations.md does not mention these environment variables; add each (backticked) to its\n` +
    `Settings table, or to "Variables for tests and tuning" if it is not a flag:\n${missing.map((m) => `  ${m}`).join('\n')}`);
});

test('every resource in api/resources.ts has a row in docs/api.md', () => {
  const api = read('docs/api.md');
  const rows = api.split('\n').filter((l) => l.startsWith('| '));
  const missing = RESOURCES.filter((r) => !rows.some((row) => {
    const first = row.split('|')[1] ?? '';
    return new RegExp(`(^|[\\s,])${r.plural}([\\s,(]|$)`).test(first) && row.includes(apiVersionOf(r));
  }));
  assert.ok(RESOURCES.length > 20, 'the resource list was read');
  assert.ok(missing.length === 0, `docs/api.md's Resources table has no row for these resources; add one each (or add the plural to\n` +
    `the first cell of the row of its group/version):\n${missing.map((r) => `  | ${r.plural} | ${apiVersionOf(r)} | ${r.namespaced ? 'namespaced' : 'cluster'} | <subresources> | <what acts on it> |`).join('\n')}`);
});

test('every controller corral server starts is named in the README', () => {
  const readme = read('README.md');
  const names = [...read('server/controllers/manager.ts').matchAll(/\{ name: '([a-z-]+)'/g)].map((m) => m[1]!);
  assert.ok(names.length > 10, 'the controller list was read');
  const missing = names.filter((n) => n !== 'scheduler' && !readme.includes(n));
  assert.ok(missing.length === 0, `README.md's "What you get" list of controllers lacks: ${missing.join(', ')} (add each name as in server/controllers/manager.ts)`);
});

test.run();
