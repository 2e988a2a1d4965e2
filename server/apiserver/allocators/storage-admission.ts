/**
 * Storage admission: claims without `storageClassName` get the default StorageClass (upstream's
 * DefaultStorageClass plugin), and a PersistentVolume's hostPath or local path must lie under one of
 * the directories the administrator allows (the server's storage dir, plus `--pv-host-path-roots`,
 * by default /mnt, /srv and /data), or, for a volume the local-path provisioner made, directly in the
 * storage dir a node published (`storage.corral.dev/local-path-dir`, set from `corral agent
 * --storage-dir`). Without that rule anyone allowed to create PVs could mount /etc or /var/lib/corral
 * into a pod through a claim.
 */
import { basename, dirname, isAbsolute, normalize } from 'node:path';
import type { KubeObject } from '../../../api/meta.js';
import { resourceForKind, type ResourceInfo } from '../../../api/resources.js';
import { errors, isAlreadyExists } from '../../../api/status.js';
import {
  DEFAULT_CLASS_ANNOTATION, LOCAL_PATH_CLASS, LOCAL_PATH_PROVISIONER, NODE_STORAGE_DIR_ANNOTATION, PROVISIONED_BY_ANNOTATION,
  type PersistentVolume, type PersistentVolumeClaim, type StorageClass,
} from '../../../api/storage-types.js';
import type { AdmissionPlugin, Registry } from '../registry.js';
import { compareStrings } from '../../../api/object-util.js';

/** Where PVs may point when the administrator named nothing else (besides the storage dir, always allowed). */
export const DEFAULT_HOST_PATH_ROOTS: readonly string[] = ['/mnt', '/srv', '/data'];

/** The storage dir (the provisioner's own volumes live there) plus the administrator's roots. */
export function hostPathRoots(storageDir: string, configured: readonly string[] = DEFAULT_HOST_PATH_ROOTS): string[] {
  return [storageDir, ...configured.filter((r) => r !== storageDir)];
}

/** Whether `path` is one of `roots` or lies below one (after normalising away `.`, `..` and `//`). */
export function isUnderRoots(path: string, roots: readonly string[]): boolean {
  if (!isAbsolute(path)) return false;
  const p = normalize(path).replace(/\/+$/, '') || '/';
  return roots.some((root) => {
    const r = normalize(root).replace(/\/+$/, '') || '/';
    return p === r || p.startsWith(r === '/' ? '/' : `${r}/`);
  });
}

/** The default class as upstream picks it: among classes marked default, the newest (then by name). */
export function pickDefaultClass(classes: readonly StorageClass[]): StorageClass | undefined {
  const marked = classes.filter((c) => c.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true');
  marked.sort((a, b) => compareStrings(b.metadata.creationTimestamp ?? '', a.metadata.creationTimestamp ?? '') || compareStrings(a.metadata.name ?? '', b.metadata.name ?? ''));
  return marked[0];
}

/** The storage dirs nodes published for their local-path volumes. */
async function nodeStorageDirs(registry: Registry): Promise<Set<string>> {
  const nodes = (await registry.list(resourceForKind('Node')!, undefined)).items;
  const dirs = new Set<string>();
  for (const n of nodes) {
    const dir = n.metadata.annotations?.[NODE_STORAGE_DIR_ANNOTATION];
    if (dir && isAbsolute(dir)) dirs.add(normalize(dir).replace(/\/+$/, ''));
  }
  return dirs;
}

export function storageAdmissionPlugin(registry: Registry, hostPathRoots: readonly string[]): AdmissionPlugin {
  const checkPaths = async (info: ResourceInfo, obj: KubeObject, old?: KubeObject): Promise<void> => {
    if (info.kind !== 'PersistentVolume' || info.group !== '') return;
    const pv = obj as PersistentVolume;
    for (const source of ['hostPath', 'local'] as const) {
      const path = pv.spec?.[source]?.path;
      if (path === undefined || isUnderRoots(path, hostPathRoots)) continue;
      // An update that keeps the path keeps what was allowed when the volume was made.
      if (old && (old as PersistentVolume).spec?.[source]?.path === path) continue;
      // The local-path provisioner's volumes live in the storage dir their node published.
      const localPath = pv.metadata.annotations?.[PROVISIONED_BY_ANNOTATION] === LOCAL_PATH_PROVISIONER && basename(path).startsWith('pvc-');
      if (localPath && normalize(path) === path && (await nodeStorageDirs(registry)).has(dirname(path))) continue;
      throw errors.forbidden(
        `persistentvolumes "${pv.metadata.name}" is forbidden: spec.${source}.path ${JSON.stringify(path)} is outside the directories ` +
        `the administrator allows for persistent volumes (${hostPathRoots.join(', ')}; see --pv-host-path-roots)`,
        { name: pv.metadata.name ?? '', kind: 'persistentvolumes' },
      );
    }
  };
  return {
    name: 'StorageAdmission',
    async admitCreate(info, obj) {
      await checkPaths(info, obj);
      if (info.kind !== 'PersistentVolumeClaim' || info.group !== '') return;
      const claim = obj as PersistentVolumeClaim;
      // Only a missing class gets the default; "" explicitly asks for no class.
      if (claim.spec.storageClassName !== undefined && claim.spec.storageClassName !== null) return;
      const list = await registry.list(resourceForKind('StorageClass')!, undefined);
      const chosen = pickDefaultClass(list.items as StorageClass[]);
      if (chosen?.metadata.name) claim.spec.storageClassName = chosen.metadata.name;
    },
    async admitUpdate(info, obj, old) {
      await checkPaths(info, obj, old);
    },
  };
}

/** The built-in `local-path` class, created at start when it does not exist (never overwritten). */
export async function ensureDefaultStorageClass(registry: Registry): Promise<void> {
  const info = resourceForKind('StorageClass')!;
  if (await registry.tryGet(info, undefined, LOCAL_PATH_CLASS)) return;
  const sc: StorageClass = {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: LOCAL_PATH_CLASS, annotations: { [DEFAULT_CLASS_ANNOTATION]: 'true' } },
    provisioner: LOCAL_PATH_PROVISIONER,
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'WaitForFirstConsumer',
  };
  try {
    await registry.create(info, undefined, sc);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}
