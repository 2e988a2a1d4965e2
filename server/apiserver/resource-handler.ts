/**
 * HTTP semantics of the resource endpoints: maps (method, URL target, query, body) onto the
 * registry and subresource operations, and the results onto JSON, Table and watch responses.
 */
import type { Context } from 'hono';
import type { DeleteOptions, KubeObject, WatchEvent } from '../../api/meta.js';
import { apiVersionOf, type ResourceInfo } from '../../api/resources.js';
import { errors, StatusError, type StatusCause } from '../../api/status.js';
import { parseFieldSelector, parseLabelSelector, SelectorError, type FieldRequirement, type LabelRequirement } from '../../api/selectors.js';
import { isPrintable, toTable } from './tables.js';
import { resolveFieldSelector } from './field-labels.js';
import { decodeDeleteOptions, decodeObject, isPlainObject, mediaType, parseYamlBody, readBody } from './body.js';
import { applyConfiguration, managedFieldsForCreate } from './server-side-apply.js';
import { checkDeleteOptionsTypes, checkObjectTypes, undeclaredFields } from './schema.js';
import { clone } from '../../api/object-util.js';
import type { Registry, WriteOptions, RequestUser } from './registry.js';
import type { RequestTarget } from './request-info.js';
import { applyOrRefuse, applyPatch, patchTypeOf, refuseStrategicForCustom } from './patch.js';
import { watchResponse, type WatchStreamOptions } from './watch-stream.js';
import { notAcceptable, responseFormat, sendObject, watchContentType } from './negotiate.js';
import { Subresources } from './subresources.js';
import type { RequestKinds } from './request-kinds.js';
import { queryBool } from '../../api/query-bool.js';

export interface ResourceHandlerOptions {
  registry: Registry;
  subresources: Subresources;
  /** Answers POSTs of create-only request kinds (reviews). */
  requestKinds: RequestKinds;
  /** Interval of BOOKMARK events on watches that allow them. */
  bookmarkIntervalMs?: number;
  /** Counts an open watch (`apiserver_longrunning_requests`); the returned function is called when it ends. */
  watchOpened?: (info: ResourceInfo, scope: 'resource' | 'namespace' | 'cluster') => () => void;
}

/** `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` asks for server-side printing. */
function wantsTable(accept: string | null): boolean {
  return !!accept && /as=Table/.test(accept) && /g=meta\.k8s\.io/.test(accept);
}

function parseSelectors(info: ResourceInfo, q: URLSearchParams): { labelSelector?: LabelRequirement[]; fieldSelector?: FieldRequirement[] } {
  try {
    const out: { labelSelector?: LabelRequirement[]; fieldSelector?: FieldRequirement[] } = {};
    const ls = q.get('labelSelector');
    const fs = q.get('fieldSelector');
    if (ls) out.labelSelector = parseLabelSelector(ls);
    if (fs) out.fieldSelector = resolveFieldSelector(info, parseFieldSelector(fs));
    return out;
  } catch (err) {
    if (err instanceof SelectorError) throw errors.badRequest(err.message);
    throw err;
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * An integer query parameter as upstream's parameter codec reads it (Go's strconv.ParseInt, base 10,
 * 64 bits), with its error messages; values past 2^53 lose precision, which no caller cares about.
 */
function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^[+-]?\d+$/.test(v)) throw errors.badRequest(`strconv.ParseInt: parsing ${JSON.stringify(v)}: invalid syntax`);
  const n = BigInt(v);
  if (n < INT64_MIN || n > INT64_MAX) throw errors.badRequest(`strconv.ParseInt: parsing ${JSON.stringify(v)}: value out of range`);
  return Number(n);
}

/** The longest timer Node can arm (about 24.8 days); longer delays would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function writeOptions(q: URLSearchParams, user: RequestUser | undefined, userAgent?: string): WriteOptions {
  const dryRun = q.getAll('dryRun');
  if (dryRun.some((d) => d !== 'All')) throw errors.badRequest(`unsupported dryRun value ${JSON.stringify(dryRun)}: only "All" is supported`);
  const fieldManager = q.get('fieldManager') || (userAgent !== undefined ? managerFromUserAgent(userAgent) : undefined);
  // Upstream's default is Warn: unknown fields are dropped with a warning.
  const fieldValidation = q.get('fieldValidation') || 'Warn';
  if (fieldValidation !== 'Ignore' && fieldValidation !== 'Warn' && fieldValidation !== 'Strict') {
    throw errors.badRequest(`fieldValidation must be one of "Ignore", "Warn" or "Strict", got ${JSON.stringify(fieldValidation)}`);
  }
  return {
    ...(dryRun.length > 0 ? { dryRun: true } : {}),
    ...(fieldManager ? { fieldManager } : {}),
    fieldValidation,
    warnings: [],
    ...(user ? { user } : {}),
  };
}

export function withTypeMeta(info: ResourceInfo, obj: KubeObject): KubeObject {
  return { apiVersion: apiVersionOf(info), kind: info.kind, ...obj };
}

export class ResourceHandler {
  constructor(private readonly o: ResourceHandlerOptions) {}

  async handle(c: Context, target: RequestTarget, user: RequestUser | undefined): Promise<Response> {
    const url = new URL(c.req.url);
    const q = url.searchParams;
    const method = c.req.method;
    const { info, namespace, name, subresource } = target;
    const reg = this.o.registry;

    if (wantsTable(c.req.header('accept') ?? null) && !isPrintable(info, subresource)) throw notAcceptable();
    if (subresource) return this.o.subresources.handle(c, { target, name: name!, q, user });
    if (info.createOnly) {
      if (method !== 'POST' || name !== undefined) throw errors.methodNotAllowed('the server does not allow this method on the requested resource');
      const body = decodeObject(await readBody(c.req.raw), mediaType(c.req.raw), info);
      if (!isPlainObject(body)) throw errors.badRequest(`the body of a ${info.kind} must be an object`);
      const answer = await this.o.requestKinds.create({ info, namespace, body: body as KubeObject, user });
      return sendObject(c, withTypeMeta(info, answer), 201);
    }

    if (method === 'GET' || method === 'HEAD') {
      if (name === undefined || target.legacyWatch) {
        const watch = target.legacyWatch || queryBool(q, 'watch');
        validateListOptions(q, watch);
        if (watch) return this.watch(c, info, namespace, name, q);
        const selectors = parseSelectors(info, q);
        const paging = {
          ...((intParam(q, 'limit') ?? 0) > 0 ? { limit: intParam(q, 'limit')! } : {}),
          ...(q.get('continue') ? { continue: q.get('continue')! } : {}),
          ...(q.get('resourceVersion') ? { resourceVersion: q.get('resourceVersion')! } : {}),
          ...(q.get('resourceVersionMatch') ? { resourceVersionMatch: q.get('resourceVersionMatch')! } : {}),
        };
        const table = wantsTable(c.req.header('accept') ?? null);
        // JSON lists (informers' and clients' relists, `get -l`) are spliced from served bytes.
        if (!table && responseFormat(c.req.header('accept'), apiVersionOf(info), `${info.kind}List`) === 'json') {
          return c.body(await reg.listJson(info, namespace, { ...paging, ...selectors }), 200, { 'content-type': 'application/json' });
        }
        const list = await reg.list(info, namespace, { ...selectors, ...paging });
        if (table) {
          return c.json(toTable(info, list.items, { includeObject: includeObjectParam(q), listMeta: list.metadata }));
        }
        return sendObject(c, list);
      }
      const obj = withTypeMeta(info, await reg.get(info, namespace, name));
      if (wantsTable(c.req.header('accept') ?? null)) {
        return c.json(toTable(info, [obj], { includeObject: includeObjectParam(q), listMeta: { resourceVersion: obj.metadata.resourceVersion ?? '' } }));
      }
      return sendObject(c, obj);
    }

    if (method === 'POST') {
      if (name !== undefined) throw errors.methodNotAllowed(`the server does not allow this method on the requested resource`);
      const body = decodeObject(await readBody(c.req.raw), mediaType(c.req.raw), info);
      const opts = writeOptions(q, user, c.req.header('user-agent') ?? '');
      const created = await reg.create(info, namespace, body, opts);
      addWarnings(c, opts.warnings);
      return sendObject(c, withTypeMeta(info, created), 201);
    }

    if (method === 'PUT') {
      if (name === undefined) throw errors.methodNotAllowed('the server does not allow this method on the requested resource');
      const body = decodeObject(await readBody(c.req.raw), mediaType(c.req.raw), info);
      if (!isPlainObject(body)) throw errors.badRequest('the request body must be an object');
      const opts = writeOptions(q, user, c.req.header('user-agent') ?? '');
      const updated = await reg.update(info, namespace, name, body, opts);
      addWarnings(c, opts.warnings);
      return sendObject(c, withTypeMeta(info, updated));
    }

    if (method === 'PATCH') {
      if (name === undefined) throw errors.methodNotAllowed('the server does not allow this method on the requested resource');
      const patched = await this.patch(c, info, namespace, name, undefined, q, user);
      return sendObject(c, withTypeMeta(info, patched.object), patched.created ? 201 : 200);
    }

    if (method === 'DELETE') {
      const options = await this.deleteOptions(c, q, info);
      // `kubectl delete --dry-run=server` puts dryRun in the DeleteOptions body, not the query.
      if (options.dryRun?.includes('All') && !q.getAll('dryRun').includes('All')) q.append('dryRun', 'All');
      if (name === undefined) {
        const list = await reg.deleteCollection(info, namespace, parseSelectors(info, q), options, writeOptions(q, user, c.req.header('user-agent') ?? ''));
        return sendObject(c, list);
      }
      const result = await reg.delete(info, namespace, name, options, writeOptions(q, user, c.req.header('user-agent') ?? ''));
      // Upstream answers 200 for graceful and finalizer-held deletions too; 202 only for the legacy
      // `orphanDependents: false` (kept for old clients).
      const accepted = !result.deleted && (options as { orphanDependents?: unknown }).orphanDependents === false;
      return sendObject(c, withTypeMeta(info, result.object), accepted ? 202 : 200);
    }

    throw errors.methodNotAllowed(`method ${method} is not supported`);
  }

  /** Applies a PATCH to the main resource or a subresource (`status`) with retry on conflicts. */
  async patch(c: Context, info: ResourceInfo, namespace: string | undefined, name: string, subresource: string | undefined, q: URLSearchParams, user: RequestUser | undefined): Promise<{ object: KubeObject; created: boolean }> {
    const type = refuseStrategicForCustom(patchTypeOf(mediaType(c.req.raw)), info);
    const raw = await readBody(c.req.raw);
    const reg = this.o.registry;
    const opts = writeOptions(q, user, c.req.header('user-agent') ?? '');
    validatePatchOptions(type, q);
    if (type === 'apply') return this.serverSideApply(info, namespace, name, subresource, raw, q, opts);
    const object = await reg.guaranteedUpdate(info, namespace, name, (current) => {
      // Warnings are per attempt: only the last (successful) read-modify-write counts.
      opts.warnings?.splice(0);
      return applyPatch(type, current, raw, info, true);
    }, {
      ...opts,
      ...(subresource ? { subresource } : {}),
      ...(patchPrecondition(type, raw) ? { expectedResourceVersion: patchPrecondition(type, raw)! } : {}),
    });
    addWarnings(c, opts.warnings);
    return { object, created: false };
  }

  /**
   * `application/apply-patch+yaml`: creates the object when missing (201), otherwise applies the
   * configuration with field ownership (server-side-apply.ts).
   */
  private async serverSideApply(info: ResourceInfo, namespace: string | undefined, name: string, subresource: string | undefined, raw: Uint8Array, q: URLSearchParams, opts: WriteOptions): Promise<{ object: KubeObject; created: boolean }> {
    const reg = this.o.registry;
    const manager = opts.fieldManager!;
    const force = queryBool(q, 'force');
    const apiVersion = apiVersionOf(info);
    const config = applyConfigurationOf(info, name, raw);
    for (let attempt = 0; ; attempt++) {
      if (!subresource && !(await reg.tryGet(info, namespace, name))) {
        const body = clone(config);
        delete body['status'];
        try {
          const object = await reg.create(info, namespace, body, { ...opts, apply: { managedFields: managedFieldsForCreate(config, manager, apiVersion) } });
          return { object, created: true };
        } catch (err) {
          // Created by someone else meanwhile: apply to theirs.
          if (!(err instanceof StatusError && err.reason === 'AlreadyExists') || attempt > 0) throw err;
          continue;
        }
      }
      const object = await reg.guaranteedUpdate(info, namespace, name, (current) => applyOrRefuse(() => applyConfiguration(current, config, manager, apiVersion, force)), {
        ...opts, apply: {}, ...(subresource ? { subresource } : {}),
      });
      return { object, created: false };
    }
  }

  private async deleteOptions(c: Context, q: URLSearchParams, info: ResourceInfo): Promise<DeleteOptions> {
    const decoded = decodeDeleteOptions(await readBody(c.req.raw), mediaType(c.req.raw), info);
    checkDeleteOptionsTypes(decoded);
    const body = decoded as DeleteOptions;
    const grace = intParam(q, 'gracePeriodSeconds');
    if (grace !== undefined) body.gracePeriodSeconds = grace;
    // Upstream treats a negative grace period as 1 s.
    if (body.gracePeriodSeconds !== undefined && body.gracePeriodSeconds < 0) body.gracePeriodSeconds = 1;
    if (body.dryRun !== undefined && body.dryRun.some((d) => d !== 'All')) {
      throw errors.badRequest(`unsupported dryRun value ${JSON.stringify(body.dryRun)}: only "All" is supported`);
    }
    const policy = q.get('propagationPolicy');
    if (policy) body.propagationPolicy = policy as NonNullable<DeleteOptions['propagationPolicy']>;
    if (body.propagationPolicy && !['Orphan', 'Background', 'Foreground'].includes(body.propagationPolicy)) {
      throw errors.badRequest(`invalid propagationPolicy "${body.propagationPolicy}": must be Orphan, Background or Foreground`);
    }
    return body;
  }

  private async watch(c: Context, info: ResourceInfo, namespace: string | undefined, name: string | undefined, q: URLSearchParams): Promise<Response> {
    const table = wantsTable(c.req.header('accept') ?? null);
    const format = table ? 'json' : responseFormat(c.req.header('accept'), apiVersionOf(info), info.kind);
    const selectors = parseSelectors(info, q);
    if (name !== undefined) {
      selectors.fieldSelector = [...(selectors.fieldSelector ?? []), { path: 'metadata.name', operator: '=', value: name }];
    }
    const abort = new AbortController();
    const outgoing = (c.env as { outgoing?: { once(ev: 'close', fn: () => void): void } } | undefined)?.outgoing;
    outgoing?.once('close', () => abort.abort());
    c.req.raw.signal?.addEventListener('abort', () => abort.abort());
    const resourceVersion = q.get('resourceVersion') ?? '';
    // A malformed resourceVersion is a plain 400, before the stream starts (as upstream).
    if (resourceVersion !== '' && !/^\d+$/.test(resourceVersion)) throw errors.badRequest(`invalid resource version "${resourceVersion}"`);
    const startRevision = resourceVersion && resourceVersion !== '0' ? Number(resourceVersion) : this.o.registry.currentRevision(info);
    let filteredRevision = 0;
    const events = this.o.registry.watch(info, namespace, {
      ...selectors,
      resourceVersion,
      signal: abort.signal,
      onFilteredRevision: (revision) => { filteredRevision = Math.max(filteredRevision, revision); },
    });
    const includeObject = includeObjectParam(q);
    const render = (ev: WatchEvent<KubeObject>, first: boolean): unknown => {
      // Stored objects carry kind and apiVersion: pass the shared object through so its JSON is cached.
      const obj = ev.object.kind && ev.object.apiVersion ? ev.object : withTypeMeta(info, ev.object);
      if (!table) return obj;
      return toTable(info, [obj], { includeObject, noHeaders: !first, listMeta: { resourceVersion: obj.metadata.resourceVersion ?? '' } });
    };
    const timeoutSeconds = intParam(q, 'timeoutSeconds');
    // Upstream closes idle watches after 30–60 min so clients rebalance; do the same.
    // `timeoutSeconds=0` means no explicit timeout upstream, not "end at once".
    const timeoutMs = timeoutSeconds !== undefined && timeoutSeconds > 0 ? Math.min(timeoutSeconds * 1000, MAX_TIMER_MS) : (1800 + Math.random() * 1800) * 1000;
    const bookmarks = queryBool(q, 'allowWatchBookmarks');
    const closed = this.o.watchOpened?.(info, name !== undefined ? 'resource' : namespace !== undefined ? 'namespace' : 'cluster');
    if (closed) abort.signal.addEventListener('abort', closed, { once: true });
    if (c.req.raw.signal?.aborted) abort.abort(); // the client left before this point (e.g. its HTTP/2 session was torn down): no event will come
    const options: WatchStreamOptions = {
      events,
      render,
      ...(bookmarks ? { bookmarkKind: { apiVersion: apiVersionOf(info), kind: info.kind } } : {}),
      bookmarkIntervalMs: this.o.bookmarkIntervalMs ?? 60_000,
      timeoutMs,
      startRevision,
      filteredRevision: () => filteredRevision,
      abort,
      format,
    };
    const headers = { 'content-type': watchContentType(format), 'cache-control': 'no-cache, private', 'x-content-type-options': 'nosniff' };
    return watchResponse(options, headers, c.req.method === 'GET' ? outgoing : undefined, table ? undefined : c.req.raw);
  }
}

/** apimachinery's ValidateListOptions: 422 `ListOptions.meta.k8s.io "" is invalid` for bad combinations. */
function validateListOptions(q: URLSearchParams, watch: boolean): void {
  const match = q.get('resourceVersionMatch') ?? '';
  if (match === '') return;
  const found: StatusCause[] = [];
  const forbidden = (detail: string): StatusCause => ({ reason: 'FieldValueForbidden', message: `Forbidden: ${detail}`, field: 'resourceVersionMatch' });
  if (watch) {
    found.push(forbidden('resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided'));
  } else {
    const rv = q.get('resourceVersion') ?? '';
    if (rv === '') found.push(forbidden('resourceVersionMatch is forbidden unless resourceVersion is provided'));
    if (q.get('continue')) found.push(forbidden('resourceVersionMatch is forbidden when continue is provided'));
    if (match !== 'Exact' && match !== 'NotOlderThan') {
      found.push({ reason: 'FieldValueNotSupported', message: `Unsupported value: ${JSON.stringify(match)}: supported values: "Exact", "NotOlderThan", ""`, field: 'resourceVersionMatch' });
    }
    if (match === 'Exact' && rv === '0') found.push(forbidden('resourceVersionMatch "exact" is forbidden for resourceVersion "0"'));
  }
  if (found.length === 0) return;
  const summary = found.map((f) => `${f.field}: ${f.message}`).join(', ');
  throw new StatusError(422, 'Invalid', `ListOptions.meta.k8s.io "" is invalid: ${found.length > 1 ? `[${summary}]` : summary}`, {
    name: '', group: 'meta.k8s.io', kind: 'ListOptions', causes: found,
  });
}

function includeObjectParam(q: URLSearchParams): 'None' | 'Metadata' | 'Object' {
  const v = q.get('includeObject');
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}

/** Each warning as a `Warning: 299 - "..."` header, which kubectl prints as `Warning: ...`. */
function addWarnings(c: Context, warnings: string[] | undefined): void {
  for (const w of warnings ?? []) c.header('Warning', `299 - ${JSON.stringify(w)}`, { append: true });
}

/** apimachinery's ValidatePatchOptions: apply needs a field manager, `force` is for apply only. */
function validatePatchOptions(type: string, q: URLSearchParams): void {
  const found: StatusCause[] = [];
  if (type === 'apply' && !q.get('fieldManager')) found.push({ reason: 'FieldValueRequired', message: 'Required value: is required for apply patch', field: 'fieldManager' });
  if (type !== 'apply' && q.get('force') !== null) found.push({ reason: 'FieldValueForbidden', message: 'Forbidden: may not be specified for non-apply patch', field: 'force' });
  if (found.length === 0) return;
  const summary = found.map((f) => `${f.field}: ${f.message}`).join(', ');
  throw new StatusError(422, 'Invalid', `PatchOptions.meta.k8s.io "" is invalid: ${summary}`, { name: '', group: 'meta.k8s.io', kind: 'PatchOptions', causes: found });
}

/** The default field manager: the User-Agent up to its first '/' (`kubectl`), as upstream derives it. */
function managerFromUserAgent(ua: string | undefined): string {
  const name = (ua ?? '').split('/')[0]!.trim();
  return (name || 'unknown').slice(0, 128);
}

/** The apply body: an object of the URL's kind and name (upstream insists on both). */
function applyConfigurationOf(info: ResourceInfo, name: string, raw: Uint8Array): Record<string, unknown> {
  const body = parseYamlBody(raw, 'apply patch');
  if (!isPlainObject(body)) throw errors.badRequest('the apply patch must be an object');
  const meta = body['metadata'];
  if (meta !== undefined && meta !== null && !isPlainObject(meta)) throw errors.badRequest('metadata must be an object');
  const m = (meta ?? {}) as Record<string, unknown>;
  if (m['name'] !== undefined && m['name'] !== name) {
    throw errors.badRequest(`the name of the object (${String(m['name'])}) does not match the name on the URL (${name})`);
  }
  m['name'] = name;
  body['metadata'] = m;
  if (body['kind'] !== undefined && body['kind'] !== info.kind) {
    throw errors.badRequest(`the kind of the applied configuration (${String(body['kind'])}) does not match the URL (${info.kind})`);
  }
  const undeclared = undeclaredFields(info, body);
  if (undeclared.length > 0) {
    const ns = typeof m['namespace'] === 'string' ? `${m['namespace']}/` : '';
    throw errors.badRequest(`failed to create typed patch object (${ns}${name}; ${apiVersionOf(info)}, Kind=${info.kind}): ${undeclared.map((f) => `.${f}: field not declared in schema`).join(', ')}`);
  }
  checkObjectTypes(info, body);
  return body;
}

/** A `metadata.resourceVersion` inside a merge or strategic patch is a precondition. */
function patchPrecondition(type: string, raw: Uint8Array): string | undefined {
  if (type !== 'merge' && type !== 'strategic') return undefined;
  try {
    const p = JSON.parse(Buffer.from(raw).toString('utf8')) as { metadata?: { resourceVersion?: unknown } };
    const rv = p?.metadata?.resourceVersion;
    return typeof rv === 'string' && rv !== '' ? rv : undefined;
  } catch {
    return undefined;
  }
}

export { StatusError };
