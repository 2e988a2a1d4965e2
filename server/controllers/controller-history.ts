/**
 * ControllerRevisions: the template history of StatefulSets and DaemonSets (upstream's
 * controller/history package). Each revision holds the patch that puts its template back
 * (`{"spec":{"template":{…,"$patch":"replace"}}}`, what `kubectl rollout undo` applies), carries the
 * template's labels (so `kubectl rollout history` finds it by the owner's selector), the owner's
 * annotations (its CHANGE-CAUSE) and a controller reference. A template seen before reuses its old
 * revision, renumbered as the newest (what a rollback looks like upstream); history beyond
 * `revisionHistoryLimit` is trimmed, never a revision a live pod still runs.
 */
import { createHash } from 'node:crypto';
import type { ApiClient } from '../../api/client/client.js';
import type { KubeObject, LabelSelector } from '../../api/meta.js';
import { clone, deepEqual, compareStrings } from '../../api/object-util.js';
import { isAlreadyExists, isNotFound } from '../../api/status.js';
import type { ControllerRevision, PodTemplateSpec } from '../../api/types.js';
import type { Informer } from '../../api/machinery/informer.js';
import { controllerRef, isControlledBy } from './pod-control.js';

export const REVISION_LABEL = 'controller-revision-hash';

/** What history needs of its owner (a StatefulSet or DaemonSet). */
export interface HistoryOwner {
  obj: KubeObject;
  apiVersion: string;
  kind: string;
  template: PodTemplateSpec;
  revisionHistoryLimit: number | undefined;
}

/** JSON with sorted keys, so equal templates hash equally whatever order their keys came in. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function revisionHashOf(template: PodTemplateSpec): string {
  return createHash('sha256').update(canonical(template)).digest('hex').slice(0, 10);
}

/** The patch a revision stores: applying it (strategic merge) restores the template. */
export function revisionData(template: PodTemplateSpec): { spec: { template: Record<string, unknown> } } {
  return { spec: { template: { ...(clone(template) as unknown as Record<string, unknown>), $patch: 'replace' } } };
}

/** The template a revision restores. */
export function templateOfRevision(cr: ControllerRevision): PodTemplateSpec | undefined {
  const template = (cr.data as { spec?: { template?: Record<string, unknown> } } | undefined)?.spec?.template;
  if (!template) return undefined;
  const { $patch: _directive, ...rest } = template;
  return rest as unknown as PodTemplateSpec;
}

export function templateLabelsSelector(template: PodTemplateSpec): LabelSelector {
  return { matchLabels: { ...(template.metadata?.labels ?? {}) } };
}

export class ControllerHistory {
  constructor(private readonly client: ApiClient, private readonly revisions: Informer<ControllerRevision>) {}

  /** The owner's revisions, oldest first. */
  owned(owner: KubeObject): ControllerRevision[] {
    return this.revisions.listNamespace(owner.metadata.namespace ?? 'default')
      .filter((r) => isControlledBy(r, owner.metadata.uid))
      .sort((a, b) => a.revision - b.revision || compareStrings(a.metadata.name ?? '', b.metadata.name ?? ''));
  }

  /**
   * The revision of the owner's current template, created or renumbered as the newest when needed.
   * `name` is the revision name to use when a new one is made.
   */
  async ensureUpdateRevision(owner: HistoryOwner, name: string): Promise<ControllerRevision> {
    const revisions = this.owned(owner.obj);
    const max = revisions.reduce((m, r) => Math.max(m, r.revision), 0);
    const wanted = revisionData(owner.template);
    const same = revisions.find((r) => deepEqual(templateOfRevision(r), owner.template));
    if (same) {
      if (same.revision === max) return same;
      return this.client.patch<ControllerRevision>('ControllerRevision', same.metadata.namespace, same.metadata.name!, {
        metadata: { resourceVersion: same.metadata.resourceVersion, annotations: { ...(owner.obj.metadata.annotations ?? {}) } },
        revision: max + 1,
      });
    }
    const cr: ControllerRevision = {
      apiVersion: 'apps/v1',
      kind: 'ControllerRevision',
      metadata: {
        name,
        namespace: owner.obj.metadata.namespace!,
        labels: { ...(owner.template.metadata?.labels ?? {}), [REVISION_LABEL]: name.slice(name.lastIndexOf('-') + 1) },
        annotations: { ...(owner.obj.metadata.annotations ?? {}) },
        ownerReferences: [controllerRef({ apiVersion: owner.apiVersion, kind: owner.kind, name: owner.obj.metadata.name!, uid: owner.obj.metadata.uid! })],
      },
      data: wanted,
      revision: max + 1,
    };
    try {
      return await this.client.create<ControllerRevision>('ControllerRevision', cr.metadata.namespace, cr);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      // Made by an earlier attempt whose result the cache has not shown yet.
      return this.client.get<ControllerRevision>('ControllerRevision', cr.metadata.namespace, name);
    }
  }

  /** Deletes the oldest revisions beyond the limit, sparing those named in `live`. */
  async truncate(owner: HistoryOwner, live: ReadonlySet<string>): Promise<void> {
    const limit = owner.revisionHistoryLimit ?? 10;
    const old = this.owned(owner.obj).filter((r) => !live.has(r.metadata.name!));
    for (const r of old.slice(0, Math.max(0, old.length - limit))) {
      try {
        await this.client.delete('ControllerRevision', r.metadata.namespace, r.metadata.name!, { preconditions: { uid: r.metadata.uid! } });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }
}
