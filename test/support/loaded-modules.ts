/**
 * Which npm packages (and which of their files) a set of modules loads, found in a child process:
 * ES modules through a loader hook, CommonJS through require.cache. For the footprint guards
 * (unit/agent-footprint, unit/server-footprint): importing a module runs its top level only, so
 * what a command loads later, on demand, is not counted.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** dist/ of this checkout (this file is dist/test/support/loaded-modules.js). */
export const DIST = join(fileURLToPath(import.meta.url), '..', '..', '..');

/** Package name → the files of it that were loaded; `entries` are paths under dist/. */
export function loadedPackages(entries: string[]): Map<string, string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-footprint-'));
  try {
    const out = join(dir, 'loaded.txt');
    writeFileSync(join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) { appendFileSync(${JSON.stringify(out)}, url + '\\n'); return next(url, context); }\n`);
    writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`);
    writeFileSync(join(dir, 'main.mjs'), `import { createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
for (const e of ${JSON.stringify(entries.map((e) => pathToFileURL(join(DIST, e)).href))}) await import(e);
appendFileSync(${JSON.stringify(out)}, Object.keys(createRequire(import.meta.url).cache).join('\\n') + '\\n');
process.exit(0);\n`);
    // argv[1] is not the CLI, so importing cli/corral.js runs no command.
    execFileSync(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href, join(dir, 'main.mjs')], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
    const byPackage = new Map<string, string[]>();
    for (const line of readFileSync(out, 'utf8').split('\n')) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(line);
      if (m) byPackage.set(m[1]!, [...(byPackage.get(m[1]!) ?? []), m[2]!]);
    }
    return byPackage;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
