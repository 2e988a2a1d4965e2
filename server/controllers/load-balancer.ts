/**
 * LoadBalancer Services (k3s ServiceLB's default, MetalLB-style addresses with a pool): fills
 * `status.loadBalancer.ingress` of every `type: LoadBalancer` Service without a `loadBalancerClass`.
 *
 * - Without `--lb-pool`: the InternalIPs of the eligible Ready nodes. A node labelled
 *   `svccontroller.corral.dev/enablelb=false` (or upstream's `node.kubernetes.io/exclude-from-external-load-balancers`)
 *   is never used; once any node is labelled `=true`, only those are (as k3s's `svccontroller.k3s.cattle.io/enablelb`).
 * - With `--lb-pool`: one pool address per Service, the requested one when `spec.loadBalancerIP` or the
 *   `metallb.universe.tf/loadBalancerIPs` annotation names one. A request outside the pool, taken by
 *   another Service, or an exhausted pool leaves the Service pending with a Warning event saying why.
 *
 * Which addresses are taken is read from the Services' statuses in the cache (plus this loop's own
 * writes not yet seen), so a deleted Service, or one changed to another type (its status is cleared
 * here), frees its address, and a restarted server keeps every assignment.
 */
import { log } from '../../api/log.js';
import { Controller } from '../../api/machinery/controller.js';
import { createEventRecorder } from '../../api/machinery/events.js';
import { objectKeyOf } from '../../api/machinery/informer.js';
import { loadBalancerIngressIPs as ingressIps, loadBalancerNodeFilter, servedByCorral as isOurs } from '../../api/load-balancer.js';
import type { Node, Service } from '../../api/types.js';
import type { ControllerContext } from './context.js';
import { firstFreeAddress, ipv4ToNumber, poolContains, type LbPool } from './lb-pool.js';

/** The address-request annotation MetalLB documents (comma-separated; corral uses the IPv4 one). */
export const REQUESTED_IPS_ANNOTATION = 'metallb.universe.tf/loadBalancerIPs';

type Ingress = { ip: string }[];

/** The addresses the Service asks for (annotation first, then the deprecated spec field), IPv4 only. */
export function requestedAddress(svc: Service): string | undefined {
  const annotated = svc.metadata.annotations?.[REQUESTED_IPS_ANNOTATION];
  const candidates = [...(annotated ?? '').split(','), (svc.spec as { loadBalancerIP?: string }).loadBalancerIP ?? ''].map((s) => s.trim()).filter((s) => s !== '');
  return candidates.find((ip) => ipv4ToNumber(ip) !== undefined) ?? candidates[0];
}

/** InternalIPs of the nodes that carry LoadBalancer traffic, sorted (stable status, no flapping). */
export function eligibleNodeAddresses(nodes: readonly Node[]): string[] {
  const ips = nodes
    .filter(loadBalancerNodeFilter(nodes))
    .map((n) => n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address)
    .filter((ip): ip is string => ip !== undefined && ip !== '');
  return [...new Set(ips)].sort((a, b) => (ipv4ToNumber(a) ?? 0) - (ipv4ToNumber(b) ?? 0) || (a < b ? -1 : a > b ? 1 : 0));
}

function sameIngress(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((ip, i) => ip === b[i]);
}

export function startLoadBalancerController(ctx: ControllerContext): void {
  const pool: LbPool | undefined = ctx.settings.lbPool;
  const services = ctx.informers.forKind<Service>('Service');
  const nodes = ctx.informers.forKind<Node>('Node');
  const events = createEventRecorder(ctx.client, 'service-lb-controller');
  /** Addresses this loop wrote that the cache may not show yet: Service key → address. */
  const written = new Map<string, string>();

  /** Pool addresses held by Services other than `key` → the holder. */
  function holders(key: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const s of services.list()) {
      const k = objectKeyOf(s);
      if (k === key || !isOurs(s)) continue;
      for (const ip of ingressIps(s)) if (pool && poolContains(pool, ip)) out.set(ip, k);
    }
    for (const [k, ip] of written) if (k !== key && !out.has(ip) && services.get(k)) out.set(ip, k);
    return out;
  }

  async function setIngress(svc: Service, ips: readonly string[]): Promise<void> {
    if (sameIngress(ingressIps(svc), ips)) return;
    const ingress: Ingress = ips.map((ip) => ({ ip }));
    await ctx.client.updateStatus('Service', { ...svc, status: { ...svc.status, loadBalancer: ingress.length > 0 ? { ingress } : {} } });
  }

  /** The pool address for `svc`, or a reason it gets none (then it stays pending). */
  function poolAddress(svc: Service, key: string, p: LbPool): { ip: string } | { reason: string; message: string } {
    const taken = holders(key);
    const requested = requestedAddress(svc);
    if (requested !== undefined) {
      if (ipv4ToNumber(requested) === undefined) return { reason: 'AllocationFailed', message: `requested address "${requested}" is not a valid IPv4 address` };
      if (!poolContains(p, requested)) return { reason: 'AllocationFailed', message: `requested address ${requested} is not in the --lb-pool ranges (${p.text})` };
      const holder = taken.get(requested);
      if (holder !== undefined) return { reason: 'AllocationFailed', message: `requested address ${requested} is already allocated to service ${holder}` };
      return { ip: requested };
    }
    const current = ingressIps(svc).find((ip) => poolContains(p, ip) && !taken.has(ip)) ?? written.get(key);
    if (current !== undefined && !taken.has(current)) return { ip: current };
    const free = firstFreeAddress(p, new Set(taken.keys()));
    if (free === undefined) return { reason: 'AllocationFailed', message: `no available IP in the --lb-pool ranges (${p.text}): every address is allocated` };
    return { ip: free };
  }

  const controller = new Controller({
    name: 'service-lb',
    async reconcile(key) {
      const svc = services.get(key);
      if (!svc) {
        written.delete(key);
        return;
      }
      if (!isOurs(svc)) {
        written.delete(key);
        // Left LoadBalancer (or handed to another class): its addresses go back.
        if (svc.spec.type !== 'LoadBalancer' && ingressIps(svc).length > 0) {
          await setIngress(svc, []);
          if (pool) enqueueAllLoadBalancers();
        }
        return;
      }
      if (!pool) {
        const ips = eligibleNodeAddresses(nodes.list());
        if (ips.length === 0 && ingressIps(svc).length === 0) return;
        await setIngress(svc, ips);
        return;
      }
      const chosen = poolAddress(svc, key, pool);
      if ('reason' in chosen) {
        written.delete(key);
        events.record({ ...svc, kind: 'Service' }, 'Warning', chosen.reason, chosen.message);
        // A held address the Service may no longer keep (now requests another) is released.
        if (ingressIps(svc).length > 0) {
          await setIngress(svc, []);
          enqueueAllLoadBalancers();
        }
        return;
      }
      const before = ingressIps(svc);
      written.set(key, chosen.ip);
      await setIngress(svc, [chosen.ip]);
      if (!sameIngress(before, [chosen.ip])) {
        events.record({ ...svc, kind: 'Service' }, 'Normal', 'IPAllocated', `Assigned IP ["${chosen.ip}"]`);
        log.info('service-lb', 'assigned a pool address', { service: key, ip: chosen.ip });
      }
    },
  });

  const enqueueService = (s: Service): void => controller.enqueue(objectKeyOf(s));
  const enqueueAllLoadBalancers = (): void => {
    for (const s of services.list()) if (isOurs(s)) enqueueService(s);
  };
  services.addHandlers({
    onAdd: enqueueService,
    onUpdate: (_o, n) => enqueueService(n),
    // A freed address may be what a pending Service asked for.
    onDelete: (s) => { written.delete(objectKeyOf(s)); if (pool) enqueueAllLoadBalancers(); },
  });
  // Node changes move the node-address ingress; with a pool they do not matter.
  if (!pool) nodes.addHandlers({ onAdd: enqueueAllLoadBalancers, onUpdate: enqueueAllLoadBalancers, onDelete: enqueueAllLoadBalancers });
  void controller.run(ctx.signal);
}
