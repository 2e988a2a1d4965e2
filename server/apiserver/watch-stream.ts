/**
 * Turns a registry watch into the HTTP body kubectl and informers read: newline-delimited JSON
 * events on a chunked response that stays open (kubectl `get -w` exits when it closes), with
 * optional BOOKMARK events and a `timeoutSeconds` end.
 *
 * One loop per watch takes the next event and writes its frame; when the sink is full it waits for
 * it to drain before taking the next, so a slow client applies back-pressure to the store's bounded
 * watcher instead of growing a queue here. Bookmarks and the deadline are two timers per watch, not
 * one per event. The sink is the Node response itself for HTTP clients (no web stream between the
 * event and the socket) or a web ReadableStream for in-process clients.
 */
import { ServerResponse } from 'node:http';
import { Http2ServerResponse } from 'node:http2';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { KubeObject, WatchEvent } from '../../api/meta.js';
import { StatusError, errors } from '../../api/status.js';
import { encodeProtobufWatchFrame } from '../../api/codec/protobuf.js';
import { servedJsonOf } from './served-json.js';
import { ObjectWatch, answerWithObjectWatch, takesObjectWatch } from '../../api/client/in-process-watch.js';

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

/**
 * Where events go (as frames, or as objects for the server's informers): `write` answers false when
 * the consumer is full, then `drained` resolves when it can take more.
 */
interface WatchSink {
  write(type: string, object: unknown): boolean;
  drained(): Promise<void>;
  end(): void;
}

type Format = NonNullable<WatchStreamOptions['format']>;

/**
 * Frames by object identity, format and type: the registry hands every watcher the same decoded
 * object for a store event, so N watchers of a kind serialise and encode it once instead of N times.
 */
const frames = new WeakMap<object, Map<string, Uint8Array>>();

/**
 * The objects with frames, oldest first: only the last FRAMED_OBJECTS keep theirs. The decoded objects
 * live on in the informers' caches (see api/client/in-process-watch.ts), and their frames with them
 * would be a few KiB per live object; a watcher that far behind encodes the frame again.
 */
const framed: object[] = [];
let framedNext = 0;
const FRAMED_OBJECTS = 256;

function encodeFrame(format: Format, type: string, object: unknown): Uint8Array {
  if (format === 'protobuf') return encodeProtobufWatchFrame(type, object as Record<string, unknown>);
  const json = object !== null && typeof object === 'object' ? servedJsonOf(object) : undefined;
  return Buffer.from(`{"type":${JSON.stringify(type)},"object":${json ?? JSON.stringify(object)}}\n`);
}

function frame(format: Format, type: string, object: unknown): Uint8Array {
  if (object === null || typeof object !== 'object') return encodeFrame(format, type, object);
  let byType = frames.get(object);
  const key = `${format}:${type}`;
  let bytes = byType?.get(key);
  if (bytes === undefined) {
    bytes = encodeFrame(format, type, object);
    if (!byType) {
      frames.set(object, (byType = new Map()));
      const evicted = framed[framedNext];
      if (evicted !== undefined) frames.delete(evicted);
      framed[framedNext] = object;
      framedNext = (framedNext + 1) % FRAMED_OBJECTS;
    }
    byType.set(key, bytes);
  }
  return bytes;
}

/** The watch loop; see the module comment. Ends the sink when the watch ends for any reason. */
async function runWatch(o: WatchStreamOptions, sink: WatchSink): Promise<void> {
  let lastRevision = o.startRevision;
  let first = true;
  const deadline = setTimeout(() => o.abort.abort(), o.timeoutMs);
  const bookmarks = o.bookmarkKind
    ? setInterval(() => {
      sink.write('BOOKMARK', {
        ...o.bookmarkKind, metadata: { resourceVersion: String(Math.max(lastRevision, o.filteredRevision?.() ?? 0)) },
      });
    }, o.bookmarkIntervalMs)
    : undefined;
  try {
    for (;;) {
      const result = await o.events.next();
      if (result.done || o.abort.signal.aborted) return;
      const rv = Number(result.value.object.metadata.resourceVersion);
      if (Number.isFinite(rv) && rv > lastRevision) lastRevision = rv;
      const full = !sink.write(result.value.type, o.render(result.value, first));
      first = false;
      if (full) await sink.drained();
    }
  } catch (err) {
    const status = err instanceof StatusError ? err : errors.internal((err as Error).message);
    if (!o.abort.signal.aborted) sink.write('ERROR', status.toStatus());
  } finally {
    clearTimeout(deadline);
    clearInterval(bookmarks);
    o.abort.abort();
    void o.events.return(undefined).catch(() => undefined);
    sink.end();
  }
}

/**
 * The response of a watch: an HTTP client's events go straight to its Node response (`outgoing`, when
 * the request came over a socket), in-process ones read a web stream, or, when the sender of `request`
 * takes JSON events as objects (the server's informers), an ObjectWatch beside the response. The
 * caller passes no request for a watch of tables, which are built per watch.
 */
export function watchResponse(o: WatchStreamOptions, headers: Record<string, string>, outgoing: unknown, request?: Request): Response {
  if (request !== undefined && (o.format ?? 'json') === 'json' && takesObjectWatch(request)) {
    answerWithObjectWatch(request, objectWatch(o));
    return new Response(null, { status: 200, headers });
  }
  if (!(outgoing instanceof ServerResponse) && !(outgoing instanceof Http2ServerResponse)) return new Response(watchBody(o), { status: 200, headers });
  outgoing.writeHead(200, headers);
  // An HTTP/2 stream's writeHead sends the HEADERS frame itself.
  if (outgoing instanceof ServerResponse) outgoing.flushHeaders();
  writeWatch(o, outgoing);
  // Built when this module loaded, before @hono/node-server replaced the global Response: its
  // adapter then leaves the already written response alone.
  return RESPONSE_ALREADY_SENT;
}

/** Whether the client is gone: an HTTP/1.1 response's socket, or an HTTP/2 response's stream. */
function responseGone(res: ServerResponse | Http2ServerResponse): boolean {
  return res instanceof ServerResponse ? res.destroyed : res.stream.destroyed || res.stream.closed;
}

/** The watch written straight to a Node response (HTTP/1.1, or an HTTP/2 stream's) whose head has been sent. */
function writeWatch(o: WatchStreamOptions, res: ServerResponse | Http2ServerResponse): void {
  if (responseGone(res)) o.abort.abort();
  const format = o.format ?? 'json';
  void runWatch(o, {
    write: (type, object) => {
      const bytes = frame(format, type, object);
      return res instanceof ServerResponse ? res.write(bytes) : res.write(bytes);
    },
    drained: () => new Promise<void>((resolve) => {
      if (responseGone(res)) return resolve();
      const done = (): void => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    }),
    end: () => res.end(),
  });
}

/** The watch as a web stream, for in-process clients (the server's own informers). */
function watchBody(o: WatchStreamOptions): ReadableStream<Uint8Array> {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let wantMore: (() => void) | undefined;
  let ended = false;
  const stream = new ReadableStream<Uint8Array>({
    start(c) { controller = c; },
    pull() {
      wantMore?.();
      wantMore = undefined;
    },
    cancel() {
      ended = true;
      wantMore?.();
      o.abort.abort();
    },
  }, { highWaterMark: 1 });
  const format = o.format ?? 'json';
  void runWatch(o, {
    write: (type, object) => {
      if (ended) return true;
      controller.enqueue(frame(format, type, object));
      return (controller.desiredSize ?? 0) > 0;
    },
    drained: () => (ended ? Promise.resolve() : new Promise<void>((resolve) => { wantMore = resolve; })),
    end: () => {
      if (ended) return;
      ended = true;
      controller.close();
    },
  });
  return stream;
}

/**
 * How many events an informer's object watch queues before the watch loop waits for it (the events
 * are shared objects, so a queue costs only its slots).
 */
const OBJECT_WATCH_QUEUE = 16;

/** The watch as objects for the server's informers (see api/client/in-process-watch.ts). */
function objectWatch(o: WatchStreamOptions): ObjectWatch {
  const watch = new ObjectWatch(OBJECT_WATCH_QUEUE, () => o.abort.abort());
  void runWatch(o, {
    write: (type, object) => watch.push(type, object),
    drained: () => watch.drained(),
    end: () => watch.close(),
  });
  return watch;
}
