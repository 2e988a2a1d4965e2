/**
 * The `kubernetes` Service in `default`: the first address of the service range, port 443, with an
 * Endpoints object that points at this API server (what in-cluster clients use). Created at start-up
 * and corrected when the server's address or port changed since the last run.
 */
import type { EndpointSlice, Endpoints, Service } from '../../../api/types.js';
import { resourceForKind } from '../../../api/resources.js';
import { isAlreadyExists } from '../../../api/status.js';
import { deepEqual } from '../../../api/object-util.js';
import { log } from '../../../api/log.js';
import type { Registry } from '../registry.js';
import { parseIPv4 } from './ipv4-range.js';

export interface ApiServerEndpoint {
  /** The address clients reach the API server on (an IPv4 address). */
  address: string;
  port: number;
}

const NAME = 'kubernetes';
const NAMESPACE = 'default';

async function createIgnoringConflict(registry: Registry, kind: string, obj: unknown, namespace = NAMESPACE): Promise<void> {
  try {
    await registry.create(resourceForKind(kind)!, namespace, obj);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}

export async function ensureKubernetesService(registry: Registry, clusterIP: string, ep: ApiServerEndpoint): Promise<void> {
  const svcInfo = resourceForKind('Service')!;
  const existing = await registry.tryGet(svcInfo, NAMESPACE, NAME) as Service | undefined;
  const ports = [{ name: 'https', port: 443, protocol: 'TCP' as const, targetPort: ep.port }];
  if (!existing) {
    await createIgnoringConflict(registry, 'Service', {
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: NAME, namespace: NAMESPACE, labels: { component: 'apiserver', provider: 'kubernetes' } },
      spec: { type: 'ClusterIP', clusterIP, ports, sessionAffinity: 'None' },
    });
  } else if (!deepEqual(existing.spec.ports, ports)) {
    await registry.guaranteedUpdate(svcInfo, NAMESPACE, NAME, (cur) => ({ ...cur, spec: { ...(cur.spec as object), ports } }));
  }

  if (parseIPv4(ep.address) === undefined) {
    log.warn('allocator', 'the advertise address is not an IPv4 address: no Endpoints for the kubernetes service', { address: ep.address });
    return;
  }
  const epInfo = resourceForKind('Endpoints')!;
  const subsets = [{ addresses: [{ ip: ep.address }], ports: [{ name: 'https', port: ep.port, protocol: 'TCP' as const }] }];
  const current = await registry.tryGet(epInfo, NAMESPACE, NAME) as Endpoints | undefined;
  if (!current) {
    await createIgnoringConflict(registry, 'Endpoints', {
      apiVersion: 'v1', kind: 'Endpoints',
      metadata: { name: NAME, namespace: NAMESPACE, labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
      subsets,
    });
  } else if (!deepEqual(current.subsets, subsets)) {
    await registry.guaranteedUpdate(epInfo, NAMESPACE, NAME, (cur) => ({ ...cur, subsets }));
  }
  // Its Endpoints are not mirrored (skip-mirror): the API server writes the EndpointSlice itself, as upstream's does.
  const sliceInfo = resourceForKind('EndpointSlice')!;
  const slice = {
    addressType: 'IPv4',
    endpoints: [{ addresses: [ep.address], conditions: { ready: true } }],
    ports: [{ name: 'https', port: ep.port, protocol: 'TCP' }],
  };
  const currentSlice = await registry.tryGet(sliceInfo, NAMESPACE, NAME) as (EndpointSlice & Record<string, unknown>) | undefined;
  if (!currentSlice) {
    await createIgnoringConflict(registry, 'EndpointSlice', {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: NAME, namespace: NAMESPACE, labels: { 'kubernetes.io/service-name': NAME } },
      ...slice,
    });
  } else if (!deepEqual(currentSlice.endpoints, slice.endpoints) || !deepEqual(currentSlice.ports, slice.ports)) {
    await registry.guaranteedUpdate(sliceInfo, NAMESPACE, NAME, (cur) => ({ ...cur, ...slice }));
  }
}

export const CLUSTER_DNS_SERVICE = { namespace: 'kube-system', name: 'kube-dns' } as const;

/**
 * The `kube-dns` Service in `kube-system` at the cluster DNS IP, port 53 over UDP and TCP (what
 * upstream tooling looks for). It has no endpoints: every node's proxy sends the address to the node's
 * own resolver. An existing Service at another address is left alone (with a warning): a ClusterIP
 * cannot change in place.
 */
export async function ensureClusterDnsService(registry: Registry, clusterIP: string): Promise<void> {
  const svcInfo = resourceForKind('Service')!;
  const existing = await registry.tryGet(svcInfo, CLUSTER_DNS_SERVICE.namespace, CLUSTER_DNS_SERVICE.name) as Service | undefined;
  if (existing) {
    if (existing.spec.clusterIP !== clusterIP) log.warn('allocator', 'kube-dns has another address than --cluster-dns; delete it to move it', { clusterIP: existing.spec.clusterIP, clusterDns: clusterIP });
    return;
  }
  await createIgnoringConflict(registry, 'Service', {
    apiVersion: 'v1', kind: 'Service',
    metadata: {
      name: CLUSTER_DNS_SERVICE.name, namespace: CLUSTER_DNS_SERVICE.namespace,
      labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/name': 'CoreDNS', 'kubernetes.io/cluster-service': 'true' },
    },
    spec: {
      type: 'ClusterIP', clusterIP,
      ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 }, { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 }],
    },
  }, CLUSTER_DNS_SERVICE.namespace);
}
