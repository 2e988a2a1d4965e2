/**
 * Ingress status for the built-in proxy: every Ingress whose class is served by
 * `corral.dev/ingress-proxy` gets `status.loadBalancer.ingress` = the InternalIPs of the Ready nodes
 * whose agent runs the proxy (they carry the `ingress.corral.dev/proxy-ports` annotation), as k3s's
 * Traefik publishes its ServiceLB node addresses. Ingresses of other classes are left alone.
 */
import { Controller } from '../../api/machinery/controller.js';
import { objectKeyOf } from '../../api/machinery/informer.js';
import {
  CORRAL_INGRESS_CONTROLLER, INGRESS_PROXY_NODE_ANNOTATION, LEGACY_INGRESS_CLASS_ANNOTATION, type Ingress, type IngressClass,
} from '../../api/networking-types.js';
import type { Node } from '../../api/types.js';
import type { ControllerContext } from './context.js';
import { ipv4ToNumber } from './lb-pool.js';

/** The class an Ingress asks for: spec.ingressClassName, else the deprecated annotation. */
export function ingressClassOf(ing: Ingress): string | undefined {
  return ing.spec?.ingressClassName ?? ing.metadata.annotations?.[LEGACY_INGRESS_CLASS_ANNOTATION];
}

/** Sorted InternalIPs of the Ready nodes running the ingress proxy. */
export function proxyNodeAddresses(nodes: readonly Node[]): string[] {
  const ips = nodes
    .filter((n) => n.metadata.annotations?.[INGRESS_PROXY_NODE_ANNOTATION] !== undefined)
    .filter((n) => (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'))
    .map((n) => n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address)
    .filter((ip): ip is string => ip !== undefined && ip !== '');
  return [...new Set(ips)].sort((a, b) => (ipv4ToNumber(a) ?? 0) - (ipv4ToNumber(b) ?? 0) || (a < b ? -1 : a > b ? 1 : 0));
}

export function startIngressStatusController(ctx: ControllerContext): void {
  const ingresses = ctx.informers.forKind<Ingress>('Ingress');
  const classes = ctx.informers.forKind<IngressClass>('IngressClass');
  const nodes = ctx.informers.forKind<Node>('Node');

  const servedByCorral = (ing: Ingress): boolean => {
    const name = ingressClassOf(ing);
    return name !== undefined && classes.get(name)?.spec?.controller === CORRAL_INGRESS_CONTROLLER;
  };

  const controller = new Controller({
    name: 'ingress-status',
    async reconcile(key) {
      const ing = ingresses.get(key);
      if (!ing) return;
      // Another class: its controller owns the status.
      if (!servedByCorral(ing)) return;
      const current = (ing.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '');
      const wanted = proxyNodeAddresses(nodes.list());
      if (current.length === wanted.length && current.every((ip, i) => ip === wanted[i])) return;
      await ctx.client.updateStatus('Ingress', { ...ing, status: { loadBalancer: wanted.length > 0 ? { ingress: wanted.map((ip) => ({ ip })) } : {} } });
    },
  });

  const enqueue = (ing: Ingress): void => controller.enqueue(objectKeyOf(ing));
  const enqueueAll = (): void => { for (const ing of ingresses.list()) enqueue(ing); };
  ingresses.addHandlers({ onAdd: enqueue, onUpdate: (_o, n) => enqueue(n) });
  classes.addHandlers({ onAdd: enqueueAll, onUpdate: enqueueAll, onDelete: enqueueAll });
  let lastAddresses = '';
  const onNodes = (): void => {
    const now = proxyNodeAddresses(nodes.list()).join(',');
    if (now === lastAddresses) return;
    lastAddresses = now;
    enqueueAll();
  };
  nodes.addHandlers({ onAdd: onNodes, onUpdate: onNodes, onDelete: onNodes });
  void controller.run(ctx.signal);
}
