/**
 * Routes keys by prefix to different backends behind one Store: Leases and Events to memory,
 * everything else to SQLite. Every caller lists and watches within one kind's prefix, so a prefix
 * always belongs to exactly one backend.
 */
import type { KeyValue, ListOptions, ListResult, Store, StoreEvent, WatchOptions } from './store.js';

export interface Route { prefix: string; store: Store }

export class RoutingStore implements Store {
  constructor(private readonly routes: Route[], private readonly fallback: Store) {}

  /** The backend for a key or a prefix (the longest matching route, else the fallback). */
  backendFor(keyOrPrefix: string): Store {
    let best: Route | undefined;
    for (const r of this.routes) {
      if (keyOrPrefix.startsWith(r.prefix) && (!best || r.prefix.length > best.prefix.length)) best = r;
    }
    return best?.store ?? this.fallback;
  }

  create(key: string, value: string): Promise<KeyValue> { return this.backendFor(key).create(key, value); }
  update(key: string, expectedRevision: number, value: string): Promise<KeyValue> { return this.backendFor(key).update(key, expectedRevision, value); }
  delete(key: string, expectedRevision: number): Promise<KeyValue> { return this.backendFor(key).delete(key, expectedRevision); }
  get(key: string): Promise<KeyValue | undefined> { return this.backendFor(key).get(key); }
  list(prefix: string, options?: ListOptions): Promise<ListResult> { return this.backendFor(prefix).list(prefix, options); }
  count(prefix: string): Promise<number> { return this.backendFor(prefix).count(prefix); }
  watch(prefix: string, options: WatchOptions): AsyncIterable<StoreEvent> { return this.backendFor(prefix).watch(prefix, options); }

  currentRevision(prefix?: string): number {
    return prefix === undefined ? this.fallback.currentRevision() : this.backendFor(prefix).currentRevision();
  }

  compactRevision(prefix?: string): number {
    return prefix === undefined ? this.fallback.compactRevision() : this.backendFor(prefix).compactRevision();
  }

  compact(revision: number): Promise<void> { return this.fallback.compact(revision); }

  async close(): Promise<void> {
    for (const r of this.routes) await r.store.close();
    await this.fallback.close();
  }
}
