/**
 * The apiextensions controllers in one loop (informer → queue → reconcile(name)), run by every API
 * server whether or not it runs the other controllers, as upstream's apiextensions-apiserver does:
 *  - naming: accepts a CRD's names unless another CRD of its group holds them (NamesAccepted, with
 *    upstream's reasons: PluralConflict, SingularConflict, ShortNamesConflict, KindConflict,
 *    ListKindConflict), then Established;
 *  - serving: the established CRDs' versions become served resources (discovery, routes) at once;
 *  - finalizing: a deleted CRD's objects are deleted, then its cleanup finalizer is removed.
 */
import {
  CUSTOM_RESOURCE_CLEANUP_FINALIZER, type CustomResourceDefinition, type CustomResourceDefinitionCondition, type CustomResourceDefinitionNames,
} from '../../../api/apiextensions-types.js';
import type { ApiClient } from '../../../api/client/client.js';
import { Controller } from '../../../api/machinery/controller.js';
import { Informer } from '../../../api/machinery/informer.js';
import { log } from '../../../api/log.js';
import { deepEqual } from '../../../api/object-util.js';
import { customResourcesServed, resourceForKind, setCustomResources, type ResourceInfo } from '../../../api/resources.js';
import { isNotFound } from '../../../api/status.js';
import type { Registry } from '../registry.js';
import { setCondition } from './crd-strategy.js';
import { customResourcesOf, isConditionTrue } from './custom-resources.js';

const CRD_INFO = resourceForKind('CustomResourceDefinition')!;
/** How soon a CRD whose objects are still going (finalizers of their own) is looked at again. */
const CLEANUP_RECHECK_MS = 1_000;

/** Names of one group already accepted by other CRDs. */
function acceptedNamesOfGroup(crds: readonly CustomResourceDefinition[], self: CustomResourceDefinition): { resources: Set<string>; kinds: Set<string> } {
  const resources = new Set<string>();
  const kinds = new Set<string>();
  for (const other of crds) {
    if (other.metadata.name === self.metadata.name || other.spec.group !== self.spec.group) continue;
    const n = other.status?.acceptedNames;
    if (!n) continue;
    for (const r of [n.plural, n.singular ?? '', ...(n.shortNames ?? [])]) if (r) resources.add(r);
    for (const k of [n.kind, n.listKind ?? '']) if (k) kinds.add(k);
  }
  return { resources, kinds };
}

function inUse(requested: string, accepted: string | undefined, used: Set<string>): string | undefined {
  if (requested === accepted || !used.has(requested)) return undefined;
  return `"${requested}" is already in use`;
}

/** The names a CRD may use and its NamesAccepted and Established conditions (upstream's naming controller). */
export function namesAndConditions(crd: CustomResourceDefinition, all: readonly CustomResourceDefinition[]): {
  names: CustomResourceDefinitionNames; namesAccepted: CustomResourceDefinitionCondition; established: CustomResourceDefinitionCondition;
} {
  const { resources, kinds } = acceptedNamesOfGroup(all, crd);
  const requested: CustomResourceDefinitionNames = {
    ...crd.spec.names,
    singular: crd.spec.names.singular || crd.spec.names.kind.toLowerCase(),
    listKind: crd.spec.names.listKind || `${crd.spec.names.kind}List`,
  };
  const accepted = crd.status?.acceptedNames ?? { plural: '', kind: '' };
  const names: CustomResourceDefinitionNames = { ...accepted };
  let failure: { reason: string; message: string } | undefined;
  const check = (reason: string, error: string | undefined, accept: () => void): void => {
    if (error === undefined) accept();
    else failure = { reason, message: error };
  };
  check('PluralConflict', inUse(requested.plural, accepted.plural, resources), () => { names.plural = requested.plural; });
  check('SingularConflict', inUse(requested.singular!, accepted.singular, resources), () => { names.singular = requested.singular!; });
  if (!deepEqual(requested.shortNames ?? [], accepted.shortNames ?? [])) {
    const mine = new Set(accepted.shortNames ?? []);
    const errors = (requested.shortNames ?? []).filter((s) => !mine.has(s)).map((s) => inUse(s, '', resources)).filter((e): e is string => e !== undefined);
    check('ShortNamesConflict', errors.length ? (errors.length > 1 ? `[${errors.join(', ')}]` : errors[0]) : undefined, () => {
      if (requested.shortNames?.length) names.shortNames = requested.shortNames;
      else delete names.shortNames;
    });
  }
  check('KindConflict', inUse(requested.kind, accepted.kind, kinds), () => { names.kind = requested.kind; });
  check('ListKindConflict', inUse(requested.listKind!, accepted.listKind, kinds), () => { names.listKind = requested.listKind!; });
  if (requested.categories?.length) names.categories = requested.categories;
  else delete names.categories;
  const namesAccepted: CustomResourceDefinitionCondition = failure
    ? { type: 'NamesAccepted', status: 'False', ...failure }
    : { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found' };
  const old = crd.status?.conditions?.find((c) => c.type === 'Established');
  let established: CustomResourceDefinitionCondition;
  if (old?.status === 'True') established = old;
  else if (namesAccepted.status === 'True') established = { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' };
  else established = { type: 'Established', status: 'False', reason: 'NotAccepted', message: 'not all names are accepted' };
  return { names, namesAccepted, established };
}

export interface CrdControllerOptions {
  registry: Registry;
  client: ApiClient;
  signal: AbortSignal;
}

export class CrdController {
  private readonly informer: Informer<CustomResourceDefinition>;
  private readonly controller: Controller;

  constructor(private readonly o: CrdControllerOptions) {
    this.informer = new Informer<CustomResourceDefinition>(o.client, 'CustomResourceDefinition');
    this.controller = new Controller({ name: 'crd', reconcile: (name) => this.reconcile(name) });
    const enqueue = (crd: CustomResourceDefinition): void => this.controller.enqueue(crd.metadata.name!);
    this.informer.addHandlers({
      onAdd: enqueue,
      // A name released by one CRD may settle another's conflict: look at the whole group again.
      onUpdate: (_old, crd) => this.enqueueGroup(crd),
      onDelete: (crd) => this.enqueueGroup(crd),
    });
  }

  /** Serves the CRDs already established in the store, before the API listens (restarts keep serving). */
  static async serveStored(registry: Registry): Promise<void> {
    const list = await registry.list(CRD_INFO, undefined);
    setCustomResources(customResourcesOf(list.items as CustomResourceDefinition[]));
  }

  start(): void {
    this.informer.start(this.o.signal);
    void (async () => {
      await this.informer.waitForSync();
      await this.controller.run(this.o.signal);
    })();
  }

  private enqueueGroup(crd: CustomResourceDefinition): void {
    for (const other of this.informer.list()) if (other.spec.group === crd.spec.group) this.controller.enqueue(other.metadata.name!);
    this.controller.enqueue(crd.metadata.name!);
  }

  /** Rebuilds the served custom resources from the informer's CRDs. */
  private serve(): void {
    const next = customResourcesOf(this.informer.list());
    const current = customResourcesServed();
    const same = next.length === current.length && next.every((r, i) => sameServing(r, current[i]!));
    if (!same) setCustomResources(next);
  }

  private async reconcile(name: string): Promise<{ requeueAfterMs: number } | void> {
    const crd = this.informer.get(name);
    this.serve();
    if (!crd) return;
    if (crd.metadata.deletionTimestamp) return this.finalize(crd);
    const { names, namesAccepted, established } = namesAndConditions(crd, this.informer.list());
    let conditions = crd.status?.conditions ?? [];
    conditions = setCondition(conditions, namesAccepted);
    conditions = setCondition(conditions, established);
    if (deepEqual(names, crd.status?.acceptedNames) && deepEqual(conditions, crd.status?.conditions)) return;
    await this.o.registry.guaranteedUpdate(CRD_INFO, undefined, name, (current) => {
      const c = current as CustomResourceDefinition;
      let conds = c.status?.conditions ?? [];
      conds = setCondition(conds, namesAccepted);
      conds = setCondition(conds, established);
      c.status = { ...(c.status ?? {}), acceptedNames: names, conditions: conds };
      return c;
    }, { subresource: 'status', fieldManager: 'corral-crd-controller' });
  }

  /** Deletes every object of a deleted CRD, then lets the CRD go (upstream's finalizing controller). */
  private async finalize(crd: CustomResourceDefinition): Promise<{ requeueAfterMs: number } | void> {
    if (!(crd.metadata.finalizers ?? []).includes(CUSTOM_RESOURCE_CLEANUP_FINALIZER)) return;
    const info = storageResourceOf(crd);
    let remaining = 0;
    if (info) {
      await this.setTerminating(crd.metadata.name!, 'InstanceDeletionInProgress', 'CustomResource deletion is in progress');
      const list = await this.o.registry.list(info, undefined);
      for (const item of list.items) {
        try {
          await this.o.registry.delete(info, item.metadata.namespace, item.metadata.name!, {}, { fieldManager: 'corral-crd-controller' });
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
      remaining = (await this.o.registry.list(info, undefined)).items.length;
    }
    if (remaining > 0) {
      await this.setTerminating(crd.metadata.name!, 'InstanceDeletionCheck', `could not confirm zero CustomResources remaining: ${remaining} remaining`);
      return { requeueAfterMs: CLEANUP_RECHECK_MS };
    }
    await this.setTerminating(crd.metadata.name!, 'InstanceDeletionCompleted', 'removed all instances');
    await this.o.registry.guaranteedUpdate(CRD_INFO, undefined, crd.metadata.name!, (current) => {
      current.metadata.finalizers = (current.metadata.finalizers ?? []).filter((f) => f !== CUSTOM_RESOURCE_CLEANUP_FINALIZER);
      return current;
    }, { fieldManager: 'corral-crd-controller' });
    log.info('crd', 'custom resource definition removed with its objects', { name: crd.metadata.name });
  }

  private async setTerminating(name: string, reason: string, message: string): Promise<void> {
    await this.o.registry.guaranteedUpdate(CRD_INFO, undefined, name, (current) => {
      const c = current as CustomResourceDefinition;
      c.status = { ...(c.status ?? {}), conditions: setCondition(c.status?.conditions ?? [], { type: 'Terminating', status: 'True', reason, message }) };
      return c;
    }, { subresource: 'status', fieldManager: 'corral-crd-controller' });
  }
}

/** The storage version's resource of a CRD, served or not (its objects are stored under it). */
function storageResourceOf(crd: CustomResourceDefinition): ResourceInfo | undefined {
  if (!crd.status?.acceptedNames?.plural && !isConditionTrue(crd, 'Established')) return undefined;
  const established: CustomResourceDefinition = {
    ...crd,
    spec: { ...crd.spec, versions: crd.spec.versions.map((v) => ({ ...v, served: v.storage || v.served })) },
    status: { ...crd.status, conditions: setCondition(crd.status?.conditions ?? [], { type: 'Established', status: 'True' }) },
  };
  return customResourcesOf([established]).find((r) => r.custom?.storageVersion === r.version);
}

/** Whether two served resources come from the same revision of the same CRD. */
function sameServing(a: ResourceInfo, b: ResourceInfo): boolean {
  return a.group === b.group && a.version === b.version && a.plural === b.plural && a.custom?.crdName === b.custom?.crdName
    && a.custom?.crdRevision === b.custom?.crdRevision;
}
