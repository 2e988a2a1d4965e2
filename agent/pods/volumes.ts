/**
 * Pod volumes on the node: emptyDir and configMap/secret contents live under the pod's directory
 * (`<data-dir>/agent/pods/<uid>/volumes/<name>`), hostPath points at the host. configMap and secret
 * files are (re)written on every prepare, so an edit shows up on the next container start; when the
 * server is unreachable the files written before are used as they are (edge autonomy).
 */
import { chmod, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import type { Container, KeyToPath, Pod } from '../../api/types.js';
import type { BindMount } from '../runtime/index.js';

export interface VolumeSources {
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
export async function prepareVolumes(pod: Pod, podsDir: string, src: VolumeSources): Promise<Map<string, string>> {
  const uid = pod.metadata.uid!;
  const namespace = pod.metadata.namespace ?? 'default';
  const out = new Map<string, string>();
  for (const v of pod.spec.volumes ?? []) {
    const dir = join(podDir(podsDir, uid), 'volumes', v.name);
    if (v.emptyDir) {
      await mkdir(dir, { recursive: true, mode: 0o777 });
      await chmod(dir, 0o777);
      out.set(v.name, dir);
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
    } else {
      throw new VolumeError(`volume ${v.name}: only emptyDir, hostPath, configMap and secret volumes are supported`);
    }
  }
  return out;
}

/** The bind mounts of one container from its volumeMounts. */
export function containerMounts(container: Container, volumes: ReadonlyMap<string, string>): BindMount[] {
  return (container.volumeMounts ?? []).map((m) => {
    const source = volumes.get(m.name);
    if (source === undefined) throw new VolumeError(`volume mount ${m.name} refers to no volume of the pod`);
    return { source: m.subPath ? join(source, safeRelative(m.subPath)) : source, destination: m.mountPath, readOnly: m.readOnly === true };
  });
}

/** Removes the pod's directory (volumes and state). */
export async function removePodDir(podsDir: string, uid: string): Promise<void> {
  await rm(podDir(podsDir, uid), { recursive: true, force: true });
}

/** Pod UIDs that have a directory (to find leftovers). */
export async function listPodDirs(podsDir: string): Promise<string[]> {
  return readdir(podsDir).catch(() => []);
}
