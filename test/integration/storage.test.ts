/**
 * Persistent volumes inside a real `corral server` with hollow nodes: the binder's rules (class, size,
 * access modes, selector, best fit, pre-bound claims, Retain/Delete reclaim), the protection
 * finalizers (a claim in use by a pod stays until the pod is gone; a bound volume stays until
 * released), the local-path provisioner (a PV with node affinity on the node the scheduler picked,
 * cleanup left to that node's agent), impossible claims that stay Pending with an event saying why,
 * the hostPath roots rule, and the scheduler's volume filter, table-driven.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Event, PersistentVolume, PersistentVolumeClaim, Pod } from '../../api/types.js';
import { HollowNode } from '../support/hollow-node.js';
import { kubectl, ServerProcess } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

const it = suite<{ server: ServerProcess; nodes: HollowNode[] }>('storage');
const NS = 'default';

const waitFor = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> => waitUntil(what, fn, timeoutMs);

function hostPathPV(name: string, o: { size?: string; modes?: string[]; sc?: string; node?: string; labels?: Record<string, string>; reclaim?: string; path?: string } = {}): PersistentVolume {
  return {
    apiVersion: 'v1', kind: 'PersistentVolume',
    metadata: { name, ...(o.labels ? { labels: o.labels } : {}) },
    spec: {
      capacity: { storage: o.size ?? '1Gi' },
      accessModes: (o.modes ?? ['ReadWriteOnce']) as NonNullable<PersistentVolume['spec']['accessModes']>,
      storageClassName: o.sc ?? 'manual',
      persistentVolumeReclaimPolicy: (o.reclaim ?? 'Retain') as 'Retain',
      hostPath: { path: o.path ?? `/srv/corral-test/${name}` },
      ...(o.node ? { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In' as const, values: [o.node] }] }] } } } : {}),
    },
  };
}

function claim(name: string, o: { size?: string; modes?: string[]; sc?: string | null; selector?: Record<string, string>; volumeName?: string } = {}): PersistentVolumeClaim {
  return {
    apiVersion: 'v1', kind: 'PersistentVolumeClaim',
    metadata: { name, namespace: NS },
    spec: {
      accessModes: (o.modes ?? ['ReadWriteOnce']) as NonNullable<PersistentVolumeClaim['spec']['accessModes']>,
      resources: { requests: { storage: o.size ?? '1Gi' } },
      ...(o.sc === null ? {} : { storageClassName: o.sc ?? 'manual' }),
      ...(o.selector ? { selector: { matchLabels: o.selector } } : {}),
      ...(o.volumeName ? { volumeName: o.volumeName } : {}),
    },
  };
}

function podWithClaims(name: string, claims: string[]): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: NS },
    spec: {
      containers: [{ name: 'c', image: 'busybox', volumeMounts: claims.map((c) => ({ name: c, mountPath: `/data/${c}` })) }],
      volumes: claims.map((c) => ({ name: c, persistentVolumeClaim: { claimName: c } })),
      terminationGracePeriodSeconds: 0,
    },
  };
}

const getClaim = (s: ServerProcess, name: string): Promise<PersistentVolumeClaim> => s.client.get<PersistentVolumeClaim>('PersistentVolumeClaim', NS, name);
const getPV = (s: ServerProcess, name: string): Promise<PersistentVolume> => s.client.get<PersistentVolume>('PersistentVolume', undefined, name);

async function boundVolume(s: ServerProcess, name: string): Promise<string> {
  return waitFor(`claim ${name} bound`, async () => {
    const c = await getClaim(s, name);
    return c.status?.phase === 'Bound' && c.spec.volumeName;
  });
}

async function eventFor(s: ServerProcess, name: string, reason: string, kind?: string): Promise<Event> {
  return waitFor(`${reason} event for ${name}`, async () => {
    const list = await s.client.list<Event>('Event', NS, { fieldSelector: `involvedObject.name=${name}` });
    return list.items.find((e) => e.reason === reason && (kind === undefined || e.involvedObject.kind === kind));
  });
}

/** Holds for a while: the claim must still be Pending after the controllers had time to act. */
async function staysPending(s: ServerProcess, name: string): Promise<void> {
  await new Promise((r) => setTimeout(r, 1500));
  const c = await getClaim(s, name);
  assert.is(c.status?.phase, 'Pending', `${name} should stay Pending`);
  assert.is(c.spec.volumeName, undefined);
}

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start();
  ctx.nodes = [
    await HollowNode.start(ctx.server.client, { name: 'sv-1' }),
    await HollowNode.start(ctx.server.client, { name: 'sv-2' }),
    await HollowNode.start(ctx.server.client, { name: 'sv-3', capacity: { 'ephemeral-storage': '5Gi' } }),
  ];
});

it.after(async (ctx) => {
  for (const n of ctx.nodes ?? []) n.stop();
  await ctx.server?.destroy();
});

// ------------------------------------------------------------------ binding rules

it('binds the smallest matching volume: class, size, access modes and selector decide', async ({ server }) => {
  const c = server.client;
  await c.create('PersistentVolume', undefined, hostPathPV('bind-big', { size: '10Gi' }));
  await c.create('PersistentVolume', undefined, hostPathPV('bind-small', { size: '2Gi' }));
  await c.create('PersistentVolume', undefined, hostPathPV('bind-tiny', { size: '500Mi' }));
  await c.create('PersistentVolume', undefined, hostPathPV('bind-rwx', { size: '3Gi', modes: ['ReadWriteMany', 'ReadWriteOnce'] }));
  await c.create('PersistentVolume', undefined, hostPathPV('bind-gold', { size: '20Gi', labels: { tier: 'gold' } }));
  await c.create('PersistentVolume', undefined, hostPathPV('bind-other-class', { size: '1Gi', sc: 'other' }));
  const available = await waitFor('volumes Available', async () => {
    const pv = await getPV(server, 'bind-big');
    return pv.status?.phase === 'Available' && pv;
  });
  assert.ok(available.metadata.finalizers?.includes('kubernetes.io/pv-protection'));

  await c.create('PersistentVolumeClaim', NS, claim('want-1g', { size: '1Gi' }));
  assert.is(await boundVolume(server, 'want-1g'), 'bind-small');
  await c.create('PersistentVolumeClaim', NS, claim('want-rwx', { size: '1Gi', modes: ['ReadWriteMany'] }));
  assert.is(await boundVolume(server, 'want-rwx'), 'bind-rwx');
  await c.create('PersistentVolumeClaim', NS, claim('want-gold', { size: '1Gi', selector: { tier: 'gold' } }));
  assert.is(await boundVolume(server, 'want-gold'), 'bind-gold');

  const bound = await getClaim(server, 'want-1g');
  assert.equal(bound.status?.capacity, { storage: '2Gi' });
  assert.equal(bound.status?.accessModes, ['ReadWriteOnce']);
  assert.is(bound.metadata.annotations?.['pv.kubernetes.io/bind-completed'], 'yes');
  const pv = await waitFor('bind-small Bound', async () => { const v = await getPV(server, 'bind-small'); return v.status?.phase === 'Bound' && v; });
  assert.is(pv.spec.claimRef?.name, 'want-1g');
  assert.is(pv.spec.claimRef?.uid, bound.metadata.uid);

  const table = await kubectl(server, ['get', 'pvc', 'want-1g']);
  assert.match(table.stdout, /want-1g\s+Bound\s+bind-small\s+2Gi\s+RWO\s+manual\s+<unset>/);
});

it('a pre-bound claim gets exactly its volume', async ({ server }) => {
  await server.client.create('PersistentVolume', undefined, hostPathPV('prebound-a', { size: '1Gi' }));
  await server.client.create('PersistentVolume', undefined, hostPathPV('prebound-b', { size: '8Gi' }));
  await server.client.create('PersistentVolumeClaim', NS, claim('prebound', { size: '1Gi', volumeName: 'prebound-b' }));
  assert.is(await boundVolume(server, 'prebound'), 'prebound-b');
});

it('impossible claims stay Pending with an event that says why', async ({ server }) => {
  const c = server.client;
  await c.create('PersistentVolumeClaim', NS, claim('too-big', { size: '1Ti', sc: '' }));
  const tooBig = await eventFor(server, 'too-big', 'FailedBinding');
  assert.is(tooBig.message, 'no persistent volumes available for this claim and no storage class is set');
  await staysPending(server, 'too-big');

  await c.create('PersistentVolumeClaim', NS, claim('no-class', { sc: 'missing-class' }));
  assert.is((await eventFor(server, 'no-class', 'ProvisioningFailed')).message, 'storageclass.storage.k8s.io "missing-class" not found');

  await c.create('PersistentVolumeClaim', NS, claim('local-rwx', { sc: 'local-path', modes: ['ReadWriteMany'] }));
  const rwx = await eventFor(server, 'local-rwx', 'ProvisioningFailed');
  assert.is(rwx.type, 'Warning');
  assert.match(rwx.message ?? '', 'local-path volumes only support ReadWriteOnce and ReadWriteOncePod access modes, not ReadWriteMany');
  await staysPending(server, 'local-rwx');

  const zero = await kubectl(server, ['create', '-f', '-'], {
    input: JSON.stringify(claim('zero', { size: '0' })),
  });
  assert.is(zero.code, 1);
  assert.match(zero.stderr, 'spec.resources[storage]: Invalid value: "0": must be greater than zero');
});

it('a PersistentVolume may not point outside the allowed host path roots', async ({ server }) => {
  const r = await kubectl(server, ['create', '-f', '-'], { input: JSON.stringify(hostPathPV('etc', { path: '/etc' })) });
  assert.is(r.code, 1);
  assert.match(r.stderr, 'persistentvolumes "etc" is forbidden: spec.hostPath.path "/etc" is outside the directories the administrator allows');
  const sneaky = await kubectl(server, ['create', '-f', '-'], { input: JSON.stringify(hostPathPV('sneaky', { path: '/srv/../etc' })) });
  assert.is(sneaky.code, 1);
  assert.match(sneaky.stderr, `spec.hostPath.path: Invalid value: "/srv/../etc": must not contain '..'`);
});

// ------------------------------------------------------------------ protection and reclaim

it('a claim in use is not deleted until its pod is gone; a bound volume not until released', async ({ server }) => {
  const c = server.client;
  await c.create('PersistentVolume', undefined, hostPathPV('protect-pv', { size: '1Gi', sc: 'protect' }));
  await c.create('PersistentVolumeClaim', NS, claim('protect', { sc: 'protect' }));
  assert.is(await boundVolume(server, 'protect'), 'protect-pv');
  await c.create('Pod', NS, podWithClaims('protect-user', ['protect']));
  await waitFor('pod running', async () => (await c.get<Pod>('Pod', NS, 'protect-user')).status?.phase === 'Running');

  await c.delete('PersistentVolumeClaim', NS, 'protect');
  await c.delete('PersistentVolume', undefined, 'protect-pv');
  await new Promise((r) => setTimeout(r, 1500));
  const held = await getClaim(server, 'protect');
  assert.ok(held.metadata.deletionTimestamp, 'claim is terminating');
  assert.equal(held.metadata.finalizers, ['kubernetes.io/pvc-protection']);
  assert.ok((await getPV(server, 'protect-pv')).metadata.deletionTimestamp, 'volume is terminating but kept');
  const table = await kubectl(server, ['get', 'pvc', 'protect', '--no-headers']);
  assert.match(table.stdout, /protect\s+Terminating\s+protect-pv/);

  await c.delete('Pod', NS, 'protect-user', { gracePeriodSeconds: 0 });
  await waitFor('claim gone', async () => (await c.tryGet('PersistentVolumeClaim', NS, 'protect')) === undefined);
  // Released (claim gone), Retain keeps nothing holding it: the pv-protection finalizer goes and so does the object.
  await waitFor('volume gone', async () => (await c.tryGet('PersistentVolume', undefined, 'protect-pv')) === undefined);
});

it('reclaim: Retain keeps a Released volume, Delete of a static volume fails without touching data', async ({ server }) => {
  const c = server.client;
  await c.create('PersistentVolume', undefined, hostPathPV('keep-pv', { sc: 'keep' }));
  await c.create('PersistentVolume', undefined, hostPathPV('del-pv', { sc: 'del', reclaim: 'Delete' }));
  await c.create('PersistentVolumeClaim', NS, claim('keep', { sc: 'keep' }));
  await c.create('PersistentVolumeClaim', NS, claim('del', { sc: 'del' }));
  await boundVolume(server, 'keep');
  await boundVolume(server, 'del');
  await c.delete('PersistentVolumeClaim', NS, 'keep');
  await c.delete('PersistentVolumeClaim', NS, 'del');
  const kept = await waitFor('keep-pv Released', async () => { const v = await getPV(server, 'keep-pv'); return v.status?.phase === 'Released' && v; });
  assert.is(kept.spec.claimRef?.name, 'keep');
  const failed = await waitFor('del-pv Failed', async () => { const v = await getPV(server, 'del-pv'); return v.status?.phase === 'Failed' && v; });
  assert.match(failed.status?.message ?? '', 'corral only deletes volumes made by rancher.io/local-path');
  // A new claim of the same class does not take a Released volume.
  await c.create('PersistentVolumeClaim', NS, claim('keep-again', { sc: 'keep' }));
  await staysPending(server, 'keep-again');
});

// ------------------------------------------------------------------ local-path and the scheduler

it('local-path: the default class provisions a volume on the node the scheduler chose', async ({ server }) => {
  const c = server.client;
  await c.create('PersistentVolumeClaim', NS, claim('lp-data', { sc: null, size: '2Gi' }));
  const created = await getClaim(server, 'lp-data');
  assert.is(created.spec.storageClassName, 'local-path');
  assert.is((await eventFor(server, 'lp-data', 'WaitForFirstConsumer')).message, 'waiting for first consumer to be created before binding');
  await staysPending(server, 'lp-data');

  await c.create('Pod', NS, podWithClaims('lp-user', ['lp-data']));
  const volumeName = await boundVolume(server, 'lp-data');
  const pod = await waitFor('pod bound', async () => { const p = await c.get<Pod>('Pod', NS, 'lp-user'); return p.spec.nodeName ? p : undefined; });
  const bound = await getClaim(server, 'lp-data');
  assert.is(bound.metadata.annotations?.['volume.kubernetes.io/selected-node'], pod.spec.nodeName);
  assert.is(volumeName, `pvc-${bound.metadata.uid}`);
  const pv = await getPV(server, volumeName);
  assert.is(pv.spec.hostPath?.path, `${server.dataDir}/storage/pvc-${bound.metadata.uid}_default_lp-data`);
  assert.equal(pv.spec.nodeAffinity?.required?.nodeSelectorTerms[0]?.matchExpressions?.[0]?.values, [pod.spec.nodeName]);
  assert.is(pv.spec.persistentVolumeReclaimPolicy, 'Delete');
  assert.is(pv.metadata.annotations?.['pv.kubernetes.io/provisioned-by'], 'rancher.io/local-path');
  assert.ok(pv.metadata.finalizers?.includes('corral.dev/local-path-cleanup'));
  assert.is((await eventFor(server, 'lp-data', 'ProvisioningSucceeded')).message, `Successfully provisioned volume ${volumeName}`);

  // Deleting pod and claim releases and deletes the volume; the node's agent must remove the directory
  // before the object goes (hollow nodes have no agent, so it waits on the cleanup finalizer).
  await c.delete('Pod', NS, 'lp-user', { gracePeriodSeconds: 0 });
  await c.delete('PersistentVolumeClaim', NS, 'lp-data');
  const deleting = await waitFor('volume being deleted', async () => { const v = await getPV(server, volumeName); return v.metadata.deletionTimestamp ? v : undefined; });
  await waitFor('only the cleanup finalizer left', async () => {
    const v = await getPV(server, volumeName);
    return v.metadata.finalizers?.length === 1 && v.metadata.finalizers[0] === 'corral.dev/local-path-cleanup';
  });
  assert.is(deleting.status?.phase, 'Released');
});

interface FilterCase {
  name: string;
  /** Objects to create first. */
  setup: (s: ServerProcess) => Promise<void>;
  claims: string[];
  /** The node the pod must land on, or the FailedScheduling message. */
  node?: string;
  message?: string;
}

const PREEMPT_NONE = 'preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.';

const FILTER_CASES: FilterCase[] = [
  {
    name: 'a claim bound to a node-local volume pins the pod to that node',
    setup: async (s) => {
      await s.client.create('PersistentVolume', undefined, hostPathPV('local-on-2', { sc: 'pin', node: 'sv-2' }));
      await s.client.create('PersistentVolumeClaim', NS, claim('pin-2', { sc: 'pin' }));
      await boundVolume(s, 'pin-2');
    },
    claims: ['pin-2'],
    node: 'sv-2',
  },
  {
    name: 'a missing claim',
    setup: async () => {},
    claims: ['nope'],
    message: `0/3 nodes are available: persistentvolumeclaim "nope" not found. ${PREEMPT_NONE}`,
  },
  {
    name: 'an unbound Immediate claim',
    setup: async (s) => {
      await s.client.create('StorageClass', undefined, { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'static-now' }, provisioner: 'kubernetes.io/no-provisioner' });
      await s.client.create('PersistentVolumeClaim', NS, claim('immediate', { sc: 'static-now' }));
    },
    claims: ['immediate'],
    message: `0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. ${PREEMPT_NONE}`,
  },
  {
    name: 'a WaitForFirstConsumer static volume decides the node',
    setup: async (s) => {
      await s.client.create('StorageClass', undefined, { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'static-late' }, provisioner: 'kubernetes.io/no-provisioner', volumeBindingMode: 'WaitForFirstConsumer' });
      await s.client.create('PersistentVolume', undefined, hostPathPV('late-on-3', { sc: 'static-late', node: 'sv-3' }));
      await s.client.create('PersistentVolumeClaim', NS, claim('late', { sc: 'static-late' }));
    },
    claims: ['late'],
    node: 'sv-3',
  },
  {
    name: 'no node has a free static volume of the class',
    setup: async (s) => { await s.client.create('PersistentVolumeClaim', NS, claim('late-none', { sc: 'static-late', size: '50Gi' })); },
    claims: ['late-none'],
    message: `0/3 nodes are available: 3 node(s) didn't find available persistent volumes to bind. ${PREEMPT_NONE}`,
  },
  {
    name: 'local-path skips nodes whose filesystem is too small',
    setup: async (s) => { await s.client.create('PersistentVolumeClaim', NS, claim('lp-20g', { sc: 'local-path', size: '20Gi' })); },
    claims: ['lp-20g'],
    node: 'sv-1|sv-2',
  },
  {
    name: 'local-path asking more than any node has',
    setup: async (s) => { await s.client.create('PersistentVolumeClaim', NS, claim('lp-huge', { sc: 'local-path', size: '1Ti' })); },
    claims: ['lp-huge'],
    message: `0/3 nodes are available: 3 node(s) did not have enough free storage. ${PREEMPT_NONE}`,
  },
  {
    name: 'two claims on volumes of different nodes conflict everywhere',
    setup: async (s) => {
      await s.client.create('PersistentVolume', undefined, hostPathPV('local-on-1', { sc: 'pin', node: 'sv-1' }));
      await s.client.create('PersistentVolumeClaim', NS, claim('pin-1', { sc: 'pin' }));
      await boundVolume(s, 'pin-1');
    },
    claims: ['pin-1', 'pin-2'],
    message: `0/3 nodes are available: 3 node(s) had volume node affinity conflict. ${PREEMPT_NONE}`,
  },
];

it('the scheduler volume filter (table)', async ({ server }) => {
  for (const [i, tc] of FILTER_CASES.entries()) {
    await tc.setup(server);
    const name = `vf-${i}`;
    await server.client.create('Pod', NS, podWithClaims(name, tc.claims));
    if (tc.node !== undefined) {
      const node = await waitFor(`${tc.name}: pod bound`, async () => (await server.client.get<Pod>('Pod', NS, name)).spec.nodeName);
      assert.ok(tc.node.split('|').includes(node), `${tc.name}: landed on ${node}, wanted ${tc.node}`);
    } else {
      const ev = await eventFor(server, name, 'FailedScheduling');
      assert.is(ev.message, tc.message, tc.name);
      assert.is((await server.client.get<Pod>('Pod', NS, name)).spec.nodeName, undefined, tc.name);
    }
  }
});

it('a pod whose local volume is on a lost node is not started elsewhere, and says why', async ({ server, nodes }) => {
  const c = server.client;
  await c.create('PersistentVolume', undefined, hostPathPV('lost-pv', { sc: 'lost', node: 'sv-1' }));
  await c.create('PersistentVolumeClaim', NS, claim('lost', { sc: 'lost' }));
  await boundVolume(server, 'lost');
  await c.patch('Node', undefined, 'sv-1', { spec: { unschedulable: true } });
  await c.create('Pod', NS, podWithClaims('lost-user', ['lost']));
  const ev = await eventFor(server, 'lost-user', 'FailedScheduling');
  assert.is(ev.message, '0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) had volume node affinity conflict. ' + PREEMPT_NONE);
  await c.patch('Node', undefined, 'sv-1', { spec: { unschedulable: false } });
  const node = await waitFor('placed once its node is back', async () => (await c.get<Pod>('Pod', NS, 'lost-user')).spec.nodeName);
  assert.is(node, 'sv-1');
  assert.ok(nodes.length === 3);
});

it.run();
