/**
 * One watcher: events for a key prefix, strictly in revision order, with no gap and no duplicate.
 *
 * It reads the log table until it has caught up ("replay"), then takes events from the in-process
 * broadcaster ("live"). It subscribes before its first table read, so every write either committed
 * before a read started (and that read returns it) or is published after the subscription (and
 * sits in the buffer); events at or below the last delivered revision are dropped, which removes
 * the overlap.
 *
 * The live buffer is bounded. When a consumer is too slow and the buffer fills, the buffer is
 * dropped and the watcher goes back to reading the table from its last delivered revision: the log
 * still holds every event, so memory stays bounded and writers never wait. Only when compaction has
 * removed rows the watcher still needed does it end, with StoreError 'Compacted' (the API server's
 * 410 Expired, after which the client re-lists).
 *
 * With a filter, unwanted events are dropped as they are published, without waking the consumer
 * (most of a node's pod watch is other nodes' pods). Their revisions still pass through the stream in
 * order, as progress marks: a skipped revision is reported (onProgress) only once every event before
 * it was taken, so a BOOKMARK built from it can never overtake an event still buffered. A run of
 * skipped events between two delivered ones is one mark; while the consumer waits with nothing
 * buffered, a skipped event is reported at once. With a trigger, the broadcaster hands the watcher
 * only the events of its index value, and the rest of each published batch is one mark.
 */
import { prefixRange, type KeyRange } from './key-range.js';
import type { Broadcaster } from './broadcaster.js';
import { StoreError, type StoreEvent, type WatchOptions } from './store.js';

export interface WatchSource {
  broadcaster: Broadcaster<StoreEvent>;
  /** Events after `afterRevision` in `range`, oldest first, at most `limit`. */
  readEvents(afterRevision: number, range: KeyRange, limit: number): Promise<StoreEvent[]>;
  compactRevision(): number;
  currentRevision(): number;
  /** Aborted when the store closes; watchers then end. */
  closed: AbortSignal;
}

export interface WatchStreamOptions {
  prefix: string;
  /** Deliver events with a revision greater than this. */
  afterRevision: number;
  signal?: AbortSignal;
  /** Live events held for a slow consumer before falling back to the table. */
  bufferSize: number;
  /** Rows per table read while catching up. */
  pageSize: number;
  /** See WatchOptions.filter and onProgress. */
  filter?: (event: StoreEvent) => boolean;
  onProgress?: (revision: number) => void;
  /** See WatchOptions.trigger: the broadcaster hands this watcher only its index value's events. */
  trigger?: WatchOptions['trigger'];
}

/** Stands for skipped events in the live buffer: the newest skipped revision since the item before it. */
class ProgressMark {
  constructor(public revision: number) {}
}

export function compactedError(revision: number, compactRevision: number): StoreError {
  return new StoreError(
    'Compacted',
    `revision ${revision} has been compacted (the oldest revision available is ${compactRevision})`,
  );
}

/** The watch loop; see the module comment. */
export async function* watchStream(source: WatchSource, options: WatchStreamOptions): AsyncGenerator<StoreEvent> {
  const { prefix, bufferSize, pageSize, filter, onProgress, trigger } = options;
  const range = prefixRange(prefix);
  /** Every event up to this revision was delivered or skipped. */
  let position = options.afterRevision;

  /** Live items not yet taken, from `head` on; taken slots are cleared so values can be collected. */
  let buffer: (StoreEvent | ProgressMark | undefined)[] = [];
  let head = 0;
  /** Increments whenever the buffer was dropped; a table read only counts if none happened meanwhile. */
  let drops = 0;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const wanted = (event: StoreEvent): boolean => {
    if (filter === undefined) return true;
    try {
      return filter(event);
    } catch {
      return true; // the consumer meets the same fault in its own context
    }
  };
  const progress = (revision: number): void => {
    if (revision <= position) return;
    position = revision;
    onProgress?.(revision);
  };
  const push = (item: StoreEvent | ProgressMark): void => {
    if (buffer.length - head >= bufferSize) {
      buffer = [];
      head = 0;
      drops += 1;
    }
    buffer.push(item);
  };
  const skip = (revision: number): void => {
    // Waiting with nothing buffered: everything before this revision has been taken.
    if (wake !== undefined && head >= buffer.length) return progress(revision);
    const last = buffer.length > head ? buffer[buffer.length - 1] : undefined;
    if (last instanceof ProgressMark) last.revision = revision;
    else push(new ProgressMark(revision));
  };

  const unsubscribe = source.broadcaster.subscribe((events, batch) => {
    let added = false;
    for (const event of events) {
      if (!event.kv.key.startsWith(prefix)) continue;
      if (!wanted(event)) {
        skip(event.kv.modRevision);
        continue;
      }
      push(event);
      added = true;
    }
    // Triggered: the rest of the batch was not for this watch; one mark stands for all of it.
    const last = batch[batch.length - 1];
    if (trigger !== undefined && last !== undefined && events[events.length - 1] !== last) skip(last.kv.modRevision);
    if (added) notify();
  }, trigger);
  let stopped = false;
  const stop = (): void => {
    stopped = true;
    notify();
  };
  options.signal?.addEventListener('abort', stop);
  source.closed.addEventListener('abort', stop);
  if (options.signal?.aborted === true || source.closed.aborted) stopped = true;

  try {
    // Catch up from the table only if something may have been written after `position`.
    let replaying = position < source.currentRevision();
    let liveSince = drops;
    while (!stopped) {
      if (replaying || drops !== liveSince) {
        const dropsAtRead = drops;
        const from = position;
        const page = await source.readEvents(from, range, pageSize);
        if (stopped) return;
        const compactRevision = source.compactRevision();
        if (compactRevision > from) throw compactedError(from, compactRevision);
        for (const event of page) {
          if (!wanted(event)) {
            progress(event.kv.modRevision);
            continue;
          }
          position = event.kv.modRevision;
          yield event;
          if (stopped) return;
        }
        // A short page means the table had nothing more at the time of the read; if the buffer was
        // not dropped since before that read, it holds everything published after it.
        replaying = !(page.length < pageSize && drops === dropsAtRead);
        liveSince = dropsAtRead;
        continue;
      }
      if (head >= buffer.length) {
        buffer = [];
        head = 0;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      const event = buffer[head];
      buffer[head] = undefined;
      head += 1;
      if (event instanceof ProgressMark) {
        progress(event.revision);
        continue;
      }
      if (event === undefined || event.kv.modRevision <= position) continue;
      position = event.kv.modRevision;
      yield event;
    }
  } finally {
    unsubscribe();
    options.signal?.removeEventListener('abort', stop);
    source.closed.removeEventListener('abort', stop);
  }
}
