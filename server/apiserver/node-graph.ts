/**
 * The Node authorizer's relations, answered from the store: which pods are bound to a node and what
 * they refer to. Upstream keeps an in-memory graph fed by informers; corral asks the registry for the
 * pods of one namespace on one node, which costs one indexed list per Secret/ConfigMap read. Agents
 * read those only when they start a pod.
 */
import type { Pod, Volume } from '../../api/types.js';
import type { Ingress } from '../../api/networking-types.js';
import { resourceForKind } from '../../api/resources.js';
import type { NodeGraph, PodReferenceKind } from '../auth/node-authorizer.js';
import type { Registry } from './registry.js';

/** Every object of `kind` the pod refers to (volumes, env, envFrom, image pull secrets, service account). */
export function podReferences(pod: Pod, kind: PodReferenceKind): Set<string> {
  const out = new Set<string>();
  const spec = pod.spec;
  if (!spec) return out;
  const containers = [...(spec.containers ?? []), ...(spec.initContainers ?? [])];
  const volumeRefs = (v: Volume): void => {
    if (kind === 'secrets' && v.secret?.secretName) out.add(v.secret.secretName);
    if (kind === 'configmaps' && v.configMap?.name) out.add(v.configMap.name);
    const pvc = v['persistentVolumeClaim'] as { claimName?: string } | undefined;
    if (kind === 'persistentvolumeclaims' && pvc?.claimName) out.add(pvc.claimName);
    const projected = v['projected'] as { sources?: { secret?: { name?: string }; configMap?: { name?: string } }[] } | undefined;
    for (const s of projected?.sources ?? []) {
      if (kind === 'secrets' && s.secret?.name) out.add(s.secret.name);
      if (kind === 'configmaps' && s.configMap?.name) out.add(s.configMap.name);
    }
  };
  for (const v of spec.volumes ?? []) volumeRefs(v);
  for (const c of containers) {
    for (const e of c.env ?? []) {
      if (kind === 'secrets' && e.valueFrom?.secretKeyRef?.name) out.add(e.valueFrom.secretKeyRef.name);
      if (kind === 'configmaps' && e.valueFrom?.configMapKeyRef?.name) out.add(e.valueFrom.configMapKeyRef.name);
    }
    for (const e of c.envFrom ?? []) {
      if (kind === 'secrets' && e.secretRef?.name) out.add(e.secretRef.name);
      if (kind === 'configmaps' && e.configMapRef?.name) out.add(e.configMapRef.name);
    }
  }
  if (kind === 'secrets') for (const s of spec.imagePullSecrets ?? []) if (s.name) out.add(s.name);
  if (kind === 'serviceaccounts') out.add(spec.serviceAccountName ?? spec.serviceAccount ?? 'default');
  return out;
}

export class RegistryNodeGraph implements NodeGraph {
  private readonly pods = resourceForKind('Pod')!;
  private readonly ingresses = resourceForKind('Ingress')!;

  constructor(private readonly registry: Registry) {}

  async podOnNodeRefersTo(node: string, kind: PodReferenceKind, namespace: string, name: string): Promise<boolean> {
    const list = await this.registry.list(this.pods, namespace, { fieldSelector: [{ path: 'spec.nodeName', operator: '=', value: node }] });
    return (list.items as Pod[]).some((p) => podReferences(p, kind).has(name));
  }

  async ingressUsesTlsSecret(namespace: string, name: string): Promise<boolean> {
    const list = await this.registry.list(this.ingresses, namespace);
    return (list.items as Ingress[]).some((ing) => (ing.spec?.tls ?? []).some((t) => t.secretName === name));
  }

  async nodeOfPod(namespace: string, name: string): Promise<string | undefined> {
    const pod = (await this.registry.peek(this.pods, namespace, name)) as Pod | undefined;
    return pod ? pod.spec?.nodeName ?? '' : undefined;
  }
}
