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
import { bundleSections } from '../../installer/bundle-parts.js';
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
  ws: 'the first exec or attach (agent/logs/kubelet-server.ts)',
  'http-proxy-3': 'the first proxied Ingress request (agent/ingress/ingress-proxy.ts)',
};

function check(what: string, entries: string[]): void {
  const loaded = loadedPackages(entries);
  assert.ok(loaded.has('prom-client') && loaded.has('dns-packet'), `${what}: the agent's own packages are seen (found: ${[...loaded.keys()].join(', ')})`);
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

/** Where each library that the agent loads rarely must be: a part of the bundle, not its main section. */
const PART_MARKERS: Record<string, string> = {
  cpuThermal: 'agent/helper-process/helper-main', // systeminformation
  Win32_: 'agent/helper-process/helper-main',
  AlgorithmIdentifier: 'agent/helper-process/helper-main', // @peculiar/x509's ASN.1 schemas
  'Reflect.defineMetadata': 'agent/helper-process/helper-main',
  YAMLParseError: 'yaml',
  LongBits: 'agent/runtime/tasks-message', // protobufjs
  PerMessageDeflate: 'ws',
  followRedirects: 'http-proxy-3',
};

/** The size of the largest string in a heap snapshot (a script's source text is one string). */
function largestString(snapshotFile: string): number {
  const snapshot = JSON.parse(readFileSync(snapshotFile, 'utf8')) as { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[] };
  const fields = snapshot.snapshot.meta.node_fields;
  const typeAt = fields.indexOf('type');
  const sizeAt = fields.indexOf('self_size');
  const stringType = snapshot.snapshot.meta.node_types[0].indexOf('string');
  let largest = 0;
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    if (snapshot.nodes[i + typeAt] === stringType) largest = Math.max(largest, snapshot.nodes[i + sizeAt]!);
  }
  return largest;
}

test('the bundle is a CommonJS script whose resident part leaves the rarely used libraries in parts, requires Node built-ins, and its parts load', async () => {
  // V8 keeps a script's source text while any function made from it lives: a library's text in the main
  // section stays resident in every agent (installer/bundle-parts.ts).
  const dir = mkdtempSync(join(tmpdir(), 'corral-footprint-'));
  try {
    const bundle = await buildAgentBundle(join(dir, 'corral-agent.cjs'));
    const bytes = readFileSync(bundle.path);
    const sections = bundleSections(bytes);
    const main = sections.get('main')!;
    assert.ok(main.length > 100_000 && main.length < 600_000, `main section ${main.length} characters`);
    for (const [marker, part] of Object.entries(PART_MARKERS)) {
      assert.not.ok(main.includes(marker), `${marker} in the main section`);
      assert.ok(sections.get(part)?.includes(marker), `${marker} in part ${part} (parts: ${[...sections.keys()].join(', ')})`);
    }
    // An ES module import of a built-in reads all its exports, lazy ones included (installer/bundle.ts,
    // builtinsThroughRequire), and would load the ES module loader besides.
    // (esbuild's minified output: `from"node:fs"`, `import("node:fs")`; a message like "from 'alg' argument" is not one)
    const imported = [...sections.values()].flatMap((code) => [...code.matchAll(/(?:\bfrom|\bimport\(?)"((?:node:)?[a-z_][a-z0-9_/]*)"/g)].map((m) => m[1]!));
    assert.equal(imported, [], `built-ins imported as ES modules: ${imported.join(', ')}`);
    assert.ok(/[\w$]+\("node:tls"\)/.test(main), 'node:tls required');
    // The bundle is a CommonJS script, so the agent runs without Node.js's ES module loader
    // (installer/bundle.ts, CJS_IMPORT_META_BANNER): started without its flags, it stops at its usage line.
    // At exit the probe writes a heap snapshot: the file's whole text (the loader's source) must be gone,
    // the main section's kept.
    const probe = join(dir, 'loaded.cjs');
    const snapshotFile = join(dir, 'exit.heapsnapshot');
    writeFileSync(probe, `process.on('exit', () => { require('fs').writeSync(2, '\\nloaded: ' + process.moduleLoadList.join(',') + '\\n'); require('v8').writeHeapSnapshot(${JSON.stringify(snapshotFile)}); });\n`);
    const run = spawnSync(process.execPath, ['--require', probe, bundle.path, 'agent'], { encoding: 'utf8', timeout: 60_000 });
    assert.match(run.stderr, 'usage: corral-agent.cjs agent --server URL');
    const loaded = /loaded: (.*)/.exec(run.stderr)?.[1] ?? '';
    assert.ok(loaded.includes('NativeModule tls'), `the agent's built-ins were loaded: ${loaded}`);
    assert.not.ok(loaded.includes('internal/modules/esm/module_job'), 'the ES module loader ran the agent');
    const largest = largestString(snapshotFile);
    assert.ok(largest >= main.length && largest < main.length + 4096, `largest string in the agent's heap: ${largest} bytes; main section ${main.length}, whole file ${bytes.length}`);
    // The parts the agent loads in-process, through the same dynamic imports.
    const parts = JSON.parse(execFileSync(process.execPath, [bundle.path, 'parts'], { encoding: 'utf8', timeout: 60_000 })) as Record<string, string[]>;
    assert.ok(parts['yaml']!.includes('parse') && parts['tasksMessage']!.includes('encodeMessage'), JSON.stringify(parts));
    // ... and the helper child's jobs.
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

test('a damaged part is refused with a message that says to reinstall', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-footprint-'));
  try {
    const bundle = await buildAgentBundle(join(dir, 'corral-agent.cjs'));
    const bytes = readFileSync(bundle.path);
    // Overwrite the yaml part's header line (same length, so every offset stays right).
    const at = bytes.indexOf(' yaml\n');
    assert.ok(at > 0, 'the yaml part\'s header');
    bytes.write(' yamx', at, 'utf8');
    writeFileSync(bundle.path, bytes);
    const run = spawnSync(process.execPath, [bundle.path, 'parts'], { encoding: 'utf8', timeout: 60_000 });
    assert.is.not(run.status, 0);
    assert.match(run.stderr, /the agent bundle .* is damaged \(part yaml\): reinstall it/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
