/**
 * The Store contract on etcd v3 (the `etcd3` client), for several servers sharing one state:
 *
 * - A key's revision is etcd's mod_revision, so `resourceVersion` is etcd's revision, as in
 *   kube-apiserver. Guarded writes are etcd transactions: create compares create_revision = 0,
 *   update and delete compare mod_revision with the expected one; the failure branch reads the key
 *   so a refusal says KeyNotFound or Conflict (with the current revision) in the same round trip.
 * - Lists are ranges at one revision (limit, continue after a key, remaining from etcd's count).
 *   A revision newer than etcd's is served as the current one, as the SQLite store does.
 * - Watches are etcd watches from `since + 1` with previous values; one from a compacted revision
 *   ends with Compacted. The client library resumes a broken stream from the last revision it saw,
 *   so a watch survives the loss of one etcd member.
 * - `currentRevision()` is answered from memory: every response header raises it, and one watch
 *   over the whole keyspace keeps it moving with other servers' writes.
 * - Keys under a TTL prefix (Events) are written with an etcd lease, shared by the writes of a
 *   minute, so etcd removes them itself and no server has to sweep them.
 * - Compaction is etcd's; the compacted revision is kept under a marker key so every server can
 *   say how old is too old.
 */
import { readFileSync } from 'node:fs';
import { Etcd3, type IOptions } from 'etcd3';
import type { IDuplexStream, IKeyValue, IResponseHeader, IWatchRequest, IWatchResponse } from 'etcd3/lib/rpc.js';
import { sleep } from '../../api/async-util.js';
import { log } from '../../api/log.js';
import { StoreError, type KeyValue, type ListOptions, type ListResult, type Store, type StoreEvent, type WatchOptions } from './store.js';

/** Where every server records the revision etcd was last compacted at. */
export const COMPACT_MARKER_KEY = '/corral/compact-revision';

export interface EtcdStoreOptions {
  endpoints: string[];
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  /** Keys under these prefixes expire this many seconds after their last write (Events: 3600). */
  ttlPrefixes?: { prefix: string; ttlSeconds: number }[];
  /** How long a write waits for etcd before it fails (default 10 s). */
  requestTimeoutMs?: number;
}

const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

/** The smallest key greater than every key that starts with `prefix` (etcd's range_end); '\0' = to the end. */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix, 'utf8');
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const end = Buffer.from(b.subarray(0, i + 1));
      end[i] = b[i]! + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}

function toKeyValue(kv: IKeyValue): KeyValue {
  return { key: kv.key.toString('utf8'), value: kv.value.toString('utf8'), modRevision: Number(kv.mod_revision), createRevision: Number(kv.create_revision) };
}

function isCompacted(err: unknown): boolean {
  return /compacted/i.test((err as Error)?.message ?? '');
}

function isFutureRevision(err: unknown): boolean {
  return /future revision/i.test((err as Error)?.message ?? '');
}

/** Opens a client against `endpoints` and checks that etcd answers (with a message that names them). */
export async function openEtcdStore(o: EtcdStoreOptions): Promise<EtcdStore> {
  const options: IOptions = { hosts: o.endpoints, dialTimeout: 5_000 };
  if (o.caFile) {
    options.credentials = {
      rootCertificate: readFileSync(o.caFile),
      ...(o.keyFile ? { privateKey: readFileSync(o.keyFile) } : {}),
      ...(o.certFile ? { certChain: readFileSync(o.certFile) } : {}),
    };
  }
  // The client's default fault handling stays: a member that stops answering is skipped for a while
  // (circuit breaker) and a call that could not reach any member is tried again up to 3 times.
  const client = new Etcd3(options);
  const store = new EtcdStore(client, o);
  try {
    await store.start();
  } catch (err) {
    client.close();
    throw new Error(`cannot reach etcd at ${o.endpoints.join(',')}: ${(err as Error).message}`, { cause: err });
  }
  return store;
}

interface LeaseSlot { id: string; until: number }

export class EtcdStore implements Store {
  private revision = 0;
  private compacted = 0;
  private closed = false;
  private readonly stopTracking = new AbortController();
  private readonly leases = new Map<number, LeaseSlot>();
  private compactor: NodeJS.Timeout | undefined;

  constructor(private readonly client: Etcd3, private readonly o: EtcdStoreOptions) {}

  /** Reads the current and compacted revisions, then follows the revision with one watch. */
  async start(): Promise<void> {
    const marker = await this.client.kv.range({ key: bytes(COMPACT_MARKER_KEY) }, this.callOptions());
    this.seen(marker.header);
    const kv = marker.kvs[0];
    if (kv) this.compacted = Number(kv.value.toString('utf8')) || 0;
    void this.trackRevision();
  }

  private callOptions(): { deadline: number } {
    return { deadline: Date.now() + (this.o.requestTimeoutMs ?? 10_000) };
  }

  private seen(header: IResponseHeader | undefined): number {
    const rev = Number(header?.revision ?? 0);
    if (rev > this.revision) this.revision = rev;
    return rev;
  }

  private async trackRevision(): Promise<void> {
    try {
      for await (const _ of this.watch('', { sinceRevision: this.revision, signal: this.stopTracking.signal })) { /* seen() keeps count */ }
    } catch (err) {
      if (this.closed) return;
      log.warn('store', 'etcd revision watch ended, restarting', { error: (err as Error).message });
      setTimeout(() => void this.trackRevision(), 1_000).unref();
    }
  }

  /** The lease a write under a TTL prefix is attached to (one per prefix, reused for a minute). */
  private async leaseFor(key: string): Promise<string | undefined> {
    const rule = this.o.ttlPrefixes?.find((r) => key.startsWith(r.prefix));
    if (!rule) return undefined;
    const now = Date.now();
    const slot = this.leases.get(rule.ttlSeconds);
    if (slot && slot.until > now) return slot.id;
    const reuseSeconds = 60;
    const granted = await this.client.leaseClient.leaseGrant({ TTL: rule.ttlSeconds + reuseSeconds }, this.callOptions());
    this.leases.set(rule.ttlSeconds, { id: granted.ID, until: now + reuseSeconds * 1000 });
    return granted.ID;
  }

  private async put(key: string, value: string): Promise<{ key: Buffer; value: Buffer; lease?: string; prev_kv: boolean }> {
    const lease = await this.leaseFor(key);
    return { key: bytes(key), value: bytes(value), ...(lease ? { lease } : {}), prev_kv: true };
  }

  private guard(): void {
    if (this.closed) throw new StoreError('Closed', 'the store is closed');
  }

  create(key: string, value: string): Promise<KeyValue> { return this.rpc(() => this.createRaw(key, value)); }
  update(key: string, expectedRevision: number, value: string): Promise<KeyValue> { return this.rpc(() => this.updateRaw(key, expectedRevision, value)); }
  delete(key: string, expectedRevision: number): Promise<KeyValue> { return this.rpc(() => this.deleteRaw(key, expectedRevision)); }
  get(key: string): Promise<KeyValue | undefined> { return this.rpc(() => this.getRaw(key)); }
  list(prefix: string, options: ListOptions = {}): Promise<ListResult> { return this.rpc(() => this.listRaw(prefix, options)); }
  count(prefix: string): Promise<number> { return this.rpc(() => this.countRaw(prefix)); }

  /**
   * Runs one etcd call; a failure to reach a quorum in time becomes StoreError Unavailable (the API
   * answers 503). A write that timed out was not acknowledged, whatever etcd does with it later.
   */
  private async rpc<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw new StoreError('Unavailable', `etcd at ${this.o.endpoints.join(',')} did not answer: ${(err as Error).message}`);
    }
  }

  private async createRaw(key: string, value: string): Promise<KeyValue> {
    this.guard();
    const res = await this.client.kv.txn({
      compare: [{ key: bytes(key), target: 'Create', result: 'Equal', create_revision: 0 }],
      success: [{ request_put: await this.put(key, value) }],
      failure: [],
    }, this.callOptions());
    const rev = this.seen(res.header);
    if (!res.succeeded) throw new StoreError('KeyExists', `key ${key} already exists`);
    return { key, value, modRevision: rev, createRevision: rev };
  }

  private async updateRaw(key: string, expectedRevision: number, value: string): Promise<KeyValue> {
    this.guard();
    const res = await this.client.kv.txn({
      compare: [{ key: bytes(key), target: 'Mod', result: 'Equal', mod_revision: expectedRevision }],
      success: [{ request_put: await this.put(key, value) }],
      failure: [{ request_range: { key: bytes(key) } }],
    }, this.callOptions());
    const rev = this.seen(res.header);
    if (res.succeeded) {
      const prev = res.responses[0]?.response_put.prev_kv;
      return { key, value, modRevision: rev, createRevision: prev ? Number(prev.create_revision) : rev };
    }
    throw this.refusal(key, res.responses[0]?.response_range.kvs[0]);
  }

  private async deleteRaw(key: string, expectedRevision: number): Promise<KeyValue> {
    this.guard();
    const compare = expectedRevision === 0
      ? { key: bytes(key), target: 'Version' as const, result: 'Greater' as const, version: 0 }
      : { key: bytes(key), target: 'Mod' as const, result: 'Equal' as const, mod_revision: expectedRevision };
    const res = await this.client.kv.txn({
      compare: [compare],
      success: [{ request_delete_range: { key: bytes(key), prev_kv: true } }],
      failure: [{ request_range: { key: bytes(key) } }],
    }, this.callOptions());
    const rev = this.seen(res.header);
    const prev = res.succeeded ? res.responses[0]?.response_delete_range.prev_kvs[0] : undefined;
    if (!prev) throw this.refusal(key, res.succeeded ? undefined : res.responses[0]?.response_range.kvs[0]);
    return { key, value: prev.value.toString('utf8'), modRevision: rev, createRevision: Number(prev.create_revision) };
  }

  private refusal(key: string, current: IKeyValue | undefined): StoreError {
    if (!current) return new StoreError('KeyNotFound', `key ${key} not found`);
    const rev = Number(current.mod_revision);
    return new StoreError('Conflict', `key ${key} was modified (now at revision ${rev})`, rev);
  }

  private async getRaw(key: string): Promise<KeyValue | undefined> {
    this.guard();
    const res = await this.client.kv.range({ key: bytes(key) }, this.callOptions());
    this.seen(res.header);
    const kv = res.kvs[0];
    return kv ? toKeyValue(kv) : undefined;
  }

  private async listRaw(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    this.guard();
    const start = options.startAfter !== undefined ? Buffer.concat([bytes(options.startAfter), Buffer.from([0])]) : bytes(prefix === '' ? '\0' : prefix);
    const request = { key: start, range_end: prefixEnd(prefix), limit: options.limit ?? 0, revision: options.revision ?? 0 };
    let res;
    try {
      res = await this.client.kv.range(request, this.callOptions());
    } catch (err) {
      if (isCompacted(err)) throw new StoreError('Compacted', `revision ${options.revision} has been compacted (compacted at ${this.compacted})`);
      if (!isFutureRevision(err)) throw err;
      res = await this.client.kv.range({ ...request, revision: 0 }, this.callOptions());
    }
    const current = this.seen(res.header);
    const kvs = res.kvs.map(toKeyValue);
    const count = Number(res.count);
    const asked = options.revision && options.revision <= current ? options.revision : current;
    return { kvs, revision: asked, more: res.more, remaining: res.more ? Math.max(0, count - kvs.length) : 0 };
  }

  private async countRaw(prefix: string): Promise<number> {
    this.guard();
    const res = await this.client.kv.range({ key: bytes(prefix === '' ? '\0' : prefix), range_end: prefixEnd(prefix), count_only: true }, this.callOptions());
    this.seen(res.header);
    return Number(res.count);
  }

  /**
   * One etcd watch stream per watch (the raw RPC, so a cancel tells its compact revision). A stream
   * that breaks (a member died) is opened again from the revision after the last event delivered.
   */
  async *watch(prefix: string, options: WatchOptions): AsyncIterable<StoreEvent> {
    this.guard();
    if (options.sinceRevision > 0 && options.sinceRevision < this.compacted) {
      throw new StoreError('Compacted', `revision ${options.sinceRevision} has been compacted (compacted at ${this.compacted})`);
    }
    let next = (options.sinceRevision > 0 ? options.sinceRevision : this.revision) + 1;
    const queue: StoreEvent[] = [];
    let failure: unknown;
    let ended = false;
    let broken = false;
    let stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined;
    let wake: (() => void) | undefined;
    const poke = (): void => { const w = wake; wake = undefined; w?.(); };
    const stop = (): void => { ended = true; poke(); };
    const open = async (): Promise<void> => {
      const s = await this.client.watchClient.watch();
      stream = s;
      s.on('data', (res: IWatchResponse) => {
        if (s !== stream) return;
        this.seen(res.header);
        if (res.canceled) {
          const compactedAt = Number(res.compact_revision);
          failure = compactedAt > 0
            ? new StoreError('Compacted', `revision ${next - 1} has been compacted (compacted at ${compactedAt})`)
            : new Error(`etcd canceled the watch: ${res.cancel_reason || 'no reason given'}`);
          poke();
          return;
        }
        for (const ev of res.events) {
          const kv = toKeyValue(ev.kv);
          const prev = ev.prev_kv ? toKeyValue(ev.prev_kv) : undefined;
          if (ev.type === 'Delete') {
            queue.push({ type: 'delete', kv: { ...kv, value: prev?.value ?? '', createRevision: prev?.createRevision ?? 0 }, ...(prev ? { prev } : {}) });
          } else if (kv.createRevision === kv.modRevision) {
            queue.push({ type: 'create', kv });
          } else {
            queue.push({ type: 'update', kv, ...(prev ? { prev } : {}) });
          }
          next = kv.modRevision + 1;
        }
        poke();
      });
      const lost = (): void => {
        if (s !== stream || ended) return;
        broken = true;
        poke();
      };
      s.on('error', lost);
      s.on('end', lost);
      s.write({ create_request: { key: bytes(prefix === '' ? '\0' : prefix), range_end: prefixEnd(prefix), start_revision: next, prev_kv: true } });
    };
    options.signal?.addEventListener('abort', stop, { once: true });
    this.stopTracking.signal.addEventListener('abort', stop, { once: true });
    try {
      if (!options.signal?.aborted) await open();
      for (;;) {
        while (queue.length > 0) yield queue.shift()!;
        if (failure) throw failure;
        if (ended || options.signal?.aborted) return;
        if (broken) {
          broken = false;
          const old = stream;
          stream = undefined;
          old?.cancel();
          await sleep(500, { signal: options.signal }).catch(() => undefined);
          if (ended || options.signal?.aborted) return;
          await open().catch(() => { broken = true; });
          continue;
        }
        await new Promise<void>((resolve) => { wake = resolve; });
      }
    } finally {
      options.signal?.removeEventListener('abort', stop);
      this.stopTracking.signal.removeEventListener('abort', stop);
      const s = stream;
      stream = undefined;
      if (s) {
        s.end();
        s.cancel();
      }
    }
  }

  currentRevision(): number {
    return this.revision;
  }

  compactRevision(): number {
    return this.compacted;
  }

  /** Compacts etcd's history before `revision` and records it for every server. */
  async compact(revision: number): Promise<void> {
    this.guard();
    if (revision <= this.compacted) return;
    try {
      await this.client.kv.compact({ revision, physical: false }, this.callOptions());
    } catch (err) {
      if (!isCompacted(err)) throw err; // another server got there first
    }
    this.compacted = revision;
    const res = await this.client.kv.put({ key: bytes(COMPACT_MARKER_KEY), value: bytes(String(revision)) }, this.callOptions());
    this.seen(res.header);
  }

  /** Compacts every `intervalMs`, keeping the newest `keepRevisions` revisions watchable. */
  startCompactor(o: { intervalMs: number; keepRevisions: number }): void {
    this.compactor = setInterval(() => {
      const target = this.revision - o.keepRevisions;
      if (target > this.compacted) void this.compact(target).catch((err: unknown) => log.warn('store', 'etcd compaction failed', { error: (err as Error).message }));
    }, o.intervalMs);
    this.compactor.unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.compactor) clearInterval(this.compactor);
    this.stopTracking.abort();
    this.client.close();
  }
}
