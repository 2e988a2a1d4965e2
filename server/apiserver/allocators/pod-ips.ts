/**
 * Which addresses a pod's status may carry: those inside its node's pod CIDR, or for a hostNetwork
 * pod one of the node's addresses. Without it a node credential (or anyone who may write pod status)
 * could point any Service at any address: the endpoints controller publishes podIPs and every proxy
 * DNATs to them. Checked when podIP or podIPs change; a pod on a node that has no pod CIDR yet (or
 * reports no addresses) is not held to it. Formats are checked by validation before this runs.
 */
import { BlockList, isIP } from 'node:net';
import type { KubeObject } from '../../../api/meta.js';
import { resourceForKind, type ResourceInfo } from '../../../api/resources.js';
import { causes, errors } from '../../../api/status.js';
import type { Node, Pod } from '../../../api/types.js';
import type { AdmissionPlugin, Registry } from '../registry.js';

function reportedIps(pod: Pod): string[] {
  const ips = new Set<string>();
  if (pod.status?.podIP) ips.add(pod.status.podIP);
  for (const p of pod.status?.podIPs ?? []) if (p?.ip) ips.add(p.ip);
  return [...ips];
}

function familyOf(ip: string): 'ipv4' | 'ipv6' {
  return isIP(ip) === 6 ? 'ipv6' : 'ipv4';
}

/** The first address not allowed for a pod on this node, if any. */
export function disallowedPodIp(pod: Pod, node: Node): string | undefined {
  const ips = reportedIps(pod);
  if (pod.spec?.hostNetwork) {
    const addresses = new Set((node.status?.addresses ?? []).map((a) => a.address));
    if (addresses.size === 0) return undefined;
    return ips.find((ip) => !addresses.has(ip));
  }
  const cidrs = [...new Set([...(node.spec?.podCIDRs ?? []), ...(node.spec?.podCIDR ? [node.spec.podCIDR] : [])])];
  if (cidrs.length === 0) return undefined;
  const allowed = new BlockList();
  for (const cidr of cidrs) {
    const [base, prefix] = cidr.split('/');
    if (base && prefix && isIP(base)) allowed.addSubnet(base, Number(prefix), familyOf(base));
  }
  return ips.find((ip) => !allowed.check(ip, familyOf(ip)));
}

export function podIpsPlugin(registry: Registry): AdmissionPlugin {
  const nodes = resourceForKind('Node')!;
  return {
    name: 'PodIPs',
    async admitUpdate(info: ResourceInfo, obj: KubeObject, old: KubeObject) {
      if (info.group !== '' || info.kind !== 'Pod') return;
      const pod = obj as Pod;
      const before = old as Pod;
      if (pod.status?.podIP === before.status?.podIP && JSON.stringify(pod.status?.podIPs) === JSON.stringify(before.status?.podIPs)) return;
      if (!pod.spec?.nodeName || reportedIps(pod).length === 0) return;
      const node = (await registry.peek(nodes, undefined, pod.spec.nodeName)) as Node | undefined;
      if (!node) return;
      const bad = disallowedPodIp(pod, node);
      if (bad === undefined) return;
      const where = pod.spec.hostNetwork ? `one of node ${node.metadata.name!}'s addresses (hostNetwork)` : `inside node ${node.metadata.name!}'s pod CIDR ${node.spec?.podCIDR ?? (node.spec?.podCIDRs ?? []).join(',')}`;
      throw errors.invalid('Pod', pod.metadata.name ?? '', [causes.invalid('status.podIPs', bad, `must be ${where}`)]);
    },
  };
}
