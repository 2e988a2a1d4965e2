/**
 * In-process fan-out of committed writes to watchers. Publishing never waits for a subscriber:
 * each subscriber keeps its own bounded buffer (see watch-stream.ts), so a slow watcher can
 * neither block writers nor make this grow.
 *
 * A subscriber may instead register under an index value (kube-apiserver's indexed triggers): it then
 * gets only the items for which the index yields its value, once per publish — with the whole batch
 * beside them, so it can account for what it was not given — and the index runs once per item, not
 * once per item and subscriber.
 */

/** `items`: what this subscriber is given; `batch`: everything published at once, in order. */
export type Subscriber<T> = (items: readonly T[], batch: readonly T[]) => void;

/** Index values of an item; shared (by identity) by the subscribers that use it. */
export interface Index<T> {
  valuesOf(item: T): readonly string[];
}

const NONE: readonly never[] = [];

export class Broadcaster<T> {
  readonly #subscribers = new Set<Subscriber<T>>();
  /** Subscribers by index, then by index value. */
  readonly #indexed = new Map<Index<T>, Map<string, Set<Subscriber<T>>>>();
  #size = 0;

  /** Returns the function that unsubscribes. */
  subscribe(subscriber: Subscriber<T>, trigger?: { index: Index<T>; value: string }): () => void {
    this.#size += 1;
    if (trigger === undefined) {
      this.#subscribers.add(subscriber);
      return () => {
        if (this.#subscribers.delete(subscriber)) this.#size -= 1;
      };
    }
    let byValue = this.#indexed.get(trigger.index);
    if (!byValue) this.#indexed.set(trigger.index, (byValue = new Map()));
    let set = byValue.get(trigger.value);
    if (!set) byValue.set(trigger.value, (set = new Set()));
    set.add(subscriber);
    return () => {
      if (!set.delete(subscriber)) return;
      this.#size -= 1;
      if (set.size === 0 && byValue.get(trigger.value) === set) byValue.delete(trigger.value);
      if (byValue.size === 0 && this.#indexed.get(trigger.index) === byValue) this.#indexed.delete(trigger.index);
    };
  }

  /** Hand `items` (in order) to every subscriber, synchronously. */
  publish(items: readonly T[]): void {
    if (items.length === 0) return;
    for (const subscriber of this.#subscribers) subscriber(items, items);
    for (const [index, byValue] of this.#indexed) {
      const byIndexValue = new Map<string, T[]>();
      for (const item of items) {
        let values: readonly string[];
        try {
          values = index.valuesOf(item);
        } catch {
          values = [...byValue.keys()]; // cannot tell: every such subscriber gets it (and filters it)
        }
        for (const value of values) {
          let list = byIndexValue.get(value);
          if (!list) byIndexValue.set(value, (list = []));
          if (list[list.length - 1] !== item) list.push(item);
        }
      }
      for (const [value, subscribers] of byValue) {
        const given = byIndexValue.get(value) ?? NONE;
        for (const subscriber of subscribers) subscriber(given, items);
      }
    }
  }

  get size(): number {
    return this.#size;
  }
}
