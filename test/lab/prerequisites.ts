/**
 * What the lab tier needs from the machine, and the rule for when it is missing: under CI
 * (CI=true) a lab test file FAILS naming what is missing, never skips silently; elsewhere it may skip
 * with the reason printed.
 */
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import type { Test } from 'uvu';

const BINARIES: Record<string, string> = {
  '/usr/sbin/ip': 'iproute2',
  '/usr/bin/nsenter': 'util-linux',
  '/usr/bin/unshare': 'util-linux',
  '/usr/bin/containerd': 'containerd',
  '/usr/bin/ctr': 'containerd',
  '/usr/sbin/runc': 'runc',
  '/usr/sbin/sshd': 'openssh-server',
  '/usr/bin/ssh': 'openssh-client',
  '/usr/bin/ssh-keygen': 'openssh-client',
  '/bin/busybox': 'busybox-static',
  '/usr/sbin/iptables-save': 'iptables',
  '/usr/bin/tar': 'tar',
  '/usr/bin/dig': 'bind9-dnsutils',
  '/usr/bin/arping': 'iputils-arping',
};

/** Human-readable list of what is missing for the lab tier; empty when everything is there. */
export function missingLabPrerequisites(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (the lab creates network namespaces, mounts and routes)');
  for (const [path, pkg] of Object.entries(BINARIES)) {
    if (!existsSync(path)) missing.push(`${path} (Debian package ${pkg})`);
  }
  if (missing.length === 0) {
    const r = spawnSync('unshare', ['--net', '--mount', '--uts', 'true'], { encoding: 'utf8' });
    if (r.status !== 0) missing.push(`permission to create namespaces (unshare: ${(r.stderr ?? '').trim()})`);
  }
  return missing;
}

/**
 * Returns true when the lab tier can run. Otherwise registers, on the given uvu suite, a failing test
 * (under CI) or a skipped one (elsewhere) that names what is missing, and returns false.
 */
export function labTierAvailable(suite: Test, what: string): boolean {
  const missing = missingLabPrerequisites();
  if (missing.length === 0) return true;
  const reason = `${what} needs: ${missing.join(', ')}`;
  if (process.env['CI'] === 'true') {
    suite('lab prerequisites are present', () => {
      throw new Error(`${reason} — install them (bash test/setup.sh) and run as root`);
    });
  } else {
    process.stdout.write(`skipping ${what}: ${reason}\n`);
    suite.skip(`${what} (skipped: ${reason})`, () => undefined);
  }
  return false;
}
