/**
 * EndpointSlices (discovery.k8s.io/v1) for every Service, as upstream's endpointslice and
 * endpointslice-mirroring controllers write them:
 *  - a Service with a selector gets slices of its selected pods: pods grouped by the port set their
 *    named targetPorts resolve to, at most 100 endpoints per slice, each endpoint with its
 *    ready/serving/terminating conditions, nodeName, hostname (hostname + subdomain pods) and targetRef;
 *  - a Service without a selector gets its hand-written Endpoints mirrored (the `kubernetes` Service too).
 * Slices carry `kubernetes.io/service-name`, the managed-by label and an owner reference to the Service
 * (the garbage collector removes them with it). Slice names are derived from the Service and the
 * slice's port set and position, so a retried create meets its own earlier write (409) instead of
 * leaving a duplicate. The Endpoints controller keeps writing Endpoints for older clients.
 */
import { createHash } from 'node:crypto';
import { deepEqual, compareStrings } from '../../api/object-util.js';
import { isForbidden } from '../../api/status.js';
import type {
  Endpoint, EndpointAddress, EndpointSlice, EndpointSlicePort, Endpoints, ObjectReference, Pod, Service,
} from '../../api/types.js';
import { isIPv4 } from '../../api/validation/names.js';
import type { ControllerContext } from './context.js';
import { Controller } from '../../api/machinery/controller.js';
import { hasSelector, ignoreConflict, isPodReady, resolveTargetPort, selects, servicesAffectedByPod } from './endpoints.js';
import { objectKeyOf, splitKey, type Informer } from '../../api/machinery/informer.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const MANAGED_BY_CONTROLLER = 'endpointslice-controller.k8s.io';
export const MANAGED_BY_MIRRORING = 'endpointslicemirroring-controller.k8s.io';
const HEADLESS_LABEL = 'service.kubernetes.io/headless';
export const MAX_ENDPOINTS_PER_SLICE = 100;


function sliceLabels(svc: Service, managedBy: string): Record<string, string> {
  const labels: Record<string, string> = { ...(svc.metadata.labels ?? {}) };
  labels[SERVICE_NAME_LABEL] = svc.metadata.name!;
  labels[MANAGED_BY_LABEL] = managedBy;
  if (svc.spec.clusterIP === 'None') labels[HEADLESS_LABEL] = '';
  else delete labels[HEADLESS_LABEL];
  return labels;
}

function sliceName(svc: Service, portKey: string, chunk: number): string {
  const suffix = createHash('sha256').update(`${svc.metadata.uid ?? ''}\u0000${portKey}\u0000${chunk}`).digest('hex').slice(0, 10);
  return `${svc.metadata.name!.slice(0, 63)}-${suffix}`;
}

function portKeyOf(ports: readonly EndpointSlicePort[]): string {
  return JSON.stringify(ports.map((p) => [p.name ?? '', p.port ?? 0, p.protocol ?? 'TCP', p.appProtocol ?? '']));
}

function compareEndpoints(a: Endpoint, b: Endpoint): number {
  const x = a.addresses[0] ?? '';
  const y = b.addresses[0] ?? '';
  return x < y ? -1 : x > y ? 1 : compareStrings(a.targetRef?.uid ?? '', b.targetRef?.uid ?? '');
}

/** Groups of endpoints by port set → slices of at most 100, named and labelled for `svc`. */
function toSlices(svc: Service, groups: Map<string, { ports: EndpointSlicePort[]; endpoints: Endpoint[] }>, managedBy: string): EndpointSlice[] {
  const out: EndpointSlice[] = [];
  const owner = { apiVersion: 'v1', kind: 'Service', name: svc.metadata.name!, uid: svc.metadata.uid!, controller: true, blockOwnerDeletion: true };
  for (const key of [...groups.keys()].sort()) {
    const g = groups.get(key)!;
    g.endpoints.sort(compareEndpoints);
    const chunks = Math.max(1, Math.ceil(g.endpoints.length / MAX_ENDPOINTS_PER_SLICE));
    for (let i = 0; i < chunks; i++) {
      out.push({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: sliceName(svc, key, i),
          namespace: svc.metadata.namespace!,
          labels: sliceLabels(svc, managedBy),
          ...(svc.metadata.uid ? { ownerReferences: [owner] } : {}),
        },
        addressType: 'IPv4',
        endpoints: g.endpoints.slice(i * MAX_ENDPOINTS_PER_SLICE, (i + 1) * MAX_ENDPOINTS_PER_SLICE),
        ports: g.ports,
      });
    }
  }
  return out;
}

/** The slices a Service with a selector should have, given its namespace's pods (pure; exported for tests). */
export function slicesForPods(svc: Service, pods: readonly Pod[]): EndpointSlice[] {
  const selector = svc.spec.selector ?? {};
  const groups = new Map<string, { ports: EndpointSlicePort[]; endpoints: Endpoint[] }>();
  const headlessNoPorts = (svc.spec.ports ?? []).length === 0 && svc.spec.clusterIP === 'None';
  for (const pod of pods) {
    if (!selects(selector, pod.metadata.labels)) continue;
    const ip = pod.status?.podIP;
    // Single-stack IPv4 slices: anything else in podIP is not an address we can publish.
    if (!ip || !isIPv4(ip)) continue;
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') continue;
    const ports: EndpointSlicePort[] = [];
    for (const sp of svc.spec.ports ?? []) {
      const port = resolveTargetPort(sp, pod);
      if (port === undefined) continue;
      ports.push({ name: sp.name ?? '', port, protocol: sp.protocol ?? 'TCP', ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}) });
    }
    if (ports.length === 0 && !headlessNoPorts) continue;
    ports.sort((a, b) => compareStrings(a.name ?? '', b.name ?? '') || (a.port ?? 0) - (b.port ?? 0));
    const serving = isPodReady(pod);
    const terminating = !!pod.metadata.deletionTimestamp;
    const endpoint: Endpoint = {
      addresses: [ip],
      // "ready" is never true for a terminating pod unless the Service publishes not-ready addresses.
      conditions: { ready: svc.spec.publishNotReadyAddresses === true || (serving && !terminating), serving, terminating },
      targetRef: { kind: 'Pod', namespace: pod.metadata.namespace!, name: pod.metadata.name!, uid: pod.metadata.uid! },
    };
    if (pod.spec.nodeName) endpoint.nodeName = pod.spec.nodeName;
    if (pod.spec.hostname && pod.spec.subdomain === svc.metadata.name) endpoint.hostname = pod.spec.hostname;
    const key = portKeyOf(ports);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { ports, endpoints: [] }));
    g.endpoints.push(endpoint);
  }
  return toSlices(svc, groups, MANAGED_BY_CONTROLLER);
}

function mirrorEndpoint(a: EndpointAddress, ready: boolean): Endpoint {
  const e: Endpoint = { addresses: [a.ip], conditions: { ready } };
  if (a.hostname) e.hostname = a.hostname;
  if (a.nodeName) e.nodeName = a.nodeName;
  if (a.targetRef) e.targetRef = { ...a.targetRef } as ObjectReference;
  return e;
}

export const SKIP_MIRROR_LABEL = 'endpointslice.kubernetes.io/skip-mirror';

/** The slices mirroring a selector-less Service's hand-written Endpoints (pure; exported for tests). */
export function slicesForEndpoints(svc: Service, ep: Endpoints | undefined): EndpointSlice[] {
  // Endpoints whose writer also writes the slices (the API server's own `kubernetes`) are not mirrored.
  if (ep?.metadata.labels?.[SKIP_MIRROR_LABEL] === 'true') return [];
  const groups = new Map<string, { ports: EndpointSlicePort[]; endpoints: Endpoint[] }>();
  for (const subset of ep?.subsets ?? []) {
    const ports: EndpointSlicePort[] = (subset.ports ?? []).map((p) => ({
      name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP', ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
    }));
    const key = portKeyOf(ports);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { ports, endpoints: [] }));
    for (const a of subset.addresses ?? []) if (isIPv4(a.ip)) g.endpoints.push(mirrorEndpoint(a, true));
    for (const a of subset.notReadyAddresses ?? []) if (isIPv4(a.ip)) g.endpoints.push(mirrorEndpoint(a, false));
  }
  for (const [key, g] of groups) if (g.endpoints.length === 0) groups.delete(key);
  return toSlices(svc, groups, MANAGED_BY_MIRRORING);
}

function isManaged(slice: EndpointSlice): boolean {
  const by = slice.metadata.labels?.[MANAGED_BY_LABEL];
  return by === MANAGED_BY_CONTROLLER || by === MANAGED_BY_MIRRORING;
}

function sameContent(a: EndpointSlice, b: EndpointSlice): boolean {
  return a.addressType === b.addressType && deepEqual(a.endpoints ?? [], b.endpoints ?? []) && deepEqual(a.ports ?? [], b.ports ?? [])
    && deepEqual(a.metadata.labels ?? {}, b.metadata.labels ?? {}) && deepEqual(a.metadata.ownerReferences ?? [], b.metadata.ownerReferences ?? []);
}

class EndpointSliceController {
  private readonly controller: Controller;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly services: Informer<Service>,
    private readonly pods: Informer<Pod>,
    private readonly endpoints: Informer<Endpoints>,
    private readonly slices: Informer<EndpointSlice>,
  ) {
    this.controller = new Controller({ name: 'endpointslice-controller', workers: 2, reconcile: (key) => this.reconcile(key) });
    const enqueue = (o: Service | Endpoints): void => this.controller.enqueue(objectKeyOf(o));
    services.addHandlers({ onAdd: enqueue, onUpdate: (_o, n) => enqueue(n), onDelete: enqueue });
    endpoints.addHandlers({ onAdd: enqueue, onUpdate: (_o, n) => enqueue(n), onDelete: enqueue });
    // Someone else changing or deleting a slice we manage: put it back.
    const sliceChanged = (s: EndpointSlice): void => {
      const svc = s.metadata.labels?.[SERVICE_NAME_LABEL];
      if (svc && isManaged(s)) this.controller.enqueue(`${s.metadata.namespace}/${svc}`);
    };
    slices.addHandlers({ onUpdate: (_o, n) => sliceChanged(n), onDelete: sliceChanged });
    pods.addHandlers({
      onAdd: (p) => this.podChanged(p),
      onUpdate: (o, n) => this.podChanged(n, o),
      onDelete: (p) => this.podChanged(p),
    });
  }

  start(): void {
    void (async () => {
      await Promise.all([this.services.waitForSync(), this.pods.waitForSync(), this.endpoints.waitForSync(), this.slices.waitForSync()]);
      await this.controller.run(this.ctx.signal);
    })();
  }

  private podChanged(pod: Pod, old?: Pod): void {
    for (const svc of servicesAffectedByPod(this.services.listNamespace(pod.metadata.namespace ?? 'default'), pod, old)) this.controller.enqueue(objectKeyOf(svc));
  }

  private async reconcile(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const ns = namespace ?? 'default';
    const existing = this.slices.listNamespace(ns).filter((s) => s.metadata.labels?.[SERVICE_NAME_LABEL] === name && isManaged(s));
    const svc = this.services.get(key);
    // ExternalName services have no endpoints; a gone service's slices go too (the GC would, later).
    const desired = !svc || svc.spec.type === 'ExternalName' ? []
      : hasSelector(svc) ? slicesForPods(svc, this.pods.listNamespace(ns))
        : slicesForEndpoints(svc, this.endpoints.get(key));
    const byName = new Map(existing.map((s) => [s.metadata.name!, s]));
    for (const want of desired) {
      const have = byName.get(want.metadata.name!);
      byName.delete(want.metadata.name!);
      if (have && sameContent(have, want)) continue;
      if (have) {
        await this.ctx.client.update('EndpointSlice', { ...want, metadata: { ...have.metadata, labels: want.metadata.labels!, ...(want.metadata.ownerReferences ? { ownerReferences: want.metadata.ownerReferences } : {}) } } as EndpointSlice);
        continue;
      }
      try {
        await this.ctx.client.create('EndpointSlice', ns, want);
      } catch (err) {
        if (isForbidden(err)) return; // namespace terminating
        throw err; // 409: our cache is behind; the retry sees the slice and updates it
      }
    }
    for (const stale of byName.values()) {
      await this.ctx.client.deleteIfExists('EndpointSlice', ns, stale.metadata.name!, { preconditions: { uid: stale.metadata.uid! } }).catch(ignoreConflict);
    }
  }
}

export function startEndpointSliceController(ctx: ControllerContext): void {
  new EndpointSliceController(
    ctx,
    ctx.informers.forKind<Service>('Service'),
    ctx.informers.forKind<Pod>('Pod'),
    ctx.informers.forKind<Endpoints>('Endpoints'),
    ctx.informers.forKind<EndpointSlice>('EndpointSlice'),
  ).start();
}
