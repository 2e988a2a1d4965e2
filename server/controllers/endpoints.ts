/**
 * Endpoints: for every Service with a selector, one Endpoints object of the same name listing the
 * IPs of the selected pods — ready ones in `addresses`, the others in `notReadyAddresses` — with the
 * service's ports resolved per pod (a named targetPort can map to different container ports on
 * different pods, so pods are grouped into subsets by their resolved port set, as upstream does).
 * Services without a selector are left alone (their Endpoints are the user's), and so are Endpoints
 * with no Service at all: as upstream, an Endpoints object is deleted only when its Service's deletion
 * is seen. Writes only happen when the computed subsets differ from the stored ones. A pod whose IP is
 * not an IP address (stored before pod status was validated) is skipped with a Warning Event on the
 * Service, so one bad pod cannot make every write of its Services fail validation for good.
 */
import { isIP } from 'node:net';
import { deepEqual, compareStrings } from '../../api/object-util.js';
import { isAlreadyExists, isConflict, isForbidden, isNotFound } from '../../api/status.js';
import type { EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Pod, Service, ServicePort } from '../../api/types.js';
import type { ControllerContext } from './context.js';
import { Controller } from '../../api/machinery/controller.js';
import { objectKeyOf, splitKey, type Informer } from '../../api/machinery/informer.js';
import { createEventRecorder, type EventRecorder } from '../../api/machinery/events.js';

const HEADLESS_LABEL = 'service.kubernetes.io/headless';

export function selects(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels?.[k] !== v) return false;
  return true;
}

export function hasSelector(svc: Service): svc is Service & { spec: { selector: Record<string, string> } } {
  return !!svc.spec?.selector && Object.keys(svc.spec.selector).length > 0;
}

/**
 * The selector Services whose endpoints a pod change can alter: those selecting the pod before or
 * after, and none when nothing an endpoint shows changed (IP, labels, readiness, deletion, phase, node).
 */
export function servicesAffectedByPod(services: readonly Service[], pod: Pod, old?: Pod): Service[] {
  if (old && old.status?.podIP === pod.status?.podIP && deepEqual(old.metadata.labels, pod.metadata.labels)
    && isPodReady(old) === isPodReady(pod) && !!old.metadata.deletionTimestamp === !!pod.metadata.deletionTimestamp
    && old.status?.phase === pod.status?.phase && old.spec.nodeName === pod.spec.nodeName) return [];
  return services.filter((svc) => hasSelector(svc)
    && (selects(svc.spec.selector, pod.metadata.labels) || (old !== undefined && selects(svc.spec.selector, old.metadata.labels))));
}

export function isPodReady(pod: Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

/** The container port a service port reaches on this pod, or undefined when the pod has no such named port. */
export function resolveTargetPort(port: ServicePort, pod: Pod): number | undefined {
  const target = port.targetPort ?? port.port;
  if (typeof target === 'number') return target;
  if (/^\d+$/.test(target)) return Number(target);
  const protocol = port.protocol ?? 'TCP';
  for (const c of pod.spec.containers ?? []) {
    for (const cp of c.ports ?? []) {
      if (cp.name === target && (cp.protocol ?? 'TCP') === protocol) return cp.containerPort;
    }
  }
  return undefined;
}

function addressOf(pod: Pod, svc: Service): EndpointAddress {
  const a: EndpointAddress = {
    ip: pod.status!.podIP!,
    targetRef: { kind: 'Pod', namespace: pod.metadata.namespace!, name: pod.metadata.name!, uid: pod.metadata.uid! },
  };
  if (pod.spec.nodeName) a.nodeName = pod.spec.nodeName;
  if (pod.spec.hostname && pod.spec.subdomain === svc.metadata.name) a.hostname = pod.spec.hostname;
  return a;
}

function compareAddresses(a: EndpointAddress, b: EndpointAddress): number {
  return a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : compareStrings(a.targetRef?.uid ?? '', b.targetRef?.uid ?? '');
}

function portKey(ports: EndpointPort[]): string {
  return JSON.stringify(ports.map((p) => [p.name ?? '', p.port, p.protocol ?? 'TCP', p.appProtocol ?? '']));
}

/**
 * The subsets a Service should have given the pods of its namespace (pure; exported for tests).
 * Pods with an IP that is no IP address are left out and passed to `onInvalidIp`.
 */
export function computeSubsets(svc: Service, pods: readonly Pod[], onInvalidIp?: (pod: Pod) => void): EndpointSubset[] {
  if (!hasSelector(svc)) return [];
  const publishNotReady = svc.spec.publishNotReadyAddresses === true;
  const headlessNoPorts = (svc.spec.ports ?? []).length === 0 && svc.spec.clusterIP === 'None';
  const groups = new Map<string, { ports: EndpointPort[]; ready: EndpointAddress[]; notReady: EndpointAddress[] }>();
  for (const pod of pods) {
    if (!selects(svc.spec.selector, pod.metadata.labels)) continue;
    if (!pod.status?.podIP) continue;
    if (isIP(pod.status.podIP) === 0) {
      onInvalidIp?.(pod);
      continue;
    }
    const phase = pod.status.phase;
    if (phase === 'Succeeded' || phase === 'Failed') continue;
    const terminating = !!pod.metadata.deletionTimestamp;
    const ready = publishNotReady || (!terminating && isPodReady(pod));
    const ports: EndpointPort[] = [];
    for (const sp of svc.spec.ports ?? []) {
      const port = resolveTargetPort(sp, pod);
      if (port === undefined) continue;
      const ep: EndpointPort = { port, protocol: sp.protocol ?? 'TCP' };
      if (sp.name) ep.name = sp.name;
      if (sp.appProtocol) ep.appProtocol = sp.appProtocol;
      ports.push(ep);
    }
    if (ports.length === 0 && !headlessNoPorts) continue;
    ports.sort((a, b) => compareStrings(a.name ?? '', b.name ?? '') || a.port - b.port);
    const key = portKey(ports);
    let g = groups.get(key);
    if (!g) {
      g = { ports, ready: [], notReady: [] };
      groups.set(key, g);
    }
    (ready ? g.ready : g.notReady).push(addressOf(pod, svc));
  }
  const subsets: EndpointSubset[] = [];
  for (const key of [...groups.keys()].sort()) {
    const g = groups.get(key)!;
    const subset: EndpointSubset = {};
    if (g.ready.length > 0) subset.addresses = g.ready.sort(compareAddresses);
    if (g.notReady.length > 0) subset.notReadyAddresses = g.notReady.sort(compareAddresses);
    if (g.ports.length > 0) subset.ports = g.ports;
    subsets.push(subset);
  }
  return subsets;
}

class EndpointsController {
  private readonly controller: Controller;
  /** Keys of Services whose deletion was seen and whose Endpoints must go with them. */
  private readonly deletedServices = new Set<string>();
  private readonly events: EventRecorder;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly services: Informer<Service>,
    private readonly pods: Informer<Pod>,
    private readonly endpoints: Informer<Endpoints>,
  ) {
    this.controller = new Controller({ name: 'endpoints-controller', workers: 2, reconcile: (key) => this.reconcile(key) });
    this.events = createEventRecorder(ctx.client, 'endpoint-controller');
    const enqueue = (o: Service | Endpoints): void => this.controller.enqueue(objectKeyOf(o));
    const serviceDeleted = (svc: Service): void => {
      this.deletedServices.add(objectKeyOf(svc));
      enqueue(svc);
    };
    services.addHandlers({ onAdd: enqueue, onUpdate: (_o, n) => enqueue(n), onDelete: serviceDeleted });
    // Someone else changing an Endpoints object we manage (a selector Service's): put it back.
    const endpointsChanged = (ep: Endpoints): void => {
      const svc = this.services.get(objectKeyOf(ep));
      if (svc && hasSelector(svc)) enqueue(ep);
    };
    endpoints.addHandlers({ onUpdate: (_o, n) => endpointsChanged(n), onDelete: endpointsChanged });
    pods.addHandlers({
      onAdd: (p) => this.podChanged(p),
      onUpdate: (o, n) => this.podChanged(n, o),
      onDelete: (p) => this.podChanged(p),
    });
  }

  start(): void {
    void (async () => {
      await Promise.all([this.services.waitForSync(), this.pods.waitForSync(), this.endpoints.waitForSync()]);
      await this.controller.run(this.ctx.signal);
    })();
  }

  private podChanged(pod: Pod, old?: Pod): void {
    for (const svc of servicesAffectedByPod(this.services.listNamespace(pod.metadata.namespace ?? 'default'), pod, old)) this.controller.enqueue(objectKeyOf(svc));
  }

  private async reconcile(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const svc = this.services.get(key);
    const current = this.endpoints.get(key);
    if (!svc) {
      // The Service went: so does its Endpoints object (the garbage collector does not own it).
      // Endpoints that never had a Service are the user's.
      if (!this.deletedServices.has(key)) return;
      if (current) await this.ctx.client.deleteIfExists('Endpoints', namespace, name, { preconditions: { uid: current.metadata.uid! } }).catch(ignoreConflict);
      this.deletedServices.delete(key);
      return;
    }
    this.deletedServices.delete(key);
    if (!hasSelector(svc)) return;
    const subsets = computeSubsets(svc, this.pods.listNamespace(namespace ?? 'default'), (pod) => {
      this.events.record(svc, 'Warning', 'FailedToUpdateEndpoint', `skipped pod ${pod.metadata.namespace}/${pod.metadata.name}: its podIP "${pod.status?.podIP}" is not a valid IP address`);
    });
    const labels: Record<string, string> = { ...(svc.metadata.labels ?? {}) };
    if (svc.spec.clusterIP === 'None') labels[HEADLESS_LABEL] = '';
    if (current) {
      const sameLabels = deepEqual(current.metadata.labels ?? {}, labels);
      if (deepEqual(current.subsets ?? [], subsets) && sameLabels) return;
      const next: Endpoints = { ...current, metadata: { ...current.metadata, labels }, subsets };
      await this.ctx.client.update('Endpoints', next);
      return;
    }
    const ep: Endpoints = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace: namespace!, labels }, subsets };
    try {
      await this.ctx.client.create('Endpoints', namespace, ep);
    } catch (err) {
      if (isAlreadyExists(err)) {
        // Created by someone else before our cache saw it: look again once the cache has it.
        throw err;
      }
      if (isForbidden(err)) return; // namespace terminating
      throw err;
    }
  }
}

/** For deletes with a uid precondition: already gone, or replaced by a new object, is fine. */
export function ignoreConflict(err: unknown): void {
  if (isNotFound(err) || isConflict(err)) return;
  throw err;
}

export function startEndpointsController(ctx: ControllerContext): void {
  new EndpointsController(
    ctx,
    ctx.informers.forKind<Service>('Service'),
    ctx.informers.forKind<Pod>('Pod'),
    ctx.informers.forKind<Endpoints>('Endpoints'),
  ).start();
}
