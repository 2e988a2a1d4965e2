/**
 * metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics (what metrics-server serves upstream, so
 * `kubectl top nodes` and `kubectl top pods --containers` work), built from the UsageStore's newest
 * readings and joined with the stored Node or Pod for its labels (label selectors filter on them) —
 * a pod deleted since the reading, or replaced by one with the same name, has no metrics.
 */
import type { KubeObject } from '../../api/meta.js';
import { rfc3339 } from '../../api/meta.js';
import { resourceForKind, resourceForPlural } from '../../api/resources.js';
import type { ProvidedResources } from '../apiserver/provided-resources.js';
import type { Registry } from '../apiserver/registry.js';
import type { NodeSample, PodSample, Usage, UsageStore } from './usage-store.js';
import { compareStrings } from '../../api/object-util.js';

const API_VERSION = 'metrics.k8s.io/v1beta1';

/** As metrics-server writes them: CPU in nanocores, memory in Ki. */
function quantities(u: Usage): { cpu: string; memory: string } {
  return { cpu: `${Math.round(u.cpuNanoCores)}n`, memory: `${Math.round(u.memoryBytes / 1024)}Ki` };
}

function nodeMetrics(node: KubeObject, s: NodeSample): KubeObject {
  return {
    kind: 'NodeMetrics', apiVersion: API_VERSION,
    metadata: { name: node.metadata.name!, creationTimestamp: rfc3339(), ...(node.metadata.labels ? { labels: node.metadata.labels } : {}) },
    timestamp: rfc3339(new Date(s.at)), window: `${s.windowSeconds}s`, usage: quantities(s),
  };
}

function podMetrics(pod: KubeObject, s: PodSample): KubeObject {
  return {
    kind: 'PodMetrics', apiVersion: API_VERSION,
    metadata: { name: s.name, namespace: s.namespace, creationTimestamp: rfc3339(), ...(pod.metadata.labels ? { labels: pod.metadata.labels } : {}) },
    timestamp: rfc3339(new Date(s.at)), window: `${s.windowSeconds}s`,
    containers: s.containers.map((c) => ({ name: c.name, usage: quantities(c.usage) })),
  };
}

export function registerMetricsApi(provided: ProvidedResources, registry: Registry, store: UsageStore): void {
  const nodes = resourceForKind('Node')!;
  const pods = resourceForKind('Pod')!;
  provided.register(resourceForPlural('metrics.k8s.io', 'nodes')!, {
    async get(_namespace, name) {
      const sample = store.node(name);
      const node = sample && await registry.tryGet(nodes, undefined, name);
      return sample && node ? nodeMetrics(node, sample) : undefined;
    },
    async list() {
      const out: KubeObject[] = [];
      for (const node of (await registry.list(nodes, undefined)).items) {
        const sample = store.node(node.metadata.name ?? '');
        if (sample) out.push(nodeMetrics(node, sample));
      }
      return out;
    },
  });
  provided.register(resourceForPlural('metrics.k8s.io', 'pods')!, {
    async get(namespace, name) {
      const sample = store.pods().find((p) => p.namespace === namespace && p.name === name);
      const pod = sample && await registry.tryGet(pods, namespace, name);
      return sample && pod?.metadata.uid === sample.uid ? podMetrics(pod, sample) : undefined;
    },
    async list(namespace) {
      const stored = new Map((await registry.list(pods, namespace)).items.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
      const out: KubeObject[] = [];
      for (const sample of store.pods()) {
        const pod = stored.get(`${sample.namespace}/${sample.name}`);
        if (pod?.metadata.uid === sample.uid) out.push(podMetrics(pod, sample));
      }
      return out.sort((a, b) => compareStrings(`${a.metadata.namespace}/${a.metadata.name}`, `${b.metadata.namespace}/${b.metadata.name}`));
    },
  });
}
