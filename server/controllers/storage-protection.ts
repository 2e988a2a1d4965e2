/**
 * Storage object in-use protection (upstream's pvc-protection and pv-protection controllers): a
 * deleted claim keeps `kubernetes.io/pvc-protection` until no pod that may still run uses it, and a
 * deleted volume keeps `kubernetes.io/pv-protection` until it is no longer Bound. Only then is the
 * finalizer removed and the object really goes.
 */
import { isNotFound } from '../../api/status.js';
import {
  PV_PROTECTION_FINALIZER, PVC_PROTECTION_FINALIZER,
  type PersistentVolume, type PersistentVolumeClaim, type Pod,
} from '../../api/types.js';
import type { KubeObject } from '../../api/meta.js';
import { Controller } from '../../api/machinery/controller.js';
import { objectKeyOf, splitKey, type Informer } from '../../api/machinery/informer.js';
import { isTerminated } from '../scheduler/index.js';
import type { ControllerContext } from './context.js';

/** The claims a pod mounts (by name, in its namespace). */
export function claimNamesOf(pod: Pod): string[] {
  const out: string[] = [];
  for (const v of pod.spec.volumes ?? []) if (v.persistentVolumeClaim?.claimName) out.push(v.persistentVolumeClaim.claimName);
  return out;
}

/** A pod that has finished can no longer use its claims; a terminating one still can. */
export function podUsesClaim(pod: Pod, claim: PersistentVolumeClaim): boolean {
  if (pod.metadata.namespace !== claim.metadata.namespace || isTerminated(pod)) return false;
  return claimNamesOf(pod).includes(claim.metadata.name!);
}

class StorageProtectionController {
  private readonly claimQueue: Controller;
  private readonly volumeQueue: Controller;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly claims: Informer<PersistentVolumeClaim>,
    private readonly volumes: Informer<PersistentVolume>,
    private readonly pods: Informer<Pod>,
  ) {
    this.claimQueue = new Controller({ name: 'pvc-protection', reconcile: (key) => this.syncClaim(key) });
    this.volumeQueue = new Controller({ name: 'pv-protection', reconcile: (key) => this.syncVolume(key) });
    const claim = (c: PersistentVolumeClaim): void => { if (c.metadata.deletionTimestamp) this.claimQueue.enqueue(objectKeyOf(c)); };
    claims.addHandlers({ onAdd: claim, onUpdate: (_o, c) => claim(c) });
    const volume = (pv: PersistentVolume): void => { if (pv.metadata.deletionTimestamp) this.volumeQueue.enqueue(pv.metadata.name!); };
    volumes.addHandlers({ onAdd: volume, onUpdate: (_o, pv) => volume(pv) });
    // A pod that finishes or goes may free the claims it mounted.
    const podChanged = (pod: Pod): void => {
      for (const name of claimNamesOf(pod)) this.claimQueue.enqueue(`${pod.metadata.namespace}/${name}`);
    };
    pods.addHandlers({ onUpdate: (_o, p) => { if (isTerminated(p)) podChanged(p); }, onDelete: podChanged });
  }

  start(): void {
    void Promise.all([this.claims.waitForSync(), this.volumes.waitForSync(), this.pods.waitForSync()]).then(() => {
      void this.claimQueue.run(this.ctx.signal);
      void this.volumeQueue.run(this.ctx.signal);
    });
  }

  private async removeFinalizer(kind: string, obj: KubeObject, finalizer: string): Promise<void> {
    const finalizers = (obj.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    try {
      await this.ctx.client.patch(kind, obj.metadata.namespace, obj.metadata.name!, {
        metadata: { resourceVersion: obj.metadata.resourceVersion, finalizers },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private async syncClaim(key: string): Promise<void> {
    const claim = this.claims.get(key);
    if (!claim?.metadata.deletionTimestamp || !claim.metadata.finalizers?.includes(PVC_PROTECTION_FINALIZER)) return;
    const { namespace } = splitKey(key);
    const inUse = this.pods.list().some((p) => p.metadata.namespace === namespace && podUsesClaim(p, claim));
    if (inUse) return;
    await this.removeFinalizer('PersistentVolumeClaim', claim, PVC_PROTECTION_FINALIZER);
  }

  private async syncVolume(key: string): Promise<void> {
    const pv = this.volumes.get(key);
    if (!pv?.metadata.deletionTimestamp || !pv.metadata.finalizers?.includes(PV_PROTECTION_FINALIZER)) return;
    if (pv.status?.phase === 'Bound') return;
    await this.removeFinalizer('PersistentVolume', pv, PV_PROTECTION_FINALIZER);
  }
}

/** Manager entry point. */
export function startStorageProtectionController(ctx: ControllerContext): void {
  new StorageProtectionController(
    ctx,
    ctx.informers.forKind<PersistentVolumeClaim>('PersistentVolumeClaim'),
    ctx.informers.forKind<PersistentVolume>('PersistentVolume'),
    ctx.informers.forKind<Pod>('Pod'),
  ).start();
}
