/**
 * What LoadBalancer Services mean to corral, shared by the server's service-lb controller and the
 * agents (iptables rules, address announcement). Pure.
 */
import type { Node, Service } from './types.js';

/** Node label opting a node in (`true`) or out (`false`) of carrying LoadBalancer traffic. */
export const ENABLE_LB_LABEL = 'svccontroller.corral.dev/enablelb';
/** Upstream's label keeping a node out of external load balancers. */
export const EXCLUDE_LB_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';

/** Upstream's annotation for source ranges, used when `spec.loadBalancerSourceRanges` is empty. */
export const SOURCE_RANGES_ANNOTATION = 'service.beta.kubernetes.io/load-balancer-source-ranges';

const IPV4_CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** True for a dotted IPv4 CIDR such as 192.168.1.0/24 (host bits may be set, as upstream accepts). */
export function isIPv4Cidr(text: string): boolean {
  const m = IPV4_CIDR.exec(text);
  return m !== null && m.slice(1, 5).every((p) => Number(p) <= 255) && Number(m[5]) <= 32;
}

/** A LoadBalancer Service corral's controller and agents serve (no other `loadBalancerClass`). */
export function servedByCorral(svc: Service): boolean {
  return svc.spec.type === 'LoadBalancer' && !(svc.spec as { loadBalancerClass?: string }).loadBalancerClass;
}

/** The IPs in `status.loadBalancer.ingress`. */
export function loadBalancerIngressIPs(svc: Service): string[] {
  return (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').filter((ip) => ip !== '');
}

/**
 * The client ranges allowed to reach the Service's load-balancer addresses: `spec.loadBalancerSourceRanges`,
 * else the upstream annotation (comma separated); IPv4 CIDRs only (validation refuses the rest). Empty: everyone.
 */
export function loadBalancerSourceRanges(svc: Service): string[] {
  const fromSpec = (svc.spec as { loadBalancerSourceRanges?: string[] }).loadBalancerSourceRanges ?? [];
  const raw = fromSpec.length > 0 ? fromSpec : (svc.metadata.annotations?.[SOURCE_RANGES_ANNOTATION] ?? '').split(',');
  return [...new Set(raw.map((r) => r.trim()).filter(isIPv4Cidr))];
}

function nodeReady(n: Node): boolean {
  return (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/**
 * Whether a node carries LoadBalancer traffic: Ready, schedulable, not excluded by upstream's label,
 * and not opted out with `svccontroller.corral.dev/enablelb=false`; once any node is labelled `=true`,
 * only those (as k3s's `svccontroller.k3s.cattle.io/enablelb`).
 */
export function loadBalancerNodeFilter(nodes: readonly Node[]): (n: Node) => boolean {
  const optedIn = nodes.some((n) => n.metadata.labels?.[ENABLE_LB_LABEL] === 'true');
  return (n) => {
    const labels = n.metadata.labels ?? {};
    if (!nodeReady(n) || n.spec?.unschedulable || EXCLUDE_LB_LABEL in labels) return false;
    return optedIn ? labels[ENABLE_LB_LABEL] === 'true' : labels[ENABLE_LB_LABEL] !== 'false';
  };
}
