/**
 * The storage contract the API server is written against. The SQLite backend implements it; a
 * distributed backend (etcd) can implement it later without touching the API server.
 *
 * Keys are opaque strings built by the API server (e.g. `/registry/pods/default/nginx`); values are
 * serialised objects. Revisions are positive integers that grow with every write across all keys,
 * and a key's revision is its object's `resourceVersion`.
 */

export interface KeyValue {
  key: string;
  value: string;
  /** Revision of this version of the key (the write that produced it). */
  modRevision: number;
  /** Revision at which the key was (last) created. */
  createRevision: number;
}

export type StoreEventType = 'create' | 'update' | 'delete';

export interface StoreEvent {
  type: StoreEventType;
  /** For delete: the last value, at the revision of the delete. */
  kv: KeyValue;
  /** The value this write replaced (update and delete). */
  prev?: KeyValue;
}

export interface ListOptions {
  /** Serve the list as of this revision (0 or undefined: the current revision). */
  revision?: number;
  /** Return at most this many keys (0 or undefined: all). */
  limit?: number;
  /** Return only keys strictly greater than this one (for `continue`). */
  startAfter?: string;
}

export interface ListResult {
  kvs: KeyValue[];
  /** The revision the list is consistent at. */
  revision: number;
  /** True when more keys follow after the last one returned. */
  more: boolean;
  /** How many keys follow, when `more` (for `remainingItemCount`). */
  remaining: number;
}

export interface WatchOptions {
  /** Deliver events with revision > this one (0: from now on). */
  sinceRevision: number;
  signal?: AbortSignal;
  /**
   * The events this watcher wants (the API server's selectors): a backend may skip the others
   * before they wake the watcher, as kube-apiserver's indexed triggers hand a pod event only to the
   * watch of its node. Skipping is a hint: a backend may deliver everything, so the caller still
   * filters. Runs while a write is published: keep it cheap; a throw delivers the event.
   */
  filter?: (event: StoreEvent) => boolean;
  /**
   * Progress in stream order: called with the revision of a skipped event once every event before
   * it has been taken from the stream (what BOOKMARKs may carry; one call may stand for several).
   */
  onProgress?: (revision: number) => void;
  /**
   * kube-apiserver's indexed trigger: the watch only cares about events for which `index` yields
   * `value` (a node's pod watch: spec.nodeName, now or before). A backend may then hand it only those
   * events (still through `filter`), and advance its progress past the rest once per published batch
   * instead of calling `filter` for every event of the cluster. Also a hint.
   */
  trigger?: { index: WatchIndex; value: string };
}

/** Index values of an event (for an update: of the new and the old value); shared by the watches that use it. */
export interface WatchIndex {
  valuesOf(event: StoreEvent): readonly string[];
}

/** Failure codes a backend reports; the API server maps them to Status errors. */
/** Unavailable: the datastore could not be reached in time (etcd without quorum); nothing was acknowledged. */
export type StoreErrorCode = 'KeyExists' | 'KeyNotFound' | 'Conflict' | 'Compacted' | 'Closed' | 'Unavailable';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  /** For Conflict: the key's current revision, when known. */
  readonly currentRevision: number | undefined;
  constructor(code: StoreErrorCode, message: string, currentRevision?: number) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
    this.currentRevision = currentRevision;
  }
}

export interface Store {
  /** Create `key`; fails with KeyExists if it exists. Returns the new revision. */
  create(key: string, value: string): Promise<KeyValue>;
  /**
   * Replace `key` only if its current revision is `expectedRevision`; fails with KeyNotFound if it
   * does not exist and Conflict if another write came first. The database enforces this.
   */
  update(key: string, expectedRevision: number, value: string): Promise<KeyValue>;
  /** Delete `key` if its current revision is `expectedRevision` (0: any). Returns the deleted value. */
  delete(key: string, expectedRevision: number): Promise<KeyValue>;
  /** The current value of `key`, or undefined. */
  get(key: string): Promise<KeyValue | undefined>;
  /** Keys with the given prefix, sorted, as of one consistent revision. */
  list(prefix: string, options?: ListOptions): Promise<ListResult>;
  /** How many live keys have the prefix. */
  count(prefix: string): Promise<number>;
  /**
   * Events for keys with the prefix. Events after `sinceRevision` that are still in the log are
   * replayed first; a `sinceRevision` older than the compaction point throws Compacted.
   */
  watch(prefix: string, options: WatchOptions): AsyncIterable<StoreEvent>;
  /** The newest revision written (of the backend holding `prefix`, where backends differ). */
  currentRevision(prefix?: string): number;
  /** The oldest revision that can still be watched from or listed at. */
  compactRevision(prefix?: string): number;
  /** Drop superseded versions older than `revision`. */
  compact(revision: number): Promise<void>;
  close(): Promise<void>;
}
