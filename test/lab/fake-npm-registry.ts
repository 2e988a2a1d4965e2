/**
 * A tiny npm registry for installer tests, run inside a lab host (the lab has no way out, rule zero):
 * enough of the registry's read API for `npm ci` from corral's package-lock.json and for the installer's
 * private Node.js runtime. It serves
 *   GET /<name>                    packuments made from the lockfile's entries (version, integrity, os/cpu),
 *   GET /<name>/<version>          version documents of the runtime packages (the registry's own integrity),
 *   GET /<name>/-/<file>.tgz       tarballs, found by their integrity in npm cache directories (cacache
 *                                  content-v2, filled by `npm ci` / `npm pack` on the CI machine),
 *   GET /prebuilds/<file>.tar.gz   prebuilt sqlite3 binaries (standing in for its GitHub releases).
 * Every request is logged to stdout as `GET <path> <status>`.
 *
 *   node fake-npm-registry.js CONFIG_JSON     (see RegistryConfig) — prints "listening" when ready
 */
import { createServer } from 'node:http';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface RuntimePackage {
  name: string;
  version: string;
  /** sha512-… as the real registry's metadata gives it. */
  integrity: string;
  /** The tarball file. */
  file: string;
}

export interface RegistryConfig {
  host: string;
  port: number;
  lockfile: string;
  /** npm cache directories (each holds _cacache) to find tarballs in by integrity. */
  caches: string[];
  runtime: RuntimePackage[];
  /** Directory of prebuilt binaries served under /prebuilds/ (any subpath; matched by file name). */
  prebuildsDir?: string;
}

interface LockEntry { version?: string; integrity?: string; os?: string[]; cpu?: string[]; name?: string; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; bin?: unknown; engines?: unknown; hasInstallScript?: boolean }

/** name → version → lock entry (the last node_modules/ segment is the package name). */
export function lockedVersions(lockfile: string): Map<string, Map<string, LockEntry>> {
  const lock = JSON.parse(readFileSync(lockfile, 'utf8')) as { packages: Record<string, LockEntry> };
  const out = new Map<string, Map<string, LockEntry>>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || !entry.version || !entry.integrity) continue;
    const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    if (!out.has(name)) out.set(name, new Map());
    out.get(name)!.set(entry.version, entry);
  }
  return out;
}

/** Where cacache keeps the content with this integrity. */
export function cacachePath(cache: string, integrity: string): string {
  const [algorithm, b64] = integrity.split('-', 2) as [string, string];
  const hex = Buffer.from(b64, 'base64').toString('hex');
  return join(cache, '_cacache', 'content-v2', algorithm, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
}

function tarballName(name: string, version: string): string {
  return `${name.slice(name.lastIndexOf('/') + 1)}-${version}.tgz`;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as RegistryConfig;
  const base = `http://${config.host}:${config.port}`;
  const locked = lockedVersions(config.lockfile);
  const runtime = new Map(config.runtime.map((r) => [`${r.name}@${r.version}`, r]));
  const tarballUrl = (name: string, version: string): string => `${base}/${name}/-/${tarballName(name, version)}`;
  // Tarball file name → its file on disk (lockfile entries through the caches, runtime packages directly).
  const files = new Map<string, () => string | undefined>();
  for (const [name, versions] of locked) {
    for (const [version, entry] of versions) {
      files.set(`/${name}/-/${tarballName(name, version)}`, () => config.caches.map((c) => cacachePath(c, entry.integrity!)).find((p) => existsSync(p)));
    }
  }
  for (const r of config.runtime) files.set(`/${r.name}/-/${tarballName(r.name, r.version)}`, () => r.file);

  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    const send = (status: number, body: string | Buffer, type = 'application/json'): void => {
      process.stdout.write(`${req.method} ${path} ${status}\n`);
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, '{"error":"read-only registry"}');
    const file = files.get(path)?.();
    if (file) {
      process.stdout.write(`${req.method} ${path} 200\n`);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': statSync(file).size });
      createReadStream(file).pipe(res);
      return;
    }
    if (path.startsWith('/prebuilds/') && config.prebuildsDir) {
      const p = join(config.prebuildsDir, path.slice(path.lastIndexOf('/') + 1));
      if (existsSync(p)) {
        process.stdout.write(`${req.method} ${path} 200\n`);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': statSync(p).size });
        createReadStream(p).pipe(res);
        return;
      }
      return send(404, 'not found', 'text/plain');
    }
    const name = path.slice(1);
    const versionDoc = /^((?:@[^/]+\/)?[^/@]+)\/([^/]+)$/.exec(name);
    if (versionDoc) {
      const r = runtime.get(`${versionDoc[1]}@${versionDoc[2]}`);
      if (!r) return send(404, '{"error":"not found"}');
      return send(200, JSON.stringify({ name: r.name, version: r.version, dist: { integrity: r.integrity, tarball: tarballUrl(r.name, r.version) } }));
    }
    const versions = locked.get(name);
    if (!versions) return send(404, '{"error":"not found"}');
    const doc = {
      name,
      'dist-tags': { latest: [...versions.keys()].at(-1) },
      versions: Object.fromEntries([...versions].map(([version, e]) => [version, {
        name, version,
        ...(e.dependencies ? { dependencies: e.dependencies } : {}),
        ...(e.optionalDependencies ? { optionalDependencies: e.optionalDependencies } : {}),
        ...(e.os ? { os: e.os } : {}),
        ...(e.cpu ? { cpu: e.cpu } : {}),
        ...(e.bin ? { bin: e.bin } : {}),
        ...(e.engines ? { engines: e.engines } : {}),
        ...(e.hasInstallScript ? { hasInstallScript: true } : {}),
        dist: { integrity: e.integrity, tarball: tarballUrl(name, version) },
      }])),
    };
    return send(200, JSON.stringify(doc));
  });
  server.listen(config.port, config.host, () => process.stdout.write('listening\n'));
}

if (process.argv[1]?.endsWith('fake-npm-registry.js')) await main();
