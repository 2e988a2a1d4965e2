/**
 * Node IPAM: gives every Node without one a pod CIDR — the N-th /24 of the cluster CIDR
 * (10.42.N.0/24), the lowest free N — in spec.podCIDR and spec.podCIDRs. The agent builds its pod
 * bridge from it and its peers route to it (host-gw). A CIDR is never taken from a node that has one.
 */
import { log } from '../../api/log.js';
import type { Node } from '../../api/types.js';
import type { ControllerContext } from './context.js';
import { Controller } from '../../api/machinery/controller.js';

const SUBNET_PREFIX = 24;

function ipToNumber(ip: string): number {
  const p = ip.split('.').map(Number);
  return ((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!;
}

function numberToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** The index-th /24 of the cluster CIDR, or undefined past its end. */
export function podCidrAt(clusterCidr: string, index: number): string | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(clusterCidr);
  if (!m) throw new Error(`invalid cluster CIDR ${clusterCidr}`);
  const prefix = Number(m[2]);
  if (prefix > SUBNET_PREFIX) return undefined;
  const count = 2 ** (SUBNET_PREFIX - prefix);
  if (index < 0 || index >= count) return undefined;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const base = (ipToNumber(m[1]!) & mask) >>> 0;
  return `${numberToIp(base + index * 256)}/${SUBNET_PREFIX}`;
}

/** The lowest /24 of the cluster CIDR that no node holds. */
export function nextFreePodCidr(clusterCidr: string, used: ReadonlySet<string>): string | undefined {
  for (let i = 0; ; i++) {
    const cidr = podCidrAt(clusterCidr, i);
    if (cidr === undefined) return undefined;
    if (!used.has(cidr)) return cidr;
  }
}

export function startNodeIpamController(ctx: ControllerContext): void {
  const nodes = ctx.informers.forKind<Node>('Node');
  /** Handed out but maybe not yet visible in the cache. */
  const pending = new Map<string, string>();
  const controller = new Controller({
    name: 'node-ipam',
    async reconcile(key) {
      const node = nodes.get(key);
      if (!node || node.spec?.podCIDR) {
        pending.delete(key);
        return;
      }
      const used = new Set<string>([...pending.values()]);
      for (const n of nodes.list()) if (n.spec?.podCIDR) used.add(n.spec.podCIDR);
      const cidr = pending.get(key) ?? nextFreePodCidr(ctx.settings.clusterCidr, used);
      if (!cidr) {
        log.error('node-ipam', 'the cluster CIDR has no free pod CIDR left', { node: key, clusterCidr: ctx.settings.clusterCidr });
        return { requeueAfterMs: 60_000 };
      }
      pending.set(key, cidr);
      await ctx.client.patch('Node', undefined, key, { spec: { podCIDR: cidr, podCIDRs: [cidr] } });
      log.info('node-ipam', 'assigned pod CIDR', { node: key, podCIDR: cidr });
      return undefined;
    },
  });
  nodes.addHandlers({
    onAdd: (n) => { if (!n.spec?.podCIDR) controller.enqueue(n.metadata.name!); },
    onUpdate: (_o, n) => { if (!n.spec?.podCIDR) controller.enqueue(n.metadata.name!); },
    onDelete: (n) => { pending.delete(n.metadata.name!); },
  });
  void controller.run(ctx.signal);
}
