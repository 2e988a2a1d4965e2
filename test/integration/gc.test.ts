/**
 * Namespace deletion and garbage collection inside a real `corral server`: deleting a namespace
 * removes everything in it (pods on a hollow node, a ReplicaSet, a NodePort service whose port is
 * then free again) before the namespace goes; ownerReferences with background, foreground and orphan
 * propagation through `kubectl delete --cascade=...`; dependents of an owner that never existed go;
 * upstream's conformance cases: dependents that also have a live owner survive their other owner's
 * foreground deletion, and a foreground deletion through an ownership circle of pods finishes.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { KubeObject } from '../../api/meta.js';
import type { ConfigMap, Namespace, Pod, ReplicationController, Service } from '../../api/types.js';
import { HollowNode } from '../support/hollow-node.js';
import { kubectl, ServerProcess } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

const it = suite<{ server: ServerProcess; node: HollowNode }>('gc');

const waitFor = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> => waitUntil(what, fn, timeoutMs);

async function k(server: ServerProcess, args: string[], input?: string): Promise<string> {
  const r = await kubectl(server, args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function configMap(server: ServerProcess, name: string, owners: KubeObject[] = [], extra: Partial<KubeObject['metadata']> = {}): Promise<ConfigMap> {
  return server.client.create<ConfigMap>('ConfigMap', 'default', {
    apiVersion: 'v1', kind: 'ConfigMap',
    metadata: {
      name, ...extra,
      ...(owners.length > 0 ? { ownerReferences: owners.map((o) => ({ apiVersion: 'v1', kind: 'ConfigMap', name: o.metadata.name!, uid: o.metadata.uid!, blockOwnerDeletion: true })) } : {}),
    },
    data: { k: 'v' },
  });
}

const gone = (server: ServerProcess, kind: string, ns: string | undefined, name: string) => async (): Promise<boolean> => !(await server.client.tryGet(kind, ns, name));

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start();
  ctx.node = await HollowNode.start(ctx.server.client, { name: 'gc-node' });
});

it.after(async (ctx) => {
  ctx.node?.stop();
  await ctx.server?.destroy();
});

it('background: dependents of a deleted owner are deleted; a second live owner keeps one', async ({ server }) => {
  const parent = await configMap(server, 'bg-parent');
  const other = await configMap(server, 'bg-other');
  await configMap(server, 'bg-child-1', [parent]);
  await configMap(server, 'bg-child-2', [parent]);
  await configMap(server, 'bg-shared', [parent, other]);
  await k(server, ['delete', 'configmap', 'bg-parent']);
  await waitFor('children deleted', async () => (await gone(server, 'ConfigMap', 'default', 'bg-child-1')()) && gone(server, 'ConfigMap', 'default', 'bg-child-2')());
  const shared = await waitFor('dead reference dropped', async () => {
    const cm = await server.client.get<ConfigMap>('ConfigMap', 'default', 'bg-shared');
    return cm.metadata.ownerReferences?.length === 1 && cm;
  });
  assert.is(shared.metadata.ownerReferences![0]!.uid, other.metadata.uid);
});

it('a dependent whose owner never existed is deleted', async ({ server }) => {
  await configMap(server, 'dangling', [{ metadata: { name: 'ghost', uid: '00000000-0000-0000-0000-000000000000' } }]);
  await waitFor('dangling dependent deleted', gone(server, 'ConfigMap', 'default', 'dangling'));
});

it('foreground: the owner waits for its blocking dependents', async ({ server }) => {
  const parent = await configMap(server, 'fg-parent');
  await configMap(server, 'fg-child', [parent], { finalizers: ['test.corral.dev/hold'] });
  await k(server, ['delete', 'configmap', 'fg-parent', '--cascade=foreground', '--wait=false']);
  const child = await waitFor('child being deleted', async () => {
    const c = await server.client.get<ConfigMap>('ConfigMap', 'default', 'fg-child');
    return c.metadata.deletionTimestamp ? c : undefined;
  });
  const owner = await server.client.get<ConfigMap>('ConfigMap', 'default', 'fg-parent');
  assert.ok(owner.metadata.deletionTimestamp, 'owner is terminating');
  assert.ok(owner.metadata.finalizers?.includes('foregroundDeletion'));
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(await server.client.tryGet('ConfigMap', 'default', 'fg-parent'), 'owner stays while a blocking dependent exists');
  await server.client.patch('ConfigMap', 'default', 'fg-child', { metadata: { finalizers: null, resourceVersion: child.metadata.resourceVersion } });
  await waitFor('child gone', gone(server, 'ConfigMap', 'default', 'fg-child'));
  await waitFor('owner gone after its dependents', gone(server, 'ConfigMap', 'default', 'fg-parent'));
});

it('orphan: dependents stay and lose the reference', async ({ server }) => {
  const parent = await configMap(server, 'or-parent');
  await configMap(server, 'or-child', [parent]);
  await k(server, ['delete', 'configmap', 'or-parent', '--cascade=orphan']);
  await waitFor('owner gone', gone(server, 'ConfigMap', 'default', 'or-parent'));
  const child = await server.client.get<ConfigMap>('ConfigMap', 'default', 'or-child');
  assert.is(child.metadata.ownerReferences, undefined);
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(await server.client.tryGet('ConfigMap', 'default', 'or-child'), 'orphan survives');
});

const RS = (ns: string): string => `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web
  namespace: ${ns}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx
`;

it('cascading ReplicaSet deletion: foreground removes pods before the ReplicaSet, orphan keeps them', async ({ server }) => {
  await k(server, ['apply', '-f', '-'], RS('default'));
  const pods = async (): Promise<Pod[]> => (await server.client.list<Pod>('Pod', 'default', { labelSelector: 'app=web' })).items;
  await waitFor('2 running pods', async () => (await pods()).filter((p) => p.status?.phase === 'Running').length === 2);
  await k(server, ['delete', 'rs', 'web', '--cascade=orphan']);
  await waitFor('rs gone', gone(server, 'ReplicaSet', 'default', 'web'));
  const orphans = await pods();
  assert.is(orphans.length, 2);
  for (const p of orphans) assert.is(p.metadata.ownerReferences, undefined, 'pods orphaned');
  // Re-applying adopts them again; foreground deletion then takes them down first.
  await k(server, ['apply', '-f', '-'], RS('default'));
  await waitFor('pods adopted', async () => (await pods()).every((p) => p.metadata.ownerReferences?.some((r) => r.kind === 'ReplicaSet')));
  await k(server, ['delete', 'rs', 'web', '--cascade=foreground']);
  assert.is((await pods()).length, 0, 'kubectl returned only after the pods were gone');
  await waitFor('rs gone', gone(server, 'ReplicaSet', 'default', 'web'));
});

it('namespace deletion removes everything in it, then the namespace', async ({ server }) => {
  await k(server, ['create', 'namespace', 'doomed']);
  await k(server, ['apply', '-f', '-'], RS('doomed'));
  await k(server, ['-n', 'doomed', 'create', 'configmap', 'cfg', '--from-literal=a=b']);
  await k(server, ['-n', 'doomed', 'create', 'secret', 'generic', 'sec', '--from-literal=a=b']);
  const svc = await server.client.create<Service>('Service', 'doomed', {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'np' }, spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80, nodePort: 31999 }] },
  });
  assert.is(svc.spec.ports![0]!.nodePort, 31999);
  await waitFor('pods running in doomed', async () => (await server.client.list<Pod>('Pod', 'doomed')).items.filter((p) => p.status?.phase === 'Running').length === 2);
  await waitFor('endpoints in doomed', async () => !!(await server.client.tryGet('Endpoints', 'doomed', 'np')));

  await k(server, ['delete', 'namespace', 'doomed', '--wait=false']);
  const terminating = await server.client.get<Namespace>('Namespace', undefined, 'doomed');
  assert.is(terminating.status?.phase, 'Terminating');
  const withConditions = await waitFor('deletion conditions', async () => {
    const ns = await server.client.tryGet<Namespace>('Namespace', undefined, 'doomed');
    return ns?.status?.conditions?.some((c) => c.type === 'NamespaceContentRemaining') ? ns : undefined;
  }, 5000).catch(() => undefined);
  if (withConditions) assert.ok(withConditions.status!.conditions!.some((c) => c.type === 'NamespaceDeletionContentFailure' && c.status === 'False'));
  await waitFor('namespace gone', gone(server, 'Namespace', undefined, 'doomed'), 20_000);
  for (const kind of ['Pod', 'ReplicaSet', 'ConfigMap', 'Secret', 'Service', 'Endpoints']) {
    const left = await server.client.list(kind, 'doomed');
    assert.is(left.items.length, 0, `${kind} left in the deleted namespace`);
  }
  // The deleted service's node port is free again.
  const again = await server.client.create<Service>('Service', 'default', {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'np-again' }, spec: { type: 'NodePort', ports: [{ port: 80, nodePort: 31999 }] },
  });
  assert.is(again.spec.ports![0]!.nodePort, 31999);
});

const RC = (name: string, replicas: number): string => `apiVersion: v1
kind: ReplicationController
metadata:
  name: ${name}
spec:
  replicas: ${replicas}
  selector: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers:
      - name: c
        image: nginx
`;

it('foreground deletion keeps dependents that also have a live owner (upstream conformance)', async ({ server }) => {
  await k(server, ['apply', '-f', '-'], RC('rc-doomed', 4) + '---\n' + RC('rc-staying', 0));
  const stay = await server.client.get<ReplicationController>('ReplicationController', 'default', 'rc-staying');
  const pods = async (): Promise<Pod[]> => (await server.client.list<Pod>('Pod', 'default', { labelSelector: 'app=rc-doomed' })).items;
  const created = await waitFor('4 pods of rc-doomed', async () => { const p = await pods(); return p.length === 4 && p; });
  const shared = created.slice(0, 2).map((p) => p.metadata.name!);
  for (const name of shared) {
    // A strategic merge patch adds the second owner (ownerReferences merge by uid).
    await k(server, ['patch', 'pod', name, '--type=strategic', '-p', JSON.stringify({
      metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'ReplicationController', name: 'rc-staying', uid: stay.metadata.uid, blockOwnerDeletion: true }] },
    })]);
  }
  await k(server, ['delete', 'rc', 'rc-doomed', '--cascade=foreground', '--wait=false']);
  await waitFor('rc-doomed gone', gone(server, 'ReplicationController', 'default', 'rc-doomed'), 30_000);
  const left = await waitFor('only the shared pods left', async () => { const p = await pods(); return p.length === 2 && p; });
  assert.equal(left.map((p) => p.metadata.name).sort(), shared.sort());
  for (const p of left) {
    assert.is(p.metadata.deletionTimestamp, undefined, `${p.metadata.name} is not being deleted`);
    assert.equal(p.metadata.ownerReferences?.map((r) => r.uid), [stay.metadata.uid], 'only the live owner is left');
  }
  await k(server, ['delete', 'rc', 'rc-staying']);
  await waitFor('shared pods deleted with their last owner', async () => (await pods()).length === 0, 30_000);
});

function podOwnedBy(name: string, owner?: Pod): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name, labels: { circle: 'yes' },
      ...(owner ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: owner.metadata.name!, uid: owner.metadata.uid!, blockOwnerDeletion: true }] } : {}),
    },
    spec: { nodeName: 'gc-node', containers: [{ name: 'c', image: 'nginx' }] },
  };
}

it('foreground deletion through an ownership circle (A owns B owns C owns A) finishes and leaves no pods (upstream conformance)', async ({ server }) => {
  const a = await server.client.create<Pod>('Pod', 'default', podOwnedBy('circle-a'));
  const b = await server.client.create<Pod>('Pod', 'default', podOwnedBy('circle-b', a));
  const c = await server.client.create<Pod>('Pod', 'default', podOwnedBy('circle-c', b));
  // Close the circle: C owns A.
  await server.client.patch('Pod', 'default', 'circle-a', {
    metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'circle-c', uid: c.metadata.uid!, blockOwnerDeletion: true }] },
  }, 'merge');
  await waitFor('circle pods running', async () => (await server.client.list<Pod>('Pod', 'default', { labelSelector: 'circle=yes' })).items.every((p) => p.status?.phase === 'Running'));
  await server.client.delete('Pod', 'default', 'circle-a', { propagationPolicy: 'Foreground' });
  await waitFor('all three pods gone', async () => (await server.client.list<Pod>('Pod', 'default', { labelSelector: 'circle=yes' })).items.length === 0, 30_000);
});

it.run();
