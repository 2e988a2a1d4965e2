/**
 * Garbage collection by ownerReferences, the three propagation policies of Kubernetes:
 * - Background: once an owner is gone (its uid no longer exists), each dependent whose owners are
 *   all gone is deleted; dependents that still have another live owner only lose the dead reference.
 * - Foreground: an owner being deleted with the `foregroundDeletion` finalizer first has its
 *   dependents deleted; the finalizer is removed (and the owner goes) once no dependent that
 *   `blockOwnerDeletion`s is left.
 * - Orphan: an owner being deleted with the `orphan` finalizer has the reference to it removed from
 *   each dependent, then the finalizer is removed.
 * One dependency graph over the informer caches of every kind (owner uid → dependents); an owner
 * missing from the cache is confirmed with a live GET before a dependent is deleted, so a lagging
 * informer cannot cause a wrong deletion.
 */
import type { KubeObject, OwnerReference } from '../../api/meta.js';
import { STORED_RESOURCES, resourceForKind } from '../../api/resources.js';
import { isConflict, isNotFound } from '../../api/status.js';
import type { ControllerContext } from './context.js';
import { Controller } from '../../api/machinery/controller.js';
import { objectKeyOf, type Informer } from '../../api/machinery/informer.js';
import { release } from './pod-control.js';

export const FOREGROUND_FINALIZER = 'foregroundDeletion';
export const ORPHAN_FINALIZER = 'orphan';
/** Safety net while waiting for dependents (their deletion normally re-queues the owner). */
const WAIT_RECHECK_MS = 5000;

/** Kinds whose objects take part (Events never own and are never owned in practice). */
const KINDS = STORED_RESOURCES.filter((r) => r.kind !== 'Event').map((r) => r.kind);

interface Node {
  kind: string;
  /** Informer key: `namespace/name` or `name`. */
  key: string;
}

function itemKey(kind: string, key: string): string {
  return `${kind}|${key}`;
}

function parseItemKey(k: string): Node {
  const i = k.indexOf('|');
  return { kind: k.slice(0, i), key: k.slice(i + 1) };
}

function hasFinalizer(obj: KubeObject, f: string): boolean {
  return obj.metadata.finalizers?.includes(f) === true;
}

/** An owner in foreground deletion, waiting for its dependents. */
function isDeletingDependents(obj: KubeObject): boolean {
  return !!obj.metadata.deletionTimestamp && hasFinalizer(obj, FOREGROUND_FINALIZER);
}

type OwnerState = 'solid' | 'waiting' | 'dangling';

class GarbageCollector {
  private readonly controller: Controller;
  private readonly informers = new Map<string, Informer>();
  /** uid → where the object lives. */
  private readonly byUid = new Map<string, Node>();
  /** owner uid → item keys of its dependents. */
  private readonly dependents = new Map<string, Set<string>>();

  constructor(private readonly ctx: ControllerContext) {
    this.controller = new Controller({ name: 'garbage-collector', workers: 4, reconcile: (key) => this.reconcile(key) });
    for (const kind of KINDS) {
      const inf = ctx.informers.forKind(kind);
      this.informers.set(kind, inf);
      inf.addHandlers({
        onAdd: (o) => this.added(kind, o),
        onUpdate: (old, o) => this.updated(kind, old, o),
        onDelete: (o) => this.deleted(kind, o),
      });
    }
  }

  start(): void {
    void (async () => {
      await Promise.all([...this.informers.values()].map((i) => i.waitForSync()));
      await this.controller.run(this.ctx.signal);
    })();
  }

  // ------------------------------------------------------------------ the graph

  private index(kind: string, obj: KubeObject): void {
    const uid = obj.metadata.uid;
    if (!uid) return;
    const ik = itemKey(kind, objectKeyOf(obj));
    this.byUid.set(uid, { kind, key: objectKeyOf(obj) });
    for (const ref of obj.metadata.ownerReferences ?? []) {
      let set = this.dependents.get(ref.uid);
      if (!set) this.dependents.set(ref.uid, (set = new Set()));
      set.add(ik);
    }
  }

  private unindex(kind: string, obj: KubeObject, keepUid = false): void {
    const uid = obj.metadata.uid;
    const ik = itemKey(kind, objectKeyOf(obj));
    if (uid && !keepUid && this.byUid.get(uid)?.key === objectKeyOf(obj)) this.byUid.delete(uid);
    for (const ref of obj.metadata.ownerReferences ?? []) {
      const set = this.dependents.get(ref.uid);
      set?.delete(ik);
      if (set && set.size === 0) this.dependents.delete(ref.uid);
    }
  }

  private needsAttention(obj: KubeObject): boolean {
    if ((obj.metadata.ownerReferences?.length ?? 0) > 0) return true;
    return !!obj.metadata.deletionTimestamp && (hasFinalizer(obj, FOREGROUND_FINALIZER) || hasFinalizer(obj, ORPHAN_FINALIZER));
  }

  private added(kind: string, obj: KubeObject): void {
    this.index(kind, obj);
    if (this.needsAttention(obj)) this.controller.enqueue(itemKey(kind, objectKeyOf(obj)));
    this.enqueueWaitingOwners(obj);
  }

  private updated(kind: string, old: KubeObject, obj: KubeObject): void {
    this.unindex(kind, old, true);
    this.index(kind, obj);
    const refsChanged = JSON.stringify(old.metadata.ownerReferences ?? []) !== JSON.stringify(obj.metadata.ownerReferences ?? []);
    const deletionChanged = !!old.metadata.deletionTimestamp !== !!obj.metadata.deletionTimestamp
      || JSON.stringify(old.metadata.finalizers ?? []) !== JSON.stringify(obj.metadata.finalizers ?? []);
    if ((refsChanged || deletionChanged) && this.needsAttention(obj)) this.controller.enqueue(itemKey(kind, objectKeyOf(obj)));
    if (refsChanged || deletionChanged) this.enqueueWaitingOwners(old);
  }

  private deleted(kind: string, obj: KubeObject): void {
    this.unindex(kind, obj);
    const uid = obj.metadata.uid;
    // Its dependents must now check whether they still have an owner.
    if (uid) for (const dep of this.dependents.get(uid) ?? []) this.controller.enqueue(dep);
    this.enqueueWaitingOwners(obj);
  }

  /** Owners in foreground deletion wait for this object: let them look again. */
  private enqueueWaitingOwners(obj: KubeObject): void {
    for (const ref of obj.metadata.ownerReferences ?? []) {
      const owner = this.byUid.get(ref.uid);
      if (owner) this.controller.enqueue(itemKey(owner.kind, owner.key));
    }
  }

  private cached(node: Node): KubeObject | undefined {
    return this.informers.get(node.kind)?.get(node.key);
  }

  private dependentsOf(uid: string): { node: Node; obj: KubeObject }[] {
    const out: { node: Node; obj: KubeObject }[] = [];
    for (const ik of this.dependents.get(uid) ?? []) {
      const node = parseItemKey(ik);
      const obj = this.cached(node);
      if (obj && obj.metadata.ownerReferences?.some((r) => r.uid === uid)) out.push({ node, obj });
    }
    return out;
  }

  // ------------------------------------------------------------------ reconcile

  private async reconcile(ik: string): Promise<{ requeueAfterMs: number } | void> {
    const node = parseItemKey(ik);
    const obj = this.cached(node);
    if (!obj) return;
    if (obj.metadata.deletionTimestamp) {
      if (hasFinalizer(obj, ORPHAN_FINALIZER)) return this.orphanDependents(node, obj);
      if (hasFinalizer(obj, FOREGROUND_FINALIZER)) return this.deleteDependentsFirst(node, obj);
    }
    if ((obj.metadata.ownerReferences?.length ?? 0) > 0) await this.checkOwners(node, obj);
  }

  /** Orphan propagation: drop the reference from every dependent, then the finalizer. */
  private async orphanDependents(node: Node, owner: KubeObject): Promise<void> {
    const uid = owner.metadata.uid!;
    for (const dep of this.dependentsOf(uid)) {
      try {
        await release(this.ctx.client, dep.node.kind, dep.obj, uid);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    await this.removeFinalizer(node, owner, ORPHAN_FINALIZER);
  }

  /**
   * Foreground propagation: every dependent is looked at as an ordinary dependent (one with another
   * live owner only loses the reference; the rest are deleted); the owner goes once no dependent that
   * `blockOwnerDeletion`s is left.
   */
  private async deleteDependentsFirst(node: Node, owner: KubeObject): Promise<{ requeueAfterMs: number } | void> {
    const uid = owner.metadata.uid!;
    let blocking = 0;
    for (const dep of this.dependentsOf(uid)) {
      const ref = dep.obj.metadata.ownerReferences!.find((r) => r.uid === uid)!;
      if (ref.blockOwnerDeletion === true) blocking++;
      if (!isDeletingDependents(dep.obj)) this.controller.enqueue(itemKey(dep.node.kind, objectKeyOf(dep.obj)));
    }
    if (blocking > 0) return { requeueAfterMs: WAIT_RECHECK_MS };
    await this.removeFinalizer(node, owner, FOREGROUND_FINALIZER);
  }

  private async removeFinalizer(node: Node, obj: KubeObject, finalizer: string): Promise<void> {
    const rest = (obj.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    try {
      await this.ctx.client.patch(node.kind, obj.metadata.namespace, obj.metadata.name!, {
        metadata: { finalizers: rest.length > 0 ? rest : null, uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion },
      }, 'merge');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** Where an owner stands, from the cache, confirmed live when the cache does not have it. */
  private async ownerState(dependent: KubeObject, ref: OwnerReference): Promise<OwnerState> {
    const info = resourceForKind(ref.kind);
    if (!info) return 'solid'; // a kind this server does not serve: cannot judge, keep the dependent
    const ns = info.namespaced ? dependent.metadata.namespace : undefined;
    if (info.namespaced && !ns) return 'dangling'; // a cluster-scoped object cannot have a namespaced owner
    const key = ns ? `${ns}/${ref.name}` : ref.name;
    let owner: KubeObject | undefined = this.informers.get(ref.kind)?.get(key);
    if (!owner || owner.metadata.uid !== ref.uid) owner = await this.ctx.client.tryGet(ref.kind, ns, ref.name);
    if (!owner || owner.metadata.uid !== ref.uid) return 'dangling';
    if (isDeletingDependents(owner)) return 'waiting';
    return 'solid';
  }

  private async checkOwners(node: Node, obj: KubeObject): Promise<void> {
    if (obj.metadata.deletionTimestamp) return; // already on its way
    const refs = obj.metadata.ownerReferences ?? [];
    const states = await Promise.all(refs.map((r) => this.ownerState(obj, r)));
    const solid = states.filter((s) => s === 'solid').length;
    const goneOrWaiting = refs.filter((_r, i) => states[i] !== 'solid');
    if (goneOrWaiting.length === 0) return;
    if (solid > 0) {
      // Still owned by someone alive: only the references to dead (or departing) owners go, so a
      // departing owner does not wait for this object.
      const keep = refs.filter((_r, i) => states[i] === 'solid');
      await this.patchOwnerReferences(node, obj, keep);
      return;
    }
    const dependents = this.dependentsOf(obj.metadata.uid ?? '');
    let policy: 'Orphan' | 'Foreground' | 'Background' = hasFinalizer(obj, ORPHAN_FINALIZER) ? 'Orphan' : 'Background';
    if (states.includes('waiting') && dependents.length > 0) {
      // An owner waits for this object, and it has dependents of its own: it goes in the foreground
      // too. If one of its dependents is already waiting the same way, the chain is a circle; its
      // references stop blocking so the waiting can end (as upstream's garbage collector does).
      if (dependents.some((d) => isDeletingDependents(d.obj)) && refs.some((r) => r.blockOwnerDeletion === true)) {
        await this.patchOwnerReferences(node, obj, refs.map((r) => ({ ...r, blockOwnerDeletion: false })));
      }
      policy = 'Foreground';
    }
    await this.ctx.client.delete(node.kind, obj.metadata.namespace, obj.metadata.name!, {
      propagationPolicy: policy, preconditions: { uid: obj.metadata.uid! },
    }).catch((err: unknown) => { if (!(isNotFound(err) || isConflict(err))) throw err; });
  }

  private async patchOwnerReferences(node: Node, obj: KubeObject, refs: OwnerReference[]): Promise<void> {
    await this.ctx.client.patch(node.kind, obj.metadata.namespace, obj.metadata.name!, {
      metadata: { ownerReferences: refs, uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion },
    }, 'merge').catch((err: unknown) => { if (!isNotFound(err)) throw err; });
  }
}

export function startGarbageCollector(ctx: ControllerContext): void {
  new GarbageCollector(ctx).start();
}
