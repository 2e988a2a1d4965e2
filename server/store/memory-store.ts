/**
 * A Store kept only in memory, for data that changes often and is worthless after a restart:
 * node Lease heartbeats (every ~10 s per node) and Events. Keeping them off the SQLite file is
 * what keeps an idle cluster from writing to the SD card (k3s users wore cards out this way).
 *
 * Revisions start from the wall clock in microseconds, so they keep growing across restarts and a
 * client resuming with a resourceVersion from before a restart gets a 410 and re-lists instead of
 * silently missing events. History for list-at-revision and watch replay is a bounded log.
 */
import type { KeyValue, ListOptions, ListResult, Store, StoreEvent, WatchOptions } from './store.js';
import { StoreError } from './store.js';

export interface MemoryStoreOptions {
  /** Events kept for watch replay and list-at-revision (default 10,000). */
  historySize?: number;
  /** Keys not written for this long are deleted (Events: 1 h, like kube-apiserver's --event-ttl). */
  ttlMs?: number;
  /** Live events buffered per watcher before it is ended with Compacted (the client re-lists). */
  watchBufferSize?: number;
}

interface Watcher {
  prefix: string;
  push(ev: StoreEvent): void;
  kick(): void;
}

export class MemoryStore implements Store {
  private readonly data = new Map<string, KeyValue>();
  private readonly written = new Map<string, number>();
  private readonly history: StoreEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  private revision: number;
  private compacted: number;
  private readonly historySize: number;
  private readonly watchBufferSize: number;
  private readonly sweeper: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly o: MemoryStoreOptions = {}) {
    this.revision = Date.now() * 1000;
    this.compacted = this.revision;
    this.historySize = o.historySize ?? 10_000;
    this.watchBufferSize = o.watchBufferSize ?? 2048;
    if (o.ttlMs) {
      this.sweeper = setInterval(() => this.sweep(), Math.min(o.ttlMs, 60_000));
      this.sweeper.unref();
    }
  }

  private next(): number {
    // Never behind the clock either, so a restart always moves forward.
    this.revision = Math.max(this.revision + 1, Date.now() * 1000);
    return this.revision;
  }

  private emit(ev: StoreEvent): void {
    this.history.push(ev);
    if (this.history.length > this.historySize) {
      const dropped = this.history.splice(0, this.history.length - this.historySize);
      this.compacted = dropped[dropped.length - 1]!.kv.modRevision;
    }
    for (const w of this.watchers) if (ev.kv.key.startsWith(w.prefix)) w.push(ev);
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreError('Closed', 'store is closed');
  }

  async create(key: string, value: string): Promise<KeyValue> {
    this.checkOpen();
    if (this.data.has(key)) throw new StoreError('KeyExists', `key ${key} exists`);
    const rev = this.next();
    const kv: KeyValue = { key, value, modRevision: rev, createRevision: rev };
    this.data.set(key, kv);
    this.written.set(key, Date.now());
    this.emit({ type: 'create', kv });
    return kv;
  }

  async update(key: string, expectedRevision: number, value: string): Promise<KeyValue> {
    this.checkOpen();
    const prev = this.data.get(key);
    if (!prev) throw new StoreError('KeyNotFound', `key ${key} not found`);
    if (prev.modRevision !== expectedRevision) throw new StoreError('Conflict', `key ${key} is at ${prev.modRevision}`, prev.modRevision);
    const kv: KeyValue = { key, value, modRevision: this.next(), createRevision: prev.createRevision };
    this.data.set(key, kv);
    this.written.set(key, Date.now());
    this.emit({ type: 'update', kv, prev });
    return kv;
  }

  async delete(key: string, expectedRevision: number): Promise<KeyValue> {
    this.checkOpen();
    const prev = this.data.get(key);
    if (!prev) throw new StoreError('KeyNotFound', `key ${key} not found`);
    if (expectedRevision !== 0 && prev.modRevision !== expectedRevision) throw new StoreError('Conflict', `key ${key} is at ${prev.modRevision}`, prev.modRevision);
    this.data.delete(key);
    this.written.delete(key);
    const kv: KeyValue = { ...prev, modRevision: this.next() };
    this.emit({ type: 'delete', kv, prev });
    return kv;
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.checkOpen();
    return this.data.get(key);
  }

  /** The state of the keys under `prefix` at `revision`, rebuilt by undoing newer history. */
  private stateAt(prefix: string, revision: number): Map<string, KeyValue> {
    const state = new Map<string, KeyValue>();
    for (const [k, v] of this.data) if (k.startsWith(prefix)) state.set(k, v);
    if (revision >= this.revision) return state;
    if (revision < this.compacted) throw new StoreError('Compacted', `revision ${revision} is compacted (oldest ${this.compacted})`);
    for (let i = this.history.length - 1; i >= 0; i--) {
      const ev = this.history[i]!;
      if (ev.kv.modRevision <= revision) break;
      if (!ev.kv.key.startsWith(prefix)) continue;
      if (ev.type === 'create') state.delete(ev.kv.key);
      else if (ev.prev) state.set(ev.kv.key, ev.prev);
    }
    return state;
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    this.checkOpen();
    const revision = options.revision && options.revision > 0 ? options.revision : this.revision;
    const state = this.stateAt(prefix, revision);
    let keys = [...state.keys()].sort();
    if (options.startAfter !== undefined) keys = keys.filter((k) => k > options.startAfter!);
    const limit = options.limit && options.limit > 0 ? options.limit : keys.length;
    const page = keys.slice(0, limit);
    return { kvs: page.map((k) => state.get(k)!), revision, more: keys.length > page.length, remaining: keys.length - page.length };
  }

  async count(prefix: string): Promise<number> {
    let n = 0;
    for (const k of this.data.keys()) if (k.startsWith(prefix)) n++;
    return n;
  }

  watch(prefix: string, options: WatchOptions): AsyncIterable<StoreEvent> {
    this.checkOpen();
    const since = options.sinceRevision;
    if (since > 0 && (since < this.compacted || since > this.revision)) {
      // Older than our history, or from before a restart (a future revision): the client must re-list.
      throw new StoreError('Compacted', `revision ${since} is not available (have ${this.compacted}..${this.revision})`);
    }
    const queue: StoreEvent[] = since > 0
      ? this.history.filter((ev) => ev.kv.modRevision > since && ev.kv.key.startsWith(prefix))
      : [];
    let wake: (() => void) | undefined;
    let overflow = false;
    const watcher: Watcher = {
      prefix,
      push: (ev) => {
        if (queue.length >= this.watchBufferSize) overflow = true;
        else queue.push(ev);
        wake?.();
      },
      kick: () => wake?.(),
    };
    this.watchers.add(watcher);
    const signal = options.signal;
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        const onAbort = (): void => wake?.();
        signal?.addEventListener('abort', onAbort);
        try {
          for (;;) {
            if (signal?.aborted || self.closed) return;
            if (overflow) throw new StoreError('Compacted', 'watcher fell too far behind');
            const ev = queue.shift();
            if (ev) {
              yield ev;
              continue;
            }
            await new Promise<void>((resolve) => { wake = resolve; });
            wake = undefined;
          }
        } finally {
          signal?.removeEventListener('abort', onAbort);
          self.watchers.delete(watcher);
        }
      },
    };
  }

  currentRevision(): number {
    return this.revision;
  }

  compactRevision(): number {
    return this.compacted;
  }

  async compact(): Promise<void> {
    // History is bounded by size already.
  }

  private sweep(): void {
    if (!this.o.ttlMs) return;
    const cutoff = Date.now() - this.o.ttlMs;
    for (const [key, at] of this.written) {
      if (at < cutoff) void this.delete(key, 0).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    for (const w of [...this.watchers]) w.kick();
  }
}
