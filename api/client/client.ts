/**
 * Typed Kubernetes API client used by the agent, the installer, the controllers and the tests:
 * list, get, create, update, patch, delete, and a watch that resumes from the last resourceVersion
 * and re-lists when the server answers 410 Gone.
 */
import type { DeleteOptions, KubeList, KubeObject, WatchEvent } from '../meta.js';
import { customResourceByKey, groupVersionPath, resourceForKind, type ResourceInfo } from '../resources.js';
import { StatusError, type Status, isGone, isNotFound } from '../status.js';
import type { Transport } from './transport.js';
import { Backoff, sleep } from '../async-util.js';

export type PatchType = 'strategic' | 'merge' | 'json';

const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  strategic: 'application/strategic-merge-patch+json',
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
};

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
}

export interface WatchOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** Start after this revision; omitted = list first (synthetic ADDED) then watch. */
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  timeoutSeconds?: number;
  signal?: AbortSignal;
}

export interface Target {
  kind: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

function resourceInfo(kind: string): ResourceInfo {
  const info = resourceForKind(kind) ?? customResourceByKey(kind);
  if (!info) throw new Error(`unknown kind ${kind}`);
  return info;
}

/** The events of a watch body: newline-delimited JSON frames. */
async function* framesOf<T>(body: AsyncIterable<Uint8Array>): AsyncGenerator<WatchEvent<T>> {
  let buf = '';
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    buf += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield JSON.parse(line) as WatchEvent<T>;
    }
  }
}

/** The URL path of a collection or object. */
export function resourcePath(t: Target): string {
  const info = resourceInfo(t.kind);
  let p = groupVersionPath(info);
  if (info.namespaced && t.namespace !== undefined) p += `/namespaces/${encodeURIComponent(t.namespace)}`;
  p += `/${info.plural}`;
  if (t.name !== undefined) p += `/${encodeURIComponent(t.name)}`;
  if (t.subresource !== undefined) p += `/${t.subresource}`;
  return p;
}

function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export class ApiClient {
  constructor(readonly transport: Transport) {}

  /** Sends a request and decodes the JSON answer; non-2xx answers throw StatusError. */
  async call<T>(method: string, path: string, body?: unknown, contentType = 'application/json', signal?: AbortSignal): Promise<T> {
    // The server's own controllers hand an object body over without its JSON text, where the server takes it.
    const direct = body !== undefined && typeof body !== 'string'
      ? this.transport.direct?.({ method, path, headers: { 'content-type': contentType }, body, ...(signal ? { signal } : {}) })
      : undefined;
    if (direct !== undefined) {
      const answer = await direct;
      if (answer.status < 200 || answer.status >= 300) throw StatusError.fromStatus(answer.value as Partial<Status>, answer.status);
      return answer.value as T;
    }
    const res = await this.transport.request({
      method,
      path,
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': contentType } } : {}),
      ...(signal ? { signal } : {}),
    });
    const text = await res.text();
    if (res.status < 200 || res.status >= 300) {
      let status: Partial<Status> = {};
      try { status = JSON.parse(text) as Partial<Status>; } catch { status = { message: text.slice(0, 500) }; }
      throw StatusError.fromStatus(status, res.status);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get<T extends KubeObject = KubeObject>(kind: string, namespace: string | undefined, name: string): Promise<T> {
    return this.call<T>('GET', resourcePath({ kind, ...(namespace !== undefined ? { namespace } : {}), name }));
  }

  /** Like get, but undefined for 404. */
  async tryGet<T extends KubeObject = KubeObject>(kind: string, namespace: string | undefined, name: string): Promise<T | undefined> {
    try {
      return await this.get<T>(kind, namespace, name);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  list<T extends KubeObject = KubeObject>(kind: string, namespace?: string, o: ListOptions = {}): Promise<KubeList<T>> {
    return this.call<KubeList<T>>('GET', resourcePath({ kind, ...(namespace !== undefined ? { namespace } : {}) }) + query({
      labelSelector: o.labelSelector, fieldSelector: o.fieldSelector, limit: o.limit, continue: o.continue, resourceVersion: o.resourceVersion,
    }));
  }

  /** Lists every page (following `continue`). */
  async listAll<T extends KubeObject = KubeObject>(kind: string, namespace?: string, o: Omit<ListOptions, 'continue'> = {}): Promise<KubeList<T>> {
    const first = await this.list<T>(kind, namespace, o);
    let cont = first.metadata.continue;
    while (cont) {
      const next = await this.list<T>(kind, namespace, { ...o, continue: cont });
      first.items.push(...next.items);
      cont = next.metadata.continue;
    }
    delete first.metadata.continue;
    return first;
  }

  create<T extends KubeObject = KubeObject>(kind: string, namespace: string | undefined, obj: unknown): Promise<T> {
    return this.call<T>('POST', resourcePath({ kind, ...(namespace !== undefined ? { namespace } : {}) }), obj);
  }

  update<T extends KubeObject = KubeObject>(kind: string, obj: KubeObject, subresource?: string): Promise<T> {
    const ns = obj.metadata.namespace;
    return this.call<T>('PUT', resourcePath({ kind, ...(ns !== undefined ? { namespace: ns } : {}), name: obj.metadata.name!, ...(subresource ? { subresource } : {}) }), obj);
  }

  updateStatus<T extends KubeObject = KubeObject>(kind: string, obj: KubeObject): Promise<T> {
    return this.update<T>(kind, obj, 'status');
  }

  patch<T extends KubeObject = KubeObject>(kind: string, namespace: string | undefined, name: string, patch: unknown, type: PatchType = 'merge', subresource?: string): Promise<T> {
    return this.call<T>('PATCH', resourcePath({ kind, ...(namespace !== undefined ? { namespace } : {}), name, ...(subresource ? { subresource } : {}) }), patch, PATCH_CONTENT_TYPE[type]);
  }

  patchStatus<T extends KubeObject = KubeObject>(kind: string, namespace: string | undefined, name: string, patch: unknown, type: PatchType = 'merge'): Promise<T> {
    return this.patch<T>(kind, namespace, name, patch, type, 'status');
  }

  delete(kind: string, namespace: string | undefined, name: string, options: DeleteOptions = {}): Promise<KubeObject> {
    return this.call<KubeObject>('DELETE', resourcePath({ kind, ...(namespace !== undefined ? { namespace } : {}), name }), options);
  }

  /** Deletes, treating 404 as success. */
  async deleteIfExists(kind: string, namespace: string | undefined, name: string, options: DeleteOptions = {}): Promise<boolean> {
    try {
      await this.delete(kind, namespace, name, options);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** Binds a pod to a node (the scheduler's write). */
  bind(namespace: string, pod: string, node: string): Promise<unknown> {
    return this.call('POST', resourcePath({ kind: 'Pod', namespace, name: pod, subresource: 'binding' }), {
      apiVersion: 'v1', kind: 'Binding', metadata: { name: pod, namespace }, target: { apiVersion: 'v1', kind: 'Node', name: node },
    });
  }

  /**
   * One watch request: yields events until the server closes the stream or the signal aborts.
   * ERROR events are thrown as StatusError (410 means: re-list).
   */
  async *watchOnce<T extends KubeObject = KubeObject>(kind: string, namespace: string | undefined, o: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    const path = resourcePath({ kind, ...(namespace !== undefined ? { namespace } : {}) }) + query({
      watch: 'true', labelSelector: o.labelSelector, fieldSelector: o.fieldSelector, resourceVersion: o.resourceVersion,
      allowWatchBookmarks: o.allowWatchBookmarks ? 'true' : undefined, timeoutSeconds: o.timeoutSeconds,
    });
    const res = await this.transport.request({ method: 'GET', path, ...(o.signal ? { signal: o.signal } : {}) });
    if (res.status !== 200) {
      const text = await res.text();
      let status: Partial<Status> = {};
      try { status = JSON.parse(text) as Partial<Status>; } catch { status = { message: text }; }
      throw StatusError.fromStatus(status, res.status);
    }
    // The server's own informers get the events as its shared objects, frozen (in-process-watch.ts).
    const events = res.events ? res.events as AsyncIterable<WatchEvent<T>> : framesOf<T>(res.body);
    try {
      for await (const ev of events) {
        if (ev.type === 'ERROR') {
          const st = ev.object as unknown as Partial<Status>;
          throw StatusError.fromStatus(st, st.code ?? 500);
        }
        yield ev;
      }
    } catch (err) {
      if (o.signal?.aborted) return;
      throw err;
    }
  }

  /**
   * A watch that keeps going: resumes from the last seen resourceVersion when the stream ends or
   * breaks (with back-off), and on 410 Gone re-lists and emits a `RESYNC` marker with the full
   * list so the caller can replace its state. Ends only when the signal aborts.
   */
  async *watch<T extends KubeObject = KubeObject>(kind: string, namespace: string | undefined, o: WatchOptions & { signal: AbortSignal }): AsyncGenerator<WatchEvent<T> | { type: 'RESYNC'; items: T[]; resourceVersion: string }> {
    let rv = o.resourceVersion;
    const backoff = new Backoff({ initialMs: 200, maxMs: 10_000 });
    while (!o.signal.aborted) {
      try {
        if (rv === undefined) {
          const list = await this.listAll<T>(kind, namespace, {
            ...(o.labelSelector ? { labelSelector: o.labelSelector } : {}),
            ...(o.fieldSelector ? { fieldSelector: o.fieldSelector } : {}),
          });
          rv = list.metadata.resourceVersion ?? '0';
          yield { type: 'RESYNC', items: list.items, resourceVersion: rv };
        }
        for await (const ev of this.watchOnce<T>(kind, namespace, { ...o, resourceVersion: rv, allowWatchBookmarks: true })) {
          const next = ev.object?.metadata?.resourceVersion;
          if (next) rv = next;
          backoff.reset();
          if (ev.type !== 'BOOKMARK') yield ev;
        }
      } catch (err) {
        if (o.signal.aborted) return;
        if (isGone(err)) {
          rv = undefined; // re-list
          continue;
        }
        await sleep(backoff.next(), { signal: o.signal });
      }
    }
  }
}

