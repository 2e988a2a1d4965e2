/**
 * The PersistentVolume controller (upstream's "binder"): claims and volumes are synced separately,
 * each level-triggered.
 *
 * Claim sync: an unbound claim binds to the smallest matching Available volume (class, access modes,
 * size, volume mode, selector). With a WaitForFirstConsumer class that waits until the scheduler has
 * put `volume.kubernetes.io/selected-node` on the claim, and then only volumes usable on that node
 * count. With no volume to bind, a class with a provisioner gets `volume.kubernetes.io/storage-provisioner`
 * (the provisioner takes it from there); otherwise the claim stays Pending with an event that says why.
 * Binding writes, in order, the volume's claimRef, its Bound phase, the claim's volumeName and the
 * claim's Bound phase, so a crash between steps is finished by the next sync.
 *
 * Volume sync: phase Available / Bound; when its claim is gone, Released, then the reclaim policy:
 * Retain keeps it Released (an admin clears claimRef to reuse it); Delete deletes the object when the
 * local-path provisioner made it (the node's agent removes the directory before the object goes, see
 * agent/storage), and marks any other volume Failed: corral deletes no data it did not create.
 */
import { rfc3339 } from '../../api/meta.js';
import { clone } from '../../api/object-util.js';
import { isConflict, isNotFound } from '../../api/status.js';
import {
  BIND_COMPLETED_ANNOTATION, BOUND_BY_CONTROLLER_ANNOTATION, LOCAL_PATH_PROVISIONER, PROVISIONED_BY_ANNOTATION,
  SELECTED_NODE_ANNOTATION, STORAGE_PROVISIONER_ANNOTATION,
  type Node, type PersistentVolume, type PersistentVolumeClaim, type PersistentVolumePhase, type StorageClass,
} from '../../api/types.js';
import { Controller } from '../../api/machinery/controller.js';
import { createEventRecorder, type EventRecorder } from '../../api/machinery/events.js';
import { objectKeyOf, splitKey, type Informer } from '../../api/machinery/informer.js';
import { claimClass, findMatchingVolume, volumeFitsNode, volumeReservedFor } from '../scheduler/volume-match.js';
import type { ControllerContext } from './context.js';

/** A class whose claims only ever bind to pre-made volumes. */
const NO_PROVISIONER = 'kubernetes.io/no-provisioner';

function ignoreGone(err: unknown): void {
  if (!isNotFound(err) && !isConflict(err)) throw err;
}

/** The caches the binder and the local-path provisioner both read. */
export interface StorageInformers {
  claims: Informer<PersistentVolumeClaim>;
  volumes: Informer<PersistentVolume>;
  classes: Informer<StorageClass>;
  nodes: Informer<Node>;
}

export function storageInformers(ctx: ControllerContext): StorageInformers {
  return {
    claims: ctx.informers.forKind<PersistentVolumeClaim>('PersistentVolumeClaim'),
    volumes: ctx.informers.forKind<PersistentVolume>('PersistentVolume'),
    classes: ctx.informers.forKind<StorageClass>('StorageClass'),
    nodes: ctx.informers.forKind<Node>('Node'),
  };
}

/** Resolves once every storage cache is filled. */
export function storageSynced(i: StorageInformers): Promise<unknown> {
  return Promise.all([i.claims.waitForSync(), i.volumes.waitForSync(), i.classes.waitForSync(), i.nodes.waitForSync()]);
}

export class PersistentVolumeController {
  readonly claimSync: Controller;
  readonly volumeSync: Controller;
  private readonly events: EventRecorder;

  constructor(private readonly ctx: ControllerContext, private readonly informers: StorageInformers) {
    const { claims, volumes, classes } = informers;
    this.events = createEventRecorder(ctx.client, 'persistentvolume-controller');
    this.claimSync = new Controller({ name: 'persistentvolume-claims', reconcile: (key) => this.syncClaim(key) });
    this.volumeSync = new Controller({ name: 'persistentvolume-volumes', reconcile: (key) => this.syncVolume(key) });
    const claimChanged = (c: PersistentVolumeClaim): void => {
      this.claimSync.enqueue(objectKeyOf(c));
      // The claim's volume (or a volume promised to it) may need a new phase.
      if (c.spec.volumeName) this.volumeSync.enqueue(c.spec.volumeName);
      for (const pv of this.informers.volumes.list()) {
        const ref = pv.spec.claimRef;
        if (ref?.name === c.metadata.name && ref?.namespace === c.metadata.namespace) this.volumeSync.enqueue(pv.metadata.name!);
      }
    };
    claims.addHandlers({ onAdd: claimChanged, onUpdate: (_o, c) => claimChanged(c), onDelete: claimChanged });
    const volumeChanged = (pv: PersistentVolume): void => {
      this.volumeSync.enqueue(pv.metadata.name!);
      const ref = pv.spec.claimRef;
      if (ref?.name) this.claimSync.enqueue(`${ref.namespace ?? ''}/${ref.name}`);
      // A new or freed volume may be what a pending claim waits for.
      if (!ref?.uid) for (const c of this.informers.claims.list()) if (!c.spec.volumeName) this.claimSync.enqueue(objectKeyOf(c));
    };
    volumes.addHandlers({ onAdd: volumeChanged, onUpdate: (_o, pv) => volumeChanged(pv), onDelete: volumeChanged });
    classes.addHandlers({ onAdd: () => this.pendingClaims(), onUpdate: () => this.pendingClaims() });
  }

  private pendingClaims(): void {
    for (const c of this.informers.claims.list()) if (c.status?.phase !== 'Bound') this.claimSync.enqueue(objectKeyOf(c));
  }

  start(): void {
    void storageSynced(this.informers).then(() => {
      void this.claimSync.run(this.ctx.signal);
      void this.volumeSync.run(this.ctx.signal);
    });
  }

  // ------------------------------------------------------------------ claims

  private async syncClaim(key: string): Promise<void> {
    const claim = this.informers.claims.get(key);
    if (!claim || claim.metadata.deletionTimestamp) return;
    if (claim.spec.volumeName) return this.syncBoundClaim(claim, claim.spec.volumeName);

    const className = claimClass(claim);
    const sc = className === '' ? undefined : this.informers.classes.get(className);
    const waitForConsumer = sc?.volumeBindingMode === 'WaitForFirstConsumer';
    const selectedNode = claim.metadata.annotations?.[SELECTED_NODE_ANNOTATION];
    if (waitForConsumer && !selectedNode) {
      this.events.record(claim, 'Normal', 'WaitForFirstConsumer', 'waiting for first consumer to be created before binding');
      return;
    }
    const node = selectedNode ? this.informers.nodes.get(selectedNode) : undefined;
    const fitsNode = waitForConsumer ? (pv: PersistentVolume): boolean => node !== undefined && volumeFitsNode(pv, node.metadata.name!, node.metadata.labels ?? {}) : undefined;
    const pv = findMatchingVolume(claim, this.informers.volumes.list(), fitsNode);
    if (pv) return this.bind(claim, pv);

    if (className !== '' && !sc) {
      this.events.record(claim, 'Warning', 'ProvisioningFailed', `storageclass.storage.k8s.io "${className}" not found`);
      return;
    }
    if (!sc || sc.provisioner === NO_PROVISIONER) {
      const why = sc ? `no persistent volumes available for this claim and storage class "${className}" has no provisioner`
        : 'no persistent volumes available for this claim and no storage class is set';
      this.events.record(claim, 'Normal', 'FailedBinding', why);
      return;
    }
    if (claim.metadata.annotations?.[STORAGE_PROVISIONER_ANNOTATION] !== sc.provisioner) {
      await this.ctx.client.patch('PersistentVolumeClaim', claim.metadata.namespace, claim.metadata.name!, {
        metadata: { annotations: { [STORAGE_PROVISIONER_ANNOTATION]: sc.provisioner, 'volume.beta.kubernetes.io/storage-provisioner': sc.provisioner } },
      }).catch(ignoreGone);
    }
    if (sc.provisioner !== LOCAL_PATH_PROVISIONER) {
      this.events.record(claim, 'Normal', 'ExternalProvisioning',
        `Waiting for a volume to be created either by the external provisioner '${sc.provisioner}' or manually by the system administrator. ` +
        'If volume creation is delayed, please verify that the provisioner is running and correctly registered.');
    }
  }

  /** A claim naming its volume: finish the binding if the volume is free or already ours. */
  private async syncBoundClaim(claim: PersistentVolumeClaim, volumeName: string): Promise<void> {
    const pv = this.informers.volumes.get(volumeName);
    if (!pv) {
      if (claim.status?.phase === 'Bound') {
        await this.setClaimPhase(claim, 'Lost');
        this.events.record(claim, 'Warning', 'ClaimLost', 'Bound claim has lost its PersistentVolume. Data on the volume is lost!');
      }
      return;
    }
    if (pv.spec.claimRef?.name && !volumeReservedFor(pv, claim)) {
      this.events.record(claim, 'Warning', 'FailedBinding', `volume "${volumeName}" already bound to a different claim.`);
      return;
    }
    await this.bind(claim, pv);
  }

  private async bind(claim: PersistentVolumeClaim, pv: PersistentVolume): Promise<void> {
    const ns = claim.metadata.namespace!;
    const name = claim.metadata.name!;
    let volume = pv;
    if (pv.spec.claimRef?.uid !== claim.metadata.uid) {
      volume = await this.ctx.client.patch<PersistentVolume>('PersistentVolume', undefined, pv.metadata.name!, {
        metadata: {
          resourceVersion: pv.metadata.resourceVersion,
          ...(pv.spec.claimRef?.name ? {} : { annotations: { [BOUND_BY_CONTROLLER_ANNOTATION]: 'yes' } }),
        },
        spec: { claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: ns, name, uid: claim.metadata.uid, resourceVersion: claim.metadata.resourceVersion } },
      });
    }
    if (volume.status?.phase !== 'Bound') volume = await this.setVolumePhase(volume, 'Bound');
    let bound = claim;
    if (claim.spec.volumeName !== pv.metadata.name || claim.metadata.annotations?.[BIND_COMPLETED_ANNOTATION] !== 'yes') {
      bound = await this.ctx.client.patch<PersistentVolumeClaim>('PersistentVolumeClaim', ns, name, {
        metadata: {
          resourceVersion: claim.metadata.resourceVersion,
          annotations: { [BIND_COMPLETED_ANNOTATION]: 'yes', ...(claim.spec.volumeName ? {} : { [BOUND_BY_CONTROLLER_ANNOTATION]: 'yes' }) },
        },
        spec: { volumeName: pv.metadata.name },
      });
    }
    const status = bound.status;
    if (status?.phase !== 'Bound' || status.capacity?.['storage'] !== volume.spec.capacity?.['storage']) {
      await this.ctx.client.patchStatus('PersistentVolumeClaim', ns, name, {
        metadata: { uid: claim.metadata.uid },
        status: { phase: 'Bound', accessModes: volume.spec.accessModes ?? [], capacity: clone(volume.spec.capacity ?? {}) },
      });
    }
  }

  private async setClaimPhase(claim: PersistentVolumeClaim, phase: 'Lost' | 'Pending'): Promise<void> {
    await this.ctx.client.patchStatus('PersistentVolumeClaim', claim.metadata.namespace, claim.metadata.name!, {
      metadata: { uid: claim.metadata.uid }, status: { phase },
    }).catch(ignoreGone);
  }

  // ------------------------------------------------------------------ volumes

  private setVolumePhase(pv: PersistentVolume, phase: PersistentVolumePhase, message?: string): Promise<PersistentVolume> {
    return this.ctx.client.patchStatus<PersistentVolume>('PersistentVolume', undefined, pv.metadata.name!, {
      metadata: { uid: pv.metadata.uid },
      status: { phase, message: message ?? null, lastPhaseTransitionTime: rfc3339() },
    });
  }

  private async syncVolume(key: string): Promise<void> {
    const pv = this.informers.volumes.get(splitKey(key).name);
    if (!pv) return;
    const ref = pv.spec.claimRef;
    const phase = pv.status?.phase;
    if (!ref?.name) {
      if (phase !== 'Available' && !pv.metadata.deletionTimestamp) await this.setVolumePhase(pv, 'Available').catch(ignoreGone);
      return;
    }
    const claim = this.informers.claims.get(`${ref.namespace ?? ''}/${ref.name}`);
    if (!ref.uid) {
      // Promised to a claim by name only: the claim's sync binds it.
      if (phase !== 'Available' && !pv.metadata.deletionTimestamp) await this.setVolumePhase(pv, 'Available').catch(ignoreGone);
      return;
    }
    if (claim && claim.metadata.uid === ref.uid) {
      // The claim's sync completes a half-done binding; a finished one just needs the phase.
      if (claim.spec.volumeName === pv.metadata.name && phase !== 'Bound') await this.setVolumePhase(pv, 'Bound').catch(ignoreGone);
      return;
    }
    // The claim is gone (or a new claim took its name): release and reclaim.
    if (phase !== 'Released' && phase !== 'Failed') {
      await this.setVolumePhase(pv, 'Released').catch(ignoreGone);
      return;
    }
    if (phase === 'Failed' || pv.metadata.deletionTimestamp) return;
    await this.reclaim(pv);
  }

  private async reclaim(pv: PersistentVolume): Promise<void> {
    const policy = pv.spec.persistentVolumeReclaimPolicy ?? 'Retain';
    if (policy === 'Retain') return;
    if (policy === 'Delete' && pv.metadata.annotations?.[PROVISIONED_BY_ANNOTATION] === LOCAL_PATH_PROVISIONER) {
      await this.ctx.client.delete('PersistentVolume', undefined, pv.metadata.name!, { preconditions: { uid: pv.metadata.uid! } }).catch(ignoreGone);
      return;
    }
    const message = policy === 'Recycle'
      ? 'Recycle is deprecated and not supported: use Retain or Delete'
      : `no volume plugin deletes this volume: corral only deletes volumes made by ${LOCAL_PATH_PROVISIONER}; remove the data yourself and delete the PersistentVolume`;
    this.events.record(pv, 'Warning', policy === 'Recycle' ? 'VolumeFailedRecycle' : 'VolumeFailedDelete', message);
    await this.setVolumePhase(pv, 'Failed', message).catch(ignoreGone);
  }
}

/** Manager entry point. */
export function startPersistentVolumeController(ctx: ControllerContext): PersistentVolumeController {
  const c = new PersistentVolumeController(ctx, storageInformers(ctx));
  c.start();
  return c;
}
