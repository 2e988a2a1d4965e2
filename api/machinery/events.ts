/**
 * Records core/v1 Events the way client-go's recorder does: one Event per object+reason+message, whose
 * `count` and `lastTimestamp` are bumped when the same thing happens again within ten minutes, and a
 * per-object token bucket so a crash-looping pod cannot write without end to the node's SD card.
 * Writes are asynchronous (a controller never waits for its events) through a small bounded queue.
 */
import type { ApiClient } from '../client/client.js';
import { log } from '../log.js';
import { rfc3339, type KubeObject } from '../meta.js';
import { apiVersionOf, resourceForKind } from '../resources.js';
import { isNotFound } from '../status.js';
import type { Event, ObjectReference } from '../types.js';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  /**
   * Records that `reason` happened to `obj` (which needs its kind). `fieldPath` names the part of it,
   * as kubelet does for containers: `spec.containers{web}`.
   */
  record(obj: KubeObject, type: EventType, reason: string, message: string, fieldPath?: string): void;
  /** Resolves once every queued write has finished (tests and shutdown). */
  flush(): Promise<void>;
}

export interface EventRecorderOptions {
  /** `source.component` / `reportingComponent`, e.g. `default-scheduler`, `replicaset-controller`. */
  component: string;
  /** `source.host` / `reportingInstance`: the node an agent's events come from. */
  host?: string;
  /** Same object+reason+message within this window bumps the existing Event (client-go: 10 min). */
  aggregateWindowMs?: number;
  /** Events one object may burst before the bucket throttles it (client-go: 25). */
  burstPerObject?: number;
  /** Refill of the per-object bucket, one token per this many ms (client-go: 5 min; edge: 10 s). */
  refillMsPerObject?: number;
  /** Remembered recent events (LRU). */
  cacheSize?: number;
  /** Writes waiting beyond this are dropped, like client-go's full broadcaster channel. */
  maxBacklog?: number;
}

interface CachedEvent {
  namespace: string;
  name: string;
  count: number;
  firstTimestamp: string;
  lastSeenMs: number;
  /** The create (or last bump) in flight: later bumps of the same Event wait for it. */
  pending: Promise<void>;
}

interface Bucket { tokens: number; updatedMs: number }

let sequence = 0;

/** `<object name>.<hex>`: unique per recorder process and sorted by time like upstream names. */
function eventName(objectName: string): string {
  sequence = (sequence + 1) % 0x1000;
  const stamp = (BigInt(Date.now()) * 1_000_000n + BigInt(sequence)).toString(16);
  return `${objectName}.${stamp}`;
}

export function referenceTo(obj: KubeObject): ObjectReference {
  const kind = obj.kind ?? '';
  const info = kind ? resourceForKind(kind) : undefined;
  const ref: ObjectReference = {
    kind,
    name: obj.metadata.name ?? '',
    apiVersion: obj.apiVersion ?? (info ? apiVersionOf(info) : 'v1'),
  };
  if (obj.metadata.namespace) ref.namespace = obj.metadata.namespace;
  if (obj.metadata.uid) ref.uid = obj.metadata.uid;
  if (obj.metadata.resourceVersion) ref.resourceVersion = obj.metadata.resourceVersion;
  return ref;
}

class Recorder implements EventRecorder {
  private readonly cache = new Map<string, CachedEvent>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly queue: (() => Promise<void>)[] = [];
  private running = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly window: number;
  private readonly burst: number;
  private readonly refillMs: number;
  private readonly cacheSize: number;
  private readonly maxBacklog: number;
  private static readonly CONCURRENCY = 4;

  constructor(private readonly client: ApiClient, private readonly o: EventRecorderOptions) {
    this.window = o.aggregateWindowMs ?? 10 * 60_000;
    this.burst = o.burstPerObject ?? 25;
    this.refillMs = o.refillMsPerObject ?? 10_000;
    this.cacheSize = o.cacheSize ?? 4096;
    this.maxBacklog = o.maxBacklog ?? 1000;
  }

  record(obj: KubeObject, type: EventType, reason: string, message: string, fieldPath?: string): void {
    const ref = referenceTo(obj);
    if (fieldPath) ref.fieldPath = fieldPath;
    const objectKey = `${ref.kind}/${ref.namespace ?? ''}/${ref.name}/${ref.uid ?? ''}/${fieldPath ?? ''}`;
    if (!this.takeToken(objectKey)) return;
    const now = Date.now();
    const key = `${objectKey}\u0000${type}\u0000${reason}\u0000${message}`;
    const cached = this.cache.get(key);
    if (cached && now - cached.lastSeenMs < this.window) {
      this.cache.delete(key); // LRU: move to the back
      this.cache.set(key, cached);
      cached.count += 1;
      cached.lastSeenMs = now;
      const count = cached.count;
      const previous = cached.pending;
      cached.pending = this.enqueue(async () => {
        await previous;
        await this.bump(cached, count, ref, type, reason, message);
      });
      return;
    }
    const ts = rfc3339(new Date(now));
    const entry: CachedEvent = {
      namespace: ref.namespace ?? 'default',
      name: eventName(ref.name ?? 'unknown'),
      count: 1,
      firstTimestamp: ts,
      lastSeenMs: now,
      pending: Promise.resolve(),
    };
    this.cache.delete(key);
    this.cache.set(key, entry);
    while (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    entry.pending = this.enqueue(() => this.create(entry, ref, type, reason, message, ts));
  }

  flush(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Token bucket per involved object. */
  private takeToken(objectKey: string): boolean {
    const now = Date.now();
    let b = this.buckets.get(objectKey);
    if (!b) {
      b = { tokens: this.burst, updatedMs: now };
      this.buckets.set(objectKey, b);
      if (this.buckets.size > this.cacheSize) this.pruneBuckets(now);
    }
    const refill = Math.floor((now - b.updatedMs) / this.refillMs);
    if (refill > 0) {
      b.tokens = Math.min(this.burst, b.tokens + refill);
      b.updatedMs += refill * this.refillMs;
    }
    if (b.tokens <= 0) return false;
    b.tokens -= 1;
    return true;
  }

  /** Forgets buckets that have refilled completely (they behave like new ones). */
  private pruneBuckets(now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + (now - b.updatedMs) / this.refillMs >= this.burst) this.buckets.delete(k);
    }
  }

  private body(entry: CachedEvent, ref: ObjectReference, type: EventType, reason: string, message: string, count: number, last: string): Event {
    return {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: entry.name, namespace: entry.namespace },
      involvedObject: ref,
      reason,
      message,
      type,
      source: { component: this.o.component, ...(this.o.host ? { host: this.o.host } : {}) },
      reportingComponent: this.o.component,
      reportingInstance: this.o.host ?? '',
      firstTimestamp: entry.firstTimestamp,
      lastTimestamp: last,
      eventTime: null,
      count,
    };
  }

  private async create(entry: CachedEvent, ref: ObjectReference, type: EventType, reason: string, message: string, ts: string): Promise<void> {
    await this.client.create('Event', entry.namespace, this.body(entry, ref, type, reason, message, 1, ts));
  }

  private async bump(entry: CachedEvent, count: number, ref: ObjectReference, type: EventType, reason: string, message: string): Promise<void> {
    const last = rfc3339();
    try {
      await this.client.patch('Event', entry.namespace, entry.name, { count, lastTimestamp: last }, 'merge');
    } catch (err) {
      // The Event was deleted (TTL, namespace cleanup) or never written: write it afresh.
      if (!isNotFound(err)) throw err;
      await this.client.create('Event', entry.namespace, this.body(entry, ref, type, reason, message, count, last));
    }
  }

  private enqueue(write: () => Promise<void>): Promise<void> {
    return new Promise((resolve) => {
      if (this.queue.length >= this.maxBacklog) {
        resolve();
        return;
      }
      this.queue.push(async () => {
        try {
          await write();
        } catch (err) {
          log.debug('events', 'event write failed', { component: this.o.component, error: (err as Error).message });
        } finally {
          resolve();
        }
      });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < Recorder.CONCURRENCY && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.running++;
      void job().finally(() => {
        this.running--;
        this.pump();
        if (this.running === 0 && this.queue.length === 0) {
          const ws = this.idleWaiters;
          this.idleWaiters = [];
          for (const w of ws) w();
        }
      });
    }
  }
}

/** The factory other controllers call: `const events = createEventRecorder(ctx.client, 'job-controller')`. */
export function createEventRecorder(client: ApiClient, component: string | EventRecorderOptions): EventRecorder {
  return new Recorder(client, typeof component === 'string' ? { component } : component);
}
