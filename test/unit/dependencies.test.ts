/**
 * The folder rules the project's layout depends on, checked on every unit run:
 *   - agent/ never imports server/ (agents talk to the server only through the API);
 *   - server/ imports nothing of agent/ but its start-up entry (agent/main.ts, for the local agent);
 *   - api/ imports nothing outside api/ (it is the contract both halves share, with the controller kit);
 *   - nothing imports cli/ (it is the outermost layer); installer/ does not import server/;
 *   - no import cycle anywhere (type-only and dynamic imports count: they are cycles one edit away);
 *   - no source file above 400 lines without a reason written at its top ("Why this file is long:");
 *   - no inline `err.code === 404` checks (api/status.ts predicates) and no hand-made sleeps (api/async-util.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importCycles, importEdges, sourceFiles, type ImportEdge } from '../support/import-graph.js';

const REPO = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');
const edges = importEdges(REPO);

const top = (path: string): string => path.split('/')[0]!;
const show = (bad: ImportEdge[]): string => bad.map((e) => `  ${e.from}:${e.line} imports ${e.to}`).join('\n');

function check(rule: string, bad: ImportEdge[]): void {
  assert.ok(bad.length === 0, `${rule}:\n${show(bad)}`);
}

test('the graph was read (guards against a test that checks nothing)', () => {
  assert.ok(edges.length > 500, `only ${edges.length} imports found under ${REPO}`);
  assert.ok(edges.some((e) => e.from === 'server/main.ts' && e.to === 'agent/main.ts'), 'the local agent start is seen');
});

test('agent/ does not import server/', () => {
  check('agent/ must reach the server only through the API client', edges.filter((e) => top(e.from) === 'agent' && top(e.to) === 'server'));
});

test('server/ imports only the agent\'s start-up entry', () => {
  check('server/ may import agent/main.ts only', edges.filter((e) => top(e.from) === 'server' && top(e.to) === 'agent' && e.to !== 'agent/main.ts'));
});

test('api/ imports nothing outside api/', () => {
  check('api/ is self-contained', edges.filter((e) => top(e.from) === 'api' && top(e.to) !== 'api'));
});

test('nothing imports cli/, and the installer does not import server/', () => {
  check('cli/ is the outermost layer', edges.filter((e) => top(e.from) !== 'cli' && top(e.to) === 'cli'));
  check('installer/ gets what it needs of the server handed in', edges.filter((e) => top(e.from) === 'installer' && top(e.to) === 'server'));
});

test('no import cycles', () => {
  const cycles = importCycles(edges);
  assert.ok(cycles.length === 0, `import cycles (break each by moving the shared part into its own module):\n${cycles.map((c) => `  ${c.join(' → ')}`).join('\n')}`);
});

test('no file above 400 lines without a reason at its top', () => {
  const long = sourceFiles(REPO)
    .map((file) => ({ file, text: readFileSync(join(REPO, file), 'utf8') }))
    .filter(({ text }) => text.split('\n').length > 400 && !/Why this file is long:/.test(text.slice(0, 3_000)));
  assert.ok(long.length === 0, `split these files along their seams, or say in their header comment why they are one file\n` +
    `(a line " * Why this file is long: …"):\n${long.map((l) => `  ${l.file} (${l.text.split('\n').length} lines)`).join('\n')}`);
});

test('Status errors are tested with the api/status.ts predicates, and waits use the one sleep', () => {
  const bad: string[] = [];
  for (const file of sourceFiles(REPO)) {
    if (file === 'api/status.ts' || file === 'api/async-util.ts') continue;
    readFileSync(join(REPO, file), 'utf8').split('\n').forEach((line, i) => {
      if (/\.code\s*[!=]==\s*4\d\d\b/.test(line) && /StatusError|err/.test(line)) bad.push(`  ${file}:${i + 1}: use isNotFound/isConflict/isAlreadyExists/isForbidden/isGone… from api/status.ts: ${line.trim()}`);
      if (/new Promise[^\n]*=>\s*setTimeout\(\s*(r|resolve)\s*,/.test(line)) bad.push(`  ${file}:${i + 1}: use sleep(ms, { signal }) from api/async-util.ts: ${line.trim()}`);
    });
  }
  assert.ok(bad.length === 0, `private copies of shared helpers:\n${bad.join('\n')}`);
});

test('the checker sees a cycle and a forbidden edge when there is one', () => {
  const fake: ImportEdge[] = [
    { from: 'agent/a.ts', to: 'agent/b.ts', line: 1 },
    { from: 'agent/b.ts', to: 'agent/c.ts', line: 1 },
    { from: 'agent/c.ts', to: 'agent/a.ts', line: 1 },
    { from: 'api/x.ts', to: 'api/x.ts', line: 1 },
    { from: 'api/y.ts', to: 'server/z.ts', line: 1 },
  ];
  assert.equal(importCycles(fake), [['agent/a.ts', 'agent/b.ts', 'agent/c.ts'], ['api/x.ts']]);
});

test.run();
