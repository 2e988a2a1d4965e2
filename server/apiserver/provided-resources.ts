/**
 * Resources the server answers from memory instead of the store (`provided` in api/resources.ts, the
 * metrics.k8s.io usage that metrics-server serves upstream): `get` and `list` with label and
 * `metadata.name`/`metadata.namespace` field selectors, JSON or a Table; any other verb is 405 as
 * upstream answers for a verb a resource does not support. Authorization happened before, as for every
 * resource request.
 */
import type { Context } from 'hono';
import type { KubeObject } from '../../api/meta.js';
import { apiVersionOf, qualifiedResource, type ResourceInfo } from '../../api/resources.js';
import { matchesLabels, parseFieldSelector, parseLabelSelector, SelectorError } from '../../api/selectors.js';
import { errors } from '../../api/status.js';
import { sendObject } from './negotiate.js';
import type { RequestTarget } from './request-info.js';
import { toTable } from './tables.js';

export interface ResourceProvider {
  /** One object, or undefined (404). */
  get(namespace: string | undefined, name: string): Promise<KubeObject | undefined>;
  /** Every object, of one namespace when given. */
  list(namespace: string | undefined): Promise<KubeObject[]>;
}

const FIELDS: ReadonlySet<string> = new Set(['metadata.name', 'metadata.namespace']);

function selectors(q: URLSearchParams): (o: KubeObject) => boolean {
  try {
    const labels = parseLabelSelector(q.get('labelSelector') ?? '');
    const fields = parseFieldSelector(q.get('fieldSelector') ?? '');
    for (const f of fields) {
      if (!FIELDS.has(f.path)) throw errors.badRequest(`field label not supported: ${f.path}`);
    }
    return (o) => matchesLabels(labels, o.metadata.labels) && fields.every((f) => {
      const v = f.path === 'metadata.name' ? o.metadata.name : o.metadata.namespace;
      return f.operator === '!=' ? v !== f.value : v === f.value;
    });
  } catch (err) {
    if (err instanceof SelectorError) throw errors.badRequest(err.message);
    throw err;
  }
}

export class ProvidedResources {
  private readonly providers = new Map<string, ResourceProvider>();

  /** Serves `info` (which must be marked `provided`) from `provider`. */
  register(info: ResourceInfo, provider: ResourceProvider): void {
    this.providers.set(`${info.group}/${info.version}/${info.plural}`, provider);
  }

  async handle(c: Context, target: RequestTarget): Promise<Response> {
    const info = target.info;
    const provider = this.providers.get(`${info.group}/${info.version}/${info.plural}`);
    if (!provider) throw errors.unavailable(`${qualifiedResource(info)} is not available on this server`);
    const q = new URL(c.req.url).searchParams;
    const watching = target.legacyWatch || q.get('watch') === 'true' || q.get('watch') === '1';
    if (c.req.method !== 'GET' || target.subresource !== undefined || watching) {
      throw errors.methodNotAllowed('the server does not allow this method on the requested resource');
    }
    const table = /as=Table/.test(c.req.header('accept') ?? '') && /g=meta\.k8s\.io/.test(c.req.header('accept') ?? '');
    if (target.name !== undefined) {
      const obj = await provider.get(target.namespace, target.name);
      if (!obj) throw errors.notFound(qualifiedResource(info), target.name, info.group);
      return table ? c.json(toTable(info, [obj])) : sendObject(c, obj);
    }
    const matches = selectors(q);
    const items = (await provider.list(target.namespace)).filter(matches);
    if (table) return c.json(toTable(info, items, { listMeta: {} }));
    return sendObject(c, { kind: `${info.kind}List`, apiVersion: apiVersionOf(info), metadata: {}, items });
  }
}

