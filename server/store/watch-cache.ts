/**
 * The live keys of a store held in memory, kept current by the store's own commit hook: what
 * kube-apiserver calls its watch cache. Gets, counts and lists at the current revision are answered
 * from here without a database round trip; lists at an older revision still go to the log.
 *
 * The owner applies every committed batch synchronously, before any watcher or writer hears of it,
 * so a read that follows an acknowledged write (or a watch event) always sees that write.
 *
 * Keys are kept in one sorted array beside the map, so a prefix is a contiguous slice found by binary
 * search. The order is the store's: UTF-8 byte order (SQLite's memcmp), which equals code point order.
 */
import { prefixRange } from './key-range.js';
import type { KeyValue, StoreEvent } from './store.js';

export interface CachedPage {
  kvs: KeyValue[];
  more: boolean;
  remaining: number;
}

/**
 * Code point order of two strings. JavaScript's `<` compares UTF-16 code units, which differs from
 * code point order only between a surrogate (a code point above U+FFFF) and U+E000–U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // Surrogates (U+D800–U+DFFF) stand for code points above every BMP one.
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

export class WatchCache {
  readonly #byKey = new Map<string, KeyValue>();
  /** Every live key, in store order. */
  #sorted: string[] = [];

  /** Replace the contents with `kvs` (any order). */
  load(kvs: readonly KeyValue[]): void {
    this.#byKey.clear();
    for (const kv of kvs) this.#byKey.set(kv.key, copy(kv));
    this.#sorted = [...this.#byKey.keys()].sort(compareKeys);
  }

  /** Apply committed events, in revision order. */
  apply(events: readonly StoreEvent[]): void {
    for (const event of events) {
      const { key } = event.kv;
      if (event.type === 'delete') {
        if (this.#byKey.delete(key)) this.#sorted.splice(this.#indexOf(key), 1);
        continue;
      }
      // A private copy: the event's own KeyValue travels to watchers, who may hang data on it.
      if (!this.#byKey.has(key)) this.#sorted.splice(this.#lowerBound(key), 0, key);
      this.#byKey.set(key, copy(event.kv));
    }
  }

  get(key: string): KeyValue | undefined {
    return this.#byKey.get(key);
  }

  get size(): number {
    return this.#byKey.size;
  }

  /** Keys with the prefix (after `startAfter`, at most `limit` when given), sorted. */
  list(prefix: string, options: { limit?: number; startAfter?: string } = {}): CachedPage {
    const range = prefixRange(prefix);
    let from = this.#lowerBound(range.start);
    if (options.startAfter !== undefined && compareKeys(options.startAfter, range.start) >= 0) {
      from = this.#upperBound(options.startAfter);
    }
    const end = this.#lowerBound(range.end);
    const available = Math.max(0, end - from);
    const take = options.limit !== undefined && options.limit > 0 ? Math.min(options.limit, available) : available;
    const kvs = new Array<KeyValue>(take);
    for (let i = 0; i < take; i++) kvs[i] = this.#byKey.get(this.#sorted[from + i]!)!;
    const remaining = available - take;
    return { kvs, more: remaining > 0, remaining };
  }

  count(prefix: string): number {
    const range = prefixRange(prefix);
    return this.#lowerBound(range.end) - this.#lowerBound(range.start);
  }

  /** The first index whose key is not below `key`. */
  #lowerBound(key: string): number {
    let lo = 0;
    let hi = this.#sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.#sorted[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The first index whose key is above `key`. */
  #upperBound(key: string): number {
    let lo = 0;
    let hi = this.#sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.#sorted[mid]!, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #indexOf(key: string): number {
    const i = this.#lowerBound(key);
    if (this.#sorted[i] !== key) throw new Error(`watch cache: ${key} is in the map but not in the key order`);
    return i;
  }
}

function copy(kv: KeyValue): KeyValue {
  return { key: kv.key, value: kv.value, modRevision: kv.modRevision, createRevision: kv.createRevision };
}
