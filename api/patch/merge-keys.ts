/**
 * How strategic merge patch treats each list field. Kubernetes reads this from struct tags
 * (patchStrategy / patchMergeKey); corral has no typed schema, so the table below decides by field
 * name and, where a name is ambiguous, by where the field sits (`ports` in a container vs in a
 * Service spec). Lists not named here are atomic: the patch replaces them whole.
 */

export type ListStrategy =
  | { kind: 'merge'; mergeKey: string }
  /** A list of scalars merged as a set (union; `$deleteFromPrimitiveList` removes). */
  | { kind: 'set' }
  | { kind: 'replace' };

const CONTAINER_LISTS: ReadonlySet<string> = new Set(['containers', 'initContainers', 'ephemeralContainers']);

/** List fields whose merge key is the same wherever they appear. */
const MERGE_KEYS: ReadonlyMap<string, string> = new Map([
  ['containers', 'name'],
  ['initContainers', 'name'],
  ['ephemeralContainers', 'name'],
  ['env', 'name'],
  ['volumes', 'name'],
  ['imagePullSecrets', 'name'],
  ['resourceClaims', 'name'],
  ['volumeMounts', 'mountPath'],
  ['volumeDevices', 'devicePath'],
  ['conditions', 'type'],
  ['ownerReferences', 'uid'],
  ['hostAliases', 'ip'],
  ['topologySpreadConstraints', 'topologyKey'],
  ['podIPs', 'ip'],
  ['hostIPs', 'ip'],
]);

/**
 * The strategy for the list at `path`, the field names from the object root to the list (list
 * indices are not part of the path: `spec.template.spec.containers.ports`).
 */
export function listStrategy(path: readonly string[]): ListStrategy {
  const field = path[path.length - 1] ?? '';
  const parent = path[path.length - 2];
  const mergeKey = MERGE_KEYS.get(field);
  if (mergeKey !== undefined) return { kind: 'merge', mergeKey };
  switch (field) {
    case 'ports':
      // ContainerPort is keyed by containerPort; ServicePort (a Service's top-level spec.ports) by port.
      if (parent !== undefined && CONTAINER_LISTS.has(parent)) return { kind: 'merge', mergeKey: 'containerPort' };
      if (path.length === 2 && parent === 'spec') return { kind: 'merge', mergeKey: 'port' };
      return { kind: 'replace' };
    case 'addresses':
      // NodeStatus.addresses is keyed by type; other "addresses" lists (Endpoints subsets) are atomic.
      return parent === 'status' ? { kind: 'merge', mergeKey: 'type' } : { kind: 'replace' };
    case 'webhooks':
      // Validating/MutatingWebhookConfiguration.webhooks are keyed by name.
      return path.length === 1 ? { kind: 'merge', mergeKey: 'name' } : { kind: 'replace' };
    case 'finalizers':
      // ObjectMeta.finalizers merges as a set; Namespace spec.finalizers is atomic.
      return parent === 'metadata' ? { kind: 'set' } : { kind: 'replace' };
    default:
      return { kind: 'replace' };
  }
}
