/**
 * The installed server's program: esbuild bundles the compiled CLI (`dist/cli/corral.js`, so `corral
 * server` and every other command) with the JavaScript packages it loads at start into a few minified
 * ES-module files in `dist/bundle/server/`. V8 keeps every loaded module's source text and the loader
 * keeps a record per file: the bundle's ~1.4 MB of minified code replace ~600 files of commented
 * sources (server + local agent 93.5-94.6 MiB against 100-105 run from `dist/`, docs/performance.md
 * "Footprint"). Code behind a dynamic import() goes to its own chunk (`splitting`), so what a command
 * loads later still loads only then.
 *
 * Left out, loaded from node_modules as before: native addons (sqlite3; ssh2's optional crypto) and the
 * packages a server on SQLite never loads at start (etcd3 with gRPC, which also reads .proto files from
 * its package; @peculiar/x509 in the certificate issuer's child process; yaml and protobufjs's light
 * build, required at first use). Modules that find a file next to themselves (a helper script run as a
 * child process, the status page's assets) get their own `dist/` location for `import.meta.url`, so
 * those files are still found where tsc put them. Node built-ins are required, not imported
 * (builtinsThroughRequire: an ES module import reads every lazy export of the built-in).
 */
import { existsSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMON_BUILD_OPTIONS, DIST_DIR, REQUIRE_BANNER, builtinsThroughRequire, loadEsbuild, newestCompiled } from './bundle.js';

export const SERVER_BUNDLE_DIR = join(DIST_DIR, 'bundle', 'server');
/** The program the installed service runs: `node FLAGS <this> server ...`. */
export const SERVER_BUNDLE_ENTRY = join(SERVER_BUNDLE_DIR, 'corral.js');

const EXTERNAL = ['sqlite3', 'ssh2', 'cpu-features', 'etcd3', '@grpc/*', '@peculiar/x509', 'reflect-metadata', 'systeminformation', 'yaml', 'protobufjs/light.js', 'esbuild', 'typescript'];

/** `import.meta.url` of a bundled dist/ module, as an expression that is right from the bundle's directory. */
function ownUrlExpression(file: string, outdir: string): string {
  return `new URL(${JSON.stringify(relative(outdir, file).split(sep).join('/'))}, import.meta.url).href`;
}

/** Replaces `import.meta.url` outside string literals (installer/bundle.ts has one inside its banner). */
function pinModuleUrl(text: string, own: string): string {
  return text.split('\n').map((line) => line.replace(/import\.meta\.url/g, (m: string, at: number) => {
    const before = line.slice(0, at);
    return ["'", '"', '`'].some((q) => before.split(q).length % 2 === 0) ? m : own;
  })).join('\n');
}

/** Builds the server bundle into `outdir` (emptied first); returns its entry. Throws when a native module would end up in it. */
export async function buildServerBundle(outdir = SERVER_BUNDLE_DIR): Promise<string> {
  const esbuild = await loadEsbuild();
  rmSync(outdir, { recursive: true, force: true });
  const ownDist = DIST_DIR + sep;
  const result = await esbuild.build({
    entryPoints: { corral: join(DIST_DIR, 'cli', 'corral.js') },
    outdir,
    ...COMMON_BUILD_OPTIONS,
    splitting: true,
    external: EXTERNAL,
    banner: { js: REQUIRE_BANNER },
    plugins: [builtinsThroughRequire({ util: ['parseArgs'], net: ['BlockList', 'SocketAddress'], http: ['maxHeaderSize'] }), {
      name: 'dist-module-urls',
      setup(b) {
        b.onLoad({ filter: /\.js$/ }, async (args) => {
          if (!args.path.startsWith(ownDist) || args.path.startsWith(join(DIST_DIR, 'bundle') + sep)) return undefined;
          const text = await readFile(args.path, 'utf8');
          if (!text.includes('import.meta.url')) return undefined;
          return { contents: pinModuleUrl(text, ownUrlExpression(args.path, outdir)), loader: 'js' };
        });
      },
    }],
  });
  const native = Object.keys(result.metafile.inputs).filter((i) => i.endsWith('.node'));
  if (native.length > 0) throw new Error(`native modules in the server bundle: ${native.join(', ')}`);
  return join(outdir, 'corral.js');
}

/** The server bundle, rebuilt when a compiled file is newer than it (a checkout after `npm run build`). */
export async function serverBundle(): Promise<string> {
  if (existsSync(SERVER_BUNDLE_ENTRY) && statSync(SERVER_BUNDLE_ENTRY).mtimeMs >= newestCompiled(['agent', 'api', 'cli', 'installer', 'server'])) return SERVER_BUNDLE_ENTRY;
  return buildServerBundle();
}

// `node dist/installer/server-bundle.js` builds it (install.sh runs this before pruning dev dependencies).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`server bundle ${await buildServerBundle()}\n`);
}
