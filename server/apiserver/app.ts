/**
 * The Hono application: health and version (no auth), bearer-token authentication (failed attempts
 * throttled per source), authorization by the authorizer chain (Node, built-in roles; RBAC can be
 * appended), discovery, the OpenAPI documents, and every resource URL dispatched through one parser.
 */
import { Hono, type Context } from 'hono';
import { errors, StatusError } from '../../api/status.js';
import type { IncomingMessage } from 'node:http';
import type { TokenStore } from '../auth/tokens.js';
import { AuthorizerChain, forbiddenMessage } from '../auth/authorizer.js';
import { BuiltinRolesAuthorizer } from '../auth/builtin-roles.js';
import { NodeAuthorizer } from '../auth/node-authorizer.js';
import { RequestAuthenticator, type AuthOutcome, type RequestAuthenticatorOptions, type RequestUserInfo } from '../auth/request-authenticator.js';
import { impersonate, impersonationHeaders } from '../auth/impersonation.js';
import type { ServiceAccountTokens } from '../auth/service-account-tokens.js';
import { RegistryNodeGraph } from './node-graph.js';
import { requestAttributes } from './request-attributes.js';
import { aggregatedDiscovery, AGGREGATED_CONTENT_TYPE, apiResourceList, legacyApiGroup, legacyApiGroupList, legacyApiVersions, wantsAggregated } from './discovery.js';
import { OpenApiDocuments } from './openapi/documents.js';
import { BuiltinOpenApiSource } from './openapi/builtin-source.js';
import { mountOpenApiRoutes } from './openapi/routes.js';
import { parseResourcePath } from './request-info.js';
import { ApiserverMetrics, metricsVerb } from './request-metrics.js';
import { ProvidedResources } from './provided-resources.js';
import type { Registry } from './registry.js';
import { ResourceHandler } from './resource-handler.js';
import { eventsV1Routes } from './events-v1.js';
import { Subresources } from './subresources.js';
import { RequestKinds } from './request-kinds.js';
import { StoreError } from '../store/store.js';
import { log } from '../../api/log.js';
import { badEscapeMessage, rawPathOf } from '../../api/request-target.js';
import { sendObject } from './negotiate.js';
import { checkBooleanQuery } from '../../api/query-bool.js';
import type { DirectHandler } from '../../api/client/transport.js';
import { directRequests } from './direct-requests.js';

export const SERVER_VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0+corral',
  gitCommit: 'corral',
  gitTreeState: 'clean',
  buildDate: '2026-11-26T00:00:00Z',
  goVersion: 'node',
  compiler: 'corral',
  platform: `linux/${process.arch === 'x64' ? 'amd64' : process.arch}`,
};

export interface ApiAppOptions {
  registry: Registry;
  tokens: TokenStore;
  /** `host:port` advertised in legacy discovery. */
  serverAddress: string;
  bookmarkIntervalMs?: number;
  /** Throttling of failed authentication per source address (tests shorten it). */
  failedAuth?: RequestAuthenticatorOptions;
  /** Extra routes mounted before the resource catch-all (status page, install script, ...); they authenticate with `auth`. */
  extraRoutes?: (app: Hono<Env>, auth: RouteAuthenticator) => void;
  /** Accepts service-account tokens (JWTs) besides corral's own. */
  serviceAccountTokens?: Pick<ServiceAccountTokens, 'authenticate'>;
  /** The server's metrics, when the store and controllers report into them too (else the app makes its own). */
  metrics?: ApiserverMetrics;
}

/** Authenticates a request of an extra route as the API does (same tokens, same throttling). */
export type RouteAuthenticator = (c: Context) => AuthOutcome;

export type Env = { Variables: { user: RequestUserInfo } };

/** Pod subresources whose GET is a WebSocket upgrade that acts on the pod. */
const ACTING_ON_GET: ReadonlySet<string> = new Set(['exec', 'attach', 'portforward']);

/** Served without a token, with the trailing-slash forms upstream's mux answers too. */
const UNAUTHENTICATED = new Set(['/healthz', '/readyz', '/livez', '/version', '/healthz/', '/readyz/', '/livez/', '/version/', '/healthz/ping', '/readyz/ping', '/livez/ping']);

/** A Status error body, in protobuf for clients that prefer it (client-go decodes either). */
function statusResponse(c: Context, err: StatusError): Response {
  return sendObject(c, err.toStatus(), err.code);
}

/** A failure that only means the client disconnected or cancelled (not a server fault). */
export function isClientAbort(err: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted) return true;
  const e = err as { name?: string; code?: string; message?: string } | undefined;
  return e?.name === 'AbortError' || e?.code === 'ECONNRESET' || e?.code === 'ERR_STREAM_PREMATURE_CLOSE' || e?.message === 'aborted';
}

export interface ApiApp {
  app: Hono<Env>;
  subresources: Subresources;
  /** Handlers of TokenReview, SubjectAccessReview and the other create-only kinds. */
  requestKinds: RequestKinds;
  /** Node authorizer, then the built-in roles; RBAC is appended here. */
  authorizer: AuthorizerChain;
  /** Request counters and process metrics, served at `/metrics`. */
  metrics: ApiserverMetrics;
  /** Read-only resources served from memory (metrics.k8s.io); their providers register here. */
  provided: ProvidedResources;
  /** The OpenAPI documents: register a source (CRDs) here, and invalidate when its kinds change. */
  openapi: OpenApiDocuments;
  /** The direct entry for the server's own in-process requests (direct-requests.ts). */
  direct: DirectHandler;
}

/** The client's address; requests handed over in-process (the server's controllers) have none. */
export function sourceAddress(c: Context): string {
  return (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket?.remoteAddress ?? 'in-process';
}

/** What a failed request answers (app.onError, and the direct path of in-process requests). */
export function errorStatus(err: unknown, method: string, path: string, signal: AbortSignal | undefined): StatusError {
  if (err instanceof StatusError) return err;
  if (err instanceof StoreError && err.code === 'Unavailable') {
    log.warn('apiserver', 'storage unavailable', { method, path, error: err.message });
    return errors.unavailable(`storage is unavailable, try again: ${err.message}`);
  }
  if (isClientAbort(err, signal)) {
    // The client went away (closed the connection mid-body, cancelled): nothing to fix here.
    log.debug('apiserver', 'client closed the request', { method, path, error: (err as Error).message });
    return errors.badRequest('the client closed the request');
  }
  log.error('apiserver', 'request failed', { method, path, error: (err as Error).stack ?? String(err) });
  return errors.internal(`an error on the server ("${(err as Error).message}") has prevented the request from succeeding`);
}

/** The refusal of a request that failed authentication. */
function authFailureStatus(outcome: Exclude<AuthOutcome, { ok: true }>): StatusError {
  const throttled = outcome.code === 429;
  if (throttled) return errors.tooManyRequests(outcome.message, outcome.retryAfterSeconds);
  return errors.unauthorized();
}

function authFailure(c: Context, outcome: Exclude<AuthOutcome, { ok: true }>): Response {
  if (outcome.code === 429) c.header('Retry-After', String(outcome.retryAfterSeconds));
  return statusResponse(c, authFailureStatus(outcome));
}

export function createApiApp(o: ApiAppOptions): ApiApp {
  const app = new Hono<Env>();
  const authorizer = new AuthorizerChain([new NodeAuthorizer(new RegistryNodeGraph(o.registry)), new BuiltinRolesAuthorizer()]);
  const authenticator = new RequestAuthenticator(o.tokens, o.failedAuth);
  const verifyJwt = o.serviceAccountTokens ? (token: string) => o.serviceAccountTokens!.authenticate(token) : undefined;
  const authenticate: RouteAuthenticator = (c) => authenticator.authenticate(c.req.header('authorization'), sourceAddress(c), c.req.path);
  const subresources = new Subresources(o.registry);
  const requestKinds = new RequestKinds();
  const metrics = o.metrics ?? new ApiserverMetrics();
  const provided = new ProvidedResources();
  const resources = new ResourceHandler({
    registry: o.registry,
    subresources,
    requestKinds,
    watchOpened: (info, scope) => metrics.watchOpened(info, scope),
    ...(o.bookmarkIntervalMs ? { bookmarkIntervalMs: o.bookmarkIntervalMs } : {}),
  });

  app.onError((err, c) => statusResponse(c, errorStatus(err, c.req.method, c.req.path, c.req.raw.signal)));
  app.notFound((c) => statusResponse(c, new StatusError(404, 'NotFound', 'the server could not find the requested resource')));

  // Outermost, so refused and failed requests (400, 401, 403, 500) are counted with their codes too.
  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    const query = new URL(c.req.url).searchParams;
    const labels = metricsVerb(c.req.method, c.req.path, query, c.req.header('content-type'));
    metrics.record(labels, query.get('dryRun') === 'All', c.res.status, (performance.now() - started) / 1000);
  });

  // Malformed escapes are refused before anything else (and before auth), as Go's HTTP server does.
  app.use('*', async (c, next) => {
    const bad = badEscapeMessage(rawPathOf(c.req.url.slice(c.req.url.indexOf('/', c.req.url.indexOf('//') + 2))));
    if (bad === undefined) return next();
    log.debug('apiserver', 'malformed request path', { method: c.req.method, reason: bad });
    return statusResponse(c, errors.badRequest(bad));
  });

  for (const p of ['/healthz', '/readyz', '/livez']) for (const form of [p, `${p}/`, `${p}/ping`]) app.get(form, (c) => c.text('ok'));
  for (const p of ['/version', '/version/']) app.get(p, (c) => c.json(SERVER_VERSION));

  o.extraRoutes?.(app, authenticate);

  /** Authentication, impersonation and authorization of one request: its user, or the refusal. */
  async function admitUser(
    authorization: string | undefined, source: string, method: string, path: string, query: URLSearchParams, headers: Headers | undefined, parsedPath = parseResourcePath(path),
  ): Promise<RequestUserInfo | Exclude<AuthOutcome, { ok: true }> | StatusError> {
    const outcome = await authenticator.authenticateRequest(authorization, source, path, verifyJwt);
    if (!outcome.ok) return outcome;
    let user = outcome.user;
    // kubectl --as: the request runs as someone else if the caller may impersonate them.
    const wanted = headers ? impersonationHeaders(headers) : undefined;
    if (wanted) user = await impersonate(user, wanted, async (a) => (await authorizer.authorize(a)).decision === 'allow');
    const attributes = requestAttributes(user, method, path, query, parsedPath);
    // exec, attach and portforward arrive as a GET upgraded to a WebSocket: as upstream (1.30+), they
    // also need `create` on the subresource, so `get pods/exec` alone does not open a shell.
    const checks = attributes.verb === 'get' && attributes.resource === 'pods' && ACTING_ON_GET.has(attributes.subresource)
      ? [attributes, { ...attributes, verb: 'create' }] : [attributes];
    for (const a of checks) {
      const decision = await authorizer.authorize(a);
      if (decision.decision !== 'allow') {
        const details = a.resourceRequest ? { name: a.name, group: a.apiGroup, kind: a.resource } : undefined;
        return errors.forbidden(forbiddenMessage(a, decision.reason), details);
      }
    }
    return user;
  }

  app.use('*', async (c, next) => {
    if (UNAUTHENTICATED.has(c.req.path) || c.get('user')) return next();
    const admitted = await admitUser(c.req.header('authorization'), sourceAddress(c), c.req.method, c.req.path, new URL(c.req.url).searchParams, c.req.raw.headers);
    if (admitted instanceof StatusError) return statusResponse(c, admitted);
    if ('ok' in admitted) return authFailure(c, admitted);
    c.set('user', admitted);
    return next();
  });

  // Authorized above as `get` on the non-resource URL /metrics (cluster-admin, system:monitoring).
  app.get('/metrics', async (c) => {
    const { body, contentType } = await metrics.exposition();
    return c.body(body, 200, { 'content-type': contentType });
  });

  // `/api/` and `/apis/` answer like `/api` and `/apis`, as upstream's mux does.
  for (const path of ['/api', '/api/']) {
    app.get(path, (c) => {
      if (wantsAggregated(c.req.header('accept') ?? null)) return c.body(JSON.stringify(aggregatedDiscovery(true)), 200, { 'content-type': AGGREGATED_CONTENT_TYPE });
      return c.json(legacyApiVersions(o.serverAddress));
    });
  }
  for (const path of ['/apis', '/apis/']) {
    app.get(path, (c) => {
      if (wantsAggregated(c.req.header('accept') ?? null)) return c.body(JSON.stringify(aggregatedDiscovery(false)), 200, { 'content-type': AGGREGATED_CONTENT_TYPE });
      return c.json(legacyApiGroupList());
    });
  }
  for (const path of ['/api/v1', '/api/v1/']) app.get(path, (c) => c.json(apiResourceList('', 'v1')));
  for (const path of ['/apis/:group', '/apis/:group/']) {
    app.get(path, (c) => {
      const g = legacyApiGroup(c.req.param('group') ?? '');
      return g ? c.json(g) : c.notFound();
    });
  }
  for (const path of ['/apis/:group/:version', '/apis/:group/:version/']) {
    app.get(path, (c) => {
      const l = apiResourceList(c.req.param('group') ?? '', c.req.param('version') ?? '');
      return l ? c.json(l) : c.notFound();
    });
  }
  const openapi = new OpenApiDocuments();
  openapi.register(new BuiltinOpenApiSource());
  mountOpenApiRoutes(app, openapi);

  // events.k8s.io/v1: the core Events, converted (before the generic resource routes).
  for (const [path, handler] of eventsV1Routes((req) => app.fetch(req))) app.all(path, handler);
  app.all('/api/*', (c) => dispatch(c));
  app.all('/apis/*', (c) => dispatch(c));

  async function dispatch(c: Context<Env>): Promise<Response> {
    checkBooleanQuery(new URL(c.req.url).searchParams);
    const parsed = parseResourcePath(c.req.path);
    if (parsed.kind !== 'resource') {
      if (parsed.kind === 'unknown-resource') {
        throw new StatusError(404, 'NotFound', `the server could not find the requested resource (${parsed.plural}${parsed.group ? `.${parsed.group}` : ''})`);
      }
      throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    }
    if (parsed.target.info.provided) return provided.handle(c, parsed.target);
    const user = c.get('user');
    return resources.handle(c, parsed.target, user ? { ...user, groups: [...user.groups] } : undefined);
  }

  const direct = directRequests({
    metrics, registry: o.registry, subresources,
    admit: async (authorization, path, query, parsed) => {
      const admitted = await admitUser(authorization, 'in-process', 'POST', path, query, undefined, parsed);
      if (admitted instanceof StatusError) throw admitted;
      if ('ok' in admitted) throw authFailureStatus(admitted);
      return admitted;
    },
    fail: (err, path, signal) => errorStatus(err, 'POST', path, signal),
  });
  return { app, subresources, requestKinds, authorizer, metrics, openapi, provided, direct };
}
