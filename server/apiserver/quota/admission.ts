/**
 * ResourceQuota admission: a create that would take a namespace's usage past a quota's hard limit is
 * refused with upstream's 403 (`exceeded quota: NAME, requested: ..., used: ..., limited: ...`);
 * otherwise its cost is charged to each covering quota's status.used in the same step (a
 * guaranteedUpdate of the quota's status), so two concurrent creates cannot both take the last unit.
 * If the object's write then fails, the charge is given back. The quota controller recomputes
 * status.used from what exists (deletions, finished pods), so charges never drift for long.
 */
import type { KubeObject } from '../../../api/meta.js';
import { addQuantities, compareQuantities, canonicalQuantity, subtractQuantities } from '../../../api/quantity.js';
import { qualifiedResource, resourceForKind, type ResourceInfo } from '../../../api/resources.js';
import { errors, isNotFound } from '../../../api/status.js';
import type { Pod, ResourceQuota } from '../../../api/types.js';
import type { AdmissionPlugin, Registry } from '../registry.js';
import { missingComputeResources, quotaCovers, usageOf, type ResourceList } from './usage.js';

const prettyPrint = (list: ResourceList): string =>
  Object.keys(list).sort().map((k) => `${k}=${canonicalQuantity(list[k]!)}`).join(',');

function forbidden(info: ResourceInfo, obj: KubeObject, why: string) {
  const name = obj.metadata.name ?? '';
  return errors.forbidden(`${qualifiedResource(info)} "${name}" is forbidden: ${why}`, { name, group: info.group, kind: info.plural });
}

export function resourceQuotaPlugin(registry: Registry): AdmissionPlugin {
  const quotaInfo = resourceForKind('ResourceQuota')!;

  /** The quota's used after charging `obj` to it, and the charge; throws the 403 if it does not fit. */
  function evaluate(info: ResourceInfo, obj: KubeObject, q: ResourceQuota): { used: ResourceList; charged: ResourceList } {
    const hard = q.spec?.hard ?? {};
    if (info.kind === 'Pod') {
      const missing = missingComputeResources(q, obj as Pod);
      if (missing) throw forbidden(info, obj, `failed quota: ${q.metadata.name}: ${missing}`);
    }
    const requested: ResourceList = {};
    for (const [name, amount] of Object.entries(usageOf(info, obj))) if (name in hard) requested[name] = amount;
    const used = q.status?.used ?? {};
    if (Object.keys(requested).length === 0) return { used, charged: requested };
    const unknown = Object.keys(requested).filter((n) => used[n] === undefined || q.status?.hard?.[n] !== hard[n]).sort();
    if (unknown.length > 0) throw forbidden(info, obj, `status unknown for quota: ${q.metadata.name}, resource: ${unknown.join(',')}`);
    const next: ResourceList = { ...used };
    const exceeded: string[] = [];
    for (const [name, amount] of Object.entries(requested)) {
      next[name] = addQuantities(used[name]!, amount);
      if (compareQuantities(next[name]!, hard[name]!) > 0) exceeded.push(name);
    }
    if (exceeded.length > 0) {
      const pick = (list: ResourceList): ResourceList => Object.fromEntries(exceeded.map((n) => [n, list[n] ?? '0']));
      throw forbidden(info, obj, `exceeded quota: ${q.metadata.name}, requested: ${prettyPrint(pick(requested))}, used: ${prettyPrint(pick(used))}, limited: ${prettyPrint(pick(hard))}`);
    }
    return { used: next, charged: requested };
  }

  /** Charges `obj` to one quota atomically, or refuses; returns what was charged. */
  async function charge(info: ResourceInfo, obj: KubeObject, quota: ResourceQuota): Promise<ResourceList> {
    let charged: ResourceList = {};
    await registry.guaranteedUpdate(quotaInfo, quota.metadata.namespace, quota.metadata.name!, (cur) => {
      const q = cur as ResourceQuota;
      const result = evaluate(info, obj, q);
      charged = result.charged;
      if (Object.keys(charged).length > 0) q.status = { ...(q.status ?? {}), used: result.used };
      return q;
    }, { subresource: 'status' });
    return charged;
  }

  async function refund(quota: ResourceQuota, charged: ResourceList): Promise<void> {
    try {
      await registry.guaranteedUpdate(quotaInfo, quota.metadata.namespace, quota.metadata.name!, (cur) => {
        const q = cur as ResourceQuota;
        const used = { ...(q.status?.used ?? {}) };
        for (const [name, amount] of Object.entries(charged)) if (used[name] !== undefined) used[name] = subtractQuantities(used[name]!, amount);
        q.status = { ...(q.status ?? {}), used };
        return q;
      }, { subresource: 'status' });
    } catch (err) {
      if (!isNotFound(err)) throw err; // the controller recomputes anyway
    }
  }

  return {
    name: 'ResourceQuota',
    async admitCreate(info, obj, opts) {
      if (!info.namespaced || info.createOnly) return;
      const quotas = (await registry.list(quotaInfo, obj.metadata.namespace)).items as ResourceQuota[];
      const covering = quotas.filter((q) => quotaCovers(q, info, obj));
      if (covering.length === 0) return;
      if (opts.dryRun) {
        for (const q of covering) evaluate(info, obj, q); // check only: nothing is charged
        return;
      }
      const charged: [ResourceQuota, ResourceList][] = [];
      try {
        for (const q of covering) charged.push([q, await charge(info, obj, q)]);
      } catch (err) {
        for (const [q, c] of charged) await refund(q, c);
        throw err;
      }
      return async () => {
        for (const [q, c] of charged) await refund(q, c);
      };
    },
  };
}
