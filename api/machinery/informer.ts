/**
 * A shared informer: one list+watch per kind keeps a local cache that every controller reads, and
 * fans change notifications out to handlers (which should only enqueue keys). Objects in the cache
 * are shared — never mutate them; clone before changing.
 */
import type { KubeObject } from '../meta.js';
import type { ApiClient } from '../client/client.js';
import { log } from '../log.js';

export interface InformerHandlers<T extends KubeObject> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T): void;
}

/** `namespace/name` for namespaced objects, `name` otherwise. */
export function objectKeyOf(obj: KubeObject): string {
  const m = obj.metadata;
  return m.namespace ? `${m.namespace}/${m.name}` : `${m.name}`;
}

export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: undefined, name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export interface InformerOptions {
  fieldSelector?: string;
  labelSelector?: string;
  namespace?: string;
}

/** Index values of an object (client-go's IndexFunc), e.g. its uid or its node name. */
export type IndexFunc<T> = (obj: T) => string[];

/** Method syntax on purpose: an Informer<Pod> stays usable where an Informer<KubeObject> is expected. */
interface Indexer<T> {
  fn(obj: T): string[];
  index: Map<string, Set<string>>;
}

export class Informer<T extends KubeObject = KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private readonly indexers = new Map<string, Indexer<T>>();
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private started = false;

  constructor(
    private readonly client: ApiClient,
    readonly kind: string,
    private readonly opts: InformerOptions = {},
  ) {}

  /** Adds a named index over the cache (before start, or it is built from what is cached). */
  addIndexer(name: string, fn: IndexFunc<T>): void {
    const index = new Map<string, Set<string>>();
    this.indexers.set(name, { fn, index });
    for (const [key, obj] of this.cache) this.indexAdd(index, fn, key, obj);
  }

  /** Cached objects whose index `name` has `value`. */
  byIndex(name: string, value: string): T[] {
    const idx = this.indexers.get(name);
    if (!idx) throw new Error(`informer ${this.kind}: no index "${name}"`);
    return [...(idx.index.get(value) ?? [])].map((k) => this.cache.get(k)!).filter(Boolean);
  }

  private indexAdd(index: Map<string, Set<string>>, fn: (obj: T) => string[], key: string, obj: T): void {
    for (const v of fn(obj)) {
      let keys = index.get(v);
      if (!keys) index.set(v, (keys = new Set()));
      keys.add(key);
    }
  }

  private store(key: string, obj: T | undefined): void {
    const old = this.cache.get(key);
    for (const { fn, index } of this.indexers.values()) {
      if (old) {
        for (const v of fn(old)) {
          const keys = index.get(v);
          keys?.delete(key);
          if (keys?.size === 0) index.delete(v);
        }
      }
      if (obj) this.indexAdd(index, fn, key, obj);
    }
    if (obj) this.cache.set(key, obj);
    else this.cache.delete(key);
  }

  addHandlers(h: InformerHandlers<T>): void {
    this.handlers.push(h);
    // Late subscribers see the current state as adds, like client-go.
    if (this.synced) for (const obj of this.cache.values()) h.onAdd?.(obj);
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  /** Objects in one namespace. */
  listNamespace(namespace: string): T[] {
    return this.list().filter((o) => o.metadata.namespace === namespace);
  }

  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  start(signal: AbortSignal): void {
    if (this.started) return;
    this.started = true;
    void this.run(signal).catch((err: unknown) => {
      if (!signal.aborted) log.error('informer', `${this.kind} informer stopped`, { error: String(err) });
    });
  }

  private async run(signal: AbortSignal): Promise<void> {
    const events = this.client.watch<T>(this.kind, this.opts.namespace, {
      signal,
      ...(this.opts.fieldSelector ? { fieldSelector: this.opts.fieldSelector } : {}),
      ...(this.opts.labelSelector ? { labelSelector: this.opts.labelSelector } : {}),
    });
    for await (const ev of events) {
      if (signal.aborted) return;
      if (ev.type === 'RESYNC') {
        this.replace(ev.items);
        continue;
      }
      const obj = ev.object;
      const key = objectKeyOf(obj);
      const old = this.cache.get(key);
      if (ev.type === 'DELETED') {
        this.store(key, undefined);
        for (const h of this.handlers) h.onDelete?.(obj);
      } else if (old) {
        this.store(key, obj);
        for (const h of this.handlers) h.onUpdate?.(old, obj);
      } else {
        this.store(key, obj);
        for (const h of this.handlers) h.onAdd?.(obj);
      }
    }
  }

  /** Replaces the cache with a fresh list, emitting the differences. */
  private replace(items: T[]): void {
    const fresh = new Map(items.map((o) => [objectKeyOf(o), o]));
    for (const [key, old] of this.cache) {
      if (!fresh.has(key)) {
        this.store(key, undefined);
        for (const h of this.handlers) h.onDelete?.(old);
      }
    }
    for (const [key, obj] of fresh) {
      const old = this.cache.get(key);
      this.store(key, obj);
      if (old) {
        if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) for (const h of this.handlers) h.onUpdate?.(old, obj);
      } else {
        for (const h of this.handlers) h.onAdd?.(obj);
      }
    }
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters) w();
      this.syncWaiters = [];
    }
  }
}

/** One informer per kind (and selector), shared by all controllers of a server or an agent. */
export class InformerFactory {
  private readonly informers = new Map<string, Informer>();
  private signal: AbortSignal | undefined;

  constructor(private readonly client: ApiClient) {}

  /** The shared informer of `kind`; one with a selector (an agent's own pods) is shared by that selector. */
  forKind<T extends KubeObject>(kind: string, opts: InformerOptions = {}): Informer<T> {
    const id = opts.fieldSelector || opts.labelSelector || opts.namespace ? `${kind}?${JSON.stringify(opts)}` : kind;
    let inf = this.informers.get(id);
    if (!inf) {
      inf = new Informer(this.client, kind, opts);
      this.informers.set(id, inf);
      if (this.signal) inf.start(this.signal);
    }
    return inf as unknown as Informer<T>;
  }

  start(signal: AbortSignal): void {
    this.signal = signal;
    for (const inf of this.informers.values()) inf.start(signal);
  }

  async waitForSync(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync()));
  }
}
