/**
 * Names that tie objects to one node, shared by the agent (which writes them) and the server (whose
 * Node authorizer lets a node credential touch only its own).
 */

/** Namespace of the Secret holding a node's kubelet endpoint credentials. */
export const KUBELET_CREDENTIALS_NAMESPACE = 'kube-system';

/** The Secret holding the token and certificate of a node's kubelet endpoint. */
export function kubeletCredentialsSecretName(nodeName: string): string {
  return `corral-kubelet-${nodeName}`;
}

/** Namespace of the node heartbeat Leases (one per node, named after it). */
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
