/**
 * The built-in local-path provisioner (k3s ships rancher's as a pod; corral runs it in the server).
 * For a claim the binder handed to `rancher.io/local-path` and the scheduler gave a node
 * (`volume.kubernetes.io/selected-node`), it creates a PersistentVolume `pvc-<claim uid>`:
 * a hostPath directory `<storage-dir>/pvc-<uid>_<namespace>_<name>` (type DirectoryOrCreate: the
 * agent creates it when the first pod mounts it), node affinity to that node, the class's reclaim
 * policy, and the claim reserved in claimRef so the binder binds exactly this pair.
 *
 * The volume carries `corral.dev/local-path-cleanup`: when it is deleted, the agent of its node removes
 * the directory and then the finalizer (agent/storage/local-path-cleanup.ts). A volume whose node is
 * gone for good keeps the finalizer until an admin removes it (docs/operations.md).
 *
 * A claim it cannot serve stays Pending with a ProvisioningFailed event saying why: access modes other
 * than ReadWriteOnce/ReadWriteOncePod, an Immediate class (a local volume needs the consumer's node
 * first), or more storage than the node's filesystem has.
 */
import { join } from 'node:path';
import { isAlreadyExists } from '../../api/status.js';
import {
  LOCAL_PATH_CLEANUP_FINALIZER, LOCAL_PATH_PROVISIONER, NODE_STORAGE_DIR_ANNOTATION, PROVISIONED_BY_ANNOTATION, SELECTED_NODE_ANNOTATION,
  STORAGE_PROVISIONER_ANNOTATION,
  type Node, type PersistentVolume, type PersistentVolumeClaim, type StorageClass,
} from '../../api/types.js';
import { Controller } from '../../api/machinery/controller.js';
import { createEventRecorder, type EventRecorder } from '../../api/machinery/events.js';
import { objectKeyOf } from '../../api/machinery/informer.js';
import { claimClass, claimRequest, localPathClaimProblem, localPathNodeProblem } from '../scheduler/volume-match.js';
import type { ControllerContext } from './context.js';
import { storageInformers, storageSynced, type StorageInformers } from './persistent-volume.js';

/** The PV name for a claim, as upstream provisioners name them. */
export function provisionedVolumeName(claim: PersistentVolumeClaim): string {
  return `pvc-${claim.metadata.uid}`;
}

/** The PersistentVolume local-path makes for a claim on a node. */
export function localPathVolume(claim: PersistentVolumeClaim, sc: StorageClass, node: Node, storageDir: string): PersistentVolume {
  const nodeName = node.metadata.name!;
  // Agents label their Node with kubernetes.io/hostname, which may differ from its name.
  const hostname = node.metadata.labels?.['kubernetes.io/hostname'] ?? nodeName;
  const ns = claim.metadata.namespace!;
  const name = claim.metadata.name!;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: {
      name: provisionedVolumeName(claim),
      annotations: { [PROVISIONED_BY_ANNOTATION]: LOCAL_PATH_PROVISIONER, 'local.path.provisioner/selected-node': nodeName },
      finalizers: [LOCAL_PATH_CLEANUP_FINALIZER],
    },
    spec: {
      capacity: { storage: claimRequest(claim) },
      accessModes: [...(claim.spec.accessModes ?? [])],
      persistentVolumeReclaimPolicy: sc.reclaimPolicy ?? 'Delete',
      storageClassName: sc.metadata.name!,
      volumeMode: 'Filesystem',
      claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: ns, name, uid: claim.metadata.uid!, resourceVersion: claim.metadata.resourceVersion! },
      hostPath: { path: join(storageDir, `pvc-${claim.metadata.uid}_${ns}_${name}`), type: 'DirectoryOrCreate' },
      nodeAffinity: {
        required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [hostname] }] }] },
      },
      ...(sc.mountOptions ? { mountOptions: [...sc.mountOptions] } : {}),
    },
  };
}

class LocalPathProvisioner {
  private readonly controller: Controller;
  private readonly events: EventRecorder;

  constructor(private readonly ctx: ControllerContext, private readonly informers: StorageInformers) {
    const { claims } = informers;
    this.events = createEventRecorder(ctx.client, { component: `${LOCAL_PATH_PROVISIONER}_corral` });
    this.controller = new Controller({ name: 'local-path-provisioner', reconcile: (key) => this.sync(key) });
    const enqueue = (c: PersistentVolumeClaim): void => this.controller.enqueue(objectKeyOf(c));
    claims.addHandlers({ onAdd: enqueue, onUpdate: (_o, c) => enqueue(c) });
  }

  start(): void {
    void storageSynced(this.informers).then(() => this.controller.run(this.ctx.signal));
  }

  private async sync(key: string): Promise<void> {
    const claim = this.informers.claims.get(key);
    if (!claim || claim.metadata.deletionTimestamp || claim.spec.volumeName) return;
    const sc = this.informers.classes.get(claimClass(claim));
    if (!sc || sc.provisioner !== LOCAL_PATH_PROVISIONER) return;
    const failed = (problem: string): void =>
      this.events.record(claim, 'Warning', 'ProvisioningFailed', `failed to provision volume with StorageClass "${sc.metadata.name}": ${problem}`);
    // A claim no node could serve is told so at once, before any pod waits for it.
    const claimProblem = localPathClaimProblem(claim, sc);
    if (claimProblem !== undefined) return failed(claimProblem);
    if (claim.metadata.annotations?.[STORAGE_PROVISIONER_ANNOTATION] !== LOCAL_PATH_PROVISIONER) return;
    if (this.informers.volumes.get(provisionedVolumeName(claim))) return;
    const nodeName = claim.metadata.annotations?.[SELECTED_NODE_ANNOTATION];
    if (!nodeName) return;
    const node = this.informers.nodes.get(nodeName);
    const nodeProblem = node ? localPathNodeProblem(claim, node) : undefined;
    if (nodeProblem !== undefined) return failed(nodeProblem);
    if (!node) return failed(`selected node "${nodeName}" not found`);
    this.events.record(claim, 'Normal', 'Provisioning', `External provisioner is provisioning volume for claim "${key}"`);
    // The node's agent says where its volumes live; the server's --storage-dir otherwise.
    const dir = node.metadata.annotations?.[NODE_STORAGE_DIR_ANNOTATION] ?? this.ctx.settings.storageDir;
    const pv = localPathVolume(claim, sc, node, dir);
    try {
      await this.ctx.client.create('PersistentVolume', undefined, pv);
    } catch (err) {
      if (isAlreadyExists(err)) return;
      failed((err as Error).message);
      throw err;
    }
    this.events.record(claim, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${pv.metadata.name}`);
  }
}

/** Manager entry point. */
export function startLocalPathProvisioner(ctx: ControllerContext): void {
  new LocalPathProvisioner(ctx, storageInformers(ctx)).start();
}
