/**
 * Everything the filters and scores need to know about a pod, computed once per pod (kube-scheduler's
 * PreFilter/PreScore state), so that checking it against a thousand nodes only compares prepared values.
 */
import type { VolumeNodeCheck } from './volume-binding.js';
import type { ObjectMeta } from '../../api/meta.js';
import type { Pod, PodAffinityTerm, Toleration } from '../../api/types.js';
import { compileLabelSelector, type CompiledLabelSelector } from './label-selector.js';
import { compileNodeSelector, compileNodeSelectorTerm, pinnedNodeNames, type CompiledNodeSelectorTerm } from './node-selector.js';
import { podRequests, type PodRequests } from './resources.js';

export const BIND_ALL_HOST_IP = '0.0.0.0';

/** One host port a pod binds: conflicts are per protocol+port, and per IP unless either side binds all. */
export interface HostPortClaim {
  /** `<protocol>/<port>`, the key of a node's used-port table. */
  key: string;
  ip: string;
}

/** A required pod (anti-)affinity term, with its namespaces resolved (empty means the pod's own). */
export interface AffinityTermInfo {
  topologyKey: string;
  namespaces: ReadonlySet<string>;
  selector: CompiledLabelSelector;
}

export interface PreferredTermInfo {
  weight: number;
  term: CompiledNodeSelectorTerm;
}

/** The facts about a pod that stay true whichever node it lands on. */
export interface PodFacts {
  /** `<namespace>/<name>`: the identity used by assume/removePod. */
  key: string;
  uid: string;
  /** `spec.priority` (set by Priority admission; 0 when absent). */
  priority: number;
  /** When the pod started (status.startTime, else creation), for preemption's victim order. */
  startMs: number;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  requests: PodRequests;
  hostPorts: HostPortClaim[];
  /** Pods with the same owner key are spread across nodes. */
  ownerKey: string | undefined;
  antiAffinity: AffinityTermInfo[];
}

/** A pod prepared for scheduling: its facts plus its placement constraints. */
export interface PodSchedulingInfo extends PodFacts {
  /** `spec.nodeName` when the pod asks for a node by name. */
  requestedNodeName: string | undefined;
  tolerations: readonly Toleration[];
  /** Tolerations that can tolerate PreferNoSchedule taints (effect PreferNoSchedule or empty). */
  preferNoScheduleTolerations: readonly Toleration[];
  nodeSelector: readonly (readonly [string, string])[];
  requiredNodeAffinity: CompiledNodeSelectorTerm[] | undefined;
  /** Node names the required affinity pins the pod to via matchFields (DaemonSet pods), if it does. */
  pinnedNodes: Set<string> | undefined;
  preferredNodeAffinity: PreferredTermInfo[];
  /** A stable 32-bit hash of the pod key, used to break score ties differently for each pod. */
  hash: number;
  /** The pod's volume constraints (VolumeBinding), when it mounts claims; set by the caller. */
  volumes?: VolumeNodeCheck;
}

export function podKey(meta: ObjectMeta): string {
  return `${meta.namespace ?? 'default'}/${meta.name ?? ''}`;
}

/** FNV-1a over UTF-16 code units: cheap, stable across runs and processes. */
export function stableHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Mixes two hashes (murmur3's finaliser) so a tie between nodes is decided differently for each pod. */
export function mixHashes(a: number, b: number): number {
  let h = (a ^ b) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The controller owner's uid, or, for pods without one, the namespace plus the full label set. */
export function ownerKeyOf(meta: ObjectMeta): string | undefined {
  const controller = meta.ownerReferences?.find((ref) => ref.controller === true);
  if (controller !== undefined && controller.uid) return `uid:${controller.uid}`;
  const labels = meta.labels;
  if (labels === undefined) return undefined;
  const pairs = Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`);
  if (pairs.length === 0) return undefined;
  return `labels:${meta.namespace ?? 'default'}:${pairs.join(',')}`;
}

/**
 * Host ports the pod binds. With hostNetwork a container port is a host port even when `hostPort` is
 * unset (API defaulting copies it), so those count too.
 */
function hostPortClaims(pod: Pod): HostPortClaim[] {
  const claims: HostPortClaim[] = [];
  for (const container of pod.spec.containers ?? []) {
    for (const p of container.ports ?? []) {
      const port = p.hostPort ?? (pod.spec.hostNetwork === true ? p.containerPort : 0);
      if (!(port > 0)) continue;
      claims.push({ key: `${p.protocol ?? 'TCP'}/${port}`, ip: p.hostIP || BIND_ALL_HOST_IP });
    }
  }
  return claims;
}

function affinityTerms(pod: Pod, terms: readonly PodAffinityTerm[] | undefined): AffinityTermInfo[] {
  if (terms === undefined) return [];
  const own = pod.metadata.namespace ?? 'default';
  return terms.map((t) => ({
    topologyKey: t.topologyKey,
    namespaces: new Set(t.namespaces !== undefined && t.namespaces.length > 0 ? t.namespaces : [own]),
    selector: compileLabelSelector(t.labelSelector),
  }));
}

/** The facts a bound pod contributes to a node (what the snapshot keeps per pod). */
export function podFacts(pod: Pod): PodFacts {
  return {
    key: podKey(pod.metadata),
    uid: pod.metadata.uid ?? '',
    priority: pod.spec.priority ?? 0,
    startMs: Date.parse(pod.status?.startTime ?? pod.metadata.creationTimestamp ?? '') || 0,
    namespace: pod.metadata.namespace ?? 'default',
    labels: pod.metadata.labels ?? {},
    requests: podRequests(pod),
    hostPorts: hostPortClaims(pod),
    ownerKey: ownerKeyOf(pod.metadata),
    antiAffinity: affinityTerms(pod, pod.spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution),
  };
}

export function compilePod(pod: Pod): PodSchedulingInfo {
  const facts = podFacts(pod);
  const tolerations = pod.spec.tolerations ?? [];
  const nodeAffinity = pod.spec.affinity?.nodeAffinity;
  const required = nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  const requiredTerms = required === undefined ? undefined : compileNodeSelector(required);
  const preferred: PreferredTermInfo[] = [];
  for (const p of nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
    if (p.weight !== 0) preferred.push({ weight: p.weight, term: compileNodeSelectorTerm(p.preference) });
  }
  return {
    ...facts,
    requestedNodeName: pod.spec.nodeName || undefined,
    tolerations,
    preferNoScheduleTolerations: tolerations.filter((t) => !t.effect || t.effect === 'PreferNoSchedule'),
    nodeSelector: Object.entries(pod.spec.nodeSelector ?? {}),
    requiredNodeAffinity: requiredTerms,
    pinnedNodes: requiredTerms === undefined ? undefined : pinnedNodeNames(requiredTerms),
    preferredNodeAffinity: preferred,
    hash: stableHash(facts.key),
  };
}
