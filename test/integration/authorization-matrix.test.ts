/**
 * The authorization matrix through the real HTTP surface of a `corral server`: every role (admin,
 * viewer, join token, node credential, no token, a bad token) × routes × verbs, with the answer each
 * must get. Node credentials run every row twice, as n1 and as n2, each against its own node's
 * objects and the other node's. Writes use dryRun=All (authorization and admission run, nothing is
 * stored), so the rows do not depend on each other.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { HttpsTransport } from '../../api/client/transport.js';
import type { KubeObject } from '../../api/meta.js';
import { TokenStore } from '../../server/auth/tokens.js';
import { ServerProcess } from '../support/server-process.js';

type Role = 'admin' | 'viewer' | 'join' | 'node' | 'anonymous' | 'invalid';
/** A status code, or 'allowed': anything but 401/403 (for routes whose success needs an agent). */
type Expected = number | 'allowed';

interface Row {
  what: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** `self` is the acting node (n1 for the roles that are not nodes), `other` the other node. */
  path: (self: string, other: string) => string;
  body?: (self: string, other: string) => unknown;
  /** admin, viewer, join and node must be given; anonymous and invalid default to 401. */
  expect: Record<'admin' | 'viewer' | 'join' | 'node', Expected> & Partial<Record<'anonymous' | 'invalid', Expected>>;
}

const DR = '?dryRun=All';
const NODE_CIDR: Record<string, string> = { n1: '10.42.1.0/24', n2: '10.42.2.0/24' };
const ipIn = (node: string): string => NODE_CIDR[node]!.replace('0/24', '77');
const meta = (name: string, namespace?: string): KubeObject['metadata'] => ({ name, ...(namespace ? { namespace } : {}) });

const ROWS: Row[] = [
  // Unauthenticated endpoints and discovery.
  { what: 'version', method: 'GET', path: () => '/version', expect: { admin: 200, viewer: 200, join: 200, node: 200, anonymous: 200, invalid: 200 } },
  { what: 'metrics', method: 'GET', path: () => '/metrics', expect: { admin: 200, viewer: 403, join: 403, node: 403 } },
  { what: 'discovery', method: 'GET', path: () => '/api', expect: { admin: 200, viewer: 200, join: 200, node: 200 } },
  { what: 'discovery of a group', method: 'GET', path: () => '/apis/apps/v1', expect: { admin: 200, viewer: 200, join: 200, node: 200 } },
  // Nodes.
  { what: 'list nodes', method: 'GET', path: () => '/api/v1/nodes', expect: { admin: 200, viewer: 200, join: 200, node: 200 } },
  { what: 'get another node', method: 'GET', path: (_s, o) => `/api/v1/nodes/${o}`, expect: { admin: 200, viewer: 200, join: 200, node: 200 } },
  { what: 'label own node', method: 'PATCH', path: (s) => `/api/v1/nodes/${s}${DR}`, body: () => ({ metadata: { labels: { x: 'y' } } }), expect: { admin: 200, viewer: 403, join: 200, node: 200 } },
  { what: 'label another node', method: 'PATCH', path: (_s, o) => `/api/v1/nodes/${o}${DR}`, body: () => ({ metadata: { labels: { x: 'y' } } }), expect: { admin: 200, viewer: 403, join: 200, node: 403 } },
  { what: 'patch own node status', method: 'PATCH', path: (s) => `/api/v1/nodes/${s}/status${DR}`, body: () => ({ status: { daemonEndpoints: { kubeletEndpoint: { Port: 10250 } } } }), expect: { admin: 200, viewer: 403, join: 403, node: 200 } },
  { what: 'patch another node status', method: 'PATCH', path: (_s, o) => `/api/v1/nodes/${o}/status${DR}`, body: () => ({ status: { daemonEndpoints: { kubeletEndpoint: { Port: 1 } } } }), expect: { admin: 200, viewer: 403, join: 403, node: 403 } },
  { what: 'cordon own node (spec)', method: 'PATCH', path: (s) => `/api/v1/nodes/${s}${DR}`, body: () => ({ spec: { unschedulable: true } }), expect: { admin: 200, viewer: 403, join: 403, node: 403 } },
  { what: 'move another node\'s pod CIDR', method: 'PATCH', path: (_s, o) => `/api/v1/nodes/${o}${DR}`, body: () => ({ spec: { podCIDR: '10.42.1.0/24', podCIDRs: ['10.42.1.0/24'] } }), expect: { admin: 'allowed', viewer: 403, join: 403, node: 403 } },
  { what: 'create own node', method: 'POST', path: () => `/api/v1/nodes${DR}`, body: (s) => ({ apiVersion: 'v1', kind: 'Node', metadata: meta(s) }), expect: { admin: 201, viewer: 403, join: 403, node: 201 } },
  { what: 'create another node', method: 'POST', path: () => `/api/v1/nodes${DR}`, body: () => ({ apiVersion: 'v1', kind: 'Node', metadata: meta('impostor') }), expect: { admin: 201, viewer: 403, join: 403, node: 403 } },
  { what: 'create own node with a pod CIDR', method: 'POST', path: () => `/api/v1/nodes${DR}`, body: (s) => ({ apiVersion: 'v1', kind: 'Node', metadata: meta(s), spec: { podCIDR: '10.42.9.0/24' } }), expect: { admin: 201, viewer: 403, join: 403, node: 403 } },
  { what: 'delete own node', method: 'DELETE', path: (s) => `/api/v1/nodes/${s}${DR}`, expect: { admin: 200, viewer: 403, join: 403, node: 200 } },
  { what: 'delete another node', method: 'DELETE', path: (_s, o) => `/api/v1/nodes/${o}${DR}`, expect: { admin: 200, viewer: 403, join: 403, node: 403 } },
  { what: 'delete all nodes', method: 'DELETE', path: () => `/api/v1/nodes${DR}`, expect: { admin: 200, viewer: 403, join: 403, node: 403 } },
  // Leases.
  { what: 'get own lease', method: 'GET', path: (s) => `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${s}`, expect: { admin: 200, viewer: 200, join: 403, node: 200 } },
  { what: 'renew own lease', method: 'PATCH', path: (s) => `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${s}${DR}`, body: () => ({ spec: { renewTime: '2026-01-01T00:00:00.000000Z' } }), expect: { admin: 200, viewer: 403, join: 403, node: 200 } },
  { what: 'renew another lease', method: 'PATCH', path: (_s, o) => `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${o}${DR}`, body: () => ({ spec: { renewTime: '2026-01-01T00:00:00.000000Z' } }), expect: { admin: 200, viewer: 403, join: 403, node: 403 } },
  { what: 'create own lease', method: 'POST', path: () => `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases${DR}`, body: (s) => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: meta(`${s}`), spec: { holderIdentity: s } }), expect: { admin: 201, viewer: 403, join: 403, node: 201 } },
  { what: 'create another lease', method: 'POST', path: () => `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases${DR}`, body: (_s, o) => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: meta(`${o}-x`), spec: { holderIdentity: o } }), expect: { admin: 201, viewer: 403, join: 403, node: 403 } },
  // LoadBalancer address Leases (kube-system/corral-lb-*): every node reads them, holds one only as itself.
  { what: 'list LB address leases', method: 'GET', path: () => '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases', expect: { admin: 200, viewer: 200, join: 403, node: 200 } },
  { what: 'take an LB address lease', method: 'POST', path: () => `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases${DR}`, body: (s) => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: meta('corral-lb-192-168-1-240'), spec: { holderIdentity: s } }), expect: { admin: 201, viewer: 403, join: 403, node: 201 } },
  { what: 'give an LB address lease to another node', method: 'POST', path: () => `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases${DR}`, body: (_s, o) => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: meta('corral-lb-192-168-1-241'), spec: { holderIdentity: o } }), expect: { admin: 201, viewer: 403, join: 403, node: 403 } },
  { what: 'create another kube-system lease', method: 'POST', path: () => `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases${DR}`, body: (s) => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: meta('kube-scheduler'), spec: { holderIdentity: s } }), expect: { admin: 201, viewer: 403, join: 403, node: 403 } },
  { what: 'list leases', method: 'GET', path: () => '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', expect: { admin: 200, viewer: 200, join: 403, node: 403 } },
  // Secrets and ConfigMaps: only those of pods bound to the node, and its own kubelet Secret.
  { what: 'get a Secret its pod uses', method: 'GET', path: (s) => `/api/v1/namespaces/default/secrets/s-${s}`, expect: { admin: 200, viewer: 403, join: 403, node: 200 } },
  { what: 'get a Secret another node\'s pod uses', method: 'GET', path: (_s, o) => `/api/v1/namespaces/default/secrets/s-${o}`, expect: { admin: 200, viewer: 403, join: 403, node: 403 } },
  { what: 'get a Secret no pod uses', method: 'GET', path: () => '/api/v1/namespaces/default/secrets/unused', expect: { admin: 200, viewer: 403, join: 403, node: 403 } },
  { what: 'get an image pull Secret its pod uses', method: 'GET', path: (s) => `/api/v1/namespaces/default/secrets/pull-${s}`, expect: { admin: 200, viewer: 403, join: 403, node: 200 } },
  { what: 'list Secrets', method: 'GET', path: () => '/api/v1/namespaces/default/secrets', expect: { admin: 200, viewer: 403, join: 403, node: 403 } },
  { what: 'list Secrets cluster-wide', method: 'GET', path: () => '/api/v1/secrets', expect: { admin: 200, viewer: 403, join: 403, node: 403 } },
  { what: 'get a ConfigMap its pod uses', method: 'GET', path: (s) => `/api/v1/namespaces/default/configmaps/c-${s}`, expect: { admin: 200, viewer: 200, join: 403, node: 200 } },
  { what: 'get a ConfigMap another node\'s pod uses', method: 'GET', path: (_s, o) => `/api/v1/namespaces/default/configmaps/c-${o}`, expect: { admin: 200, viewer: 200, join: 403, node: 403 } },
  { what: 'list ConfigMaps', method: 'GET', path: () => '/api/v1/namespaces/default/configmaps', expect: { admin: 200, viewer: 200, join: 403, node: 403 } },
  { what: 'get own kubelet Secret', method: 'GET', path: (s) => `/api/v1/namespaces/kube-system/secrets/corral-kubelet-${s}`, expect: { admin: 200, viewer: 403, join: 403, node: 200 } },
  { what: 'get another kubelet Secret', method: 'GET', path: (_s, o) => `/api/v1/namespaces/kube-system/secrets/corral-kubelet-${o}`, expect: { admin: 200, viewer: 403, join: 403, node: 403 } },
  { what: 'update own kubelet Secret', method: 'PATCH', path: (s) => `/api/v1/namespaces/kube-system/secrets/corral-kubelet-${s}${DR}`, body: () => ({ data: { token: 'eA==' } }), expect: { admin: 200, viewer: 403, join: 403, node: 200 } },
  { what: 'overwrite another kubelet Secret', method: 'PATCH', path: (_s, o) => `/api/v1/namespaces/kube-system/secrets/corral-kubelet-${o}${DR}`, body: () => ({ data: { token: 'eA==' } }), expect: { admin: 200, viewer: 403, join: 403, node: 403 } },
  { what: 'create own kubelet Secret', method: 'POST', path: () => `/api/v1/namespaces/kube-system/secrets${DR}`, body: (s) => ({ apiVersion: 'v1', kind: 'Secret', metadata: meta(`corral-kubelet-${s}`) }), expect: { admin: 201, viewer: 403, join: 403, node: 201 } },
  { what: 'create another kubelet Secret', method: 'POST', path: () => `/api/v1/namespaces/kube-system/secrets${DR}`, body: (_s, o) => ({ apiVersion: 'v1', kind: 'Secret', metadata: meta(`corral-kubelet-${o}`) }), expect: { admin: 201, viewer: 403, join: 403, node: 403 } },
  { what: 'create a Secret elsewhere', method: 'POST', path: () => `/api/v1/namespaces/default/secrets${DR}`, body: () => ({ apiVersion: 'v1', kind: 'Secret', metadata: meta('planted') }), expect: { admin: 201, viewer: 403, join: 403, node: 403 } },
  { what: 'delete own kubelet Secret', method: 'DELETE', path: (s) => `/api/v1/namespaces/kube-system/secrets/corral-kubelet-${s}${DR}`, expect: { admin: 200, viewer: 403, join: 403, node: 403 } },
  // Pods.
  { what: 'list pods', method: 'GET', path: () => '/api/v1/pods', expect: { admin: 200, viewer: 200, join: 403, node: 200 } },
  { what: 'report own pod status', method: 'PATCH', path: (s) => `/api/v1/namespaces/default/pods/p-${s}/status${DR}`, body: (s) => ({ status: { podIP: ipIn(s), podIPs: [{ ip: ipIn(s) }] } }), expect: { admin: 200, viewer: 403, join: 403, node: 200 } },
  { what: 'report another node\'s pod status', method: 'PATCH', path: (_s, o) => `/api/v1/namespaces/default/pods/p-${o}/status${DR}`, body: (_s, o) => ({ status: { podIP: ipIn(o), podIPs: [{ ip: ipIn(o) }] } }), expect: { admin: 200, viewer: 403, join: 403, node: 403 } },
  { what: 'pod IP outside the node\'s pod CIDR', method: 'PATCH', path: (s) => `/api/v1/namespaces/default/pods/p-${s}/status${DR}`, body: (_s, o) => ({ status: { podIP: ipIn(o), podIPs: [{ ip: ipIn(o) }] } }), expect: { admin: 422, viewer: 403, join: 403, node: 422 } },
  { what: 'pod IP that is no IP', method: 'PATCH', path: (s) => `/api/v1/namespaces/default/pods/p-${s}/status${DR}`, body: () => ({ status: { podIP: '10.42.1.999', podIPs: [{ ip: '10.42.1.999' }] } }), expect: { admin: 422, viewer: 403, join: 403, node: 422 } },
  { what: 'change own pod (not status)', method: 'PATCH', path: (s) => `/api/v1/namespaces/default/pods/p-${s}${DR}`, body: () => ({ metadata: { labels: { x: 'y' } } }), expect: { admin: 200, viewer: 403, join: 403, node: 403 } },
  { what: 'delete own pod', method: 'DELETE', path: (s) => `/api/v1/namespaces/default/pods/p-${s}${DR}`, expect: { admin: 200, viewer: 403, join: 403, node: 200 } },
  { what: 'delete another node\'s pod', method: 'DELETE', path: (_s, o) => `/api/v1/namespaces/default/pods/p-${o}${DR}`, expect: { admin: 200, viewer: 403, join: 403, node: 403 } },
  { what: 'delete all pods', method: 'DELETE', path: () => `/api/v1/namespaces/default/pods${DR}`, expect: { admin: 200, viewer: 403, join: 403, node: 403 } },
  { what: 'create a pod', method: 'POST', path: () => `/api/v1/namespaces/default/pods${DR}`, body: () => ({ apiVersion: 'v1', kind: 'Pod', metadata: meta('new'), spec: { containers: [{ name: 'c', image: 'busybox' }] } }), expect: { admin: 201, viewer: 403, join: 403, node: 403 } },
  { what: 'exec into own pod', method: 'GET', path: (s) => `/api/v1/namespaces/default/pods/p-${s}/exec?command=ls&stdout=true`, expect: { admin: 'allowed', viewer: 403, join: 403, node: 403 } },
  { what: 'attach to own pod', method: 'GET', path: (s) => `/api/v1/namespaces/default/pods/p-${s}/attach?stdin=true&stdout=true`, expect: { admin: 'allowed', viewer: 403, join: 403, node: 403 } },
  { what: 'attach to another node\'s pod', method: 'GET', path: (_s, o) => `/api/v1/namespaces/default/pods/p-${o}/attach?stdout=true`, expect: { admin: 'allowed', viewer: 403, join: 403, node: 403 } },
  { what: 'evict a pod', method: 'POST', path: (s) => `/api/v1/namespaces/default/pods/p-${s}/eviction${DR}`, body: (s) => ({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: meta(`p-${s}`, 'default') }), expect: { admin: 'allowed', viewer: 403, join: 403, node: 403 } },
  // PersistentVolumes: read all; of those pinned to the node, only remove finalizers (local-path cleanup).
  { what: 'list volumes', method: 'GET', path: () => '/api/v1/persistentvolumes', expect: { admin: 200, viewer: 200, join: 403, node: 200 } },
  { what: 'remove own volume\'s finalizer', method: 'PATCH', path: (s) => `/api/v1/persistentvolumes/pv-${s}${DR}`, body: () => ({ metadata: { finalizers: null } }), expect: { admin: 200, viewer: 403, join: 403, node: 200 } },
  { what: 'remove another node\'s volume finalizer', method: 'PATCH', path: (_s, o) => `/api/v1/persistentvolumes/pv-${o}${DR}`, body: () => ({ metadata: { finalizers: null } }), expect: { admin: 200, viewer: 403, join: 403, node: 403 } },
  { what: 'change own volume', method: 'PATCH', path: (s) => `/api/v1/persistentvolumes/pv-${s}${DR}`, body: () => ({ spec: { persistentVolumeReclaimPolicy: 'Delete' } }), expect: { admin: 200, viewer: 403, join: 403, node: 403 } },
  { what: 'delete own volume', method: 'DELETE', path: (s) => `/api/v1/persistentvolumes/pv-${s}${DR}`, expect: { admin: 200, viewer: 403, join: 403, node: 403 } },
  // What an agent watches, and what it has no business with.
  { what: 'list services', method: 'GET', path: () => '/api/v1/services', expect: { admin: 200, viewer: 200, join: 403, node: 200 } },
  { what: 'list endpoints', method: 'GET', path: () => '/api/v1/endpoints', expect: { admin: 200, viewer: 200, join: 403, node: 200 } },
  { what: 'patch a service', method: 'PATCH', path: () => `/api/v1/namespaces/default/services/kubernetes${DR}`, body: () => ({ metadata: { labels: { x: 'y' } } }), expect: { admin: 200, viewer: 403, join: 403, node: 403 } },
  { what: 'list deployments', method: 'GET', path: () => '/apis/apps/v1/deployments', expect: { admin: 200, viewer: 200, join: 403, node: 403 } },
  { what: 'create a deployment', method: 'POST', path: () => `/apis/apps/v1/namespaces/default/deployments${DR}`, body: () => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta('d'), spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } } }), expect: { admin: 201, viewer: 403, join: 403, node: 403 } },
  { what: 'record an event', method: 'POST', path: () => `/api/v1/namespaces/default/events${DR}`, body: (s) => ({ apiVersion: 'v1', kind: 'Event', metadata: meta(`e-${s}`), involvedObject: { kind: 'Node', name: s }, reason: 'Test', message: 'm', type: 'Normal' }), expect: { admin: 201, viewer: 403, join: 403, node: 201 } },
  { what: 'list namespaces', method: 'GET', path: () => '/api/v1/namespaces', expect: { admin: 200, viewer: 200, join: 403, node: 403 } },
  { what: 'delete a namespace', method: 'DELETE', path: () => `/api/v1/namespaces/scratch${DR}`, expect: { admin: 200, viewer: 403, join: 403, node: 403 } },
  { what: 'delete a system namespace', method: 'DELETE', path: () => `/api/v1/namespaces/kube-system${DR}`, expect: { admin: 403, viewer: 403, join: 403, node: 403 } },
  // Credentials: only a join token (or an admin) mints a node credential.
  { what: 'mint a node credential', method: 'POST', path: () => '/join/node-token?node=minted', expect: { admin: 200, viewer: 403, join: 200, node: 403 } },
];

interface Ctx { server: ServerProcess; tokens: Record<'admin' | 'viewer' | 'join' | 'n1' | 'n2', string> }
const it = suite<Ctx>('authorization matrix');

it.before(async (ctx) => {
  // The invalid-token column sends a bad token for every row: raise the failed-auth burst for it.
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'], env: { CORRAL_FAILED_AUTH_BURST: '10000' } });
  const store = new TokenStore(join(ctx.server.dataDir, 'server', 'tokens.json'));
  ctx.tokens = {
    admin: ctx.server.token,
    viewer: store.create('viewer').token,
    join: store.create('join', { ttlSeconds: 3600 }).token,
    n1: store.mintNodeCredential('n1').token,
    n2: store.mintNodeCredential('n2').token,
  };
  const c = ctx.server.client;
  for (const n of ['n1', 'n2']) {
    await c.create('Node', undefined, { apiVersion: 'v1', kind: 'Node', metadata: meta(n), spec: { podCIDR: NODE_CIDR[n], podCIDRs: [NODE_CIDR[n]] } });
    await c.create('Lease', 'kube-node-lease', { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: meta(n, 'kube-node-lease'), spec: { holderIdentity: n } });
    await c.create('Secret', 'kube-system', { apiVersion: 'v1', kind: 'Secret', metadata: meta(`corral-kubelet-${n}`, 'kube-system'), data: { token: 'eA==' } });
    for (const s of [`s-${n}`, `pull-${n}`]) await c.create('Secret', 'default', { apiVersion: 'v1', kind: 'Secret', metadata: meta(s, 'default'), data: { k: 'eA==' } });
    await c.create('ConfigMap', 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(`c-${n}`, 'default'), data: { k: 'x' } });
    await c.create('PersistentVolume', undefined, {
      apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: `pv-${n}`, finalizers: ['corral.io/test-cleanup'] },
      spec: {
        capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: 'manual', persistentVolumeReclaimPolicy: 'Retain',
        hostPath: { path: `/srv/corral-authz/${n}` },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [n] }] }] } },
      },
    });
    await c.create('Pod', 'default', {
      apiVersion: 'v1', kind: 'Pod', metadata: meta(`p-${n}`, 'default'),
      spec: {
        nodeName: n,
        imagePullSecrets: [{ name: `pull-${n}` }],
        containers: [{ name: 'c', image: 'busybox', env: [{ name: 'A', valueFrom: { secretKeyRef: { name: `s-${n}`, key: 'k' } } }] }],
        volumes: [{ name: 'v', configMap: { name: `c-${n}` } }],
      },
    });
  }
  await c.create('Secret', 'default', { apiVersion: 'v1', kind: 'Secret', metadata: meta('unused', 'default'), data: { k: 'eA==' } });
  await c.create('Namespace', undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: meta('scratch') });
});

it.after(async (ctx) => {
  await ctx.server?.destroy();
});

async function answer(server: ServerProcess, token: string | undefined, row: Row, self: string, other: string): Promise<{ status: number; text: string }> {
  const http = new HttpsTransport({ server: server.url, caPem: server.caPem, ...(token !== undefined ? { token } : {}) });
  try {
    const body = row.body ? JSON.stringify(row.body(self, other)) : undefined;
    const headers: Record<string, string> = body === undefined ? {} : { 'content-type': row.method === 'PATCH' ? 'application/merge-patch+json' : 'application/json' };
    const res = await http.request({ method: row.method, path: row.path(self, other), headers, ...(body !== undefined ? { body } : {}) });
    return { status: res.status, text: await res.text() };
  } finally {
    http.close();
  }
}

function matches(expected: Expected, status: number): boolean {
  return expected === 'allowed' ? status !== 401 && status !== 403 : status === expected;
}

it('every role × route × verb gets the expected answer (node credentials against their own node and another)', async (ctx) => {
  const wrong: string[] = [];
  let cells = 0;
  const cases: { role: Role; label: string; token: string | undefined; self: string; other: string }[] = [
    { role: 'admin', label: 'admin', token: ctx.tokens.admin, self: 'n1', other: 'n2' },
    { role: 'viewer', label: 'viewer', token: ctx.tokens.viewer, self: 'n1', other: 'n2' },
    { role: 'join', label: 'join', token: ctx.tokens.join, self: 'n1', other: 'n2' },
    { role: 'node', label: 'node n1', token: ctx.tokens.n1, self: 'n1', other: 'n2' },
    { role: 'node', label: 'node n2', token: ctx.tokens.n2, self: 'n2', other: 'n1' },
    { role: 'anonymous', label: 'anonymous', token: undefined, self: 'n1', other: 'n2' },
    { role: 'invalid', label: 'invalid token', token: `${ctx.tokens.n1.split('.')[0]}.${'0'.repeat(32)}`, self: 'n1', other: 'n2' },
  ];
  for (const row of ROWS) {
    for (const k of cases) {
      const expected = row.expect[k.role] ?? 401;
      const got = await answer(ctx.server, k.token, row, k.self, k.other);
      cells++;
      if (!matches(expected, got.status)) wrong.push(`${k.label} ${row.what} (${row.method} ${row.path(k.self, k.other)}): want ${expected}, got ${got.status} ${got.text.slice(0, 300)}`);
    }
  }
  assert.ok(cells >= 7 * 60, `${cells} cells`);
  assert.equal(wrong, [], `${wrong.length} of ${cells} cells differ:\n${wrong.join('\n')}`);
});

it('Forbidden answers are upstream\'s Status, naming the user and why', async (ctx) => {
  const row = ROWS.find((r) => r.what === 'get another kubelet Secret')!;
  const got = await answer(ctx.server, ctx.tokens.n1, row, 'n1', 'n2');
  const status = JSON.parse(got.text) as { kind: string; reason: string; message: string; code: number };
  assert.is(status.kind, 'Status');
  assert.is(status.reason, 'Forbidden');
  assert.is(status.message, 'secrets "corral-kubelet-n2" is forbidden: User "system:node:n1" cannot get resource "secrets" in API group "" in the namespace "kube-system": no relationship found between node \'n1\' and this object');
});

it('system namespaces cannot be deleted, one by one or by deletecollection, and nothing else goes with them', async (ctx) => {
  const admin: Row = { what: 'delete kube-public', method: 'DELETE', path: () => '/api/v1/namespaces/kube-public', expect: { admin: 403, viewer: 403, join: 403, node: 403 } };
  const one = await answer(ctx.server, ctx.tokens.admin, admin, 'n1', 'n2');
  assert.is(one.status, 403);
  assert.match(one.text, 'namespaces \\"kube-public\\" is forbidden: this namespace may not be deleted');
  const all = await answer(ctx.server, ctx.tokens.admin, { ...admin, path: () => '/api/v1/namespaces' }, 'n1', 'n2');
  assert.is(all.status, 403, all.text);
  assert.match(all.text, 'this namespace may not be deleted');
  const names = (await ctx.server.client.list<KubeObject>('Namespace')).items.map((n) => [n.metadata.name, n.metadata.deletionTimestamp ?? '']);
  for (const n of ['default', 'kube-system', 'kube-public', 'kube-node-lease', 'scratch']) {
    assert.equal(names.find(([name]) => name === n), [n, ''], `${n} is still there and not terminating`);
  }
});

it.run();
