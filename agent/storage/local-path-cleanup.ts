/**
 * The node's half of the local-path provisioner: when a local-path PersistentVolume on this node is
 * deleted (reclaim policy Delete after its claim went), it still carries `corral.dev/local-path-cleanup`;
 * this loop removes the volume's directory and then the finalizer, so the object goes only once the
 * data is gone. Like rancher's helper pod, it works on this node's volumes only (node affinity to its
 * `kubernetes.io/hostname`), and it removes only a directory directly below this node's storage dir
 * named after the volume's own claim (`pvc-<uid>_<namespace>_<name>`, what the provisioner made): a
 * tampered volume cannot make it delete anything else.
 */
import { rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, normalize } from 'node:path';
import type { ApiClient } from '../../api/client/client.js';
import { log } from '../../api/log.js';
import { Controller } from '../../api/machinery/controller.js';
import { Informer } from '../../api/machinery/informer.js';
import { isNotFound } from '../../api/status.js';
import {
  LOCAL_PATH_CLEANUP_FINALIZER, LOCAL_PATH_PROVISIONER, PROVISIONED_BY_ANNOTATION, type PersistentVolume,
} from '../../api/storage-types.js';

export interface LocalPathCleanupOptions {
  client: ApiClient;
  /** This node's `kubernetes.io/hostname` label value. */
  hostname: string;
  /** This node's local-path storage dir: only directories directly below it are removed. */
  storageDir: string;
  signal: AbortSignal;
}

/** Whether this node must clean this volume up now. */
export function needsCleanup(pv: PersistentVolume, hostname: string): boolean {
  if (!pv.metadata.deletionTimestamp || !pv.metadata.finalizers?.includes(LOCAL_PATH_CLEANUP_FINALIZER)) return false;
  if (pv.metadata.annotations?.[PROVISIONED_BY_ANNOTATION] !== LOCAL_PATH_PROVISIONER) return false;
  const terms = pv.spec.nodeAffinity?.required?.nodeSelectorTerms ?? [];
  return terms.some((t) => t.matchExpressions?.some((e) => e.key === 'kubernetes.io/hostname' && e.operator === 'In' && e.values?.includes(hostname)));
}

/** The directory to remove, or why it may not be removed. */
export function removableDirectory(pv: PersistentVolume, storageDir: string): { path: string } | { refused: string } {
  const path = pv.spec.hostPath?.path;
  if (!path || !isAbsolute(path) || normalize(path) !== path) return { refused: `path ${String(path)} is not a clean absolute path` };
  const ref = pv.spec.claimRef;
  const expected = `pvc-${ref?.uid}_${ref?.namespace}_${ref?.name}`;
  if (!ref?.uid || pv.metadata.name !== `pvc-${ref.uid}` || basename(path) !== expected || dirname(path) !== normalize(storageDir).replace(/\/+$/, '')) {
    return { refused: `${path} is not the directory local-path made for this volume (${storageDir}/${expected})` };
  }
  return { path };
}

export class LocalPathCleanup {
  private readonly volumes: Informer<PersistentVolume>;
  private readonly controller: Controller;

  constructor(private readonly o: LocalPathCleanupOptions) {
    this.volumes = new Informer<PersistentVolume>(o.client, 'PersistentVolume');
    this.controller = new Controller({ name: 'local-path-cleanup', reconcile: (key) => this.reconcile(key) });
    const changed = (pv: PersistentVolume): void => { if (needsCleanup(pv, o.hostname)) this.controller.enqueue(pv.metadata.name!); };
    this.volumes.addHandlers({ onAdd: changed, onUpdate: (_old, pv) => changed(pv) });
  }

  start(): void {
    this.volumes.start(this.o.signal);
    void this.volumes.waitForSync().then(() => this.controller.run(this.o.signal));
  }

  private async reconcile(name: string): Promise<void> {
    const pv = this.volumes.get(name);
    if (!pv || !needsCleanup(pv, this.o.hostname)) return;
    const target = removableDirectory(pv, this.o.storageDir);
    if ('refused' in target) {
      // Keep the finalizer: an admin decides (see docs/operations.md).
      log.warn('local-path', 'not removing a volume directory', { volume: name, reason: target.refused });
      return;
    }
    await rm(target.path, { recursive: true, force: true });
    log.info('local-path', 'removed the directory of a deleted volume', { volume: name, path: target.path });
    try {
      await this.o.client.patch('PersistentVolume', undefined, name, {
        metadata: { resourceVersion: pv.metadata.resourceVersion, finalizers: (pv.metadata.finalizers ?? []).filter((f) => f !== LOCAL_PATH_CLEANUP_FINALIZER) },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
