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

/**
 * Where the Leases live that choose which node announces a LoadBalancer pool address (one per address,
 * named `corral-lb-<address with dashes>`, labelled with the address). Nodes read them all and write
 * only with themselves as the holder (NodeRestriction).
 */
export const LB_LEASE_NAMESPACE = 'kube-system';
export const LB_LEASE_PREFIX = 'corral-lb-';
export const LB_LEASE_LABEL = 'svccontroller.corral.dev/lb-address';

/** The Lease name for a pool address: `corral-lb-192-168-1-240`. */
export function lbLeaseName(ip: string): string {
  return `${LB_LEASE_PREFIX}${ip.replace(/[.:]/g, '-')}`;
}
