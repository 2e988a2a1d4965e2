/**
 * Namespace deletion. A deleted Namespace stays `Terminating` while its `spec.finalizers` holds
 * `kubernetes`; this controller deletes every namespaced object in it (each kind of the resource
 * catalogue), reports progress in the namespace's status conditions like upstream
 * (NamespaceContentRemaining, NamespaceFinalizersRemaining, ...), waits until nothing is left, and
 * then removes the finalizer through `PUT /api/v1/namespaces/<ns>/finalize`, which lets the
 * namespace go. Content left behind by a namespace that vanished without the finalizer is deleted too.
 */
import type { Condition, KubeObject } from '../../api/meta.js';
import { rfc3339 } from '../../api/meta.js';
import { deepEqual } from '../../api/object-util.js';
import { customKindKey, customResourcesServed, groupVersionPath, qualifiedResource, STORED_RESOURCES, type ResourceInfo } from '../../api/resources.js';
import { isConflict, isNotFound } from '../../api/status.js';
import { log } from '../../api/log.js';
import type { Namespace } from '../../api/types.js';
import type { ControllerContext } from './context.js';
import { Controller } from '../../api/machinery/controller.js';
import type { Informer } from '../../api/machinery/informer.js';

export const NAMESPACE_FINALIZER = 'kubernetes';
/** How soon a namespace still holding content is looked at again. */
const RECHECK_MS = 1000;

const NAMESPACED: readonly ResourceInfo[] = STORED_RESOURCES.filter((r) => r.namespaced);

/** What a namespace holds: the built-in namespaced kinds and the served custom ones (each CRD once, by its storage version). */
function namespacedResources(): { info: ResourceInfo; kind: string }[] {
  const custom = customResourcesServed().filter((r) => r.namespaced && r.custom?.storageVersion === r.version);
  return [...NAMESPACED.map((info) => ({ info, kind: info.kind })), ...custom.map((info) => ({ info, kind: customKindKey(info) }))];
}

interface Remaining {
  /** `pods.` → count, upstream's wording for the group-qualified resource. */
  counts: Map<string, number>;
  /** finalizer → number of objects still carrying it. */
  finalizers: Map<string, number>;
  failures: string[];
}

function condition(type: string, status: Condition['status'], reason: string, message: string): Condition {
  return { type, status, reason, message };
}

/** The five deletion conditions upstream's namespace controller maintains. */
export function deletionConditions(r: Remaining): Condition[] {
  const content = [...r.counts.entries()].map(([res, n]) => `${res} has ${n} resource instances`).sort();
  const fins = [...r.finalizers.entries()].map(([f, n]) => `${f} in ${n} resource instances`).sort();
  return [
    condition('NamespaceDeletionDiscoveryFailure', 'False', 'ResourcesDiscovered', 'All resources successfully discovered'),
    condition('NamespaceDeletionGroupVersionParsingFailure', 'False', 'ParsedGroupVersions', 'All legacy kube types successfully parsed'),
    r.failures.length > 0
      ? condition('NamespaceDeletionContentFailure', 'True', 'ContentDeletionFailed', `Failed to delete all resource types, ${r.failures.length} remaining: ${r.failures.join(', ')}`)
      : condition('NamespaceDeletionContentFailure', 'False', 'ContentDeleted', 'All content successfully deleted, may be waiting on finalization'),
    content.length > 0
      ? condition('NamespaceContentRemaining', 'True', 'SomeResourcesRemain', `Some resources are remaining: ${content.join(', ')}`)
      : condition('NamespaceContentRemaining', 'False', 'ContentRemoved', 'All content successfully removed'),
    fins.length > 0
      ? condition('NamespaceFinalizersRemaining', 'True', 'SomeFinalizersRemain', `Some content in the namespace has finalizers remaining: ${fins.join(', ')}`)
      : condition('NamespaceFinalizersRemaining', 'False', 'ContentHasNoFinalizers', 'All content-preserving finalizers finished'),
  ];
}

/** Keeps lastTransitionTime of conditions whose status did not change. */
function mergeConditions(prev: readonly Condition[], next: Condition[]): Condition[] {
  const now = rfc3339();
  return next.map((c) => {
    const old = prev.find((p) => p.type === c.type);
    return { ...c, lastTransitionTime: old && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : now };
  });
}

class NamespaceController {
  private readonly controller: Controller;

  constructor(private readonly ctx: ControllerContext, private readonly namespaces: Informer<Namespace>) {
    this.controller = new Controller({ name: 'namespace-controller', workers: 2, reconcile: (key) => this.reconcile(key) });
    namespaces.addHandlers({
      onAdd: (ns) => { if (ns.metadata.deletionTimestamp) this.controller.enqueue(ns.metadata.name!); },
      onUpdate: (_o, ns) => { if (ns.metadata.deletionTimestamp) this.controller.enqueue(ns.metadata.name!); },
      onDelete: (ns) => this.controller.enqueue(ns.metadata.name!),
    });
  }

  start(): void {
    void (async () => {
      await this.namespaces.waitForSync();
      await this.controller.run(this.ctx.signal);
    })();
  }

  private async reconcile(name: string): Promise<{ requeueAfterMs: number } | void> {
    const ns = await this.ctx.client.tryGet<Namespace>('Namespace', undefined, name);
    if (ns && !ns.metadata.deletionTimestamp) return; // re-created, or never deleted
    const remaining = await this.deleteContent(name);
    if (!ns) {
      // Vanished without the finalizer: clean up what was left, until nothing is.
      return remaining.counts.size > 0 ? { requeueAfterMs: RECHECK_MS } : undefined;
    }
    await this.reportConditions(ns, remaining);
    if (remaining.counts.size > 0 || remaining.failures.length > 0) return { requeueAfterMs: RECHECK_MS };
    const finalizers = ns.spec?.finalizers ?? [];
    if (!finalizers.includes(NAMESPACE_FINALIZER)) return;
    const body: Namespace = {
      apiVersion: 'v1', kind: 'Namespace',
      metadata: { name, resourceVersion: ns.metadata.resourceVersion! },
      spec: { finalizers: finalizers.filter((f) => f !== NAMESPACE_FINALIZER) },
    };
    await this.ctx.client.call('PUT', `/api/v1/namespaces/${encodeURIComponent(name)}/finalize`, body);
    log.info('namespace-controller', 'namespace finalized', { namespace: name });
  }

  /** Deletes every object of every namespaced kind in `namespace`; reports what is still there. */
  private async deleteContent(namespace: string): Promise<Remaining> {
    const r: Remaining = { counts: new Map(), finalizers: new Map(), failures: [] };
    await Promise.all(namespacedResources().map(async ({ info, kind }) => {
      let items: KubeObject[];
      try {
        items = (await this.ctx.client.listAll(kind, namespace)).items;
      } catch (err) {
        r.failures.push(`${qualifiedResource(info)}: ${(err as Error).message}`);
        return;
      }
      if (items.length === 0) return;
      r.counts.set(`${info.plural}.${info.group}`, items.length);
      for (const item of items) {
        for (const f of item.metadata.finalizers ?? []) r.finalizers.set(f, (r.finalizers.get(f) ?? 0) + 1);
        if (item.metadata.deletionTimestamp) continue;
        try {
          await this.ctx.client.delete(kind, namespace, item.metadata.name!, {
            propagationPolicy: 'Background', preconditions: { uid: item.metadata.uid! },
          });
        } catch (err) {
          if (isNotFound(err) || isConflict(err)) continue;
          r.failures.push(`${groupVersionPath(info)}/${info.plural}: ${(err as Error).message}`);
        }
      }
    }));
    return r;
  }

  private async reportConditions(ns: Namespace, r: Remaining): Promise<void> {
    const prev = ns.status?.conditions ?? [];
    const next = mergeConditions(prev, deletionConditions(r));
    const strip = (cs: readonly Condition[]): unknown => cs.map(({ lastTransitionTime: _t, ...c }) => c);
    if (deepEqual(strip(prev), strip(next)) && ns.status?.phase === 'Terminating') return;
    try {
      await this.ctx.client.patchStatus('Namespace', undefined, ns.metadata.name!, { status: { phase: 'Terminating', conditions: next } }, 'merge');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

export function startNamespaceController(ctx: ControllerContext): void {
  new NamespaceController(ctx, ctx.informers.forKind<Namespace>('Namespace')).start();
}
