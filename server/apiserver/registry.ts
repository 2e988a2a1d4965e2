/**
 * Generic REST storage for every kind: the create/update/patch/delete/list/watch semantics of the
 * Kubernetes apiserver (uid, timestamps, generation, resourceVersion preconditions, finalizers,
 * graceful deletion, status subresource, selectors, pagination) on top of a `Store`.
 * Per-kind differences live in strategies.ts; cross-object admission (allocators) in plugins.
 *
 * Why this file is long: the generic registry: every write path (create, update, patch, delete,
 * status) with its admission and optimistic concurrency rules, kept together so they cannot drift
 * apart.
 */
import { randomUUID } from 'node:crypto';
import type { KubeList, KubeObject, WatchEvent, DeleteOptions, ManagedFieldsEntry } from '../../api/meta.js';
import { rfc3339 } from '../../api/meta.js';
import { apiVersionOf, qualifiedResource, resourceForKind, type ResourceInfo } from '../../api/resources.js';
import { errors, StatusError, type StatusCause, isNotFound } from '../../api/status.js';
import { clone, deepEqual } from '../../api/object-util.js';
import { applyDefaults } from '../../api/defaults.js';
import { validateObject } from '../../api/validation/index.js';
import { fieldValue, matchesFields, matchesLabels, type FieldRequirement, type LabelRequirement } from '../../api/selectors.js';
import { StoreError, type KeyValue, type Store, type StoreEvent, type WatchIndex } from '../store/store.js';
import { listPrefix, objectKey } from './keys.js';
import { strategyFor } from './strategies.js';
import { checkObjectTypes, type FieldValidation } from './schema.js';
import { decodedFrom, storedJsonWithRevision } from './served-json.js';
import { managedFieldsAfterUpdate } from './server-side-apply.js';

/** Who is asking, for admission decisions and audit. */
export interface RequestUser { name: string; groups: string[] }

export interface WriteOptions {
  dryRun?: boolean;
  fieldManager?: string;
  user?: RequestUser;
  /**
   * Server-side apply: on create, the managedFields to record; on update, that the mutated object
   * carries its own managedFields (computed by server-side-apply.ts) instead of update tracking.
   */
  apply?: { managedFields?: ManagedFieldsEntry[] };
  /** Unknown fields of the body: dropped (Ignore, Warn) or rejected (Strict); internal writes: Ignore. */
  fieldValidation?: FieldValidation;
  /** Collects the warnings (`unknown field "spec.foo"`) a Warn request answers with. */
  warnings?: string[];
}

/**
 * Cross-object admission: runs after defaulting and validation, before the write. A returned function
 * undoes what the plugin reserved (e.g. an allocated ClusterIP) if the write then fails.
 */
export interface AdmissionPlugin {
  name: string;
  admitCreate?(info: ResourceInfo, obj: KubeObject, opts: WriteOptions): Promise<(() => Promise<void>) | void>;
  admitUpdate?(info: ResourceInfo, obj: KubeObject, old: KubeObject, opts: WriteOptions): Promise<(() => Promise<void>) | void>;
  /** Called before an object is deleted (or marked for deletion); throwing refuses the delete. */
  admitDelete?(info: ResourceInfo, obj: KubeObject, opts: WriteOptions): Promise<void>;
  /** Called once an object is gone from the store. */
  afterDelete?(info: ResourceInfo, obj: KubeObject): Promise<void>;
}

export interface ListQuery {
  labelSelector?: LabelRequirement[];
  fieldSelector?: FieldRequirement[];
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
}

export interface WatchQuery {
  labelSelector?: LabelRequirement[];
  fieldSelector?: FieldRequirement[];
  /** '' or '0': start with the current state as ADDED events. */
  resourceVersion?: string;
  signal: AbortSignal;
  /**
   * Called with the revision of store events the selectors filtered out (here or, skipped before they
   * woke the watch, in the store). Every event before it has been consumed already (the generator is
   * pull-based, the store reports skipped revisions in stream order), so BOOKMARKs may carry it.
   */
  onFilteredRevision?: (revision: number) => void;
}

export interface DeleteResult { object: KubeObject; deleted: boolean }

const NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';
const MAX_UPDATE_RETRIES = 8;

/** What the apiserver answers for a list newer than anything it has (storage.NewTooLargeResourceVersionError). */
function tooLargeResourceVersion(wanted: number, current: number): StatusError {
  return new StatusError(504, 'Timeout', `Timeout: Too large resource version: ${wanted}, current: ${current}`, {
    causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
    retryAfterSeconds: 1,
  });
}

function randomSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += NAME_CHARS[Math.floor(Math.random() * NAME_CHARS.length)];
  return s;
}

interface ContinueToken { rv: number; start: string }

function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function decodeContinue(s: string): ContinueToken {
  try {
    const t = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as ContinueToken;
    if (typeof t.rv !== 'number' || typeof t.start !== 'string') throw new Error('shape');
    return t;
  } catch {
    throw errors.badRequest('invalid continue token');
  }
}

const CLOSE_LIST = Buffer.from(']}');

/** `head`, the items separated by commas, then `tail`, copied once into one buffer. */
function joinJson(head: Buffer, items: readonly Buffer[], tail: Buffer): Buffer<ArrayBuffer> {
  let length = head.length + tail.length + Math.max(0, items.length - 1);
  for (const item of items) length += item.length;
  const out = Buffer.allocUnsafe(length);
  let at = head.copy(out, 0);
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out[at++] = 0x2c; // ','
    at += items[i]!.copy(out, at);
  }
  tail.copy(out, at);
  return out;
}

/** How many decoded revisions the registry keeps by key beyond their KeyValues (a few hundred KiB of pods). */
const RECENTLY_DECODED = 256;

export class Registry {
  private readonly decoded = new WeakMap<KeyValue, KubeObject>();
  /** Served JSON per stored value (see servedJson). */
  private readonly servedBytes = new WeakMap<KeyValue, Buffer>();
  /** Labels per stored value, for label-selected lists (see labelsOf). */
  private readonly storedLabels = new WeakMap<KeyValue, Record<string, string> | undefined>();
  /** Field values by path per stored value, for field-selected lists (see fieldsMatch). */
  private readonly storedFields = new WeakMap<KeyValue, Map<string, string>>();
  /** The pods' spec.nodeName watch index (see triggerFor). */
  private podsByNode: WatchIndex | undefined;
  /** The last revisions decoded, by key, at most RECENTLY_DECODED (see recentlyDecoded). */
  private readonly recent = new Map<string, { revision: number; value: string; obj: KubeObject }>();
  /** Tail of the queue of read-modify-write operations per key (see withKeyLock). */
  private readonly keyQueues = new Map<string, Promise<void>>();

  constructor(private readonly store: Store, private readonly plugins: AdmissionPlugin[] = []) {}

  addPlugin(plugin: AdmissionPlugin): void {
    this.plugins.push(plugin);
  }

  /** The newest revision of the backend that holds this kind. */
  currentRevision(info: ResourceInfo): number {
    return this.store.currentRevision(listPrefix(info));
  }

  /**
   * Runs read-modify-write operations on one key one after another. Concurrent patches of one object
   * would otherwise all read the same revision and all but one lose the race; the store's revision
   * check stays as the guard against writers outside this process.
   */
  private async withKeyLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.keyQueues.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => { release = resolve; });
    this.keyQueues.set(key, mine);
    if (previous) await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.keyQueues.get(key) === mine) this.keyQueues.delete(key);
    }
  }

  /**
   * The shared decoded form of a revision decoded lately under another KeyValue: the store publishes
   * a write's KeyValue to watchers while its watch cache keeps a copy of it, so the read-modify-write
   * that follows an event (a bind after a create, a status update after a bind) would parse the same
   * text again.
   */
  private recentlyDecoded(kv: KeyValue): KubeObject | undefined {
    const recent = this.recent.get(kv.key);
    return recent !== undefined && recent.revision === kv.modRevision && recent.value === kv.value ? recent.obj : undefined;
  }

  /** Decodes a stored value; the result is shared and must not be mutated (clone first). */
  private decode(kv: KeyValue, info: ResourceInfo): KubeObject {
    let obj = this.decoded.get(kv);
    if (!obj) {
      obj = this.recentlyDecoded(kv);
      if (!obj) {
        obj = JSON.parse(kv.value) as KubeObject;
        obj.metadata.resourceVersion = String(kv.modRevision);
        decodedFrom(obj, kv);
        // Most recent last; the oldest goes once the map is full.
        this.recent.delete(kv.key);
        this.recent.set(kv.key, { revision: kv.modRevision, value: kv.value, obj });
        if (this.recent.size > RECENTLY_DECODED) this.recent.delete(this.recent.keys().next().value!);
      }
      this.decoded.set(kv, obj);
    }
    return servedVersion(info, obj);
  }

  /**
   * A private copy of a stored value: parsed once, and cloned only when a decoded copy is already
   * shared (watch fan-out, or a store that hands out the same KeyValue again).
   */
  private decodeOwned(kv: KeyValue, info: ResourceInfo): KubeObject {
    const shared = this.decoded.get(kv) ?? this.recentlyDecoded(kv);
    if (shared) return servedVersion(info, clone(shared));
    const obj = JSON.parse(kv.value) as KubeObject;
    obj.metadata.resourceVersion = String(kv.modRevision);
    return servedVersion(info, obj);
  }

  /** The stored form: without resourceVersion, and a custom resource in its CRD's storage version. */
  private static encode(info: ResourceInfo, obj: KubeObject): string {
    const { resourceVersion: _rv, ...meta } = obj.metadata;
    const apiVersion = info.custom ? apiVersionOf({ group: info.group, version: info.custom.storageVersion }) : obj.apiVersion;
    return JSON.stringify({ ...obj, apiVersion, metadata: meta });
  }

  /**
   * What a write returns: the object it encoded, with the new resourceVersion. It is what parsing the
   * stored text back would give (encode only drops resourceVersion and sets the storage apiVersion,
   * which servedVersion would undo), without a parse or a clone per write; `obj` is the writer's own
   * copy, never the shared decoded one.
   */
  private static written(obj: KubeObject, kv: KeyValue): KubeObject {
    obj.metadata.resourceVersion = String(kv.modRevision);
    return obj;
  }

  private notFound(info: ResourceInfo, name: string): StatusError {
    return errors.notFound(qualifiedResource(info), name, info.group);
  }

  async get(info: ResourceInfo, namespace: string | undefined, name: string): Promise<KubeObject> {
    const kv = await this.store.get(objectKey(info, namespace, name));
    if (!kv) throw this.notFound(info, name);
    return this.decodeOwned(kv, info);
  }

  /** Like get, but undefined for a missing object. */
  async tryGet(info: ResourceInfo, namespace: string | undefined, name: string): Promise<KubeObject | undefined> {
    const kv = await this.store.get(objectKey(info, namespace, name));
    return kv ? this.decodeOwned(kv, info) : undefined;
  }

  /**
   * Like tryGet, but the shared decoded object itself, not a copy: for callers that only read a
   * field or two of it (authorizers, admission checks), which must never change it.
   */
  async peek(info: ResourceInfo, namespace: string | undefined, name: string): Promise<Readonly<KubeObject> | undefined> {
    const kv = await this.store.get(objectKey(info, namespace, name));
    return kv ? this.decode(kv, info) : undefined;
  }

  private matches(obj: KubeObject, labels?: LabelRequirement[], fields?: FieldRequirement[]): boolean {
    if (labels && labels.length > 0 && !matchesLabels(labels, obj.metadata.labels)) return false;
    if (fields && fields.length > 0 && !matchesFields(fields, obj)) return false;
    return true;
  }

  async list(info: ResourceInfo, namespace: string | undefined, q: ListQuery = {}): Promise<KubeList> {
    const { items, metadata } = await this.listItems(info, namespace, q, (kv) => {
      const obj = this.decodeOwned(kv, info);
      return this.matches(obj, q.labelSelector, q.fieldSelector) ? obj : undefined;
    });
    return { apiVersion: apiVersionOf(info), kind: `${info.kind}List`, metadata, items };
  }

  /**
   * A list without field selectors as the bytes of its JSON response, spliced from each object's
   * served JSON instead of parsing and re-serialising every object (what dominated a LIST of 10,000
   * pods); selectors are matched against each object's labels and selected field values, kept per
   * stored revision.
   */
  async listJson(info: ResourceInfo, namespace: string | undefined, q: ListQuery = {}): Promise<Buffer<ArrayBuffer>> {
    const labels = q.labelSelector?.length ? q.labelSelector : undefined;
    const fields = q.fieldSelector?.length ? q.fieldSelector : undefined;
    const { items, metadata } = await this.listItems(info, namespace, q, (kv) => (
      (!labels || matchesLabels(labels, this.labelsOf(kv))) && (!fields || this.fieldsMatch(kv, fields)) ? this.servedJson(kv, info) : undefined));
    const head = Buffer.from(`{"apiVersion":${JSON.stringify(apiVersionOf(info))},"kind":${JSON.stringify(`${info.kind}List`)},"metadata":${JSON.stringify(metadata)},"items":[`);
    return joinJson(head, items, CLOSE_LIST);
  }

  /** A stored object's labels, parsed once per stored revision (or taken from its decoded form). */
  private labelsOf(kv: KeyValue): Record<string, string> | undefined {
    if (this.storedLabels.has(kv)) return this.storedLabels.get(kv);
    const labels = (this.decoded.get(kv) ?? (JSON.parse(kv.value) as KubeObject)).metadata.labels;
    this.storedLabels.set(kv, labels);
    return labels;
  }

  /** Whether a stored object meets field requirements; each field's value is read once per stored revision. */
  private fieldsMatch(kv: KeyValue, fields: readonly FieldRequirement[]): boolean {
    let values = this.storedFields.get(kv);
    if (!values) this.storedFields.set(kv, (values = new Map()));
    let obj: KubeObject | undefined;
    for (const req of fields) {
      let value = values.get(req.path);
      if (value === undefined) {
        obj ??= this.decoded.get(kv) ?? (JSON.parse(kv.value) as KubeObject);
        values.set(req.path, (value = fieldValue(obj, req.path)));
      }
      if ((value === req.value) !== (req.operator === '=')) return false;
    }
    return true;
  }

  /**
   * An object's JSON as served, as bytes. Stored in the stored-values' version it is kept per stored
   * revision (the watch cache hands out the same KeyValue until the object changes), so repeated
   * lists copy bytes instead of splicing and encoding text each time.
   */
  private servedJson(kv: KeyValue, info: ResourceInfo): Buffer {
    // A custom resource read in another version than its storage one needs its apiVersion rewritten.
    if (info.custom && info.custom.storageVersion !== info.version) return Buffer.from(JSON.stringify(this.decode(kv, info)));
    let bytes = this.servedBytes.get(kv);
    if (!bytes) {
      bytes = Buffer.from(storedJsonWithRevision(kv) ?? JSON.stringify(this.decode(kv, info)));
      this.servedBytes.set(kv, bytes);
    }
    return bytes;
  }

  /** The paging of a list; `toItem` turns a stored value into an item, or undefined to skip it. */
  private async listItems<T>(info: ResourceInfo, namespace: string | undefined, q: ListQuery, toItem: (kv: KeyValue) => T | undefined): Promise<{ items: T[]; metadata: KubeList['metadata'] }> {
    const prefix = listPrefix(info, namespace);
    let revision = 0;
    let startAfter: string | undefined;
    if (q.continue) {
      if (q.resourceVersion && q.resourceVersion !== '0') throw errors.badRequest('specifying resource version is not allowed when using continue');
      const token = decodeContinue(q.continue);
      // A token from another list (kind or namespace) would silently page through the wrong keys.
      if (!token.start.startsWith(prefix)) throw errors.badRequest('continue key is not valid: the continue token does not belong to this list');
      revision = token.rv;
      startAfter = token.start;
    } else if (q.resourceVersion && q.resourceVersion !== '0') {
      // Exact lists at that revision; NotOlderThan (the default) at the newest one, which must
      // not be older than asked for.
      const wanted = Number(q.resourceVersion);
      if (!Number.isInteger(wanted) || wanted <= 0) throw errors.badRequest(`invalid resourceVersion "${q.resourceVersion}"`);
      const current = this.store.currentRevision(prefix);
      if (wanted > current) throw tooLargeResourceVersion(wanted, current);
      if (q.resourceVersionMatch === 'Exact') revision = wanted;
    }
    const limit = q.limit && q.limit > 0 ? q.limit : 0;
    const items: T[] = [];
    let more = false;
    let remaining = 0;
    let lastKey: string | undefined;
    let listRevision = revision;
    const filtering = (q.labelSelector?.length ?? 0) > 0 || (q.fieldSelector?.length ?? 0) > 0;
    for (;;) {
      const page = await this.listPage(prefix, {
        revision: listRevision,
        ...(limit ? { limit: filtering ? Math.max(limit, 500) : limit - items.length } : {}),
        ...(startAfter !== undefined ? { startAfter } : {}),
        continued: q.continue !== undefined,
      });
      listRevision = page.revision;
      let stoppedEarly = false;
      for (let i = 0; i < page.kvs.length; i++) {
        const kv = page.kvs[i]!;
        lastKey = kv.key;
        const item = toItem(kv);
        if (item !== undefined) items.push(item);
        if (limit && items.length >= limit) {
          stoppedEarly = i < page.kvs.length - 1 || page.more;
          remaining = page.remaining + (page.kvs.length - 1 - i);
          break;
        }
      }
      if (limit && items.length >= limit) {
        more = stoppedEarly;
        break;
      }
      if (!page.more) break;
      startAfter = lastKey;
    }
    const metadata: KubeList['metadata'] = { resourceVersion: String(listRevision) };
    if (more && lastKey !== undefined) {
      metadata.continue = encodeContinue({ rv: listRevision, start: lastKey });
      if (!filtering) metadata.remainingItemCount = remaining;
    }
    return { items, metadata };
  }

  private async listPage(prefix: string, o: { revision: number; limit?: number; startAfter?: string; continued: boolean }) {
    try {
      return await this.store.list(prefix, {
        ...(o.revision ? { revision: o.revision } : {}),
        ...(o.limit ? { limit: o.limit } : {}),
        ...(o.startAfter !== undefined ? { startAfter: o.startAfter } : {}),
      });
    } catch (err) {
      if (err instanceof StoreError && err.code === 'Compacted') {
        throw o.continued
          ? errors.gone('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.')
          : errors.gone(`too old resource version: ${o.revision} (${this.store.compactRevision(prefix)})`);
      }
      throw err;
    }
  }

  /** Watch events for a kind (optionally one namespace), filtered by selectors. */
  async *watch(info: ResourceInfo, namespace: string | undefined, q: WatchQuery): AsyncGenerator<WatchEvent<KubeObject>> {
    const prefix = listPrefix(info, namespace);
    let since: number;
    if (!q.resourceVersion || q.resourceVersion === '0') {
      const initial = await this.list(info, namespace, {
        ...(q.labelSelector ? { labelSelector: q.labelSelector } : {}),
        ...(q.fieldSelector ? { fieldSelector: q.fieldSelector } : {}),
      });
      for (const item of initial.items) {
        item.apiVersion = apiVersionOf(info);
        item.kind = info.kind;
        yield { type: 'ADDED', object: item };
      }
      since = Number(initial.metadata.resourceVersion);
    } else {
      since = Number(q.resourceVersion);
      if (!Number.isInteger(since) || since < 0) throw errors.badRequest(`invalid resourceVersion "${q.resourceVersion}"`);
    }
    const selective = (q.labelSelector?.length ?? 0) > 0 || (q.fieldSelector?.length ?? 0) > 0;
    // The store skips what the selectors would drop below before it wakes this watch (a node's pod
    // watch sees its own pods, not every pod of the cluster), and reports the skipped revisions in
    // stream order for BOOKMARKs; whatever it delivers is still matched here.
    const wanted = (ev: StoreEvent): boolean => this.matches(this.decode(ev.kv, info), q.labelSelector, q.fieldSelector)
      || (ev.type === 'update' && ev.prev !== undefined && this.matches(this.decode(ev.prev, info), q.labelSelector, q.fieldSelector));
    const trigger = this.triggerFor(info, q.fieldSelector);
    let events: AsyncIterable<StoreEvent>;
    try {
      events = this.store.watch(prefix, {
        sinceRevision: since,
        signal: q.signal,
        ...(selective ? { filter: wanted, onProgress: (revision: number) => q.onFilteredRevision?.(revision) } : {}),
        ...(trigger ? { trigger } : {}),
      });
    } catch (err) {
      if (err instanceof StoreError && err.code === 'Compacted') throw errors.gone(`too old resource version: ${since} (${this.store.compactRevision(prefix)})`);
      throw err;
    }
    try {
      for await (const ev of events) {
        const obj = this.decode(ev.kv, info);
        const now = this.matches(obj, q.labelSelector, q.fieldSelector);
        if (ev.type === 'create') {
          if (now) yield { type: 'ADDED', object: obj };
          else q.onFilteredRevision?.(ev.kv.modRevision);
        } else if (ev.type === 'delete') {
          if (now) yield { type: 'DELETED', object: obj };
          else q.onFilteredRevision?.(ev.kv.modRevision);
        } else {
          const before = ev.prev ? this.matches(this.decode(ev.prev, info), q.labelSelector, q.fieldSelector) : false;
          if (now && before) yield { type: 'MODIFIED', object: obj };
          else if (now) yield { type: 'ADDED', object: obj };
          else if (before) yield { type: 'DELETED', object: obj };
          else q.onFilteredRevision?.(ev.kv.modRevision);
        }
      }
    } catch (err) {
      if (err instanceof StoreError && err.code === 'Compacted') throw errors.gone(`too old resource version: ${since} (${this.store.compactRevision(prefix)})`);
      throw err;
    }
  }

  /**
   * kube-apiserver's indexed trigger for pods: a watch selecting `spec.nodeName=X` (every node's
   * agent) is handed only the events of pods on X, now or before, instead of testing every pod event
   * of the cluster. One index per server, shared by those watches.
   */
  private triggerFor(info: ResourceInfo, fields: FieldRequirement[] | undefined): { index: WatchIndex; value: string } | undefined {
    if (info.custom || info.group !== '' || info.kind !== 'Pod') return undefined;
    const byNode = fields?.find((r) => r.path === 'spec.nodeName' && r.operator === '=');
    if (!byNode) return undefined;
    this.podsByNode ??= {
      valuesOf: (ev) => {
        const now = fieldValue(this.decode(ev.kv, info), 'spec.nodeName');
        const before = ev.type === 'update' && ev.prev ? fieldValue(this.decode(ev.prev, info), 'spec.nodeName') : now;
        return before === now ? [now] : [now, before];
      },
    };
    return { index: this.podsByNode, value: byNode.value };
  }

  // ------------------------------------------------------------------ writes

  private checkTypeMeta(info: ResourceInfo, obj: KubeObject): void {
    const apiVersion = apiVersionOf(info);
    if (obj.kind !== undefined && obj.kind !== info.kind) {
      throw errors.badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${apiVersion}) or kind ${String(obj.kind)} is not ${info.kind}`);
    }
    if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersion) {
      throw errors.badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${apiVersion})`);
    }
    obj.kind = info.kind;
    obj.apiVersion = apiVersion;
  }

  /** The body as an object of the kind, with the JSON types Go's decoder would insist on (400 otherwise). */
  private toObject(info: ResourceInfo, body: unknown, opts: WriteOptions = {}): KubeObject {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw errors.badRequest('the request body must be a JSON object');
    const obj = body as KubeObject;
    if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
    const warnings = checkObjectTypes(info, obj as unknown as Record<string, unknown>, opts.fieldValidation ?? 'Ignore');
    if (info.custom) warnings.push(...pruneUnknownFields(info, obj, opts.fieldValidation ?? 'Ignore'));
    for (const w of warnings) if (opts.warnings && !opts.warnings.includes(w)) opts.warnings.push(w);
    return obj;
  }

  /**
   * Object and strategy validation (422 on failure); admission webhooks re-run it after a mutation.
   * `specFromStore`: a status write's spec, copied from the stored object (see ValidateOptions).
   */
  validate(info: ResourceInfo, obj: KubeObject, old?: KubeObject, subresource?: string, specFromStore = false): void {
    const found: StatusCause[] = [...validateObject(info, obj, old, { specFromStore }), ...strategyFor(info).validate(obj, old, subresource)];
    if (found.length > 0) throw errors.invalid(info.kind, obj.metadata.name ?? obj.metadata.generateName ?? '', found, info.group);
  }

  /** The NamespaceLifecycle admission plugin: no creates in a missing or terminating namespace. */
  private async namespaceMustAccept(info: ResourceInfo, namespace: string, name: string): Promise<void> {
    if (!info.namespaced) return;
    const nsInfo = resourceForKind('Namespace')!;
    const ns = await this.store.get(objectKey(nsInfo, undefined, namespace));
    if (!ns) throw errors.notFound('namespaces', namespace);
    const obj = this.decode(ns, nsInfo);
    if (obj.metadata.deletionTimestamp) {
      const resource = qualifiedResource(info);
      throw errors.forbidden(`${resource} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`, {
        name, group: info.group, kind: info.plural,
        causes: [{ reason: 'NamespaceTerminating', message: `namespace ${namespace} is being terminated`, field: 'metadata.namespace' }],
      });
    }
  }

  /** Creates an object. It takes ownership of `body` (defaults, metadata and resourceVersion are written into it): pass a copy of anything shared. */
  async create(info: ResourceInfo, namespace: string | undefined, body: unknown, opts: WriteOptions = {}): Promise<KubeObject> {
    const obj = this.toObject(info, body, opts);
    this.checkTypeMeta(info, obj);
    const meta = obj.metadata;
    if (info.namespaced) {
      const ns = namespace ?? meta.namespace ?? 'default';
      if (meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== ns) {
        throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = ns;
    } else {
      delete meta.namespace;
    }
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== '') {
      throw errors.badRequest('resourceVersion should not be set on objects to be created');
    }
    delete meta.resourceVersion;
    const generated = !meta.name && !!meta.generateName;
    if (generated) meta.name = `${meta.generateName}${randomSuffix()}`;
    meta.uid = randomUUID();
    meta.creationTimestamp = rfc3339();
    meta.generation = 1;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.managedFields;
    if (opts.apply?.managedFields) meta.managedFields = opts.apply.managedFields;
    dropEmptyMetadata(meta);
    if (info.custom?.terminating) {
      throw errors.methodNotAllowed(`create not allowed while custom resource definition is terminating`);
    }
    strategyFor(info).prepareForCreate(obj);
    defaultObject(info, obj);
    this.validate(info, obj);
    if (info.namespaced) await this.namespaceMustAccept(info, meta.namespace!, generated ? '' : meta.name!);
    const undo = await this.runAdmission((p) => p.admitCreate?.(info, obj, opts));
    if (opts.dryRun) {
      await undo();
      return obj;
    }
    const key = objectKey(info, meta.namespace, meta.name!);
    try {
      const kv = await this.store.create(key, Registry.encode(info, obj));
      return Registry.written(obj, kv);
    } catch (err) {
      await undo();
      if (err instanceof StoreError && err.code === 'KeyExists') {
        if (generated) return this.create(info, namespace, { ...obj, metadata: { ...meta, name: undefined } }, opts);
        throw errors.alreadyExists(qualifiedResource(info), meta.name!, info.group);
      }
      throw err;
    }
  }

  private async runAdmission(call: (p: AdmissionPlugin) => Promise<(() => Promise<void>) | void> | undefined): Promise<() => Promise<void>> {
    const undos: (() => Promise<void>)[] = [];
    const undoAll = async (): Promise<void> => {
      for (const u of undos.reverse()) await u().catch(() => undefined);
    };
    try {
      for (const p of this.plugins) {
        // A plugin without this hook answers undefined: no turn of the microtask queue for it.
        const pending = call(p);
        const u = pending === undefined ? undefined : await pending;
        if (u) undos.push(u);
      }
    } catch (err) {
      await undoAll();
      throw err;
    }
    return undoAll;
  }

  /**
   * Read-modify-write with optimistic concurrency: `mutate` gets a private copy of the current object
   * and returns the desired one. Retries on conflict unless the caller pinned a resourceVersion.
   */
  async guaranteedUpdate(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    mutate: (current: KubeObject) => KubeObject | Promise<KubeObject>,
    opts: WriteOptions & { subresource?: string; expectedResourceVersion?: string } = {},
  ): Promise<KubeObject> {
    const key = objectKey(info, namespace, name);
    return this.withKeyLock(key, () => this.guaranteedUpdateLocked(info, key, name, mutate, opts));
  }

  private async guaranteedUpdateLocked(
    info: ResourceInfo,
    key: string,
    name: string,
    mutate: (current: KubeObject) => KubeObject | Promise<KubeObject>,
    opts: WriteOptions & { subresource?: string; expectedResourceVersion?: string },
  ): Promise<KubeObject> {
    for (let attempt = 0; ; attempt++) {
      const kv = await this.store.get(key);
      if (!kv) throw this.notFound(info, name);
      const current = this.decode(kv, info);
      if (opts.expectedResourceVersion && opts.expectedResourceVersion !== String(kv.modRevision)) {
        throw errors.conflict(qualifiedResource(info), name, undefined, info.group);
      }
      // A binding's result is the stored (type-checked) pod with server-made strings set: checking the
      // whole pod's JSON types again is skipped (upstream decodes only the Binding itself).
      const mutated = await mutate(clone(current));
      const desired = opts.subresource === 'binding' ? mutated : this.toObject(info, mutated, opts);
      const next = this.prepareUpdate(info, desired, current, opts);
      if (deepEqual(next, current)) return clone(current); // no-op: nothing hits the disk
      const undo = await this.runAdmission((p) => p.admitUpdate?.(info, next, current, opts));
      if (opts.dryRun) {
        await undo();
        return next;
      }
      try {
        const written = await this.writeOrFinalize(info, key, kv.modRevision, next);
        return written;
      } catch (err) {
        await undo();
        if (err instanceof StoreError && err.code === 'Conflict') {
          if (opts.expectedResourceVersion || attempt >= MAX_UPDATE_RETRIES) throw errors.conflict(qualifiedResource(info), name, undefined, info.group);
          continue;
        }
        if (err instanceof StoreError && err.code === 'KeyNotFound') throw this.notFound(info, name);
        throw err;
      }
    }
  }

  /** Stores an update, or deletes the object if that update removed its last finalizer while deleting. */
  private async writeOrFinalize(info: ResourceInfo, key: string, expected: number, next: KubeObject): Promise<KubeObject> {
    const m = next.metadata;
    if (m.deletionTimestamp && (m.finalizers?.length ?? 0) === 0 && (m.deletionGracePeriodSeconds ?? 0) === 0 && !strategyFor(info).holdOnDelete(next)) {
      const kv = await this.store.update(key, expected, Registry.encode(info, next));
      await this.store.delete(key, kv.modRevision).catch((err: unknown) => {
        if (!(err instanceof StoreError && err.code === 'KeyNotFound')) throw err;
      });
      await this.afterDelete(info, next);
      return this.decodeOwned(kv, info);
    }
    const kv = await this.store.update(key, expected, Registry.encode(info, next));
    return Registry.written(next, kv);
  }

  /** Applies update semantics: immutable metadata, status vs main resource, generation, validation. */
  private prepareUpdate(info: ResourceInfo, desired: KubeObject, current: KubeObject, opts: WriteOptions & { subresource?: string }): KubeObject {
    const subresource = opts.subresource;
    const appliedFields = opts.apply ? desired.metadata.managedFields : undefined;
    this.checkTypeMeta(info, desired);
    const strategy = strategyFor(info);
    let next: KubeObject;
    if (subresource === 'status') {
      // Everything but the status, which the desired one replaces (not copied only to be dropped).
      const { status: _replaced, ...rest } = current;
      next = clone(rest) as KubeObject;
      if ('status' in desired) next.status = desired.status;
      strategy.prepareForStatusUpdate(next, current);
    } else if (subresource === 'binding') {
      // Server-internal writes (pod binding) set spec and status together.
      next = desired;
    } else {
      next = desired;
      if (strategy.hasStatus) {
        if ('status' in current) next.status = clone(current.status);
        else delete next.status;
      }
      defaultObject(info, next);
    }
    const cm = current.metadata;
    const nm = next.metadata;
    if (nm.name !== undefined && nm.name !== cm.name) throw errors.badRequest(`the name of the object (${nm.name}) does not match the name on the URL (${String(cm.name)})`);
    if (info.namespaced && nm.namespace !== undefined && nm.namespace !== cm.namespace) {
      throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    nm.name = cm.name!;
    if (info.namespaced) nm.namespace = cm.namespace!;
    if (nm.uid !== undefined && nm.uid !== '' && nm.uid !== cm.uid) {
      throw errors.conflict(qualifiedResource(info), cm.name!, `Precondition failed: UID in precondition: ${nm.uid}, UID in object meta: ${String(cm.uid)}`, info.group);
    }
    nm.uid = cm.uid!;
    nm.creationTimestamp = cm.creationTimestamp!;
    if (cm.deletionTimestamp) nm.deletionTimestamp = cm.deletionTimestamp;
    else delete nm.deletionTimestamp;
    if (cm.deletionGracePeriodSeconds !== undefined) nm.deletionGracePeriodSeconds = cm.deletionGracePeriodSeconds;
    else delete nm.deletionGracePeriodSeconds;
    delete nm.managedFields;
    nm.resourceVersion = cm.resourceVersion!;
    if (nm.generateName === undefined && cm.generateName !== undefined) nm.generateName = cm.generateName;
    const generation = cm.generation ?? 1;
    nm.generation = subresource === 'status' || !specChanged(next, current) ? generation : generation + 1;
    if (cm.deletionTimestamp) {
      // While deleting, finalizers may only be removed (Kubernetes forbids adding new ones).
      const added = (nm.finalizers ?? []).filter((f) => !(cm.finalizers ?? []).includes(f));
      if (added.length > 0) {
        throw errors.invalid(info.kind, cm.name!, [{ reason: 'FieldValueForbidden', message: 'Forbidden: no new finalizers can be added if the object is being deleted', field: 'metadata.finalizers' }], info.group);
      }
    }
    dropEmptyMetadata(nm);
    if (subresource !== 'status' && subresource !== 'binding') strategy.prepareForUpdate(next, current, subresource);
    const managedFields = appliedFields
      ?? managedFieldsAfterUpdate(current, next, opts.fieldManager ?? 'unknown', apiVersionOf(info), subresource);
    if (managedFields && managedFields.length > 0) nm.managedFields = managedFields;
    this.validate(info, next, current, subresource, subresource === 'status');
    return next;
  }

  async update(info: ResourceInfo, namespace: string | undefined, name: string, body: unknown, opts: WriteOptions & { subresource?: string } = {}): Promise<KubeObject> {
    const obj = this.toObject(info, body, opts);
    // Without a resourceVersion the update is unconditional, as Kubernetes allows for its built-in kinds.
    const rv = obj.metadata.resourceVersion;
    return this.guaranteedUpdate(info, namespace, name, () => clone(obj), {
      ...opts,
      ...(rv ? { expectedResourceVersion: rv } : {}),
    });
  }

  // ------------------------------------------------------------------ delete

  async delete(info: ResourceInfo, namespace: string | undefined, name: string, options: DeleteOptions = {}, opts: WriteOptions = {}): Promise<DeleteResult> {
    const key = objectKey(info, namespace, name);
    return this.withKeyLock(key, () => this.deleteLocked(info, key, name, options, opts));
  }

  private async deleteLocked(info: ResourceInfo, key: string, name: string, options: DeleteOptions, opts: WriteOptions): Promise<DeleteResult> {
    for (let attempt = 0; ; attempt++) {
      const kv = await this.store.get(key);
      if (!kv) throw this.notFound(info, name);
      const current = this.decode(kv, info);
      const pre = options.preconditions;
      if (pre?.uid && pre.uid !== current.metadata.uid) {
        throw errors.conflict(qualifiedResource(info), name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${String(current.metadata.uid)}`, info.group);
      }
      if (pre?.resourceVersion && pre.resourceVersion !== String(kv.modRevision)) {
        throw errors.conflict(qualifiedResource(info), name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${kv.modRevision}`, info.group);
      }
      if (attempt === 0) await this.admitDelete(info, current, opts);
      const strategy = strategyFor(info);
      const next = clone(current);
      const finalizers = new Set(next.metadata.finalizers ?? []);
      if (options.propagationPolicy === 'Foreground') finalizers.add('foregroundDeletion');
      if (options.propagationPolicy === 'Orphan') finalizers.add('orphan');
      const grace = strategy.gracePeriod(current, options.gracePeriodSeconds);
      const needsWait = finalizers.size > 0 || strategy.holdOnDelete(current) || grace > 0;
      if (needsWait) {
        if (current.metadata.deletionTimestamp) {
          // Already terminating: a shorter grace period may still be requested (kubectl --force).
          const currentGrace = current.metadata.deletionGracePeriodSeconds ?? 0;
          if (grace === 0 && currentGrace > 0 && finalizers.size === 0 && !strategy.holdOnDelete(current)) {
            // fall through to immediate deletion below
          } else {
            return { object: clone(current), deleted: false };
          }
        } else {
          next.metadata.finalizers = [...finalizers];
          if (next.metadata.finalizers.length === 0) delete next.metadata.finalizers;
          next.metadata.deletionTimestamp = rfc3339(new Date(Date.now() + grace * 1000));
          next.metadata.deletionGracePeriodSeconds = grace;
          strategy.prepareForDelete(next);
          if (opts.dryRun) return { object: next, deleted: false };
          try {
            const written = await this.store.update(key, kv.modRevision, Registry.encode(info, next));
            return { object: this.decodeOwned(written, info), deleted: false };
          } catch (err) {
            if (err instanceof StoreError && err.code === 'Conflict' && attempt < MAX_UPDATE_RETRIES) continue;
            if (err instanceof StoreError && err.code === 'KeyNotFound') throw this.notFound(info, name);
            throw err;
          }
        }
      }
      if (opts.dryRun) return { object: clone(current), deleted: true };
      try {
        const deleted = await this.store.delete(key, kv.modRevision);
        await this.afterDelete(info, current);
        return { object: this.decodeOwned(deleted, info), deleted: true };
      } catch (err) {
        if (err instanceof StoreError && err.code === 'Conflict' && attempt < MAX_UPDATE_RETRIES) continue;
        if (err instanceof StoreError && err.code === 'KeyNotFound') throw this.notFound(info, name);
        throw err;
      }
    }
  }

  private async admitDelete(info: ResourceInfo, obj: KubeObject, opts: WriteOptions): Promise<void> {
    for (const p of this.plugins) await p.admitDelete?.(info, obj, opts);
  }

  private async afterDelete(info: ResourceInfo, obj: KubeObject): Promise<void> {
    for (const p of this.plugins) await p.afterDelete?.(info, obj).catch(() => undefined);
  }

  async deleteCollection(info: ResourceInfo, namespace: string | undefined, q: ListQuery, options: DeleteOptions, opts: WriteOptions = {}): Promise<KubeList> {
    const list = await this.list(info, namespace, q);
    // All or nothing as far as admission goes: one refused item (a system namespace) refuses the call.
    for (const item of list.items) await this.admitDelete(info, item, opts);
    const items: KubeObject[] = [];
    for (const item of list.items) {
      try {
        const r = await this.delete(info, item.metadata.namespace, item.metadata.name!, options, opts);
        items.push(r.object);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return { ...list, items };
  }
}

/** A custom resource read in another version than it is stored in: conversion None rewrites apiVersion only. */
function servedVersion(info: ResourceInfo, obj: KubeObject): KubeObject {
  if (!info.custom || obj.apiVersion === undefined) return obj;
  const apiVersion = apiVersionOf(info);
  return obj.apiVersion === apiVersion ? obj : { ...obj, apiVersion };
}

/** Built-in kinds get their Go defaults; custom resources their schema's. */
function defaultObject(info: ResourceInfo, obj: KubeObject): void {
  if (info.custom) info.custom.applyDefaults(obj as unknown as Record<string, unknown>);
  else applyDefaults(info.kind, obj);
}

/**
 * Pruning of a custom resource: fields its schema does not declare are dropped (warned about under
 * Warn, refused under Strict with upstream's strict decoding error).
 */
function pruneUnknownFields(info: ResourceInfo, obj: KubeObject, validation: FieldValidation): string[] {
  const pruned = info.custom!.prune(obj as unknown as Record<string, unknown>);
  const messages = pruned.map((f) => `unknown field ${JSON.stringify(f)}`);
  if (validation === 'Strict' && messages.length > 0) {
    throw errors.badRequest(`${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: strict decoding error: ${messages.join(', ')}`);
  }
  return validation === 'Warn' ? messages : [];
}

/**
 * ObjectMeta's maps and lists are `omitempty` in Go, so an empty one is never stored or served
 * (`kubectl diff` patches `"annotations":{}` onto objects without any).
 */
function dropEmptyMetadata(meta: KubeObject['metadata']): void {
  for (const field of ['labels', 'annotations', 'finalizers', 'ownerReferences'] as const) {
    const v = meta[field] as unknown;
    if (v === null || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0)) {
      delete meta[field];
    }
  }
}

/** Whether anything outside metadata and status changed (what bumps `metadata.generation`). */
function specChanged(a: KubeObject, b: KubeObject): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    if (k === 'metadata' || k === 'status' || k === 'kind' || k === 'apiVersion') continue;
    if (!deepEqual(a[k], b[k])) return true;
  }
  return false;
}
