/**
 * The agent as ONE file: esbuild bundles the compiled agent entry and every JavaScript dependency into
 * a single CommonJS script that needs only `node` on the host. Native addons are refused at build time (a
 * `.node` file would not run on another architecture), and ssh2's optional native crypto is never
 * reached because the agent does not use ssh2. An installed server ships the bundle prebuilt
 * (install.sh builds it before dev dependencies are pruned); a checkout builds it on demand.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFile } from 'node:fs/promises';
import { builtinModules, createRequire, isBuiltin } from 'node:module';
import { assembleBundle, PART_READER_BANNER, partStub } from './bundle-parts.js';

export interface AgentBundle {
  path: string;
  sha256: string;
  bytes: number;
}

/** dist/ of this installation (this file is dist/installer/bundle.js). */
export const DIST_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const BUNDLE_ENTRY = join(DIST_DIR, 'installer', 'agent-entry.js');
/** Where a built bundle is kept (install.sh builds it here; `corral join` reuses it while it is current). */
export const BUNDLE_PATH = join(DIST_DIR, 'bundle', 'corral-agent.cjs');

function describe(path: string): AgentBundle {
  const data = readFileSync(path);
  return { path, sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length };
}

/** esbuild (a devDependency: install.sh builds the bundles before it prunes dev dependencies). */
export async function loadEsbuild(): Promise<typeof import('esbuild')> {
  try {
    return await import('esbuild');
  } catch {
    throw new Error('esbuild is not installed (a devDependency): run `npm ci` in the corral checkout, or reinstall with installer/install.sh, which builds the bundles');
  }
}

/**
 * The agent bundle is CommonJS: an ES module entry makes Node.js load its ES module loader (13 more
 * built-in modules) and keep its module records, ~0.4 MiB of the idle agent (docs/performance.md,
 * "Agent memory"). The agent's own code is ES modules; esbuild turns them into one script, where
 * `import.meta.url` is the bundle's own file URL. ES modules are strict code, so the banner starts
 * with the directive (esbuild's own comes after the banner, where it no longer counts).
 */
const CJS_IMPORT_META_BANNER = '"use strict";\nvar __corralImportMetaUrl = require("node:url").pathToFileURL(__filename).href;';

/** Some CommonJS dependencies call require() on Node built-ins; give the ES module a require. */
export const REQUIRE_BANNER = "import { createRequire as __corralRequire } from 'node:module'; const require = __corralRequire(import.meta.url);";

/** Native addons cannot go into a bundle that must run on any architecture. */
const noNativeModules: import('esbuild').Plugin = {
  name: 'no-native-modules',
  setup(b) {
    b.onResolve({ filter: /\.node$/ }, (args) => ({ errors: [{ text: `native module ${args.path} (imported by ${args.importer}) cannot go into the agent bundle` }] }));
    b.onResolve({ filter: /^(cpu-features|sqlite3|ssh2)$/ }, (args) => ({ errors: [{ text: `${args.path} (native or ssh-only, imported by ${args.importer}) must not be in the agent bundle` }] }));
  },
};

/**
 * Node.js built-ins through `require`, not `import`. An ES module import of a built-in makes Node build
 * its ES module facade, which reads every export once, lazy getters included: `tls.rootCertificates`
 * (~140 PEM strings), `crypto.webcrypto` (internal/crypto/webcrypto), `util.MIMEType`, `net.BlockList`
 * and `SocketAddress`... The agent's 16 built-ins imported as ES modules cost a bare Node.js 1.3-1.5 MiB
 * RSS (1 MiB anonymous) more than the same built-ins required (docs/performance.md, "Agent memory").
 * Each built-in becomes one small ES module that requires it and exports its plain properties; a lazy
 * property (a getter) is exported only when the bundle lists it as used (reading it loads what it
 * hides), and esbuild fails the build ("No matching export") when code imports one that is not listed.
 * (A CommonJS stub would be simpler, but esbuild's interop then copies the module's properties into a
 * new object in every importing file: +1 MiB in the agent.)
 */
type LazyExportsUsed = Readonly<Record<string, readonly string[]>>;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function builtinStub(name: string, lazyExportsUsed: LazyExportsUsed): string {
  const bare = name.replace(/^node:/, '');
  const real = createRequire(import.meta.url)(name) as Record<string, unknown>;
  const lazyUsed = new Set(lazyExportsUsed[bare] ?? []);
  const names = Object.entries(Object.getOwnPropertyDescriptors(real))
    .filter(([key, d]) => IDENTIFIER.test(key) && key !== 'default' && ('value' in d || lazyUsed.has(key)))
    .map(([key]) => key);
  return `const m = require(${JSON.stringify(name)});\nexport default m;\n${names.length > 0 ? `export const { ${names.join(', ')} } = m;\n` : ''}`;
}

export function builtinsThroughRequire(lazyExportsUsed: LazyExportsUsed): import('esbuild').Plugin {
  return {
    name: 'builtins-through-require',
    setup(b) {
      const names = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
      b.onResolve({ filter: /^[a-z_][a-z0-9_/:]*$/ }, (args) => {
        if (!names.has(args.path) && !(args.path.startsWith('node:') && isBuiltin(args.path))) return undefined;
        // A require() of a built-in (CommonJS packages, and the stub's own) already gets the module itself
        // (class extends require('events')): left to esbuild, which keeps it external.
        if (args.kind === 'require-call') return undefined;
        return { path: args.path.startsWith('node:') ? args.path : `node:${args.path}`, namespace: 'builtin-stub' };
      });
      b.onLoad({ filter: /.*/, namespace: 'builtin-stub' }, (args) => ({ contents: builtinStub(args.path, lazyExportsUsed), loader: 'js' }));
    },
  };
}

/** esbuild options of every bundle (the agent's, its helper's, the server's). */
export const COMMON_BUILD_OPTIONS = { bundle: true, platform: 'node', format: 'esm', target: 'node20', minify: true, sourcemap: false, legalComments: 'none', logLevel: 'silent', metafile: true } as const;

/**
 * Each module that the agent imports dynamically becomes a part of the bundle file, loaded when that
 * import first runs (installer/bundle-parts.ts: why, and the layout). A part is bundled on its own, so it
 * has its own copy of any module it shares with the agent: dynamic imports are for libraries and for the
 * entries of helper children, not for modules that hold the agent's state.
 */
function dynamicImportsAreParts(parts: Map<string, string>): import('esbuild').Plugin {
  return {
    name: 'dynamic-imports-are-parts',
    setup(b) {
      b.onResolve({ filter: /.*/ }, async (args) => {
        if (args.kind !== 'dynamic-import' || args.pluginData === 'part' || isBuiltin(args.path)) return undefined;
        const resolved = await b.resolve(args.path, { kind: 'import-statement', resolveDir: args.resolveDir, importer: args.importer, pluginData: 'part' });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        const name = partName(resolved.path);
        parts.set(name, resolved.path);
        return { path: name, namespace: 'corral-part' };
      });
      b.onLoad({ filter: /.*/, namespace: 'corral-part' }, (args) => ({ contents: partStub(args.path), loader: 'js' }));
    },
  };
}

/** A part's name: its package, or its path under dist/ without the extension. */
function partName(path: string): string {
  const inPackage = /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(path);
  if (inPackage) return inPackage[1]!.replace(/\\/g, '/');
  return relative(DIST_DIR, path).replace(/\\/g, '/').replace(/\.js$/, '');
}

/** One section of the agent bundle: a CommonJS script (CJS_IMPORT_META_BANNER), its code and the files in it. */
async function buildSection(esbuild: typeof import('esbuild'), entry: string, banner: string, plugins: import('esbuild').Plugin[]): Promise<{ code: string; inputs: string[] }> {
  const result = await esbuild.build({
    ...COMMON_BUILD_OPTIONS,
    format: 'cjs',
    entryPoints: [entry],
    write: false,
    banner: { js: banner },
    define: { 'import.meta.url': '__corralImportMetaUrl' },
    plugins: [noNativeModules, ...plugins],
  });
  return { code: result.outputFiles[0]!.text.replace(/\n$/, ''), inputs: Object.keys(result.metafile.inputs) };
}

/**
 * The probe helper, the port-forward dialer and the helper process are separate scripts the agent runs
 * (in a pod's netns; for one-shot jobs). In the one-file bundle the bundle itself is each script
 * (agent-entry.ts dispatches `http`/`tcp`, `netns-dial` and the helper's job names to them).
 */
const helperScriptsAreTheBundle: import('esbuild').Plugin = {
  name: 'helper-scripts-are-the-bundle',
  setup(b) {
    for (const [file, helperName] of [['pods[\\/]probes', 'probe-helper'], ['helper-process[\\/]run-helper', 'helper-main'], ['portforward[\\/]netns-dialer', 'netns-dialer-helper']] as const) {
      b.onLoad({ filter: new RegExp(`[\\\\/]agent[\\\\/]${file}\\.js$`) }, async (args) => {
        const text = await readFile(args.path, 'utf8');
        const helperUrl = `new URL('./${helperName}.js', import.meta.url)`;
        if (!text.includes(helperUrl)) return { errors: [{ text: `${args.path} no longer locates its helper with ${helperUrl}: update installer/bundle.ts` }] };
        return { contents: text.replace(helperUrl, 'new URL(import.meta.url)'), loader: 'js' };
      });
    }
  }
};

/** Builds the bundle with esbuild. Throws when a native module would end up in it. */
export async function buildAgentBundle(out = BUNDLE_PATH, entry = BUNDLE_ENTRY): Promise<AgentBundle> {
  const esbuild = await loadEsbuild();
  mkdirSync(dirname(out), { recursive: true });
  const partEntries = new Map<string, string>();
  // agent-entry.ts's parseArgs; nothing else of the agent reads a lazy export of a built-in.
  const main = await buildSection(esbuild, entry, `${CJS_IMPORT_META_BANNER}\n${PART_READER_BANNER}`, [builtinsThroughRequire({ util: ['parseArgs'] }), dynamicImportsAreParts(partEntries), helperScriptsAreTheBundle]);
  const names = [...partEntries.keys()].sort();
  // self-signed-cert.ts (the helper child's job) signs with webcrypto.
  const built = await Promise.all(names.map((name) => buildSection(esbuild, partEntries.get(name)!, CJS_IMPORT_META_BANNER, [builtinsThroughRequire({ crypto: ['webcrypto'] })])));
  const inputs = [...main.inputs, ...built.flatMap((part) => part.inputs)];
  const native = inputs.filter((i) => i.endsWith('.node'));
  if (native.length > 0) throw new Error(`native modules in the agent bundle: ${native.join(', ')}`);
  writeFileSync(out, assembleBundle(main.code, new Map(names.map((name, i) => [name, built[i]!.code]))));
  return describe(out);
}

/** The current bundle: the kept one when it is newer than the entry it was built from, else a fresh build. */
export async function agentBundle(): Promise<AgentBundle> {
  if (existsSync(BUNDLE_PATH) && (!existsSync(BUNDLE_ENTRY) || statSync(BUNDLE_PATH).mtimeMs >= newestCompiled(['agent', 'api', 'installer']))) return describe(BUNDLE_PATH);
  return buildAgentBundle();
}

/** Newest compiled file under these dist/ directories, so a rebuilt checkout gets a fresh bundle. */
export function newestCompiled(dirs: readonly string[]): number {
  let newest = 0;
  for (const sub of dirs) {
    const d = join(DIST_DIR, sub);
    if (!existsSync(d)) continue;
    for (const name of readdirSync(d, { recursive: true, encoding: 'utf8' })) {
      if (name.endsWith('.js')) newest = Math.max(newest, statSync(join(d, name)).mtimeMs);
    }
  }
  return newest;
}

// `node dist/installer/bundle.js` builds the bundle (install.sh runs this before pruning dev dependencies).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const b = await buildAgentBundle(process.argv[2] ?? BUNDLE_PATH);
  process.stdout.write(`agent bundle ${b.path}: ${(b.bytes / 1024).toFixed(0)} KiB, sha256 ${b.sha256}\n`);
}
