/**
 * An emulated arm64 lab node: a lab node (its own netns, UTS and mount namespace; created with
 * `bareNodes` so the harness starts nothing on it) whose programs come from the arm64 root of
 * arm64-userland.ts and run under qemu-user through binfmt_misc. In the node's mount namespace the
 * cached root is the lower layer of an overlay (the cache stays pristine; the node's writes go to the
 * lab directory); /proc, /sys, /dev, /run/netns and the node's own corral and containerd directories
 * are bound in, so the harness, `lab.exec` and teardown see what the node's programs see. The node's
 * arm64 sshd and arm64 containerd run chrooted into it; `corral join` then finds an aarch64 host.
 *
 * Two parts are not arm64: runc and containerd's runc shim. qemu-user 7.2 (Debian 12) cannot run them:
 * `runc run` dies at "waiting for init preliminary setup" (its nsexec clone is refused), and
 * containerd-shim-runc-v2 fails at start with "invalid argument" (qemu refuses
 * prctl(PR_SET_CHILD_SUBREAPER), measured with QEMU_STRACE). So the node gets the machine's amd64 runc
 * and shim, with their libraries at their multiarch paths (/lib64, /lib/x86_64-linux-gnu), as Debian
 * co-installs foreign binaries. containerd, ctr, sshd, Node.js and the agent stay arm64, and so do the
 * containers' processes: the images' arm64 programs, emulated.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CONTAINERD_NAMESPACE, type Lab, type LabProcess } from './harness.js';
import { PRIVATE_PATHS } from './host-ns.js';
import { sshdConfig } from './sshd.js';
import { containerdConfig } from './containerd.js';
import { waitFor, exec } from './exec.js';
import { NETNS_DIR } from './netns.js';
import { ensureArm64Root } from './arm64-userland.js';

export interface Arm64Node {
  /** The node's root as mounted in its mount namespace. */
  root: string;
  sshd: LabProcess;
  containerd: LabProcess;
  /** When the cached root had to be built first, how long that took. */
  rootBuiltMs?: number;
  /** A directory of the machine the node sees as /mnt/lab (to hand it image tarballs). */
  shareDir: string;
}

/**
 * Imports an image tarball with the node's own (arm64) ctr, which keeps the arm64 variant of an index;
 * `allPlatforms` keeps an image that has no arm64 variant at all (which ctr would otherwise filter out).
 */
export async function importArm64Image(lab: Lab, name: string, node: Arm64Node, tar: string, allPlatforms = false): Promise<void> {
  const file = `img-${Date.now()}-${Math.random().toString(36).slice(2)}.tar`;
  copyFileSync(tar, join(node.shareDir, file));
  const r = await lab.exec(name, ['chroot', node.root, 'ctr', '-n', CONTAINERD_NAMESPACE, 'images', 'import', ...(allPlatforms ? ['--all-platforms'] : []), `/mnt/lab/${file}`], { timeoutMs: 120_000 });
  rmSync(join(node.shareDir, file), { force: true });
  if (r.code !== 0) throw new Error(`importing ${tar} on ${name} with its arm64 ctr: ${r.stderr.trim()}`);
}

/** Shell run inside the node's mount namespace: the overlay root and everything bound into it. */
const MOUNT_SCRIPT = `set -e
lower="$1"; top="$2"; root="$top/root"; shift 2
mkdir -p "$root" "$top/upper" "$top/work" "$top/containerd-root" "$top/share"
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$top/upper,workdir=$top/work" "$root"
mount --rbind /proc "$root/proc"; mount --rbind /sys "$root/sys"; mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=755 tmpfs "$root/run"; mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
mkdir -p "$root/run/netns" "$root/run/sshd" "$root/var/lib/containerd"
# A bind of the shared /run/netns joins its peer group: pod netns made by the node are the machine's.
mount --bind ${NETNS_DIR} "$root/run/netns"
mount --bind "$top/containerd-root" "$root/var/lib/containerd"
mkdir -p "$root/mnt/lab"; mount --bind "$top/share" "$root/mnt/lab"
for p in "$@"; do mkdir -p "$root$p"; mount --bind "$p" "$root$p"; done
`;

/** The machine's runc and runc shim and the libraries they link, staged at the same paths. */
async function stageAmd64Runtime(stage: string): Promise<void> {
  const programs = ['/usr/sbin/runc', '/usr/bin/containerd-shim-runc-v2'];
  const libs = new Set<string>();
  for (const p of programs) {
    for (const l of (await exec(['ldd', p])).stdout.split('\n')) {
      const lib = /(\/\S+) \(0x/.exec(l)?.[1];
      if (lib) libs.add(lib);
    }
  }
  for (const file of [...programs, ...libs]) {
    const target = join(stage, file);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(file, target);
  }
}

/** Prepares and starts the arm64 node on a lab node created with `bareNodes: [name]`. */
export async function startArm64Node(lab: Lab, name: string): Promise<Arm64Node> {
  const { root: lower, builtMs } = await ensureArm64Root();
  const n = lab.node(name);
  const top = join(n.dir, 'arm64');
  const root = join(top, 'root');
  const mounted = await lab.exec(name, ['sh', '-c', MOUNT_SCRIPT, 'arm64-node', lower, top, ...PRIVATE_PATHS]);
  if (mounted.code !== 0) throw new Error(`mounting the arm64 root of ${name}: ${mounted.stderr.trim()}`);
  // The overlay exists in the node's mount namespace only: stage files outside, copy them in from there.
  const stage = join(top, 'stage');
  mkdirSync(stage, { recursive: true });
  await stageAmd64Runtime(stage);
  writeFileSync(join(stage, 'sshd_config'), sshdConfig({ listenAddress: n.ip, hostKey: '/etc/lab-ssh/ssh_host_ed25519_key', pidFile: '/run/sshd.pid', authorizedKeysFile: '/etc/lab-ssh/authorized_keys' }));
  copyFileSync(join(n.dir, 'ssh_host_ed25519_key'), join(stage, 'ssh_host_ed25519_key'));
  copyFileSync(join(lab.dir, 'authorized_keys'), join(stage, 'authorized_keys'));
  writeFileSync(join(stage, 'containerd.toml'), containerdConfig({ root: '/var/lib/containerd', state: '/run/containerd', socket: '/run/containerd/containerd.sock', config: '/etc/lab-containerd.toml' }));
  const copied = await lab.exec(name, ['sh', '-c', `set -e
s="$1"; r="$2"
for d in usr lib lib64; do [ -d "$s/$d" ] && mkdir -p "$r/$d" && cp -a "$s/$d/." "$r/$d/"; done
mkdir -p "$r/etc/lab-ssh"
install -m 600 "$s/ssh_host_ed25519_key" "$r/etc/lab-ssh/"
install -m 644 "$s/authorized_keys" "$s/sshd_config" "$r/etc/lab-ssh/"
install -m 644 "$s/containerd.toml" "$r/etc/lab-containerd.toml"`, 'arm64-stage', stage, root]);
  if (copied.code !== 0) throw new Error(`staging the arm64 node ${name}: ${copied.stderr.trim()}`);

  const containerd = lab.spawn(name, ['chroot', root, '/usr/bin/containerd', '--config', '/etc/lab-containerd.toml'], { logName: 'containerd-arm64' });
  const sshd = lab.spawn(name, ['chroot', root, '/usr/sbin/sshd', '-D', '-e', '-f', '/etc/lab-ssh/sshd_config'], { logName: 'sshd-arm64' });
  n.containerd = containerd;
  n.sshd = sshd;
  const log = (p: LabProcess): string => readFileSync(p.logFile, 'utf8').slice(-2000);
  // Emulated start-up is slow: containerd takes seconds where the native one takes a fraction.
  await waitFor(`arm64 containerd on ${name} (log ${containerd.logFile})`, async () => {
    if (containerd.child.exitCode !== null) throw new Error(`arm64 containerd on ${name} exited: ${log(containerd)}`);
    return (await lab.ctr(name, ['version'], { timeoutMs: 10_000 })).code === 0;
  }, 60_000);
  await waitFor(`arm64 sshd on ${name} (log ${sshd.logFile})`, async () => {
    if (sshd.child.exitCode !== null) throw new Error(`arm64 sshd on ${name} exited: ${log(sshd)}`);
    return (await lab.ssh(name, 'true', { timeoutMs: 20_000 })).code === 0;
  }, 60_000);
  return { root, sshd, containerd, shareDir: join(top, 'share'), ...(builtMs !== undefined ? { rootBuiltMs: builtMs } : {}) };
}
