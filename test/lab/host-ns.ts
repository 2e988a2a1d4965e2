/**
 * A lab host's own view of the machine: a persistent UTS namespace (its hostname) and a persistent mount
 * namespace in which the paths corral installs into are bind mounts of per-host directories. Both are
 * kept alive by bind-mounting them onto files under the lab's `ns/` directory, so sshd, containerd and
 * every `lab.exec` can enter the same view with `nsenter`.
 *
 * /run/netns stays shared with the root namespace (it is a `shared` mount made by `ip netns`, and the
 * host's copy joins its peer group), so a pod netns created on a node, over ssh or by its agent, is
 * visible to the harness, to the node's containerd and to teardown. Every other shared mount is made
 * private inside the host's view, so its bind mounts never leak back into the machine.
 */
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { exec, execOk } from './exec.js';
import { netnsPath } from './netns.js';

/** The paths an installer writes to, which each node sees as its own. */
export const PRIVATE_PATHS = ['/etc/corral', '/usr/local/lib/corral', '/var/lib/corral', '/run/containerd'] as const;

export interface HostView {
  /** Named netns of this host (under /run/netns). */
  netns: string;
  hostname: string;
  mntFile: string;
  utsFile: string;
}

export interface BindMount { source: string; target: string }

/** The argv prefix that runs a command inside a host's network, UTS and mount namespaces. */
export function nsenterPrefix(view: HostView): string[] {
  return ['nsenter', `--net=${netnsPath(view.netns)}`, `--uts=${view.utsFile}`, `--mount=${view.mntFile}`, '--'];
}

/**
 * Makes dir a private mount of itself: a mount-namespace file may only be bind-mounted where it cannot
 * propagate (the kernel refuses otherwise, to prevent reference loops).
 */
export async function prepareNamespaceDir(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await execOk(['mount', '--bind', dir, dir]);
  await execOk(['mount', '--make-private', dir]);
}

/** True when /run/netns is a shared mount in the current (root) mount namespace. */
export function runNetnsIsShared(): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => {
      const f = line.split(' ');
      if (f[4] !== '/run/netns') return false;
      const sep = f.indexOf('-');
      return f.slice(6, sep).some((o) => o.startsWith('shared:'));
    });
}

/**
 * Script run by `unshare` as the first process of the new namespaces: set the hostname, drop the copy of
 * the lab's namespace-file directory (so one host's view does not pin another host's namespaces),
 * privatise every shared mount but /run/netns, then bind the host's own directories over the private
 * paths. Arguments: hostname, namespace dir, then source/target pairs.
 */
const SETUP_SCRIPT = `set -e
hostname "$1"
umount -R "$2"
shift 2
awk '{ for (i = 7; i <= NF && $i != "-"; i++) if ($i ~ /^shared:/) print $5 }' /proc/self/mountinfo |
  while read -r m; do
    case "$m" in /run/netns|/run/netns/*) ;; *) mount --make-private "$m" ;; esac
  done
while [ $# -gt 0 ]; do mount --bind "$1" "$2"; shift 2; done
`;

/**
 * Creates the persistent UTS + mount namespaces for one host; its namespace files must live in a dir
 * made by prepareNamespaceDir. The mount targets must already exist on the machine (the harness creates missing ones and removes them again on teardown).
 */
export async function createHostView(view: HostView, binds: readonly BindMount[]): Promise<void> {
  const nsDir = dirname(view.mntFile);
  for (const b of binds) mkdirSync(b.source, { recursive: true });
  writeFileSync(view.mntFile, '');
  writeFileSync(view.utsFile, '');
  await execOk([
    'unshare', `--mount=${view.mntFile}`, `--uts=${view.utsFile}`, '--propagation', 'unchanged', '--',
    'sh', '-c', SETUP_SCRIPT, 'lab-host-setup', view.hostname, nsDir, ...binds.flatMap((b) => [b.source, b.target]),
  ]);
}

/** Mount points at or below dir in the current mount namespace, deepest first (the order to unmount). */
export function mountsUnder(dir: string): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined && (p === dir || p.startsWith(dir + '/')));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Unmounts everything at or below dir (namespace files, the namespace dir itself). */
export async function unmountAllUnder(dir: string): Promise<void> {
  // Stacked mounts on one point need one umount each; bound the loop in case umount keeps failing.
  for (let round = 0; round < 10; round++) {
    const points = mountsUnder(dir);
    if (points.length === 0) return;
    for (const p of points) {
      const r = await exec(['umount', p]);
      if (r.code !== 0 && round === 9) throw new Error(`cannot unmount ${p}: ${r.stderr.trim()}`);
    }
  }
  const left = mountsUnder(dir);
  if (left.length > 0) throw new Error(`mounts left under ${dir}: ${left.join(', ')}`);
}
