/**
 * Upstream's Node authorizer for corral: a node credential (`system:node:<name>` in `system:nodes`)
 * may do what its agent does for its own node, and nothing for another node.
 *
 * - Secrets, ConfigMaps, PVCs and service-account tokens: only those a pod bound to the node refers
 *   to (asked of the NodeGraph), plus the node's own kubelet-credentials Secret. Never list or watch.
 *   Every node runs the ingress proxy, so it may also get a Secret an Ingress names for TLS.
 * - Its own Node (and status), its own Lease, the status and the final delete of pods bound to it.
 * - The LoadBalancer address Leases (`kube-system/corral-lb-*`): read all, write them (NodeRestriction
 *   admits only the node itself as the holder, or a release of its own hold).
 * - What an agent lists and watches (Nodes, Pods, Services, Endpoints, EndpointSlices, Ingresses and
 *   IngressClasses, and PersistentVolumes for its volumes and the local-path cleanup), and Events.
 * - TokenReviews and SubjectAccessReviews, with which its kubelet endpoint checks metrics scrapers.
 *
 * Names a request carries only in its body (creating a Node, a Lease, a Secret) are checked by the
 * NodeRestriction admission plugin, which sees the object. Other users: no opinion.
 */
import { KUBELET_CREDENTIALS_NAMESPACE, kubeletCredentialsSecretName, LB_LEASE_NAMESPACE, LB_LEASE_PREFIX, NODE_LEASE_NAMESPACE } from '../../api/node-identity.js';
import type { PolicyRule } from '../../api/types.js';
import { ruleAllows } from './rbac/rules.js';
import { ALLOW, NO_OPINION, nodeNameOf, READ_VERBS, type Authorizer, type Decision, type RequestAttributes } from './authorizer.js';

/** The objects a pod refers to, by the resource the node may then read. */
export type PodReferenceKind = 'secrets' | 'configmaps' | 'persistentvolumeclaims' | 'serviceaccounts';

/** Relations between nodes, pods and what pods refer to (upstream keeps them in a graph). */
export interface NodeGraph {
  /** Whether a pod bound to `node` in `namespace` refers to the object `name` of `kind`. */
  podOnNodeRefersTo(node: string, kind: PodReferenceKind, namespace: string, name: string): Promise<boolean>;
  /** The node the pod is bound to: '' if not bound, undefined if there is no such pod. */
  nodeOfPod(namespace: string, name: string): Promise<string | undefined>;
  /** Whether an Ingress in `namespace` names the Secret `name` in spec.tls (its certificate). */
  ingressUsesTlsSecret(namespace: string, name: string): Promise<boolean>;
}

/**
 * What every node may do whatever it is asked about, as upstream's NodeRules: read what an agent
 * watches (the service proxy needs every Service and Endpoints, routes need every Node's pod CIDR),
 * and record Events.
 */
const NODE_RULES: readonly PolicyRule[] = [
  { verbs: READ_VERBS, apiGroups: [''], resources: ['nodes', 'pods', 'services', 'endpoints', 'persistentvolumes'] },
  // Removing the local-path cleanup finalizer; NodeRestriction allows only that, on volumes pinned here.
  { verbs: ['update', 'patch'], apiGroups: [''], resources: ['persistentvolumes'] },
  { verbs: READ_VERBS, apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'] },
  // A pod's RuntimeClass names the handler the node must have (upstream's system:node reads them too).
  { verbs: READ_VERBS, apiGroups: ['node.k8s.io'], resources: ['runtimeclasses'] },
  // The agent's ingress proxy routes by them.
  { verbs: READ_VERBS, apiGroups: ['networking.k8s.io'], resources: ['ingresses', 'ingressclasses'] },
  { verbs: ['create', 'update', 'patch'], apiGroups: ['', 'events.k8s.io'], resources: ['events'] },
  // The kubelet endpoint checks scrapers' tokens and permissions with the API (upstream's system:node has these).
  { verbs: ['create'], apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'] },
  { verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'] },
];

const GRAPH_KINDS: ReadonlySet<string> = new Set(['secrets', 'configmaps', 'persistentvolumeclaims']);

export class NodeAuthorizer implements Authorizer {
  readonly name = 'Node';

  constructor(private readonly graph: NodeGraph) {}

  async authorize(a: RequestAttributes): Promise<Decision> {
    const node = nodeNameOf(a.user);
    if (node === undefined || !a.resourceRequest) return NO_OPINION;
    const group = a.apiGroup;
    if (group === '' && a.resource === 'nodes') return this.ownNode(node, a);
    if (group === 'coordination.k8s.io' && a.resource === 'leases') return this.ownLease(node, a);
    if (group === '' && a.resource === 'pods' && a.subresource !== '') return this.podSubresource(node, a);
    if (group === '' && a.resource === 'pods' && (a.verb === 'delete')) return this.podBoundHere(node, a);
    if (group === '' && a.resource === 'serviceaccounts' && a.subresource === 'token' && a.verb === 'create') {
      return this.referenced(node, 'serviceaccounts', a);
    }
    if (group === '' && a.resource === 'secrets' && a.subresource === '') {
      const own = a.namespace === KUBELET_CREDENTIALS_NAMESPACE && a.name === kubeletCredentialsSecretName(node);
      // Create carries the name in the body: NodeRestriction admits only the node's own.
      if (a.verb === 'create' && a.namespace === KUBELET_CREDENTIALS_NAMESPACE) return ALLOW;
      if (own && (a.verb === 'get' || a.verb === 'update' || a.verb === 'patch')) return ALLOW;
      if (a.verb === 'get' && a.name !== '' && await this.graph.ingressUsesTlsSecret(a.namespace, a.name)) return ALLOW;
    }
    if (group === '' && GRAPH_KINDS.has(a.resource) && a.subresource === '') {
      if (a.verb !== 'get' || a.name === '') return noRelationship(node, `a node may only get single ${a.resource} its pods use`);
      return this.referenced(node, a.resource as PodReferenceKind, a);
    }
    if (NODE_RULES.some((r) => ruleAllows(a, r))) return ALLOW;
    return NO_OPINION;
  }

  /** A node reads every Node, creates only itself (NodeRestriction), and changes or deletes only itself. */
  private ownNode(node: string, a: RequestAttributes): Decision {
    if (a.subresource === '' && READ_VERBS.includes(a.verb)) return ALLOW;
    if (a.subresource === '' && a.verb === 'create') return ALLOW;
    const writes = a.subresource === '' ? ['update', 'patch', 'delete'] : a.subresource === 'status' ? ['get', 'update', 'patch'] : [];
    if (!writes.includes(a.verb)) return NO_OPINION;
    return a.name === node ? ALLOW : noRelationship(node, `node '${node}' cannot modify node '${a.name}'`);
  }

  /** Its own heartbeat Lease only (a create names it in the body: NodeRestriction), and the LB address Leases. */
  private ownLease(node: string, a: RequestAttributes): Decision {
    if (a.namespace === LB_LEASE_NAMESPACE && a.subresource === '') {
      if (READ_VERBS.includes(a.verb) || a.verb === 'create') return ALLOW;
      if (['update', 'patch'].includes(a.verb) && a.name.startsWith(LB_LEASE_PREFIX)) return ALLOW;
      return NO_OPINION;
    }
    if (a.namespace !== NODE_LEASE_NAMESPACE || a.subresource !== '') return NO_OPINION;
    if (a.verb === 'create') return ALLOW;
    if (!['get', 'update', 'patch', 'delete'].includes(a.verb)) return NO_OPINION;
    return a.name === node ? ALLOW : noRelationship(node, `node '${node}' can only access its own lease`);
  }

  private async podSubresource(node: string, a: RequestAttributes): Promise<Decision> {
    if (a.subresource === 'status' && ['get', 'update', 'patch'].includes(a.verb)) return this.podBoundHere(node, a);
    return NO_OPINION;
  }

  /** The status and the final delete of pods bound to this node (a pod's nodeName never changes once set). */
  private async podBoundHere(node: string, a: RequestAttributes): Promise<Decision> {
    if (a.name === '') return NO_OPINION;
    const bound = await this.graph.nodeOfPod(a.namespace, a.name);
    // A pod that does not exist: let the request fail as NotFound, as it would for its own node.
    if (bound === undefined || bound === node) return ALLOW;
    return noRelationship(node, `pod '${a.namespace}/${a.name}' is not bound to node '${node}'`);
  }

  private async referenced(node: string, kind: PodReferenceKind, a: RequestAttributes): Promise<Decision> {
    if (a.name !== '' && await this.graph.podOnNodeRefersTo(node, kind, a.namespace, a.name)) return ALLOW;
    return noRelationship(node);
  }
}

/** Upstream's answer when the graph has no path from the node to the object. */
function noRelationship(node: string, detail?: string): Decision {
  return { decision: 'no-opinion', reason: detail ?? `no relationship found between node '${node}' and this object` };
}
