/**
 * The agent's resident memory depends on what it loads at start (docs/performance.md, "Agent memory"):
 * the large libraries it needs rarely run in a helper process (agent/helper-process/) or load when their
 * file exists, and the CLI's store and kubeconfig commands load theirs when they run. This test loads
 * what a starting agent loads — the `corral agent` CLI with agent/main.js, and the one-file bundle's entry —
 * in a child process and lists every module file it read (ES modules through a loader hook, CommonJS
 * through require.cache), so a new static import of one of them fails here instead of costing megabytes
 * on every node.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAgentBundle } from '../../installer/bundle.js';
import { DIST, loadedPackages } from '../support/loaded-modules.js';

/** Package → where it belongs instead (and its resident cost when it was loaded at start). */
const KEPT_OUT: Record<string, string> = {
  systeminformation: 'the helper process (agent/hardware/system-facts.ts; ~11 MiB)',
  '@peculiar/x509': 'the helper process (agent/logs/self-signed-cert.ts; ~9 MiB with reflect-metadata)',
  'reflect-metadata': 'the helper process, with @peculiar/x509',
  yaml: 'a dynamic import where a file is read (devices config, config file, kubeconfig; ~9 MiB)',
  etcd3: 'the backup/restore commands (cli/store-commands.ts; ~26 MiB with gRPC)',
  '@grpc/grpc-js': 'the backup/restore commands, with etcd3',
  sqlite3: 'the backup/restore commands and the server',
  protobufjs: 'the server (the agent\'s attach loads protobufjs/minimal at its first call: agent/runtime/tasks-message.ts)',
  '@marcbachmann/cel-js': 'the server',
  ssh2: 'corral join',
  hono: 'the server',
};

function check(what: string, entries: string[]): void {
  const loaded = loadedPackages(entries);
  assert.ok(loaded.has('ws') && loaded.has('dns-packet'), `${what}: the agent's own packages are seen (found: ${[...loaded.keys()].join(', ')})`);
  const wrong = Object.keys(KEPT_OUT).filter((p) => loaded.has(p));
  assert.equal(wrong, [], `${what} loads at start:\n${wrong.map((p) => `  ${p} (${loaded.get(p)!.slice(0, 2).join(', ')}): belongs in ${KEPT_OUT[p]}`).join('\n')}`);
}

test('`corral agent` (the CLI with agent/main.js) loads none of the kept-out packages at start', () => {
  check('corral agent', ['cli/corral.js', 'agent/main.js']);
});

test('the one-file agent bundle\'s entry loads none of them either', () => {
  // What installer/agent-entry.ts imports statically (importing the entry itself would run it).
  const source = readFileSync(join(DIST, '..', 'installer', 'agent-entry.ts'), 'utf8');
  const imported = [...source.matchAll(/^import (?!type )[^;]*? from '\.\.?\/([^']+)'/gm)].map((m) => (m[0].includes("'../") ? m[1]! : `installer/${m[1]!}`));
  assert.ok(imported.includes('agent/main.js') && imported.length > 5, `agent-entry's imports read: ${imported.join(', ')}`);
  check('the agent bundle', imported);
});

test('the helper process does load them (the check sees CommonJS and ES module packages alike)', () => {
  const loaded = loadedPackages(['agent/hardware/system-facts.js', 'agent/logs/self-signed-cert.js']);
  for (const p of ['systeminformation', '@peculiar/x509', 'reflect-metadata']) assert.ok(loaded.has(p), `${p} not seen: ${[...loaded.keys()].join(', ')}`);
});

test('the bundle is a CommonJS script that holds the helper process\'s libraries only compressed, requires Node built-ins, and its helper jobs still run', async () => {
  // V8 keeps a module's source text for the process's life: systeminformation and @peculiar/x509 in plain
  // text would stay resident in every agent (installer/bundle.ts, helperBundleGzipBase64).
  const dir = mkdtempSync(join(tmpdir(), 'corral-footprint-'));
  try {
    const bundle = await buildAgentBundle(join(dir, 'corral-agent.cjs'));
    const text = readFileSync(bundle.path, 'utf8');
    for (const marker of ['cpuThermal', 'Win32_', 'AlgorithmIdentifier', 'Reflect.defineMetadata']) assert.not.ok(text.includes(marker), `${marker} in the bundle's plain text`);
    assert.ok(bundle.bytes < 1_000_000, `bundle ${bundle.bytes} bytes`);
    // An ES module import of a built-in reads all its exports, lazy ones included (installer/bundle.ts,
    // builtinsThroughRequire), and would load the ES module loader besides.
    const imported = [...text.matchAll(/(?:\bfrom ?|\bimport ?\(?)["']((?:node:)?[a-z_][a-z0-9_/]*)["']/g)].map((m) => m[1]!);
    assert.equal(imported, [], `built-ins imported as ES modules: ${imported.join(', ')}`);
    assert.ok(/[\w$]+\("node:tls"\)/.test(text), 'node:tls required');
    // The bundle is a CommonJS script, so the agent runs without Node.js's ES module loader
    // (installer/bundle.ts, CJS_IMPORT_META_BANNER): started without its flags, it stops at its usage line.
    const probe = join(dir, 'loaded.cjs');
    writeFileSync(probe, "process.on('exit', () => require('fs').writeSync(2, '\\nloaded: ' + process.moduleLoadList.join(',') + '\\n'));\n");
    const run = spawnSync(process.execPath, ['--require', probe, bundle.path, 'agent'], { encoding: 'utf8', timeout: 60_000 });
    assert.match(run.stderr, 'usage: corral-agent.cjs agent --server URL');
    const loaded = /loaded: (.*)/.exec(run.stderr)?.[1] ?? '';
    assert.ok(loaded.includes('NativeModule tls'), `the agent's built-ins were loaded: ${loaded}`);
    assert.not.ok(loaded.includes('internal/modules/esm/module_job'), 'the ES module loader ran the agent');
    const job = (name: string, input: unknown): Record<string, unknown> =>
      JSON.parse(execFileSync(process.execPath, [bundle.path, name], { input: JSON.stringify(input), encoding: 'utf8', timeout: 60_000 })) as Record<string, unknown>;
    assert.type(job('system-facts', null)['cpuManufacturer'], 'string');
    const cert = job('self-signed-cert', { commonName: 'footprint', dnsNames: ['footprint.invalid'], ips: [], lifetimeMs: 86_400_000 });
    assert.match(String(cert['certPem']), '-----BEGIN CERTIFICATE-----');
    assert.match(String(cert['keyPem']), 'PRIVATE KEY-----');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
