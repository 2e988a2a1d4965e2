/**
 * What an object costs against a ResourceQuota (upstream's quota evaluators), pure:
 * - pods: `pods`, `count/pods`, `requests.cpu` (= `cpu`), `limits.cpu`, memory, ephemeral-storage and
 *   extended `requests.<name>`, summed over containers (init containers as a maximum), only while the
 *   pod is not finished;
 * - services: `services`, `services.nodeports`, `services.loadbalancers`;
 * - `configmaps`, `secrets`, `replicationcontrollers`, `resourcequotas`, `persistentvolumeclaims`
 *   (+ `requests.storage`), and `count/<resource>[.<group>]` for every kind.
 * Scopes (Terminating, NotTerminating, BestEffort, NotBestEffort, PriorityClass) select pods only.
 */
import type { KubeObject } from '../../../api/meta.js';
import { addQuantities, compareQuantities } from '../../../api/quantity.js';
import type { ResourceInfo } from '../../../api/resources.js';
import type { Container, Pod, ResourceQuota, Service } from '../../../api/types.js';
import { qosClass } from '../strategies.js';

export type ResourceList = Record<string, string>;

/** The quota names of a kind's object count: `count/pods`, `count/deployments.apps`. */
export function countResourceName(info: Pick<ResourceInfo, 'group' | 'plural'>): string {
  return info.group === '' ? `count/${info.plural}` : `count/${info.plural}.${info.group}`;
}

/** Legacy object-count names of core kinds. */
const LEGACY_COUNT: Record<string, string> = {
  Pod: 'pods', Service: 'services', ConfigMap: 'configmaps', Secret: 'secrets', ReplicationController: 'replicationcontrollers',
  ResourceQuota: 'resourcequotas', PersistentVolumeClaim: 'persistentvolumeclaims',
};

const COMPUTE = ['cpu', 'memory', 'ephemeral-storage'];

function add(list: ResourceList, name: string, q: string): void {
  list[name] = list[name] === undefined ? q : addQuantities(list[name]!, q);
}

function maxInto(list: ResourceList, name: string, q: string): void {
  if (list[name] === undefined || compareQuantities(q, list[name]!) > 0) list[name] = q;
}

/**
 * Pod requests or limits: containers summed, init containers as a maximum, plus the RuntimeClass's
 * pod overhead (on requests always, on a limit only where one is set), as upstream's PodRequests/PodLimits.
 */
export function podResources(pod: Pod, which: 'requests' | 'limits'): ResourceList {
  const sum: ResourceList = {};
  for (const c of pod.spec?.containers ?? []) for (const [r, q] of Object.entries(c.resources?.[which] ?? {})) add(sum, r, String(q));
  for (const c of pod.spec?.initContainers ?? []) for (const [r, q] of Object.entries(c.resources?.[which] ?? {})) maxInto(sum, r, String(q));
  for (const [r, q] of Object.entries(pod.spec?.overhead ?? {})) {
    if (which === 'requests' || sum[r] !== undefined) add(sum, r, String(q));
  }
  return sum;
}

export function isTerminalPod(pod: Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

function podUsage(pod: Pod): ResourceList {
  if (isTerminalPod(pod)) return {};
  const usage: ResourceList = { pods: '1' };
  const requests = podResources(pod, 'requests');
  const limits = podResources(pod, 'limits');
  for (const [r, q] of Object.entries(requests)) {
    usage[`requests.${r}`] = q;
    if (COMPUTE.includes(r)) usage[r] = q;
  }
  for (const [r, q] of Object.entries(limits)) usage[`limits.${r}`] = q;
  return usage;
}

function serviceUsage(svc: Service): ResourceList {
  const usage: ResourceList = { services: '1' };
  const type = svc.spec?.type;
  if (type === 'NodePort' || type === 'LoadBalancer') usage['services.nodeports'] = String((svc.spec?.ports ?? []).length);
  if (type === 'LoadBalancer') usage['services.loadbalancers'] = '1';
  return usage;
}

/** Everything `obj` (of kind `info`) costs. */
export function usageOf(info: ResourceInfo, obj: KubeObject): ResourceList {
  let usage: ResourceList = {};
  if (info.kind === 'Pod') usage = podUsage(obj as Pod);
  else if (info.kind === 'Service') usage = serviceUsage(obj as Service);
  else if (LEGACY_COUNT[info.kind]) usage[LEGACY_COUNT[info.kind]!] = '1';
  if (info.kind === 'PersistentVolumeClaim') {
    const storage = (obj as { spec?: { resources?: { requests?: Record<string, string> } } }).spec?.resources?.requests?.['storage'];
    if (storage !== undefined) usage['requests.storage'] = storage;
  }
  // A finished pod no longer counts at all (not even as an object), as upstream.
  if (!(info.kind === 'Pod' && isTerminalPod(obj as Pod))) usage[countResourceName(info)] = '1';
  return usage;
}

const POD_SCOPES = new Set(['Terminating', 'NotTerminating', 'BestEffort', 'NotBestEffort', 'PriorityClass']);

/** One scope condition: spec.scopes entries are `Exists`; scopeSelector expressions as written. */
export interface ScopeRequirement { scope: string; operator: string; values: string[] }

function scopeHolds(scope: string, pod: Pod): boolean {
  switch (scope) {
    case 'Terminating': return pod.spec?.activeDeadlineSeconds !== undefined && pod.spec.activeDeadlineSeconds !== null;
    case 'NotTerminating': return pod.spec?.activeDeadlineSeconds === undefined || pod.spec.activeDeadlineSeconds === null;
    case 'BestEffort': return qosClass(pod) === 'BestEffort';
    case 'NotBestEffort': return qosClass(pod) !== 'BestEffort';
    case 'PriorityClass': return (pod.spec?.priorityClassName ?? '') !== '';
    default: return false;
  }
}

function requirementMatches(req: ScopeRequirement, pod: Pod): boolean {
  if (!POD_SCOPES.has(req.scope)) return false;
  if (req.scope === 'PriorityClass' && (req.operator === 'In' || req.operator === 'NotIn')) {
    const member = req.values.includes(pod.spec?.priorityClassName ?? '');
    return req.operator === 'In' ? member : !member;
  }
  const holds = scopeHolds(req.scope, pod);
  return req.operator === 'DoesNotExist' || req.operator === 'NotIn' ? !holds : holds;
}

export function quotaScopes(quota: ResourceQuota): ScopeRequirement[] {
  const out: ScopeRequirement[] = (quota.spec?.scopes ?? []).map((scope) => ({ scope, operator: 'Exists', values: [] }));
  for (const e of quota.spec?.scopeSelector?.matchExpressions ?? []) out.push({ scope: e.scopeName, operator: e.operator, values: e.values ?? [] });
  return out;
}

/** Whether the quota covers this object: unscoped quotas cover everything, scoped ones only matching pods. */
export function quotaCovers(quota: ResourceQuota, info: ResourceInfo, obj: KubeObject): boolean {
  const scopes = quotaScopes(quota);
  if (scopes.length === 0) return true;
  if (info.kind !== 'Pod') return false;
  return scopes.every((req) => requirementMatches(req, obj as Pod));
}

/** Adds up what `objects` cost, for the resources `hard` names. */
export function totalUsage(hard: ResourceList, items: Iterable<{ info: ResourceInfo; obj: KubeObject }>): ResourceList {
  const used: ResourceList = {};
  for (const name of Object.keys(hard)) used[name] = '0';
  for (const { info, obj } of items) {
    for (const [name, q] of Object.entries(usageOf(info, obj))) if (name in hard) add(used, name, q);
  }
  return used;
}

/** What a quota on cpu or memory requires every container to state (upstream's backward-compatible rule). */
const MUST_SPECIFY: ReadonlyMap<string, ['requests' | 'limits', string]> = new Map([
  ['cpu', ['requests', 'cpu']], ['memory', ['requests', 'memory']],
  ['requests.cpu', ['requests', 'cpu']], ['requests.memory', ['requests', 'memory']],
  ['limits.cpu', ['limits', 'cpu']], ['limits.memory', ['limits', 'memory']],
]);

/** `must specify limits.cpu for: a,b; requests.memory for: a`, or undefined when nothing is missing. */
export function missingComputeResources(quota: ResourceQuota, pod: Pod): string | undefined {
  const problems: string[] = [];
  for (const name of Object.keys(quota.spec?.hard ?? {}).sort()) {
    const rule = MUST_SPECIFY.get(name);
    if (!rule) continue;
    const [which, resource] = rule;
    const lacking = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]
      .filter((c: Container) => c.resources?.[which]?.[resource] === undefined).map((c) => c.name).sort();
    if (lacking.length > 0) problems.push(`${name} for: ${[...new Set(lacking)].join(',')}`);
  }
  return problems.length > 0 ? `must specify ${problems.join('; ')}` : undefined;
}
