/**
 * The live keys of a store held in memory, kept current by the store's own commit hook: what
 * kube-apiserver calls its watch cache. Gets, counts and lists at the current revision are answered
 * from here without a database round trip; lists at an older revision still go to the log.
 *
 * The owner applies every committed batch synchronously, before any watcher or writer hears of it,
 * so a read that follows an acknowledged write (or a watch event) always sees that write.
 *
 * Keys are kept in sorted blocks beside the map, so a prefix is a contiguous run found by binary
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

/** Where a key sits in the block order: block `b`, index `i` within it (`i` may equal its length). */
interface Position {
  b: number;
  i: number;
}

/** A key with a UTF-16 surrogate or a code unit the surrogate fix-up reorders (U+D800 and above). */
const WIDE = /[\ud800-\uffff]/;

export class WatchCache {
  readonly #byKey = new Map<string, KeyValue>();
  /**
   * Every live key, in store order, as consecutive sorted blocks of at most `#blockSize` keys: an
   * insert or delete moves at most one block's keys, where one sorted array moved half the store's
   * (that splice was ~6 % of a pod create's server time at 10,000 pods, and grew with the store).
   */
  #blocks: string[][] = [];
  readonly #blockSize: number;
  /** Live keys for which JavaScript's `<` and store order may disagree (see compareKeys). */
  #wideKeys = 0;

  constructor(options: { blockSize?: number } = {}) {
    this.#blockSize = Math.max(2, options.blockSize ?? 512);
  }

  /** Replace the contents with `kvs` (any order). */
  load(kvs: readonly KeyValue[]): void {
    this.#byKey.clear();
    for (const kv of kvs) this.#byKey.set(kv.key, copy(kv));
    const sorted = [...this.#byKey.keys()].sort(compareKeys);
    this.#wideKeys = sorted.filter((k) => WIDE.test(k)).length;
    this.#blocks = [];
    const half = this.#blockSize >>> 1;
    for (let i = 0; i < sorted.length; i += half) this.#blocks.push(sorted.slice(i, i + half));
  }

  /** Apply committed events, in revision order. */
  apply(events: readonly StoreEvent[]): void {
    for (const event of events) {
      const { key } = event.kv;
      if (event.type === 'delete') {
        if (this.#byKey.delete(key)) this.#remove(key);
        continue;
      }
      // A private copy: the event's own KeyValue travels to watchers, who may hang data on it.
      if (!this.#byKey.has(key)) this.#insert(key);
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
    const available = this.#distance(from, end);
    const take = options.limit !== undefined && options.limit > 0 ? Math.min(options.limit, available) : available;
    const kvs = new Array<KeyValue>(take);
    let { b, i } = from;
    for (let n = 0; n < take; n++) {
      while (i >= this.#blocks[b]!.length) {
        b += 1;
        i = 0;
      }
      kvs[n] = this.#byKey.get(this.#blocks[b]![i]!)!;
      i += 1;
    }
    const remaining = available - take;
    return { kvs, more: remaining > 0, remaining };
  }

  count(prefix: string): number {
    const range = prefixRange(prefix);
    return this.#distance(this.#lowerBound(range.start), this.#lowerBound(range.end));
  }

  #insert(key: string): void {
    if (WIDE.test(key)) this.#wideKeys += 1;
    if (this.#blocks.length === 0) {
      this.#blocks.push([key]);
      return;
    }
    // Past the last key, the position is the last block's end: the key is appended there.
    const at = this.#lowerBound(key);
    const block = this.#blocks[at.b]!;
    block.splice(at.i, 0, key);
    if (block.length > this.#blockSize) this.#blocks.splice(at.b + 1, 0, block.splice(block.length >>> 1));
  }

  #remove(key: string): void {
    const at = this.#lowerBound(key);
    const block = this.#blocks[at.b];
    if (block?.[at.i] !== key) throw new Error(`watch cache: ${key} is in the map but not in the key order`);
    block.splice(at.i, 1);
    if (block.length === 0) this.#blocks.splice(at.b, 1);
    if (WIDE.test(key)) this.#wideKeys -= 1;
  }

  /** Keys from `from` up to (not including) `to`. */
  #distance(from: Position, to: Position): number {
    if (to.b < from.b || (to.b === from.b && to.i <= from.i)) return 0;
    let n = -from.i + to.i;
    for (let b = from.b; b < to.b; b++) n += this.#blocks[b]!.length;
    return n;
  }

  /** Store order; JavaScript's own `<` when no key involved can make it differ. */
  #comparator(key: string): (a: string, b: string) => number {
    return this.#wideKeys === 0 && !WIDE.test(key) ? compareNarrow : compareKeys;
  }

  /** The position of the first key not below `key` (`upper`: above it); past the end: the last block's end. */
  #search(key: string, upper: boolean): Position {
    const blocks = this.#blocks;
    if (blocks.length === 0) return { b: 0, i: 0 };
    const compare = this.#comparator(key);
    const before = (k: string): boolean => (upper ? compare(k, key) <= 0 : compare(k, key) < 0);
    // The first block whose last key is not before `key`.
    let lo = 0;
    let hi = blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const block = blocks[mid]!;
      if (before(block[block.length - 1]!)) lo = mid + 1;
      else hi = mid;
    }
    if (lo === blocks.length) return { b: lo - 1, i: blocks[lo - 1]!.length };
    const block = blocks[lo]!;
    let l = 0;
    let h = block.length;
    while (l < h) {
      const mid = (l + h) >>> 1;
      if (before(block[mid]!)) l = mid + 1;
      else h = mid;
    }
    return { b: lo, i: l };
  }

  #lowerBound(key: string): Position {
    return this.#search(key, false);
  }

  #upperBound(key: string): Position {
    return this.#search(key, true);
  }
}

function compareNarrow(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function copy(kv: KeyValue): KeyValue {
  return { key: kv.key, value: kv.value, modRevision: kv.modRevision, createRevision: kv.createRevision };
}
