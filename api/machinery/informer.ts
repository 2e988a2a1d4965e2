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

export class Informer<T extends KubeObject = KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private started = false;

  constructor(
    private readonly client: ApiClient,
    readonly kind: string,
    private readonly opts: { fieldSelector?: string; labelSelector?: string; namespace?: string } = {},
  ) {}

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
        this.cache.delete(key);
        for (const h of this.handlers) h.onDelete?.(obj);
      } else if (old) {
        this.cache.set(key, obj);
        for (const h of this.handlers) h.onUpdate?.(old, obj);
      } else {
        this.cache.set(key, obj);
        for (const h of this.handlers) h.onAdd?.(obj);
      }
    }
  }

  /** Replaces the cache with a fresh list, emitting the differences. */
  private replace(items: T[]): void {
    const fresh = new Map(items.map((o) => [objectKeyOf(o), o]));
    for (const [key, old] of this.cache) {
      if (!fresh.has(key)) {
        this.cache.delete(key);
        for (const h of this.handlers) h.onDelete?.(old);
      }
    }
    for (const [key, obj] of fresh) {
      const old = this.cache.get(key);
      this.cache.set(key, obj);
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

/** One informer per kind, shared by all controllers of a server. */
export class InformerFactory {
  private readonly informers = new Map<string, Informer>();
  private signal: AbortSignal | undefined;

  constructor(private readonly client: ApiClient) {}

  forKind<T extends KubeObject>(kind: string): Informer<T> {
    let inf = this.informers.get(kind);
    if (!inf) {
      inf = new Informer(this.client, kind);
      this.informers.set(kind, inf);
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
