/**
 * The official JavaScript client, @kubernetes/client-node 1.x, unmodified, against a real `corral
 * server`: typed calls, an informer (list + watch) that resumes after the server restarts, the
 * generic object API, and patches of every type (JSON patch, merge patch, strategic merge patch,
 * server-side apply with force).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as k8s from '@kubernetes/client-node';
import { ServerProcess } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

const it = suite<{ server: ServerProcess; kc: k8s.KubeConfig }>('client-node');

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'] });
  ctx.kc = new k8s.KubeConfig();
  ctx.kc.loadFromFile(ctx.server.kubeconfig);
});

it.after(async (ctx) => {
  await ctx.server?.destroy();
});

it('typed CoreV1Api calls: create, read, list with a label selector, not-found as an ApiException', async ({ kc }) => {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'typed', labels: { app: 'js' } }, data: { a: '1' } } });
  const read = await core.readNamespacedConfigMap({ name: 'typed', namespace: 'default' });
  assert.equal(read.data, { a: '1' });
  const list = await core.listNamespacedConfigMap({ namespace: 'default', labelSelector: 'app=js' });
  assert.equal(list.items.map((i) => i.metadata?.name), ['typed']);
  const missing = await core.readNamespacedConfigMap({ name: 'nothere', namespace: 'default' }).catch((err: unknown) => err);
  assert.instance(missing, k8s.ApiException);
  assert.is((missing as k8s.ApiException<unknown>).code, 404);
});

it('patches of all three types and server-side apply with force, through the typed API', async ({ kc }) => {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'patched' }, data: { a: '1', b: '2' } } });
  const as = (type: k8s.PatchStrategy) => k8s.setHeaderOptions('Content-Type', type);
  let cm = await core.patchNamespacedConfigMap({ name: 'patched', namespace: 'default', body: [{ op: 'replace', path: '/data/a', value: 'json' }] }, as(k8s.PatchStrategy.JsonPatch));
  assert.equal(cm.data, { a: 'json', b: '2' });
  cm = await core.patchNamespacedConfigMap({ name: 'patched', namespace: 'default', body: { data: { b: null, c: 'merge' } } }, as(k8s.PatchStrategy.MergePatch));
  assert.equal(cm.data, { a: 'json', c: 'merge' });
  cm = await core.patchNamespacedConfigMap({ name: 'patched', namespace: 'default', body: { metadata: { labels: { smp: 'yes' } } } }, as(k8s.PatchStrategy.StrategicMergePatch));
  assert.equal(cm.metadata?.labels, { smp: 'yes' });
  const apply = (manager: string, value: string, force: boolean) => core.patchNamespacedConfigMap(
    { name: 'patched', namespace: 'default', fieldManager: manager, force, body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'patched' }, data: { c: value } } },
    as(k8s.PatchStrategy.ServerSideApply));
  // data.c was set by a merge patch (manager "before-first-apply" upstream): taking it needs force.
  const owned = await apply('first', 'one', false).catch((err: unknown) => err);
  assert.is((owned as k8s.ApiException<unknown>).code, 409);
  await apply('first', 'one', true);
  const conflict = await apply('second', 'two', false).catch((err: unknown) => err);
  assert.is((conflict as k8s.ApiException<unknown>).code, 409);
  cm = await apply('second', 'two', true);
  assert.is(cm.data?.['c'], 'two');
});

it('the generic KubernetesObjectApi creates, reads, patches and deletes a Deployment', async ({ kc }) => {
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  const spec = {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'generic', namespace: 'default' },
    spec: { replicas: 1, selector: { matchLabels: { app: 'generic' } }, template: { metadata: { labels: { app: 'generic' } }, spec: { containers: [{ name: 'c', image: 'nginx:1.27' }] } } },
  };
  await objects.create(spec);
  const read = await objects.read<k8s.V1Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'generic', namespace: 'default' } });
  assert.is(read.spec?.replicas, 1);
  // The default strategy of the generic patch is strategic merge: containers merge by name.
  const patched = await objects.patch<k8s.V1Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'generic', namespace: 'default' }, spec: { replicas: 3, template: { spec: { containers: [{ name: 'c', image: 'nginx:1.28' }] } } } } as k8s.KubernetesObject);
  assert.is(patched.spec?.replicas, 3);
  assert.is(patched.spec?.template.spec?.containers[0]?.image, 'nginx:1.28');
  const merged = await objects.patch<k8s.V1Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'generic', namespace: 'default', labels: { via: 'merge' } } }, undefined, undefined, undefined, undefined, k8s.PatchStrategy.MergePatch);
  assert.equal(merged.metadata?.labels, { via: 'merge' });
  await objects.delete({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'generic', namespace: 'default' } });
  const gone = await objects.read({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'generic', namespace: 'default' } }).catch((err: unknown) => err);
  assert.is((gone as k8s.ApiException<unknown>).code, 404);
});

it('an informer lists, watches, and resumes after the server restarts', async ({ server, kc }) => {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: 'informed' } } });
  await core.createNamespacedConfigMap({ namespace: 'informed', body: { metadata: { name: 'before' } } });
  const informer = k8s.makeInformer(kc, '/api/v1/namespaces/informed/configmaps', () => core.listNamespacedConfigMap({ namespace: 'informed' }));
  const added: string[] = [];
  const updated: string[] = [];
  let restartTimer: NodeJS.Timeout | undefined;
  let stopping = false;
  informer.on(k8s.ADD, (o) => added.push(o.metadata!.name!));
  informer.on(k8s.UPDATE, (o) => updated.push(`${o.metadata!.name!}=${o.data?.['v'] ?? ''}`));
  // The documented pattern: an informer stops on an error and the program starts it again.
  informer.on(k8s.ERROR, () => {
    if (stopping) return; // stop() aborts the watch, which reports an error too
    restartTimer = setTimeout(() => { informer.start().catch(() => undefined); }, 500);
  });
  await informer.start();
  try {
    await waitUntil('the initial list', async () => added.includes('before'), 10_000);
    await core.createNamespacedConfigMap({ namespace: 'informed', body: { metadata: { name: 'watched' } } });
    await waitUntil('a watch event', async () => added.includes('watched'), 10_000);

    await server.restart();
    await core.createNamespacedConfigMap({ namespace: 'informed', body: { metadata: { name: 'after-restart' } } });
    await core.patchNamespacedConfigMap({ name: 'before', namespace: 'informed', body: { data: { v: '2' } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    await waitUntil('events after the restart', async () => added.includes('after-restart') && updated.includes('before=2'), 20_000);
    assert.equal(added.filter((n) => n === 'before').length, 1, 'resuming does not announce known objects again');
    assert.equal(informer.list().map((o) => o.metadata!.name).sort(), ['after-restart', 'before', 'watched']);
  } finally {
    stopping = true;
    clearTimeout(restartTimer);
    await informer.stop();
  }
});

it.run();
