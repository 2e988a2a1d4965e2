/**
 * Turns a registry watch into the HTTP body kubectl and informers read: newline-delimited JSON
 * events on a chunked response that stays open (kubectl `get -w` exits when it closes), with
 * optional BOOKMARK events and a `timeoutSeconds` end. Pull-based, so a slow client applies
 * back-pressure to the store's bounded watcher instead of growing a queue here.
 */
import type { KubeObject, WatchEvent } from '../../api/meta.js';
import { StatusError, errors } from '../../api/status.js';
import { encodeProtobufWatchFrame } from '../../api/codec/protobuf.js';

export interface WatchStreamOptions {
  events: AsyncGenerator<WatchEvent<KubeObject>>;
  /** Converts an event's object for the wire (e.g. into a one-row Table). */
  render: (ev: WatchEvent<KubeObject>, first: boolean) => unknown;
  bookmarkKind?: { apiVersion: string; kind: string };
  bookmarkIntervalMs: number;
  timeoutMs: number;
  /** The resourceVersion the watch starts from (for bookmarks before any event). */
  startRevision: number;
  /** The newest revision processed without an event for this client (filtered out by selectors). */
  filteredRevision?: () => number;
  abort: AbortController;
  /** `protobuf`: length-prefixed WatchEvent frames (Content-Type `…protobuf;stream=watch`). */
  format?: 'json' | 'protobuf';
}

const encoder = new TextEncoder();
const line = (v: unknown): Uint8Array => encoder.encode(`${JSON.stringify(v)}\n`);

/**
 * Serialised objects, by identity: the registry hands every watcher the same decoded object for a
 * store event, so N watchers of a kind serialise it once instead of N times.
 */
const serialized = new WeakMap<object, string>();

function eventLine(type: string, object: unknown): Uint8Array {
  if (object === null || typeof object !== 'object') return line({ type, object });
  let json = serialized.get(object);
  if (json === undefined) {
    json = JSON.stringify(object);
    serialized.set(object, json);
  }
  return encoder.encode(`{"type":${JSON.stringify(type)},"object":${json}}\n`);
}

function protobufFrame(type: string, object: unknown): Uint8Array {
  return encodeProtobufWatchFrame(type, object as Record<string, unknown>);
}

export function watchBody(o: WatchStreamOptions): ReadableStream<Uint8Array> {
  const frame = o.format === 'protobuf' ? protobufFrame : eventLine;
  let pending: Promise<IteratorResult<WatchEvent<KubeObject>>> | undefined;
  let lastRevision = o.startRevision;
  let first = true;
  const deadline = Date.now() + o.timeoutMs;
  let nextBookmark = Date.now() + o.bookmarkIntervalMs;
  let finished = false;

  const finish = (controller: ReadableStreamDefaultController<Uint8Array>): void => {
    if (finished) return;
    finished = true;
    o.abort.abort();
    void o.events.return(undefined).catch(() => undefined);
    controller.close();
  };

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        if (finished) return;
        const now = Date.now();
        if (now >= deadline) return finish(controller);
        pending ??= o.events.next();
        const waitMs = Math.min(deadline - now, o.bookmarkKind ? Math.max(0, nextBookmark - now) : deadline - now);
        let timer: NodeJS.Timeout | undefined;
        const tick = new Promise<'tick'>((resolve) => { timer = setTimeout(() => resolve('tick'), waitMs); });
        let result: IteratorResult<WatchEvent<KubeObject>> | 'tick';
        try {
          result = await Promise.race([pending, tick]);
        } catch (err) {
          clearTimeout(timer);
          const status = err instanceof StatusError ? err : errors.internal((err as Error).message);
          if (!o.abort.signal.aborted) controller.enqueue(frame('ERROR', status.toStatus()));
          return finish(controller);
        }
        clearTimeout(timer);
        if (result === 'tick') {
          if (o.bookmarkKind && Date.now() >= nextBookmark) {
            nextBookmark = Date.now() + o.bookmarkIntervalMs;
            controller.enqueue(frame('BOOKMARK', {
              ...o.bookmarkKind, metadata: { resourceVersion: String(Math.max(lastRevision, o.filteredRevision?.() ?? 0)) },
            }));
            return;
          }
          continue;
        }
        pending = undefined;
        if (result.done) return finish(controller);
        const rv = Number(result.value.object.metadata.resourceVersion);
        if (Number.isFinite(rv) && rv > lastRevision) lastRevision = rv;
        controller.enqueue(frame(result.value.type, o.render(result.value, first)));
        first = false;
        return;
      }
    },
    cancel() {
      finished = true;
      o.abort.abort();
      void o.events.return(undefined).catch(() => undefined);
    },
  });
}
