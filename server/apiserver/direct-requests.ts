/**
 * The direct path of the server's own in-process writes: the controllers' creates (pods of a
 * ReplicaSet, Events) and the scheduler's bindings, about half the writes per scheduled pod. They
 * are authenticated, authorized, admitted, validated and counted in the request metrics exactly as
 * over HTTPS (the same functions run), but their body and answer travel as objects: no JSON text
 * either way, no WHATWG Request or Response, no routing. What the path takes is narrow (a POST of a
 * plain JSON object to a collection of the generic resource routes, or to pods/binding, without a
 * query or other headers); everything else answers undefined at once and goes through the app.
 */
import type { DirectAnswer, DirectHandler, DirectRequest } from '../../api/client/transport.js';
import { jsonCopy } from '../../api/json-copy.js';
import { errors, type StatusError } from '../../api/status.js';
import { badEscapeMessage, rawPathOf } from '../../api/request-target.js';
import { MAX_BODY_BYTES, MAX_NESTING_DEPTH } from './body.js';
import { parseResourcePath, type ParseResult, type RequestTarget } from './request-info.js';
import { metricsVerb, type ApiserverMetrics } from './request-metrics.js';
import type { Registry, RequestUser } from './registry.js';
import { withTypeMeta, writeOptions } from './resource-handler.js';
import { BINDING_DONE, type Subresources } from './subresources.js';
import type { RequestUserInfo } from '../auth/request-authenticator.js';

export interface DirectRequestDeps {
  metrics: ApiserverMetrics;
  registry: Registry;
  subresources: Subresources;
  /** Authentication and authorization as the app's middleware runs them (throws the refusal). */
  admit(authorization: string | undefined, path: string, query: URLSearchParams, parsed: ParseResult): Promise<RequestUserInfo>;
  /** What the app's error handler answers for `err`. */
  fail(err: unknown, path: string, signal: AbortSignal | undefined): StatusError;
}

const LIMITS = { maxDepth: MAX_NESTING_DEPTH, maxBytes: MAX_BODY_BYTES };

/**
 * Paths the app routes to its generic resource dispatch, spelt so that URL parsing and the router
 * see them unchanged (no escapes, no dot segments). events.k8s.io has routes of its own.
 */
const PLAIN_PATH = /^\/apis?\/[A-Za-z0-9._~/-]*$/;
const HEADERS = new Set(['authorization', 'accept', 'content-type']);

/** The parsed path of a request the direct path takes (a resource target), or undefined. */
function directTarget(req: DirectRequest): (ParseResult & { kind: 'resource' }) | undefined {
  if (req.method !== 'POST' || !PLAIN_PATH.test(req.path) || req.path.startsWith('/apis/events.k8s.io/')) return undefined;
  if (req.path.split('/').some((segment) => segment === '.' || segment === '..')) return undefined;
  for (const [name, value] of Object.entries(req.headers)) {
    if (!HEADERS.has(name)) return undefined;
    if (name !== 'authorization' && value !== 'application/json') return undefined;
  }
  const parsed = parseResourcePath(req.path);
  if (parsed.kind !== 'resource') return undefined;
  const t = parsed.target;
  if (t.info.provided || t.info.createOnly || t.legacyWatch) return undefined;
  if (t.subresource === undefined) return t.name === undefined ? parsed : undefined;
  return t.subresource === 'binding' && t.name !== undefined && t.info.subresources.some((s) => s.name === 'binding') ? parsed : undefined;
}

export function directRequests(d: DirectRequestDeps): DirectHandler {
  async function run(req: DirectRequest, parsed: ParseResult & { kind: 'resource' }, body: unknown): Promise<DirectAnswer> {
    const target: RequestTarget = parsed.target;
    const started = performance.now();
    const query = new URLSearchParams();
    let status = 201;
    let answer: unknown;
    try {
      const bad = badEscapeMessage(rawPathOf(req.path));
      if (bad !== undefined) throw errors.badRequest(bad);
      const admitted = await d.admit(req.headers['authorization'], req.path, query, parsed);
      const user: RequestUser = { ...admitted, groups: [...admitted.groups] };
      if (target.subresource === 'binding') {
        await d.subresources.bindPod(target.namespace!, { name: target.name!, q: query, user }, body);
        answer = BINDING_DONE;
      } else {
        // As the app's POST to a collection (an in-process Request has no User-Agent); warnings would
        // be response headers, which in-process callers do not read.
        answer = withTypeMeta(target.info, await d.registry.create(target.info, target.namespace, body, writeOptions(query, user, '')));
      }
    } catch (err) {
      const refusal = d.fail(err, req.path, req.signal);
      status = refusal.code;
      answer = refusal.toStatus();
    }
    d.metrics.record(metricsVerb(req.method, req.path, query, req.headers['content-type'], parsed), false, status, (performance.now() - started) / 1000);
    return { status, value: jsonCopy(answer, LIMITS) ?? JSON.parse(JSON.stringify(answer)) };
  }

  return (req) => {
    const parsed = directTarget(req);
    if (!parsed) return undefined;
    // The server's own copy, as parsing the JSON text would give it (a body that is not plain JSON,
    // or might be too large, takes the text path and gets its answer there).
    const body = jsonCopy(req.body, LIMITS);
    if (body === undefined || Array.isArray(body)) return undefined;
    return run(req, parsed, body);
  };
}
