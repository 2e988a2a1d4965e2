/**
 * Watches of the server's own informers handed over as objects, beside the HTTP exchange: the request
 * still goes through the app (authentication, authorization, metrics, the watch's selectors, bookmarks
 * and timeout), but its events reach the informer as the decoded objects the registry shares with every
 * watcher, deep-frozen, instead of JSON frames on a web stream that the informer parses again (~5 % of
 * the server's CPU with its garbage when its controllers and scheduler write at full speed).
 *
 * Freezing is what makes handing out the shared object safe: an informer's objects were already never
 * to be changed (controllers clone before changing), and a frozen one makes a mistake throw where it
 * would otherwise change what the server holds for every other watcher.
 */
import type { WatchEvent } from '../meta.js';

/** Requests whose sender takes a watch's events as objects (an InProcessTransport that asked for it). */
const objectWatchRequests = new WeakSet<Request>();

/** Marks `request` as sent by a transport that reads object watches. */
export function acceptObjectWatch(request: Request): void {
  objectWatchRequests.add(request);
}

/** Whether the sender of `request` takes the watch's events as objects. */
export function takesObjectWatch(request: Request): boolean {
  return objectWatchRequests.has(request);
}

/** The event queue the server attached to a request it answers with an object watch. */
const watches = new WeakMap<Request, ObjectWatch>();

/** Attaches `watch` to the request it answers (the transport picks it up with `objectWatchOf`). */
export function answerWithObjectWatch(request: Request, watch: ObjectWatch): void {
  watches.set(request, watch);
}

export function objectWatchOf(request: Request): ObjectWatch | undefined {
  return watches.get(request);
}

/**
 * Freezes a JSON-shaped value and everything in it. A frozen object is taken as frozen throughout:
 * this is the only freezer of watch objects, and it freezes a container before what it holds.
 */
export function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  Object.freeze(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) deepFreeze(value[i]);
  } else {
    for (const k in value) deepFreeze((value as Record<string, unknown>)[k]);
  }
}

/**
 * A bounded queue of watch events from the server's watch loop (the producer) to one informer (the
 * consumer). `push` answers false once the queue holds `limit` events; the producer then waits on
 * `drained`. The consumer leaving (`cancel`, or its loop ending) stops the producer through `onCancel`.
 */
export class ObjectWatch implements AsyncIterable<WatchEvent<unknown>> {
  private readonly queue: WatchEvent<unknown>[] = [];
  private head = 0;
  private closed = false;
  private cancelled = false;
  private waiter: ((r: IteratorResult<WatchEvent<unknown>>) => void) | undefined;
  private drainWaiter: (() => void) | undefined;
  private finishers: (() => void)[] = [];

  constructor(private readonly limit: number, private readonly onCancel: () => void) {}

  /** Queues an event (its object deep-frozen); false when the consumer should be waited for. */
  push(type: string, object: unknown): boolean {
    if (this.closed || this.cancelled) return true;
    deepFreeze(object);
    const ev = { type, object } as WatchEvent<unknown>;
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter({ value: ev, done: false });
      return true;
    }
    this.queue.push(ev);
    return this.queue.length - this.head < this.limit;
  }

  /** Runs `fn` once the consumer has seen the end of the events, or left. */
  onFinish(fn: () => void): void {
    this.finishers.push(fn);
  }

  private finish(): void {
    const finishers = this.finishers;
    this.finishers = [];
    for (const fn of finishers) fn();
  }

  /** Resolves when the consumer has taken what was queued, or left. */
  drained(): Promise<void> {
    if (this.cancelled || this.queue.length === this.head) return Promise.resolve();
    return new Promise((resolve) => { this.drainWaiter = resolve; });
  }

  /** No more events: the consumer's loop ends once it has taken the queued ones. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wake();
  }

  /** The consumer is gone: drop what is queued and stop the producer. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.queue.length = 0;
    this.head = 0;
    this.wake();
    this.drainWaiter?.();
    this.drainWaiter = undefined;
    this.finish();
    this.onCancel();
  }

  private wake(): void {
    const waiter = this.waiter;
    if (waiter && (this.closed || this.cancelled)) {
      this.waiter = undefined;
      this.finish();
      waiter({ value: undefined, done: true });
    }
  }

  private next(): Promise<IteratorResult<WatchEvent<unknown>>> {
    if (this.head < this.queue.length) {
      const value = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as WatchEvent<unknown>;
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
        this.drainWaiter?.();
        this.drainWaiter = undefined;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.closed || this.cancelled) {
      this.finish();
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve) => { this.waiter = resolve; });
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent<unknown>> {
    return {
      next: () => this.next(),
      return: () => {
        this.cancel();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
