/**
 * The field selectors each kind supports, as registered by the upstream apiserver's field label
 * conversion functions. Anything else is a 400 `field label not supported: <path>` (a selector on
 * an arbitrary path would silently match nothing, which hides typos).
 */
import type { ResourceInfo } from '../../api/resources.js';
import type { FieldRequirement } from '../../api/selectors.js';
import { errors } from '../../api/status.js';

const META = ['metadata.name', 'metadata.namespace'];

const SUPPORTED: ReadonlyMap<string, ReadonlySet<string>> = new Map(Object.entries({
  Pod: [...META, 'spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'spec.hostNetwork',
    'status.phase', 'status.podIP', 'status.podIPs', 'status.nominatedNodeName'],
  Node: [...META, 'spec.unschedulable'],
  Namespace: [...META, 'status.phase'],
  Secret: [...META, 'type'],
  Service: [...META, 'spec.clusterIP', 'spec.type'],
  Event: [...META, 'involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid',
    'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type'],
  ReplicationController: [...META, 'status.replicas'],
  ReplicaSet: [...META, 'status.replicas'],
  Job: [...META, 'status.successful'],
}).map(([kind, labels]) => [kind, new Set(labels)]));

/** Labels whose value is a Go bool: an absent field reads as "false". */
const BOOLEAN_LABELS = new Set(['spec.unschedulable', 'spec.hostNetwork']);
/** Labels that name a different path than the one they select on. */
const ALIASES: ReadonlyMap<string, string> = new Map([['source', 'source.component']]);

/** Checks the selector against the kind and rewrites it into plain path comparisons. */
export function resolveFieldSelector(info: ResourceInfo, reqs: FieldRequirement[]): FieldRequirement[] {
  const supported = (info.custom ? undefined : SUPPORTED.get(info.kind)) ?? new Set(META);
  return reqs.map((req) => {
    if (!supported.has(req.path)) throw errors.badRequest(`field label not supported: ${req.path}`);
    const path = ALIASES.get(req.path) ?? req.path;
    if (BOOLEAN_LABELS.has(req.path) && req.value === 'false') {
      // `x=false` must match objects without the field: select "not true" instead.
      return { path, operator: req.operator === '=' ? '!=' : '=', value: 'true' };
    }
    return { ...req, path };
  });
}
