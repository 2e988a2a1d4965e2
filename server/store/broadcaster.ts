/**
 * In-process fan-out of committed writes to watchers. Publishing never waits for a subscriber:
 * each subscriber keeps its own bounded buffer (see watch-stream.ts), so a slow watcher can
 * neither block writers nor make this grow.
 */

export type Subscriber<T> = (items: readonly T[]) => void;

export class Broadcaster<T> {
  readonly #subscribers = new Set<Subscriber<T>>();

  /** Returns the function that unsubscribes. */
  subscribe(subscriber: Subscriber<T>): () => void {
    this.#subscribers.add(subscriber);
    return () => {
      this.#subscribers.delete(subscriber);
    };
  }

  /** Hand `items` (in order) to every subscriber, synchronously. */
  publish(items: readonly T[]): void {
    if (items.length === 0) return;
    for (const subscriber of this.#subscribers) subscriber(items);
  }

  get size(): number {
    return this.#subscribers.size;
  }
}
