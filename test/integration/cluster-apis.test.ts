/**
 * Small APIs conformance and charts rely on, inside a real `corral server` with kubectl v1.32: the
 * `kube-root-ca.crt` ConfigMap in every namespace (created for a new namespace, put back when
 * deleted or edited); PodTemplates; RuntimeClasses (a pod's class must exist, its overhead and
 * scheduling constraints are copied into the pod); PriorityClasses (the built-in system classes,
 * reserved names, one global default, a pod's priority from its class); events.k8s.io/v1 (the same
 * Events in the newer shape: create, get, list, watch, patch, update, delete through either API).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { PriorityClass, RuntimeClass } from '../../api/scheduling-types.js';
import { StatusError } from '../../api/status.js';
import type { ConfigMap, Event, Pod, PodTemplate } from '../../api/types.js';
import { kubectl, ServerProcess, type KubectlResult } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

const it = suite<{ server: ServerProcess }>('cluster apis');

const waitFor = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> => waitUntil(what, fn, timeoutMs);

async function k(server: ServerProcess, args: string[], input?: string): Promise<KubectlResult> {
  const r = await kubectl(server, args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r;
}

async function expectStatus(p: Promise<unknown>, code: number, message: string): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, StatusError);
    assert.is((err as StatusError).code, code, (err as StatusError).message);
    assert.match((err as StatusError).message, message);
    return;
  }
  throw new Error(`expected ${code}, the request succeeded`);
}

function pod(name: string, spec: Partial<Pod['spec']> = {}): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'c', image: 'nginx' }], ...spec } };
}

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start();
});

it.after(async (ctx) => {
  await ctx.server?.destroy();
});

it('kube-root-ca.crt: in every namespace, a new one at once, put back when deleted or edited', async ({ server }) => {
  const rootCa = (ns: string) => async (): Promise<ConfigMap | undefined> => {
    const cm = await server.client.tryGet<ConfigMap>('ConfigMap', ns, 'kube-root-ca.crt');
    return cm?.data?.['ca.crt'] === server.caPem ? cm : undefined;
  };
  for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) await waitFor(`kube-root-ca.crt in ${ns}`, rootCa(ns));
  await k(server, ['create', 'namespace', 'fresh']);
  const cm = await waitFor('kube-root-ca.crt in a new namespace', rootCa('fresh'));
  assert.match(cm.metadata.annotations?.['kubernetes.io/description'] ?? '', 'verify the kube-apiserver');
  const printed = await k(server, ['-n', 'fresh', 'get', 'configmap', 'kube-root-ca.crt', '-o', 'jsonpath={.data.ca\\.crt}']);
  assert.is(printed.stdout, server.caPem);

  await k(server, ['-n', 'fresh', 'delete', 'configmap', 'kube-root-ca.crt']);
  const again = await waitFor('kube-root-ca.crt re-created', rootCa('fresh'));
  assert.is.not(again.metadata.uid, cm.metadata.uid);
  await k(server, ['-n', 'fresh', 'patch', 'configmap', 'kube-root-ca.crt', '-p', '{"data":{"ca.crt":"not a CA"}}']);
  await waitFor('kube-root-ca.crt restored after an edit', async () => {
    const now = await rootCa('fresh')();
    return now && now.metadata.resourceVersion !== again.metadata.resourceVersion && now;
  });
  await k(server, ['delete', 'namespace', 'fresh']);
});

it('PodTemplates: stored with pod defaults, validated, printed with upstream columns', async ({ server }) => {
  await k(server, ['apply', '-f', '-'], `apiVersion: v1
kind: PodTemplate
metadata:
  name: web-template
template:
  metadata:
    labels: {app: web}
  spec:
    containers:
    - name: nginx
      image: nginx:1.27
`);
  const t = await server.client.get<PodTemplate>('PodTemplate', 'default', 'web-template');
  assert.is(t.template?.spec.restartPolicy, 'Always', 'pod spec defaults applied');
  assert.is(t.template?.spec.containers[0]?.terminationMessagePolicy, 'File');
  const table = await k(server, ['get', 'podtemplates']);
  assert.match(table.stdout, /NAME\s+CONTAINERS\s+IMAGES\s+POD LABELS/);
  assert.match(table.stdout, /web-template\s+nginx\s+nginx:1\.27\s+app=web/);
  await k(server, ['patch', 'podtemplate', 'web-template', '--type=merge', '-p', '{"template":{"metadata":{"labels":{"tier":"front"}}}}']);
  await expectStatus(server.client.create('PodTemplate', 'default', { metadata: { name: 'bad' }, template: { spec: { containers: [{ name: 'c' }] } } }), 422, 'template.spec.containers[0].image: Required value');
  const list = await server.client.list<PodTemplate>('PodTemplate', 'default');
  assert.equal(list.items.map((x) => x.metadata.name), ['web-template']);
  await k(server, ['delete', 'podtemplate', 'web-template']);
});

it('RuntimeClasses: handler validated and immutable; a pod\'s class must exist and lends its overhead and scheduling', async ({ server }) => {
  await k(server, ['apply', '-f', '-'], `apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: sandboxed
handler: runc
overhead:
  podFixed: {cpu: 250m, memory: 64Mi}
scheduling:
  nodeSelector: {corral.dev/runtime: runc}
  tolerations:
  - {key: runtime, operator: Exists, effect: NoSchedule}
`);
  const table = await k(server, ['get', 'runtimeclasses']);
  assert.match(table.stdout, /NAME\s+HANDLER\s+AGE/);
  assert.match(table.stdout, /sandboxed\s+runc\s+/);
  await expectStatus(server.client.patch('RuntimeClass', undefined, 'sandboxed', { handler: 'kata' }), 422, 'handler: Invalid value: "kata": field is immutable');
  await expectStatus(server.client.create('RuntimeClass', undefined, { metadata: { name: 'bad' }, handler: 'Not_A_Label' }), 422, 'handler: Invalid value: "Not_A_Label"');
  const p = await server.client.create<Pod>('Pod', 'default', pod('with-class', { runtimeClassName: 'sandboxed' }));
  assert.equal(p.spec.overhead, { cpu: '250m', memory: '64Mi' });
  assert.equal(p.spec.nodeSelector, { 'corral.dev/runtime': 'runc' });
  assert.ok(p.spec.tolerations?.some((t) => t.key === 'runtime' && t.effect === 'NoSchedule'));
  await expectStatus(server.client.create('Pod', 'default', pod('no-class', { runtimeClassName: 'missing' })), 403, 'pod rejected: RuntimeClass "missing" not found');
  const rc = await server.client.get<RuntimeClass>('RuntimeClass', undefined, 'sandboxed');
  assert.is(rc.handler, 'runc');
  await server.client.delete('Pod', 'default', 'with-class', { gracePeriodSeconds: 0 });
  await k(server, ['delete', 'runtimeclass', 'sandboxed']);
});

it('PriorityClasses: built-in system classes, reserved names, one global default, pod priority from its class', async ({ server }) => {
  const table = await k(server, ['get', 'priorityclasses']);
  assert.match(table.stdout, /NAME\s+VALUE\s+GLOBAL-DEFAULT\s+AGE\s+PREEMPTIONPOLICY/);
  assert.match(table.stdout, /system-cluster-critical\s+2000000000\s+false\s+\S+\s+PreemptLowerPriority/);
  assert.match(table.stdout, /system-node-critical\s+2000001000\s+false/);
  const del = await kubectl(server, ['delete', 'priorityclass', 'system-node-critical']);
  assert.is(del.code, 1);
  assert.match(del.stderr, 'this is a system priority class and cannot be deleted');
  await expectStatus(server.client.create('PriorityClass', undefined, { metadata: { name: 'system-mine' }, value: 10 }), 422, "priority class names with 'system-' prefix are reserved for system use only");
  await expectStatus(server.client.create('PriorityClass', undefined, { metadata: { name: 'huge' }, value: 1_000_000_001 }), 422, 'maximum allowed value of a user defined priority is 1000000000');

  await k(server, ['create', 'priorityclass', 'high', '--value=1000', '--description=important']);
  await k(server, ['create', 'priorityclass', 'low', '--value=10', '--global-default']);
  const second = await kubectl(server, ['create', 'priorityclass', 'other-default', '--value=5', '--global-default']);
  assert.is(second.code, 1);
  assert.match(second.stderr, 'PriorityClass low is already marked as default. Only one default can exist');
  await expectStatus(server.client.patch('PriorityClass', undefined, 'high', { value: 2000 }), 422, 'value: Forbidden: may not be changed in an update.');

  const high = await server.client.create<Pod>('Pod', 'default', pod('high-pod', { priorityClassName: 'high' }));
  assert.is(high.spec.priority, 1000);
  assert.is(high.spec.preemptionPolicy, 'PreemptLowerPriority');
  const plain = await server.client.create<Pod>('Pod', 'default', pod('plain-pod'));
  assert.is(plain.spec.priorityClassName, 'low', 'the global default class');
  assert.is(plain.spec.priority, 10);
  const critical = await server.client.create<Pod>('Pod', 'kube-system', pod('critical-pod', { priorityClassName: 'system-node-critical' }));
  assert.is(critical.spec.priority, 2000001000);
  await expectStatus(server.client.create('Pod', 'default', pod('ghost-class', { priorityClassName: 'nope' })), 403, 'no PriorityClass with name nope was found');
  await expectStatus(server.client.create('Pod', 'default', pod('own-number', { priorityClassName: 'high', priority: 5 })), 403, 'the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000');
  const never = await server.client.create<PriorityClass>('PriorityClass', undefined, { metadata: { name: 'polite' }, value: 500, preemptionPolicy: 'Never' });
  assert.is(never.preemptionPolicy, 'Never');
  assert.is((await server.client.create<Pod>('Pod', 'default', pod('polite-pod', { priorityClassName: 'polite' }))).spec.preemptionPolicy, 'Never');

  for (const [ns, name] of [['default', 'high-pod'], ['default', 'plain-pod'], ['kube-system', 'critical-pod'], ['default', 'polite-pod']] as const) {
    await server.client.delete('Pod', ns, name, { gracePeriodSeconds: 0 });
  }
  for (const name of ['high', 'low', 'polite']) await k(server, ['delete', 'priorityclass', name]);
});

it('events.k8s.io/v1: the same Events in the newer shape, through kubectl and either API', async ({ server }) => {
  const now = new Date().toISOString().replace('Z', '000Z').replace(/\.(\d{3})000Z$/, '.$1000Z');
  await k(server, ['apply', '-f', '-'], `apiVersion: events.k8s.io/v1
kind: Event
metadata:
  name: newer-shape
  labels: {test: events-v1}
eventTime: "${now}"
reportingController: corral.dev/test
reportingInstance: test-1
action: Testing
reason: Checked
note: written through events.k8s.io
type: Normal
regarding: {kind: Pod, namespace: default, name: some-pod, apiVersion: v1}
`);
  // The core API sees the same object under its own field names.
  const core = await server.client.get<Event>('Event', 'default', 'newer-shape');
  assert.is(core.message, 'written through events.k8s.io');
  assert.is(core.involvedObject.name, 'some-pod');
  assert.is(core.reportingComponent, 'corral.dev/test');
  const raw = async (path: string): Promise<Record<string, unknown>> => JSON.parse((await k(server, ['get', '--raw', path])).stdout) as Record<string, unknown>;
  const v1 = await raw('/apis/events.k8s.io/v1/namespaces/default/events/newer-shape');
  assert.is(v1['apiVersion'], 'events.k8s.io/v1');
  assert.is(v1['note'], 'written through events.k8s.io');
  assert.equal((v1['regarding'] as { name: string }).name, 'some-pod');
  assert.is(v1['reportingController'], 'corral.dev/test');
  assert.is(v1['message'], undefined);
  // Events recorded by corral's own components show up in the newer shape too.
  const list = await raw('/apis/events.k8s.io/v1/namespaces/default/events?labelSelector=test%3Devents-v1');
  assert.is(list['kind'], 'EventList');
  assert.is(list['apiVersion'], 'events.k8s.io/v1');
  assert.equal((list['items'] as { metadata: { name: string } }[]).map((i) => i.metadata.name), ['newer-shape']);
  await k(server, ['patch', 'events.v1.events.k8s.io', 'newer-shape', '--type=merge', '-p', '{"note":"patched note","series":{"count":2,"lastObservedTime":"' + now + '"}}']);
  assert.is((await server.client.get<Event>('Event', 'default', 'newer-shape')).message, 'patched note');
  const table = await k(server, ['get', 'events.v1.events.k8s.io', '-l', 'test=events-v1']);
  assert.match(table.stdout, /Normal\s+Checked\s+pod\/some-pod\s+patched note/);
  // Watch through the newer API: the events arrive converted.
  const watched = await kubectl(server, ['get', '--raw', '/apis/events.k8s.io/v1/namespaces/default/events?watch=1&timeoutSeconds=1&labelSelector=test%3Devents-v1']);
  const first = JSON.parse(watched.stdout.trim().split('\n')[0]!) as { type: string; object: { apiVersion: string; note: string } };
  assert.is(first.type, 'ADDED');
  assert.is(first.object.apiVersion, 'events.k8s.io/v1');
  assert.is(first.object.note, 'patched note');
  // The newer version's own rules apply to creates through it.
  const bad = await kubectl(server, ['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name: 'incomplete' }, reason: 'R', type: 'Normal', regarding: { kind: 'Pod', name: 'p', namespace: 'default' } }) });
  assert.is(bad.code, 1);
  assert.match(bad.stderr, 'eventTime: Required value');
  assert.match(bad.stderr, 'reportingController: Required value');
  await k(server, ['delete', 'events.v1.events.k8s.io', 'newer-shape']);
  assert.is(await server.client.tryGet('Event', 'default', 'newer-shape'), undefined);
});

it.run();
