/**
 * LimitRange admission (upstream's LimitRanger) for pods being created:
 * - fills each container's missing requests and limits from the namespace's Container limit ranges
 *   (`defaultRequest`, `default`) and says so in the `kubernetes.io/limit-ranger` annotation;
 * - then enforces min, max and maxLimitRequestRatio per Container and per Pod, refusing with
 *   upstream's 403 messages (`maximum cpu usage per Container is 1, but limit is 2`).
 */
import type { KubeObject } from '../../api/meta.js';
import { canonicalQuantity, quantityToMilliBigInt } from '../../api/quantity.js';
import { qualifiedResource, resourceForKind, type ResourceInfo } from '../../api/resources.js';
import { errors } from '../../api/status.js';
import type { Container, LimitRange, LimitRangeItem, Pod } from '../../api/types.js';
import { validateObject } from '../../api/validation/index.js';
import type { AdmissionPlugin, Registry } from './registry.js';
import { podResources, type ResourceList } from './quota/usage.js';
import { qosClass } from './strategies.js';

export const LIMIT_RANGER_ANNOTATION = 'kubernetes.io/limit-ranger';

/** Sets missing requests/limits from Container defaults; returns the annotation text ('' if nothing was set). */
export function applyLimitRangeDefaults(pod: Pod, items: readonly LimitRangeItem[]): string {
  const defaults: ResourceList = {};
  const defaultRequests: ResourceList = {};
  for (const item of items) {
    if (item.type !== 'Container') continue;
    Object.assign(defaults, item.default ?? {});
    Object.assign(defaultRequests, item.defaultRequest ?? {});
  }
  const notes: string[] = [];
  const apply = (c: Container, kind: string): void => {
    const resources = (c.resources ??= {});
    const setRequests: string[] = [];
    const setLimits: string[] = [];
    for (const [r, q] of Object.entries(defaultRequests)) {
      if (resources.requests?.[r] !== undefined) continue;
      (resources.requests ??= {})[r] = q;
      setRequests.push(r);
    }
    for (const [r, q] of Object.entries(defaults)) {
      if (resources.limits?.[r] !== undefined) continue;
      (resources.limits ??= {})[r] = q;
      setLimits.push(r);
    }
    const parts: string[] = [];
    if (setRequests.length > 0) parts.push(`${setRequests.sort().join(', ')} request for ${kind} ${c.name}`);
    if (setLimits.length > 0) parts.push(`${setLimits.sort().join(', ')} limit for ${kind} ${c.name}`);
    if (parts.length > 0) notes.push(parts.join('; '));
  };
  for (const c of pod.spec?.containers ?? []) apply(c, 'container');
  for (const c of pod.spec?.initContainers ?? []) apply(c, 'init container');
  return notes.length > 0 ? `LimitRanger plugin set: ${notes.join('; ')}` : '';
}

const milli = (q: string): bigint => quantityToMilliBigInt(q);

/** The min/max/ratio violations of one set of requests and limits (a container's or the pod's sums). */
function checkItem(item: LimitRangeItem, limitType: string, requests: ResourceList, limits: ResourceList): string[] {
  const out: string[] = [];
  for (const [r, enforced] of Object.entries(item.min ?? {})) {
    const req = requests[r];
    const lim = limits[r];
    const e = canonicalQuantity(enforced);
    if (req === undefined) out.push(`minimum ${r} usage per ${limitType} is ${e}.  No request is specified`);
    else if (milli(req) < milli(enforced)) out.push(`minimum ${r} usage per ${limitType} is ${e}, but request is ${canonicalQuantity(req)}`);
    else if (lim !== undefined && milli(lim) < milli(enforced)) out.push(`minimum ${r} usage per ${limitType} is ${e}, but limit is ${canonicalQuantity(lim)}`);
  }
  for (const [r, enforced] of Object.entries(item.max ?? {})) {
    const req = requests[r];
    const lim = limits[r];
    const e = canonicalQuantity(enforced);
    if (lim === undefined) out.push(`maximum ${r} usage per ${limitType} is ${e}.  No limit is specified`);
    else if (milli(lim) > milli(enforced)) out.push(`maximum ${r} usage per ${limitType} is ${e}, but limit is ${canonicalQuantity(lim)}`);
    else if (req !== undefined && milli(req) > milli(enforced)) out.push(`maximum ${r} usage per ${limitType} is ${e}, but request is ${canonicalQuantity(req)}`);
  }
  for (const [r, enforced] of Object.entries(item.maxLimitRequestRatio ?? {})) {
    const req = requests[r];
    const lim = limits[r];
    const e = canonicalQuantity(enforced);
    if (req === undefined || milli(req) === 0n) {
      out.push(`${r} max limit to request ratio per ${limitType} is ${e}, but no request is specified or request is 0`);
    } else if (lim === undefined || milli(lim) === 0n) {
      out.push(`${r} max limit to request ratio per ${limitType} is ${e}, but no limit is specified or limit is 0`);
    } else {
      const ratio = Number(milli(lim)) / Number(milli(req));
      if (ratio * 1000 > Number(milli(enforced))) out.push(`${r} max limit to request ratio per ${limitType} is ${e}, but provided ratio is ${ratio.toFixed(6)}`);
    }
  }
  return out;
}

/** Every violation of the pod against the items (Container items per container, Pod items on the sums). */
export function limitRangeViolations(pod: Pod, items: readonly LimitRangeItem[]): string[] {
  const out: string[] = [];
  for (const item of items) {
    if (item.type === 'Container') {
      for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
        out.push(...checkItem(item, 'Container', (c.resources?.requests ?? {}) as ResourceList, (c.resources?.limits ?? {}) as ResourceList));
      }
    } else if (item.type === 'Pod') {
      out.push(...checkItem(item, 'Pod', podResources(pod, 'requests'), podResources(pod, 'limits')));
    }
  }
  return out;
}

function forbidden(info: ResourceInfo, obj: KubeObject, problems: string[]) {
  const name = obj.metadata.name ?? '';
  const why = problems.length === 1 ? problems[0]! : `[${problems.join(', ')}]`;
  return errors.forbidden(`${qualifiedResource(info)} "${name}" is forbidden: ${why}`, { name, group: info.group, kind: info.plural });
}

export function limitRangerPlugin(registry: Registry): AdmissionPlugin {
  const limitRangeInfo = resourceForKind('LimitRange')!;
  return {
    name: 'LimitRanger',
    async admitCreate(info, obj) {
      if (info.kind !== 'Pod') return;
      const ranges = (await registry.list(limitRangeInfo, obj.metadata.namespace)).items as LimitRange[];
      const items = ranges.flatMap((r) => r.spec?.limits ?? []);
      if (items.length === 0) return;
      const pod = obj as Pod;
      const note = applyLimitRangeDefaults(pod, items);
      if (note !== '') {
        pod.metadata.annotations = { ...pod.metadata.annotations, [LIMIT_RANGER_ANNOTATION]: note };
        // Defaults may have put a request above a limit: validate again, and the QoS class may have changed.
        const causes = validateObject(info, pod);
        if (causes.length > 0) throw errors.invalid(info.kind, pod.metadata.name ?? '', causes, info.group);
        pod.status = { ...(pod.status ?? {}), qosClass: qosClass(pod) };
      }
      const problems = limitRangeViolations(pod, items);
      if (problems.length > 0) throw forbidden(info, obj, problems);
    },
  };
}
