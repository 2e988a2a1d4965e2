/**
 * ReplicationController, ReplicaSet and Deployment controllers inside a real `corral server`, with
 * hollow nodes reporting pod status and the real kubectl driving them: the seeds' nginx examples,
 * scaling, adoption and release, scale-down order, rollouts (RollingUpdate within maxUnavailable and
 * maxSurge, Recreate), rollout status/history/undo/restart/pause/resume, history limits and the
 * progress deadline; a client's status patch is corrected by the controller.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Deployment, Event, Pod, ReplicaSet, ReplicationController } from '../../api/types.js';
import { HollowNode } from '../support/hollow-node.js';
import { kubectl, ServerProcess, type KubectlResult } from '../support/server-process.js';
import { slowStartBatch } from '../../server/controllers/pod-control.js';
import { waitUntil } from '../support/wait.js';

const it = suite<{ server: ServerProcess; nodes: HollowNode[] }>('workloads');

const waitFor = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> => waitUntil(what, fn, timeoutMs);

async function k(server: ServerProcess, args: string[], input?: string): Promise<KubectlResult> {
  const r = await kubectl(server, args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r;
}

/** Active (not terminating, not finished) pods with this label selector. */
async function activePods(server: ServerProcess, selector: string): Promise<Pod[]> {
  const list = await server.client.list<Pod>('Pod', 'default', { labelSelector: selector });
  return list.items.filter((p) => !p.metadata.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
}

function isReady(p: Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

async function readyCount(server: ServerProcess, selector: string, n: number): Promise<Pod[]> {
  return waitFor(`${n} ready pods for ${selector}`, async () => {
    const pods = await activePods(server, selector);
    return pods.length === n && pods.every(isReady) && pods;
  });
}

async function replicaSetsOf(server: ServerProcess, deployment: string): Promise<ReplicaSet[]> {
  const d = await server.client.get<Deployment>('Deployment', 'default', deployment);
  const list = await server.client.list<ReplicaSet>('ReplicaSet', 'default');
  return list.items.filter((rs) => rs.metadata.ownerReferences?.some((r) => r.uid === d.metadata.uid && r.controller));
}

function deploymentYaml(name: string, o: { replicas: number; image?: string; strategy?: string; extra?: string; labels?: string } = { replicas: 3 }): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: ${o.replicas}
  selector:
    matchLabels:
      app: ${name}
${o.strategy ?? ''}${o.extra ?? ''}  template:
    metadata:
      labels:
        app: ${name}
    spec:
      containers:
      - name: nginx
        image: ${o.image ?? 'nginx'}
`;
}

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start();
  const capacity = { cpu: '8', memory: '16Gi', pods: 50 };
  ctx.nodes = [];
  for (const name of ['w1', 'w2', 'w3']) {
    ctx.nodes.push(await HollowNode.start(ctx.server.client, { name, capacity, readyDelayMs: 300 }));
  }
});

it.after(async (ctx) => {
  for (const n of ctx.nodes ?? []) n.stop();
  await ctx.server?.destroy();
});

it('ReplicationController nginx keeps 3 pods when one is deleted', async ({ server }) => {
  await k(server, ['apply', '-f', '-'], `apiVersion: v1
kind: ReplicationController
metadata:
  name: nginx
spec:
  replicas: 3
  selector:
    app: nginx
  template:
    metadata:
      name: nginx
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx
        ports:
        - containerPort: 80
`);
  const pods = await readyCount(server, 'app=nginx', 3);
  const rc = await server.client.get<ReplicationController>('ReplicationController', 'default', 'nginx');
  for (const p of pods) {
    assert.equal(p.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.uid, r.controller]), [['ReplicationController', 'nginx', rc.metadata.uid, true]]);
    assert.ok(p.metadata.name!.startsWith('nginx-'));
  }
  const victim = pods[0]!.metadata.name!;
  await k(server, ['delete', 'pod', victim]);
  const after = await readyCount(server, 'app=nginx', 3);
  assert.not.ok(after.some((p) => p.metadata.name === victim));
  const status = await waitFor('RC status', async () => {
    const r = await server.client.get<ReplicationController>('ReplicationController', 'default', 'nginx');
    return r.status?.readyReplicas === 3 && r.status.availableReplicas === 3 && r.status;
  });
  assert.is(status.replicas, 3);
  assert.is(status.fullyLabeledReplicas, 3);
  assert.is(status.observedGeneration, rc.metadata.generation);
  const events = await server.client.list<Event>('Event', 'default', { fieldSelector: 'involvedObject.name=nginx' });
  assert.ok(events.items.some((e) => e.reason === 'SuccessfulCreate' && e.source?.component === 'replication-controller' && /^Created pod: nginx-/.test(e.message ?? '')));
  assert.ok(events.items.some((e) => e.reason === 'SuccessfulDelete') === false, 'no deletes yet');
});

it('kubectl scale rc/nginx up to 5, then down deleting the not-ready pod first', async ({ server, nodes }) => {
  const out = await k(server, ['scale', '--replicas=5', 'rc/nginx']);
  assert.match(out.stdout, 'replicationcontroller/nginx scaled');
  const five = await readyCount(server, 'app=nginx', 5);
  // One pod turns unready: scaling down by one must pick it.
  const sick = five[2]!;
  const node = nodes.find((n) => n.name === sick.spec.nodeName)!;
  await node.setReady('default', sick.metadata.name!, false);
  await waitFor('RC sees 4 ready', async () => (await server.client.get<ReplicationController>('ReplicationController', 'default', 'nginx')).status?.readyReplicas === 4);
  await k(server, ['scale', '--replicas=4', 'rc/nginx']);
  const four = await readyCount(server, 'app=nginx', 4);
  assert.not.ok(four.some((p) => p.metadata.name === sick.metadata.name), 'the not-ready pod was deleted');
  // Events are written asynchronously: wait for this one rather than expecting it already stored.
  await waitFor('SuccessfulDelete event for the not-ready pod', async () => {
    const events = await server.client.list<Event>('Event', 'default', { fieldSelector: 'involvedObject.name=nginx' });
    return events.items.some((e) => e.reason === 'SuccessfulDelete' && e.message === `Deleted pod: ${sick.metadata.name}`);
  }, 5000);
});

it('adopts a matching orphan and releases a pod whose labels stop matching', async ({ server }) => {
  await k(server, ['scale', '--replicas=2', 'rc/nginx']);
  await readyCount(server, 'app=nginx', 2);
  const rc = await server.client.get<ReplicationController>('ReplicationController', 'default', 'nginx');
  // An orphan with the RC's labels: adopted, and as the surplus third replica the newest is deleted.
  await server.client.create('Pod', 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'stray', labels: { app: 'nginx' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } });
  await waitFor('orphan adopted or removed and 2 replicas kept', async () => {
    const pods = await activePods(server, 'app=nginx');
    return pods.length === 2 && pods.every((p) => p.metadata.ownerReferences?.[0]?.uid === rc.metadata.uid);
  });
  // Relabel an owned pod: released (ownerReference dropped) and replaced.
  const [first] = await activePods(server, 'app=nginx');
  await k(server, ['label', 'pod', first!.metadata.name!, 'app=elsewhere', '--overwrite']);
  const released = await waitFor('pod released', async () => {
    const p = await server.client.get<Pod>('Pod', 'default', first!.metadata.name!);
    return (p.metadata.ownerReferences ?? []).length === 0 && p;
  });
  assert.is(released.metadata.labels?.['app'], 'elsewhere');
  await readyCount(server, 'app=nginx', 2);
  await server.client.delete('Pod', 'default', first!.metadata.name!, { gracePeriodSeconds: 0 });
});

it('after a client patches an RC\'s status, the controller restores the real counts (upstream RC lifecycle)', async ({ server }) => {
  await waitFor('RC reports 2 available', async () => (await server.client.get<ReplicationController>('ReplicationController', 'default', 'nginx')).status?.availableReplicas === 2);
  const out = await k(server, ['patch', 'rc', 'nginx', '--subresource=status', '--type=merge', '-p', '{"status":{"readyReplicas":0,"availableReplicas":0}}']);
  assert.match(out.stdout, 'replicationcontroller/nginx patched');
  const restored = await waitFor('available replicas restored', async () => {
    const r = await server.client.get<ReplicationController>('ReplicationController', 'default', 'nginx');
    return r.status?.availableReplicas === 2 && r.status.readyReplicas === 2 && r;
  }, 5000);
  assert.is(restored.status?.replicas, 2);
});

it('ReplicaSets create in slow-start batches and report a rejected template as ReplicaFailure', async ({ server }) => {
  // The batching itself: 1, then 2, then 4 at once … and nothing after a batch with a failure.
  const trace: string[] = [];
  const result = await slowStartBatch(20, 1, async (i) => {
    trace.push(`start ${i}`);
    await new Promise((r) => setTimeout(r, 5));
    trace.push(`end ${i}`);
    if (i === 5) throw new Error('rejected');
  });
  const starts = trace.map((t, pos) => [t, pos] as const).filter(([t]) => t.startsWith('start'));
  assert.equal(starts.map(([t]) => t), ['start 0', 'start 1', 'start 2', 'start 3', 'start 4', 'start 5', 'start 6']);
  // Each batch starts only after the previous one ended, and all of a batch starts together.
  assert.equal(trace.slice(0, 4), ['start 0', 'end 0', 'start 1', 'start 2']);
  assert.equal(trace.slice(6, 10), ['start 3', 'start 4', 'start 5', 'start 6']);
  assert.equal([result.succeeded, result.skipped], [6, 13]);
  assert.instance(result.error, Error);

  // A template the API accepts for the ReplicaSet but refuses for pods (a bare custom finalizer):
  // one failed create per attempt, not twenty, and the failure reported as ReplicaFailure.
  await server.client.create('ReplicaSet', 'default', {
    apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'broken' },
    spec: { replicas: 20, selector: { matchLabels: { app: 'broken' } }, template: { metadata: { labels: { app: 'broken' }, finalizers: ['unqualified'] }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
  });
  const failure = await waitFor('ReplicaFailure condition', async () => {
    const x = await server.client.get<ReplicaSet>('ReplicaSet', 'default', 'broken');
    return x.status?.conditions?.find((c) => c.type === 'ReplicaFailure');
  });
  assert.equal([failure.status, failure.reason], ['True', 'FailedCreate']);
  await new Promise((r) => setTimeout(r, 1000));
  const failedCreates = (await server.client.list<Event>('Event', 'default', { fieldSelector: 'involvedObject.name=broken' })).items
    .filter((e) => e.reason === 'FailedCreate').reduce((n, e) => n + (e.count ?? 1), 0);
  assert.ok(failedCreates >= 1 && failedCreates <= 8, `${failedCreates} failed creates in ~1 s`);
  assert.is((await activePods(server, 'app=broken')).length, 0);
  await server.client.delete('ReplicaSet', 'default', 'broken');

  // A real ReplicaSet of 20 gets there, with one SuccessfulCreate per pod recorded.
  await server.client.create('ReplicaSet', 'default', {
    apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'twenty' },
    spec: { replicas: 20, selector: { matchLabels: { app: 'twenty' } }, template: { metadata: { labels: { app: 'twenty' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
  });
  await readyCount(server, 'app=twenty', 20);
  const rs = await waitFor('RS status 20 available', async () => {
    const x = await server.client.get<ReplicaSet>('ReplicaSet', 'default', 'twenty');
    return x.status?.availableReplicas === 20 && x;
  });
  assert.is(rs.status?.replicas, 20);
  await server.client.delete('ReplicaSet', 'default', 'twenty');
});

it('Deployment rolls nginx → nginx:latest: rollout status, history, undo', async ({ server }) => {
  await k(server, ['apply', '-f', '-'], deploymentYaml('web', { replicas: 3 }));
  const first = await k(server, ['rollout', 'status', 'deployment/web', '--timeout=30s']);
  assert.match(first.stdout, 'deployment "web" successfully rolled out');
  const [rs1] = await replicaSetsOf(server, 'web');
  assert.ok(rs1);
  const hash = rs1!.metadata.labels?.['pod-template-hash'];
  assert.ok(hash);
  assert.is(rs1!.metadata.name, `web-${hash}`);
  assert.is(rs1!.spec.selector.matchLabels?.['pod-template-hash'], hash);
  assert.is(rs1!.metadata.annotations?.['deployment.kubernetes.io/revision'], '1');
  assert.is(rs1!.metadata.annotations?.['deployment.kubernetes.io/desired-replicas'], '3');
  assert.is(rs1!.metadata.annotations?.['deployment.kubernetes.io/max-replicas'], '4');

  await k(server, ['set', 'image', 'deployment/web', 'nginx=nginx:latest']);
  const rolled = await k(server, ['rollout', 'status', 'deployment/web', '--timeout=30s']);
  assert.match(rolled.stdout, 'successfully rolled out');
  const d = await server.client.get<Deployment>('Deployment', 'default', 'web');
  assert.is(d.metadata.annotations?.['deployment.kubernetes.io/revision'], '2');
  assert.is(d.status?.observedGeneration, d.metadata.generation);
  assert.equal([d.status?.replicas, d.status?.updatedReplicas, d.status?.readyReplicas, d.status?.availableReplicas], [3, 3, 3, 3]);
  const progressing = d.status?.conditions?.find((c) => c.type === 'Progressing');
  assert.is(progressing?.reason, 'NewReplicaSetAvailable');
  assert.is(d.status?.conditions?.find((c) => c.type === 'Available')?.status, 'True');
  const pods = await readyCount(server, 'app=web', 3);
  assert.ok(pods.every((p) => p.spec.containers[0]!.image === 'nginx:latest'));

  const history = await k(server, ['rollout', 'history', 'deployment/web']);
  assert.match(history.stdout, /REVISION\s+CHANGE-CAUSE/);
  assert.match(history.stdout, /^1\s/m);
  assert.match(history.stdout, /^2\s/m);

  const undo = await k(server, ['rollout', 'undo', 'deployment/web']);
  assert.match(undo.stdout, 'deployment.apps/web rolled back');
  await k(server, ['rollout', 'status', 'deployment/web', '--timeout=30s']);
  const back = await readyCount(server, 'app=web', 3);
  assert.ok(back.every((p) => p.spec.containers[0]!.image === 'nginx'), 'old template is back');
  const rss = await replicaSetsOf(server, 'web');
  assert.is(rss.length, 2, 'the old ReplicaSet was reused');
  const reused = rss.find((rs) => rs.metadata.name === rs1!.metadata.name)!;
  assert.is(reused.metadata.annotations?.['deployment.kubernetes.io/revision'], '3');
  assert.is(reused.metadata.annotations?.['deployment.kubernetes.io/revision-history'], '1');
  assert.is(reused.spec.replicas, 3);
  assert.is(rss.find((rs) => rs !== reused)!.spec.replicas, 0);
});

it('a Deployment adopting a ReplicaSet at revision 3546343826724305832 gives its new ReplicaSet the next revision exactly', async ({ server }) => {
  const labels = { name: 'sample-pod', pod: 'httpd' };
  await server.client.create<ReplicaSet>('ReplicaSet', 'default', {
    apiVersion: 'apps/v1', kind: 'ReplicaSet',
    metadata: { name: 'big-revision-controller', labels, annotations: { 'deployment.kubernetes.io/revision': '3546343826724305832' } },
    spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'httpd', image: 'httpd' }] } } },
  });
  await readyCount(server, 'name=sample-pod', 1);
  await server.client.create<Deployment>('Deployment', 'default', {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'big-revision' },
    spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'agnhost', image: 'agnhost' }] } } },
  });
  const rolled = await k(server, ['rollout', 'status', 'deployment/big-revision', '--timeout=30s']);
  assert.match(rolled.stdout, 'successfully rolled out');
  const rss = await replicaSetsOf(server, 'big-revision');
  assert.is(rss.length, 2, 'the old ReplicaSet was adopted');
  const newRS = rss.find((rs) => rs.metadata.name !== 'big-revision-controller')!;
  assert.is(newRS.metadata.annotations?.['deployment.kubernetes.io/revision'], '3546343826724305833');
  const d = await server.client.get<Deployment>('Deployment', 'default', 'big-revision');
  assert.is(d.metadata.annotations?.['deployment.kubernetes.io/revision'], '3546343826724305833');
  const old = await server.client.get<ReplicaSet>('ReplicaSet', 'default', 'big-revision-controller');
  assert.is(old.spec.replicas, 0, 'the adopted ReplicaSet was scaled down');
  await k(server, ['delete', 'deployment', 'big-revision']);
});

it('rollout restart, pause and resume', async ({ server }) => {
  await k(server, ['rollout', 'restart', 'deployment/web']);
  await k(server, ['rollout', 'status', 'deployment/web', '--timeout=30s']);
  let rss = await replicaSetsOf(server, 'web');
  assert.is(rss.length, 3);
  const restarted = rss.find((rs) => rs.metadata.annotations?.['deployment.kubernetes.io/revision'] === '4')!;
  assert.ok(restarted.spec.template?.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt']);

  await k(server, ['rollout', 'pause', 'deployment/web']);
  await k(server, ['set', 'image', 'deployment/web', 'nginx=nginx:1.27']);
  await waitFor('paused condition', async () => {
    const d = await server.client.get<Deployment>('Deployment', 'default', 'web');
    return d.status?.conditions?.find((c) => c.type === 'Progressing')?.reason === 'DeploymentPaused';
  });
  await new Promise((r) => setTimeout(r, 500));
  rss = await replicaSetsOf(server, 'web');
  assert.is(rss.length, 3, 'no rollout while paused');
  // Scaling still works while paused.
  await k(server, ['scale', 'deployment/web', '--replicas=4']);
  await readyCount(server, 'app=web', 4);
  await k(server, ['rollout', 'resume', 'deployment/web']);
  await k(server, ['rollout', 'status', 'deployment/web', '--timeout=30s']);
  const pods = await readyCount(server, 'app=web', 4);
  assert.ok(pods.every((p) => p.spec.containers[0]!.image === 'nginx:1.27'));
});

it('RollingUpdate honours maxUnavailable and maxSurge while pods become ready with a delay', async ({ server }) => {
  await k(server, ['apply', '-f', '-'], deploymentYaml('roll', {
    replicas: 4,
    strategy: '  strategy:\n    type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 1\n      maxUnavailable: 1\n',
  }));
  await k(server, ['rollout', 'status', 'deployment/roll', '--timeout=30s']);
  await readyCount(server, 'app=roll', 4);
  const samples: { ready: number; total: number; specSum: number }[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const [pods, rss] = await Promise.all([activePods(server, 'app=roll'), replicaSetsOf(server, 'roll')]);
      samples.push({ ready: pods.filter(isReady).length, total: pods.length, specSum: rss.reduce((n, rs) => n + (rs.spec.replicas ?? 0), 0) });
      await new Promise((r) => setTimeout(r, 30));
    }
  })();
  await k(server, ['set', 'image', 'deployment/roll', 'nginx=nginx:latest']);
  await k(server, ['rollout', 'status', 'deployment/roll', '--timeout=40s']);
  sampling = false;
  await sampler;
  const minReady = Math.min(...samples.map((s) => s.ready));
  const maxSpec = Math.max(...samples.map((s) => s.specSum));
  console.log(`  rolling update: ${samples.length} samples, min ready ${minReady} (≥ 3), max RS replicas ${maxSpec} (≤ 5)`);
  assert.ok(samples.length > 5);
  assert.ok(minReady >= 3, `ready dropped to ${minReady}`);
  assert.ok(maxSpec <= 5, `surged to ${maxSpec}`);
  assert.ok(samples.some((s) => s.specSum === 5), 'the surge was used');
});

it('scaling a stuck rollout is proportional over the old and new ReplicaSets', async ({ server }) => {
  await k(server, ['apply', '-f', '-'], deploymentYaml('prop', {
    replicas: 10,
    strategy: '  strategy:\n    type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 3\n      maxUnavailable: 2\n',
  }));
  await k(server, ['rollout', 'status', 'deployment/prop', '--timeout=30s']);
  // The new template fits no node: its pods stay Pending, the rollout stops at the fencepost.
  await k(server, ['patch', 'deployment', 'prop', '-p', '{"spec":{"template":{"spec":{"nodeSelector":{"nowhere":"true"}}}}}']);
  const sizes = async (): Promise<{ old: number; new: number }> => {
    const d = await server.client.get<Deployment>('Deployment', 'default', 'prop');
    const rss = await replicaSetsOf(server, 'prop');
    const rev = d.metadata.annotations?.['deployment.kubernetes.io/revision'];
    const newRS = rss.find((rs) => rs.metadata.annotations?.['deployment.kubernetes.io/revision'] === rev && rev === '2');
    const oldRS = rss.find((rs) => rs.metadata.annotations?.['deployment.kubernetes.io/revision'] === '1');
    return { old: oldRS?.spec.replicas ?? -1, new: newRS?.spec.replicas ?? -1 };
  };
  // 10 + 3 surge = 13 pods at most; 10 - 2 = 8 must stay available: old 8, new 5.
  await waitFor('rollout stuck at old 8 / new 5', async () => {
    const s = await sizes();
    return s.old === 8 && s.new === 5;
  });
  await k(server, ['scale', 'deployment/prop', '--replicas=20']);
  // 23 allowed, 10 to add, shared by size relative to the annotated 13: old +6, new +4.
  await waitFor('proportional scale to old 14 / new 9', async () => {
    const s = await sizes();
    return s.old === 14 && s.new === 9;
  });
  const rss = await replicaSetsOf(server, 'prop');
  assert.ok(rss.every((rs) => rs.metadata.annotations?.['deployment.kubernetes.io/desired-replicas'] === '20'));
  assert.ok(rss.every((rs) => rs.metadata.annotations?.['deployment.kubernetes.io/max-replicas'] === '23'));
  await k(server, ['delete', 'deployment', 'prop', '--wait=false']);
});

it('Recreate: old pods are gone before new ones start', async ({ server }) => {
  await k(server, ['apply', '-f', '-'], deploymentYaml('recreate', { replicas: 3, strategy: '  strategy:\n    type: Recreate\n' }));
  await k(server, ['rollout', 'status', 'deployment/recreate', '--timeout=30s']);
  const samples: { oldImages: number; newImages: number }[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const list = await server.client.list<Pod>('Pod', 'default', { labelSelector: 'app=recreate' });
      const live = list.items.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
      samples.push({
        oldImages: live.filter((p) => p.spec.containers[0]!.image === 'nginx').length,
        newImages: live.filter((p) => p.spec.containers[0]!.image === 'nginx:latest').length,
      });
      await new Promise((r) => setTimeout(r, 30));
    }
  })();
  await k(server, ['set', 'image', 'deployment/recreate', 'nginx=nginx:latest']);
  await k(server, ['rollout', 'status', 'deployment/recreate', '--timeout=30s']);
  sampling = false;
  await sampler;
  assert.ok(samples.length > 3);
  assert.not.ok(samples.some((s) => s.oldImages > 0 && s.newImages > 0), 'old and new pods overlapped');
  const pods = await readyCount(server, 'app=recreate', 3);
  assert.ok(pods.every((p) => p.spec.containers[0]!.image === 'nginx:latest'));
});

it('revisionHistoryLimit removes old zero-size ReplicaSets', async ({ server }) => {
  await k(server, ['apply', '-f', '-'], deploymentYaml('short', { replicas: 1, extra: '  revisionHistoryLimit: 1\n' }));
  for (const tag of ['1.25', '1.26', '1.27']) {
    await k(server, ['set', 'image', 'deployment/short', `nginx=nginx:${tag}`]);
    await k(server, ['rollout', 'status', 'deployment/short', '--timeout=30s']);
  }
  const rss = await waitFor('old ReplicaSets cleaned up', async () => {
    const list = await replicaSetsOf(server, 'short');
    return list.length === 2 && list;
  });
  const revisions = rss.map((rs) => rs.metadata.annotations?.['deployment.kubernetes.io/revision']).sort();
  assert.equal(revisions, ['3', '4']);
});

it('a rollout that cannot progress reports ProgressDeadlineExceeded', async ({ server }) => {
  await k(server, ['apply', '-f', '-'], deploymentYaml('stuck', { replicas: 1, extra: '  progressDeadlineSeconds: 2\n' }).replace(
    '      containers:', '      nodeSelector:\n        nowhere: "true"\n      containers:'));
  const d = await waitFor('ProgressDeadlineExceeded', async () => {
    const x = await server.client.get<Deployment>('Deployment', 'default', 'stuck');
    const c = x.status?.conditions?.find((cd) => cd.type === 'Progressing');
    return c?.reason === 'ProgressDeadlineExceeded' && x;
  }, 15_000);
  const cond = d.status!.conditions!.find((c) => c.type === 'Progressing')!;
  assert.is(cond.status, 'False');
  assert.match(cond.message ?? '', /has timed out progressing/);
  const status = await kubectl(server, ['rollout', 'status', 'deployment/stuck', '--timeout=10s']);
  assert.is.not(status.code, 0);
  assert.match(status.stderr, 'exceeded its progress deadline');
});

it.run();
