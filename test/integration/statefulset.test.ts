/**
 * StatefulSets and ControllerRevisions inside a real `corral server` with hollow nodes and the real
 * kubectl v1.32: ordered creation with stable names, hostname/subdomain and one local-path claim per
 * ordinal; a deleted pod comes back under its name on its volume's node; scale down in reverse order
 * keeps the claims; rolling update in reverse ordinal order honouring `partition`; `kubectl rollout
 * status|history|undo` and `kubectl scale`; Parallel management; claim retention policies; and
 * `kubectl rollout history/undo daemonset` through the DaemonSet's revisions.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ControllerRevision, DaemonSet, PersistentVolume, PersistentVolumeClaim, Pod, StatefulSet } from '../../api/types.js';
import { HollowNode } from '../support/hollow-node.js';
import { kubectl, ServerProcess } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

const it = suite<{ server: ServerProcess; nodes: HollowNode[] }>('statefulset');
const NS = 'default';
const waitFor = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> => waitUntil(what, fn, timeoutMs);

async function k(server: ServerProcess, args: string[], input?: string): Promise<string> {
  const r = await kubectl(server, args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

function statefulSet(name: string, o: { replicas?: number; policy?: string; retention?: Record<string, string>; partition?: number; image?: string; slowNode?: boolean } = {}): string {
  return JSON.stringify({
    apiVersion: 'apps/v1', kind: 'StatefulSet',
    metadata: { name },
    spec: {
      replicas: o.replicas ?? 3,
      serviceName: name,
      ...(o.policy ? { podManagementPolicy: o.policy } : {}),
      ...(o.retention ? { persistentVolumeClaimRetentionPolicy: o.retention } : {}),
      ...(o.partition !== undefined ? { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: o.partition } } } : {}),
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [{ name: 'app', image: o.image ?? 'busybox:1.36', volumeMounts: [{ name: 'data', mountPath: '/data' }] }], terminationGracePeriodSeconds: 0,
          ...(o.slowNode ? { nodeSelector: { speed: 'slow' }, tolerations: [{ key: 'speed', operator: 'Equal', value: 'slow', effect: 'NoSchedule' }] } : {}),
        },
      },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
    },
  });
}

const getPod = (s: ServerProcess, name: string): Promise<Pod | undefined> => s.client.tryGet<Pod>('Pod', NS, name);
const ready = (p: Pod | undefined): boolean => p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
const readySince = (p: Pod): number => Date.parse(p.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime ?? '');

async function podsOf(s: ServerProcess, app: string): Promise<Pod[]> {
  return (await s.client.list<Pod>('Pod', NS, { labelSelector: `app=${app}` })).items.filter((p) => !p.metadata.deletionTimestamp);
}

async function allReady(s: ServerProcess, app: string, n: number): Promise<Pod[]> {
  return waitFor(`${n} ready pods of ${app}`, async () => {
    const pods = await podsOf(s, app);
    return pods.length === n && pods.every(ready) && pods.sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!));
  });
}

async function volumeNode(s: ServerProcess, claim: string): Promise<string> {
  const c = await s.client.get<PersistentVolumeClaim>('PersistentVolumeClaim', NS, claim);
  const pv = await s.client.get<PersistentVolume>('PersistentVolume', undefined, c.spec.volumeName!);
  return pv.spec.nodeAffinity!.required!.nodeSelectorTerms[0]!.matchExpressions![0]!.values![0]!;
}

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start();
  ctx.nodes = [];
  for (const name of ['st-1', 'st-2', 'st-3']) ctx.nodes.push(await HollowNode.start(ctx.server.client, { name, readyDelayMs: 300 }));
  // Pods here stay unready for the whole test: only Parallel management creates more than one of them.
  ctx.nodes.push(await HollowNode.start(ctx.server.client, {
    name: 'st-slow', readyDelayMs: 600_000, labels: { speed: 'slow' }, taints: [{ key: 'speed', value: 'slow', effect: 'NoSchedule' }],
  }));
});

it.after(async (ctx) => {
  for (const n of ctx.nodes ?? []) n.stop();
  await ctx.server?.destroy();
});

it('creates pods in order with stable names, identities and one claim per ordinal', async ({ server }) => {
  await k(server, ['apply', '-f', '-'], statefulSet('web'));
  const out = await k(server, ['rollout', 'status', 'statefulset/web', '--timeout=60s']);
  assert.match(out, 'partitioned roll out complete: 3 new pods have been updated...');
  const pods = await allReady(server, 'web', 3);
  assert.equal(pods.map((p) => p.metadata.name), ['web-0', 'web-1', 'web-2']);
  for (const [i, p] of pods.entries()) {
    assert.is(p.spec.hostname, `web-${i}`);
    assert.is(p.spec.subdomain, 'web');
    assert.is(p.metadata.labels?.['statefulset.kubernetes.io/pod-name'], `web-${i}`);
    assert.is(p.metadata.labels?.['apps.kubernetes.io/pod-index'], String(i));
    assert.equal(p.spec.volumes?.find((v) => v.name === 'data')?.persistentVolumeClaim, { claimName: `data-web-${i}` });
    // Each pod runs where its local volume is.
    assert.is(await volumeNode(server, `data-web-${i}`), p.spec.nodeName);
  }
  // OrderedReady: each pod was created only after the one before it was Ready.
  assert.ok(Date.parse(pods[1]!.metadata.creationTimestamp!) >= Math.floor(readySince(pods[0]!) / 1000) * 1000);
  assert.ok(Date.parse(pods[2]!.metadata.creationTimestamp!) >= Math.floor(readySince(pods[1]!) / 1000) * 1000);
  const sts = await server.client.get<StatefulSet>('StatefulSet', NS, 'web');
  assert.is(sts.status?.readyReplicas, 3);
  assert.is(sts.status?.availableReplicas, 3);
  assert.is(sts.status?.currentRevision, sts.status?.updateRevision);
  assert.match(await k(server, ['get', 'sts', 'web']), /web\s+3\/3/);
});

it('a deleted pod comes back under its name on the node that holds its volume', async ({ server }) => {
  const before = (await getPod(server, 'web-1'))!;
  await k(server, ['delete', 'pod', 'web-1', '--wait=true']);
  const after = await waitFor('web-1 recreated and ready', async () => {
    const p = await getPod(server, 'web-1');
    return p && p.metadata.uid !== before.metadata.uid && ready(p) && p;
  });
  assert.is(after.spec.nodeName, before.spec.nodeName);
  assert.is(after.spec.volumes?.find((v) => v.name === 'data')?.persistentVolumeClaim?.claimName, 'data-web-1');
});

it('kubectl scale down removes the highest ordinals first and keeps their claims; scale up reuses them', async ({ server }) => {
  const nodes = new Map((await podsOf(server, 'web')).map((p) => [p.metadata.name!, p.spec.nodeName!]));
  const deletedAt = new Map<string, number>();
  const note = (pods: Pod[]): void => {
    for (const name of ['web-1', 'web-2']) if (!pods.some((p) => p.metadata.name === name) && !deletedAt.has(name)) deletedAt.set(name, Date.now());
  };
  const watcher = setInterval(() => { void podsOf(server, 'web').then(note); }, 50);
  await k(server, ['scale', 'statefulset/web', '--replicas=1']);
  // The wait's own reads count too: the last pod may go between two of the watcher's reads.
  await waitFor('one pod left', async () => {
    const pods = await podsOf(server, 'web');
    note(pods);
    return pods.length === 1;
  });
  clearInterval(watcher);
  assert.ok(deletedAt.get('web-2')! <= deletedAt.get('web-1')!, 'web-2 went before web-1');
  const claims = (await server.client.list<PersistentVolumeClaim>('PersistentVolumeClaim', NS)).items.map((c) => c.metadata.name).filter((n) => n?.startsWith('data-web-')).sort();
  assert.equal(claims, ['data-web-0', 'data-web-1', 'data-web-2']);
  await k(server, ['scale', 'statefulset/web', '--replicas=3']);
  const pods = await allReady(server, 'web', 3);
  for (const p of pods) assert.is(p.spec.nodeName, nodes.get(p.metadata.name!), `${p.metadata.name} back on its node`);
});

it('rolling update goes in reverse ordinal order and respects partition; rollout history and undo', async ({ server }) => {
  const before = new Map((await podsOf(server, 'web')).map((p) => [p.metadata.name!, p.metadata.uid!]));
  await k(server, ['patch', 'statefulset', 'web', '-p', '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}']);
  await k(server, ['set', 'image', 'statefulset/web', 'app=busybox:1.37']);
  const partial = await k(server, ['rollout', 'status', 'statefulset/web', '--timeout=60s']);
  assert.match(partial, 'partitioned roll out complete: 1 new pods have been updated...');
  let pods = await allReady(server, 'web', 3);
  assert.equal(pods.map((p) => p.spec.containers[0]!.image), ['busybox:1.36', 'busybox:1.36', 'busybox:1.37']);
  assert.is(pods[0]!.metadata.uid, before.get('web-0'));
  const sts = await server.client.get<StatefulSet>('StatefulSet', NS, 'web');
  assert.is(sts.status?.updatedReplicas, 1);
  assert.is(sts.status?.currentReplicas, 2);
  assert.is.not(sts.status?.currentRevision, sts.status?.updateRevision);

  await k(server, ['patch', 'statefulset', 'web', '-p', '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}']);
  await k(server, ['rollout', 'status', 'statefulset/web', '--timeout=60s']);
  pods = await allReady(server, 'web', 3);
  assert.equal(pods.map((p) => p.spec.containers[0]!.image), ['busybox:1.37', 'busybox:1.37', 'busybox:1.37']);
  // Reverse order: web-1 was replaced before web-0.
  assert.ok(Date.parse(pods[1]!.metadata.creationTimestamp!) <= Date.parse(pods[0]!.metadata.creationTimestamp!));
  const done = await waitFor('update revision current', async () => {
    const s = await server.client.get<StatefulSet>('StatefulSet', NS, 'web');
    return s.status?.currentRevision === s.status?.updateRevision && s;
  });
  assert.is(done.status?.currentReplicas, 3);

  const history = await k(server, ['rollout', 'history', 'statefulset/web']);
  assert.match(history, /REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>/);
  const revisions = (await server.client.list<ControllerRevision>('ControllerRevision', NS, { labelSelector: 'app=web' })).items;
  assert.is(revisions.length, 2);
  assert.match(await k(server, ['get', 'controllerrevisions']), /web-[0-9a-f]{10}\s+statefulset\.apps\/web\s+2/);

  assert.match(await k(server, ['rollout', 'undo', 'statefulset/web']), 'statefulset.apps/web rolled back');
  await waitFor('rolled back to 1.36', async () => {
    const list = await podsOf(server, 'web');
    return list.length === 3 && list.every((p) => ready(p) && p.spec.containers[0]!.image === 'busybox:1.36');
  }, 60_000);
  const after = await k(server, ['rollout', 'history', 'statefulset/web']);
  // The old template's revision was reused and renumbered as the newest.
  assert.match(after, /REVISION\s+CHANGE-CAUSE\n2\s+<none>\n3\s+<none>/);
});

it('Parallel creates every pod at once; retention policy Delete removes claims on scale down and deletion', async ({ server }) => {
  await k(server, ['apply', '-f', '-'], statefulSet('par', { replicas: 3, policy: 'Parallel', retention: { whenScaled: 'Delete', whenDeleted: 'Delete' }, slowNode: true }));
  // None of them gets Ready, yet all three run: Parallel does not wait.
  const pods = await waitFor('3 running pods of par', async () => {
    const list = await podsOf(server, 'par');
    return list.length === 3 && list.every((p) => p.status?.phase === 'Running') && list;
  });
  assert.ok(pods.every((p) => !ready(p) && p.spec.nodeName === 'st-slow'));
  await k(server, ['scale', 'statefulset/par', '--replicas=1']);
  await waitFor('scaled-away claims deleted', async () => {
    const names = (await server.client.list<PersistentVolumeClaim>('PersistentVolumeClaim', NS)).items
      .filter((c) => !c.metadata.deletionTimestamp).map((c) => c.metadata.name!).filter((n) => n.startsWith('data-par-'));
    return names.length === 1 && names[0] === 'data-par-0';
  });
  await k(server, ['delete', 'statefulset', 'par']);
  await waitFor('claims of a deleted set deleted', async () =>
    !(await server.client.list<PersistentVolumeClaim>('PersistentVolumeClaim', NS)).items.some((c) => c.metadata.name!.startsWith('data-par-')));
});

it('kubectl rollout history and undo work for DaemonSets', async ({ server }) => {
  const ds = {
    apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent' },
    spec: {
      selector: { matchLabels: { app: 'agent' } },
      template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'a', image: 'busybox:1.36' }], terminationGracePeriodSeconds: 0 } },
    },
  };
  await k(server, ['apply', '-f', '-'], JSON.stringify(ds));
  await k(server, ['rollout', 'status', 'daemonset/agent', '--timeout=60s']);
  await k(server, ['set', 'image', 'daemonset/agent', 'a=busybox:1.37']);
  await k(server, ['rollout', 'status', 'daemonset/agent', '--timeout=60s']);
  const history = await k(server, ['rollout', 'history', 'daemonset/agent']);
  assert.match(history, /REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>/);
  const detail = await k(server, ['rollout', 'history', 'daemonset/agent', '--revision=1']);
  assert.match(detail, 'busybox:1.36');
  assert.match(await k(server, ['rollout', 'undo', 'daemonset/agent']), 'daemonset.apps/agent rolled back');
  await waitFor('daemon pods back on 1.36', async () => {
    const pods = await podsOf(server, 'agent');
    return pods.length === 3 && pods.every((p) => ready(p) && p.spec.containers[0]!.image === 'busybox:1.36');
  }, 60_000);
  const current = await server.client.get<DaemonSet>('DaemonSet', NS, 'agent');
  assert.is(current.spec.template.spec.containers[0]!.image, 'busybox:1.36');
  assert.match(await k(server, ['rollout', 'history', 'daemonset/agent']), /REVISION\s+CHANGE-CAUSE\n2\s+<none>\n3\s+<none>/);
});

it.run();
