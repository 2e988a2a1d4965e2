/**
 * Does containerd's snapshotter work on the filesystem under it? The overlayfs snapshotter loads fine
 * on an overlayfs or ZFS directory (an LXC container's root, a Docker-in-Docker host), and then every
 * pod fails with `ctr images mount: invalid argument`. The agent finds out at start instead: it makes
 * an empty committed snapshot, a writable child of it, mounts the child exactly as a container's
 * rootfs would be mounted, and removes it all again.
 */
import { mkdir, rm, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Ctr } from './ctr.js';
import { runCommand } from '../../api/run-command.js';

export type SnapshotterCheck =
  | { ok: true }
  /** The snapshotter cannot mount here: what failed and what to do about it. */
  | { ok: false; reason: 'SnapshotMountFailed'; message: string; fsType?: string | undefined }
  /** The check itself could not run (containerd down, ctr timed out): nothing is concluded. */
  | { ok: undefined; error: string };

interface Mount { Type: string; Source: string; Options?: string[] }

/** statfs magic numbers of the filesystems people find under /var/lib. */
const FS_MAGIC: Record<number, string> = {
  0x794c7630: 'overlayfs',
  0x2fc12fc1: 'zfs',
  0x9123683e: 'btrfs',
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x01021994: 'tmpfs',
  0x6969: 'nfs',
  0xf2f52010: 'f2fs',
};

export async function filesystemType(path: string): Promise<string | undefined> {
  try {
    const st = await statfs(path);
    return FS_MAGIC[st.type] ?? `0x${st.type.toString(16)}`;
  } catch {
    return undefined;
  }
}

const KEY = 'corral-snapshotter-check';

/** What to tell the person at the node, with the containerd root that holds the snapshots. */
export function snapshotterAdvice(snapshotter: string, snapshotDir: string, fsType: string | undefined, error: string): string {
  const on = fsType ? ` on ${fsType}` : '';
  return `containerd's ${snapshotter} snapshotter cannot mount container filesystems in ${snapshotDir}${on} (${error}); ` +
    'pods on this node would fail with "ctr images mount: invalid argument". Fix: bind-mount a directory of a real filesystem ' +
    `(ext4, xfs) over ${snapshotDir.replace(/\/io\.containerd\.snapshotter\.v1\.[a-z]+.*$/, '')}, or run corral with --snapshotter native (slower, uses more disk)`;
}

export async function checkSnapshotter(ctr: Ctr, snapshotter: string, scratchDir: string): Promise<SnapshotterCheck> {
  const snap = (args: string[]): ReturnType<Ctr['call']> => ctr.call(['snapshots', '--snapshotter', snapshotter, ...args], { timeoutMs: 20_000 });
  const cleanup = async (): Promise<void> => {
    await snap(['rm', `${KEY}-child`]).catch(() => undefined);
    await snap(['rm', `${KEY}-base-committed`]).catch(() => undefined);
    await snap(['rm', `${KEY}-base`]).catch(() => undefined);
  };
  const target = join(scratchDir, 'mnt');
  let mounts: Mount[];
  try {
    await cleanup();
    await snap(['prepare', `${KEY}-base`]);
    await snap(['commit', `${KEY}-base-committed`, `${KEY}-base`]);
    const { stdout } = await snap(['prepare', '--mounts', `${KEY}-child`, `${KEY}-base-committed`]);
    mounts = JSON.parse(stdout) as Mount[];
    await mkdir(target, { recursive: true });
  } catch (err) {
    await cleanup();
    return { ok: undefined, error: (err as Error).message };
  }
  try {
    const m = mounts[0];
    if (!m) return { ok: true };
    const options = (m.Options ?? []).join(',');
    const args = [...(m.Type === 'bind' ? [] : ['-t', m.Type]), ...(options ? ['-o', options] : []), m.Source, target];
    const r = await runCommand('mount', args, { timeoutMs: 10_000 });
    if (r.code === 0) {
      await runCommand('umount', [target], { timeoutMs: 10_000 });
      return { ok: true };
    }
    const upper = (m.Options ?? []).find((o) => o.startsWith('upperdir='))?.slice('upperdir='.length) ?? m.Source;
    // .../io.containerd.snapshotter.v1.overlayfs/snapshots/N/fs → the snapshotter's directory.
    const at = upper.indexOf('/snapshots/');
    const snapshotDir = at > 0 ? upper.slice(0, at) : dirname(upper);
    const fsType = await filesystemType(snapshotDir);
    // util-linux words EINVAL as "wrong fs type, bad option, …"; its first line is enough.
    const error = (r.stderr.trim().split('\n')[0] ?? '').replace(/^mount: [^:]*: /, '') || `mount exited with ${r.code}`;
    return { ok: false, reason: 'SnapshotMountFailed', fsType, message: snapshotterAdvice(snapshotter, snapshotDir, fsType, error) };
  } finally {
    await cleanup();
    await rm(target, { recursive: true, force: true }).catch(() => undefined);
  }
}
