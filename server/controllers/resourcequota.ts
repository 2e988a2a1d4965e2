/**
 * ResourceQuota controller (upstream's resourcequota controller): keeps each quota's status.hard equal
 * to spec.hard and status.used equal to what the namespace's objects cost now (creates are charged
 * by admission at once; this loop also gives back what deleted and finished objects held).
 * reconcile(ns/name) lists the kinds the quota's resources count. As upstream's replenishment, only
 * events that give something back (deletions, pods that finished) requeue their namespace's quotas —
 * creates are already charged — and every quota is looked at again every 30 s. The write is
 * conditional on the quota's resourceVersion read before listing, so a charge admitted meanwhile
 * makes it a conflict (and a retry) instead of being lost.
 */
import type { KubeObject } from '../../api/meta.js';
import { deepEqual } from '../../api/object-util.js';
import { resourceForKind, resourceForPlural, type ResourceInfo } from '../../api/resources.js';
import type { ResourceQuota } from '../../api/types.js';
import { Controller } from '../../api/machinery/controller.js';
import { objectKeyOf, type Informer } from '../../api/machinery/informer.js';
import { quotaCovers, totalUsage, usageOf } from '../apiserver/quota/usage.js';
import type { ControllerContext } from './context.js';

const RESYNC_MS = 30_000;
const WATCHED_KINDS = ['Pod', 'Service', 'ConfigMap', 'Secret', 'ReplicationController', 'PersistentVolumeClaim'];

/** The kinds whose objects a quota resource name counts. */
export function kindsCounted(resourceName: string): ResourceInfo[] {
  const kind = (k: string): ResourceInfo[] => [resourceForKind(k)!];
  if (resourceName === 'pods' || /^(requests|limits)\./.test(resourceName) && resourceName !== 'requests.storage') return kind('Pod');
  if (resourceName === 'cpu' || resourceName === 'memory' || resourceName === 'ephemeral-storage') return kind('Pod');
  if (resourceName.startsWith('services')) return kind('Service');
  const legacy: Record<string, string> = {
    configmaps: 'ConfigMap', secrets: 'Secret', replicationcontrollers: 'ReplicationController', resourcequotas: 'ResourceQuota',
    persistentvolumeclaims: 'PersistentVolumeClaim', 'requests.storage': 'PersistentVolumeClaim',
  };
  if (legacy[resourceName]) return kind(legacy[resourceName]!);
  const m = /^count\/([^.]+)(?:\.(.+))?$/.exec(resourceName);
  const info = m ? resourceForPlural(m[2] ?? '', m[1]!) : undefined;
  return info && info.namespaced && !info.createOnly ? [info] : [];
}

class ResourceQuotaController {
  private readonly controller: Controller;

  constructor(private readonly ctx: ControllerContext, private readonly quotas: Informer<ResourceQuota>, watched: Informer[]) {
    this.controller = new Controller({ name: 'resourcequota-controller', workers: 2, reconcile: (key) => this.reconcile(key) });
    // As upstream: a quota is looked at when it is new or its hard limits change, not when admission
    // charged it. Recomputing on a charge would race the charged object's own write (the quota is
    // charged before the object is stored) and could write the charge away.
    const hardChanged = (old: ResourceQuota, next: ResourceQuota): boolean =>
      !deepEqual(old.spec?.hard ?? {}, next.spec?.hard ?? {}) || !deepEqual(next.status?.hard ?? {}, next.spec?.hard ?? {});
    quotas.addHandlers({
      onAdd: (q) => this.controller.enqueue(objectKeyOf(q)),
      onUpdate: (old, q) => { if (hardChanged(old, q)) this.controller.enqueue(objectKeyOf(q)); },
    });
    const requeueNamespace = (obj: KubeObject): void => {
      for (const q of quotas.listNamespace(obj.metadata.namespace ?? '')) this.controller.enqueue(objectKeyOf(q));
    };
    for (const inf of watched) {
      const info = resourceForKind(inf.kind)!;
      inf.addHandlers({
        onUpdate: (old, next) => { if (!deepEqual(usageOf(info, old), usageOf(info, next))) requeueNamespace(next); },
        onDelete: requeueNamespace,
      });
    }
  }

  start(): void {
    void (async () => {
      await this.quotas.waitForSync();
      await this.controller.run(this.ctx.signal);
    })();
  }

  async reconcile(key: string): Promise<{ requeueAfterMs: number } | void> {
    const cached = this.quotas.get(key);
    if (!cached) return;
    const quota = await this.ctx.client.get<ResourceQuota>('ResourceQuota', cached.metadata.namespace, cached.metadata.name!);
    const ns = quota.metadata.namespace!;
    const hard = quota.spec?.hard ?? {};
    const kinds = new Map<string, ResourceInfo>();
    for (const name of Object.keys(hard)) for (const info of kindsCounted(name)) kinds.set(info.kind, info);
    const items: { info: ResourceInfo; obj: KubeObject }[] = [];
    for (const info of kinds.values()) {
      const list = await this.ctx.client.list(info.kind, ns);
      for (const obj of list.items) if (quotaCovers(quota, info, obj)) items.push({ info, obj });
    }
    const status = { hard: { ...hard }, used: totalUsage(hard, items) };
    if (!deepEqual(status, quota.status ?? {})) await this.ctx.client.updateStatus('ResourceQuota', { ...quota, status });
    return { requeueAfterMs: RESYNC_MS };
  }
}

export function startResourceQuotaController(ctx: ControllerContext): void {
  const watched = WATCHED_KINDS.map((k) => ctx.informers.forKind(k));
  new ResourceQuotaController(ctx, ctx.informers.forKind<ResourceQuota>('ResourceQuota'), watched).start();
}
