/**
 * Pod volumes on the node: emptyDir and configMap/secret contents live under the pod's directory
 * (`<data-dir>/agent/pods/<uid>/volumes/<name>`), hostPath points at the host, a claim at its bound
 * volume's directory (volume-storage.ts, which also does fsGroup and memory-backed emptyDirs).
 * configMap and secret files are (re)written on every prepare, so an edit shows up on the next
 * container start; when the server is unreachable the files written before are used as they are
 * (edge autonomy).
 */
import { chmod, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import type { Container, KeyToPath, Pod } from '../../api/types.js';
import type { BindMount } from '../runtime/index.js';
import { ProjectedVolumeError, writeProjectedVolume, type ProjectedSources } from './projected-volume.js';
import { applyFsGroup, claimDirectory, mountMemoryVolume, unmountUnder, type ClaimSources } from './volume-storage.js';

/** Volume name → host path, plus the volumes every container must mount read-only (claim readOnly). */
export type PreparedVolumes = Map<string, string> & { readOnly?: Set<string> };

export interface VolumeSources extends ClaimSources, ProjectedSources {
  /** Raw data (Secret values decoded to bytes); undefined when the object does not exist. */
  configMap(namespace: string, name: string): Promise<Record<string, Buffer> | undefined>;
  secret(namespace: string, name: string): Promise<Record<string, Buffer> | undefined>;
}

export class VolumeError extends Error {
  override readonly name = 'VolumeError';
}

export function podDir(podsDir: string, uid: string): string {
  return join(podsDir, uid);
}

function safeRelative(p: string): string {
  const n = normalize(p).replace(/^\/+/, '');
  if (n.startsWith('..')) throw new VolumeError(`path ${p} leaves the volume`);
  return n;
}

async function writeItems(dir: string, data: Record<string, Buffer>, items: KeyToPath[] | undefined, mode: number): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const entries = items && items.length > 0
    ? items.map((i) => ({ key: i.key, path: i.path, mode: i.mode ?? mode }))
    : Object.keys(data).map((k) => ({ key: k, path: k, mode }));
  for (const e of entries) {
    const value = data[e.key];
    if (value === undefined) throw new VolumeError(`key ${e.key} not found`);
    const file = join(dir, safeRelative(e.path));
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, value);
    await chmod(file, e.mode);
  }
}

/** Creates or refreshes the pod's volumes; returns volume name → host directory. */
export async function prepareVolumes(pod: Pod, podsDir: string, src: VolumeSources): Promise<PreparedVolumes> {
  const uid = pod.metadata.uid!;
  const namespace = pod.metadata.namespace ?? 'default';
  const out: PreparedVolumes = new Map<string, string>();
  out.readOnly = new Set();
  const fsGroup = pod.spec.securityContext?.fsGroup;
  for (const v of pod.spec.volumes ?? []) {
    const dir = join(podDir(podsDir, uid), 'volumes', v.name);
    if (v.emptyDir) {
      if (v.emptyDir.medium === 'Memory') {
        await mountMemoryVolume(dir, v.emptyDir.sizeLimit);
      } else {
        await mkdir(dir, { recursive: true, mode: 0o777 });
        await chmod(dir, 0o777);
      }
      if (fsGroup !== undefined) await applyFsGroup(dir, fsGroup);
      out.set(v.name, dir);
    } else if (v.persistentVolumeClaim) {
      const claim = await claimDirectory(pod, v, src);
      if (fsGroup !== undefined && !claim.readOnly) await applyFsGroup(claim.path, fsGroup);
      if (claim.readOnly) out.readOnly.add(v.name);
      out.set(v.name, claim.path);
    } else if (v.hostPath) {
      const path = v.hostPath.path;
      const type = v.hostPath.type ?? '';
      if (type === 'DirectoryOrCreate') await mkdir(path, { recursive: true });
      else if (type === 'FileOrCreate' && !existsSync(path)) {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, '');
      } else if (type === 'Directory' || type === 'File') {
        const st = await stat(path).catch(() => undefined);
        if (!st || (type === 'Directory' ? !st.isDirectory() : !st.isFile())) throw new VolumeError(`hostPath ${path} is not a ${type.toLowerCase()}`);
      }
      out.set(v.name, path);
    } else if (v.configMap || v.secret) {
      const isCm = v.configMap !== undefined;
      const name = isCm ? v.configMap!.name : v.secret!.secretName;
      const optional = (isCm ? v.configMap!.optional : v.secret!.optional) ?? false;
      const mode = (isCm ? v.configMap!.defaultMode : v.secret!.defaultMode) ?? 0o644;
      let data: Record<string, Buffer> | undefined;
      let reachable = true;
      try {
        data = isCm ? await src.configMap(namespace, name) : await src.secret(namespace, name);
      } catch (err) {
        // Server unreachable: keep the files of the last successful prepare.
        reachable = false;
        if (!existsSync(dir)) throw new VolumeError(`cannot read ${isCm ? 'configmap' : 'secret'} ${name}: ${(err as Error).message}`);
      }
      if (reachable) {
        if (!data && !optional) throw new VolumeError(`${isCm ? 'configmap' : 'secret'} "${name}" not found`);
        await writeItems(dir, data ?? {}, isCm ? v.configMap!.items : v.secret!.items, mode);
      }
      out.set(v.name, dir);
    } else if (v.projected) {
      try {
        await writeProjectedVolume(dir, pod, v.projected, src);
      } catch (err) {
        // Server unreachable or refusing: a pod restarting offline keeps the files it had.
        if (!existsSync(dir) || err instanceof ProjectedVolumeError) throw new VolumeError(`volume ${v.name}: ${(err as Error).message}`);
      }
      out.readOnly.add(v.name);
      out.set(v.name, dir);
    } else {
      throw new VolumeError(`volume ${v.name}: only emptyDir, hostPath, persistentVolumeClaim, configMap, secret and projected volumes are supported`);
    }
  }
  return out;
}

/**
 * The directory a subPath mount binds: made when missing (as kubelet does), and refused when a
 * symlink inside the volume leads out of it (a container could otherwise mount any host path).
 */
function subPathSource(volumeRoot: string, subPath: string): string {
  const target = join(volumeRoot, safeRelative(subPath));
  if (!existsSync(target)) mkdirSync(target, { recursive: true, mode: 0o755 });
  const root = realpathSync(volumeRoot);
  const real = realpathSync(target);
  if (real !== root && !real.startsWith(`${root}/`)) throw new VolumeError(`subPath ${subPath} leads outside its volume (to ${real})`);
  return real;
}

/** The bind mounts of one container from its volumeMounts. */
export function containerMounts(container: Container, volumes: ReadonlyMap<string, string> & { readOnly?: ReadonlySet<string> }): BindMount[] {
  return (container.volumeMounts ?? []).map((m) => {
    const source = volumes.get(m.name);
    if (source === undefined) throw new VolumeError(`volume mount ${m.name} refers to no volume of the pod`);
    return {
      source: m.subPath ? subPathSource(source, m.subPath) : source,
      destination: m.mountPath,
      readOnly: m.readOnly === true || volumes.readOnly?.has(m.name) === true,
    };
  });
}

/** Removes the pod's directory (volumes and state), unmounting its memory volumes first. */
export async function removePodDir(podsDir: string, uid: string): Promise<void> {
  await unmountUnder(podDir(podsDir, uid));
  await rm(podDir(podsDir, uid), { recursive: true, force: true });
}

/** Pod UIDs that have a directory (to find leftovers). */
export async function listPodDirs(podsDir: string): Promise<string[]> {
  return readdir(podsDir).catch(() => []);
}
