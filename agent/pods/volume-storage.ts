/**
 * The node side of persistent and memory-backed volumes:
 * - a `persistentVolumeClaim` volume resolves claim → bound PersistentVolume → its hostPath or local
 *   directory on this node (a local-path volume's directory is made on first use, mode 0777 as
 *   rancher's provisioner makes it; a `local` volume's directory must exist);
 * - `fsGroup`: the volume's files get the pod's group, group read/write and setgid directories, once
 *   (when the volume root does not have that group yet, like kubelet's OnRootMismatch);
 * - `emptyDir.medium: Memory` is a tmpfs of `sizeLimit` (writes beyond it fail with ENOSPC); tmpfs
 *   mounts under a pod's directory are unmounted before the directory is removed.
 */
import { chmod, chown, lstat, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, normalize } from 'node:path';
import { quantityToNumber } from '../../api/quantity.js';
import type { PersistentVolume, PersistentVolumeClaim, Pod, Volume } from '../../api/types.js';
import { LOCAL_PATH_PROVISIONER, PROVISIONED_BY_ANNOTATION } from '../../api/storage-types.js';
import { runCommand } from '../../api/run-command.js';

export interface ClaimSources {
  claim(namespace: string, name: string): Promise<PersistentVolumeClaim | undefined>;
  volume(name: string): Promise<PersistentVolume | undefined>;
}

export class ClaimNotReady extends Error {
  override readonly name = 'ClaimNotReady';
}

/** The host directory behind a claim volume, created when local-path made it. */
export async function claimDirectory(pod: Pod, v: Volume, src: ClaimSources): Promise<{ path: string; readOnly: boolean }> {
  const ref = v.persistentVolumeClaim!;
  const ns = pod.metadata.namespace ?? 'default';
  const claim = await src.claim(ns, ref.claimName);
  if (!claim) throw new ClaimNotReady(`persistentvolumeclaim "${ref.claimName}" not found`);
  if (claim.metadata.deletionTimestamp) throw new ClaimNotReady(`persistentvolumeclaim "${ref.claimName}" is being deleted`);
  const volumeName = claim.spec.volumeName;
  if (!volumeName || claim.status?.phase !== 'Bound') throw new ClaimNotReady(`persistentvolumeclaim "${ref.claimName}" is not bound yet`);
  const pv = await src.volume(volumeName);
  if (!pv) throw new ClaimNotReady(`persistentvolume "${volumeName}" of claim "${ref.claimName}" not found`);
  const path = pv.spec.hostPath?.path ?? pv.spec.local?.path;
  if (!path || !isAbsolute(path)) throw new ClaimNotReady(`persistentvolume "${volumeName}": only hostPath and local volumes can be mounted by corral`);
  const type = pv.spec.hostPath?.type ?? '';
  if (pv.spec.local || type === 'Directory') {
    const st = await stat(path).catch(() => undefined);
    if (!st?.isDirectory()) throw new ClaimNotReady(`persistentvolume "${volumeName}": directory ${path} does not exist on this node`);
  } else if (type === 'DirectoryOrCreate' || type === '') {
    const fresh = !(await stat(path).catch(() => undefined));
    await mkdir(path, { recursive: true });
    if (fresh && pv.metadata.annotations?.[PROVISIONED_BY_ANNOTATION] === LOCAL_PATH_PROVISIONER) await chmod(path, 0o777);
  }
  return { path, readOnly: ref.readOnly === true };
}

/** Gives a volume's files the pod's fsGroup, unless its root already has it. */
export async function applyFsGroup(dir: string, gid: number): Promise<void> {
  const root = await stat(dir);
  if (root.gid === gid) return;
  const walk = async (path: string): Promise<void> => {
    const st = await lstat(path);
    if (st.isSymbolicLink()) return;
    await chown(path, st.uid, gid);
    if (st.isDirectory()) {
      await chmod(path, (st.mode & 0o7777) | 0o2070);
      for (const entry of await readdir(path)) await walk(join(path, entry));
    } else {
      await chmod(path, (st.mode & 0o7777) | 0o060);
    }
  };
  await walk(dir);
}

/** Mount points strictly below `dir`, deepest first (from /proc/self/mountinfo). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const root = normalize(dir).replace(/\/+$/, '');
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const points = info.split('\n').map((l) => l.split(' ')[4]).filter((p): p is string => !!p)
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p.startsWith(`${root}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** A tmpfs at `dir` for a Memory emptyDir, sized by sizeLimit (kernel default: half the RAM). */
export async function mountMemoryVolume(dir: string, sizeLimit: string | undefined): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o777 });
  if ((await mountsUnder(join(dir, '..'))).includes(normalize(dir))) return;
  const options = ['mode=0777', ...(sizeLimit ? [`size=${Math.max(4096, Math.floor(quantityToNumber(sizeLimit)))}`] : [])];
  const r = await runCommand('mount', ['-t', 'tmpfs', '-o', options.join(','), 'tmpfs', dir], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`cannot mount a tmpfs for memory volume ${dir}: ${r.stderr.trim() || `exit ${r.code}`}`);
}

/** Unmounts every mount below `dir` (memory volumes) so the directory can be removed. */
export async function unmountUnder(dir: string): Promise<void> {
  for (const point of await mountsUnder(dir)) {
    const r = await runCommand('umount', [point], { timeoutMs: 10_000 });
    if (r.code !== 0) await runCommand('umount', ['-l', point], { timeoutMs: 10_000 });
  }
}
