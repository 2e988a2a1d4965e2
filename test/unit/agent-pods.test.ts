/**
 * Pure parts of the agent: pod status like kubelet, CrashLoopBackOff timing, environment variables
 * (service links, fieldRef, $(VAR) expansion), pull policy and registry credentials, container ids,
 * CIDR arithmetic, node IPAM and log tailing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Pod, Service } from '../../api/types.js';
import { buildPodStatus, qosClass, statusFingerprint, type ContainerView } from '../../agent/pods/pod-status.js';
import { nextBackoff, BACKOFF_RESET_MS } from '../../agent/pods/backoff.js';
import { buildEnv, expandRefs, serviceEnv } from '../../agent/pods/env.js';
import { credentialsFor, effectivePullPolicy, registryOf } from '../../agent/pods/images.js';
import { containerId } from '../../agent/pods/naming.js';
import { PodWorker, type PodContext } from '../../agent/pods/pod-worker.js';
import { gatewayOf, podAddresses, subnetAt, cidrContains, parseCidr } from '../../agent/network/cidr.js';
import { nextFreePodCidr, podCidrAt } from '../../server/controllers/node-ipam.js';
import { tail } from '../../agent/logs/log-reader.js';
import { exitStatus, frame } from '../../agent/logs/exec-session.js';

const pod: Pod = {
  metadata: { name: 'web-1', namespace: 'shop', uid: '1234-5678', labels: { app: 'web' } },
  spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox' }] },
};

function view(o: Partial<ContainerView>): ContainerView {
  return { name: 'c', image: 'busybox', imageID: '', restartCount: 0, ready: false, started: false, ...o };
}

test('a running, ready container makes the pod Running and Ready with its IP', () => {
  const s = buildPodStatus(pod, { podIp: '10.42.1.5', hostIp: '10.77.0.11', init: [], app: [view({ running: { startedAt: 't' }, ready: true, started: true })], initialized: true }, 'now');
  assert.is(s.phase, 'Running');
  assert.is(s.podIP, '10.42.1.5');
  assert.equal(s.podIPs, [{ ip: '10.42.1.5' }]);
  assert.is(s.hostIP, '10.77.0.11');
  const cond = Object.fromEntries((s.conditions ?? []).map((c) => [c.type, c.status]));
  assert.equal(cond, { PodReadyToStartContainers: 'True', Initialized: 'True', Ready: 'True', ContainersReady: 'True', PodScheduled: 'True' });
  assert.equal(s.containerStatuses?.[0]?.state, { running: { startedAt: 't' } });
  assert.is(s.qosClass, 'BestEffort');
});

test('an unready container keeps the pod not Ready with kubelet\'s message; a crash loop keeps it Running', () => {
  const s = buildPodStatus(pod, { podIp: '10.42.1.5', hostIp: 'h', init: [], app: [view({ restartCount: 2, waiting: { reason: 'CrashLoopBackOff', message: 'back-off' }, lastTermination: { exitCode: 3, reason: 'Error' } })], initialized: true }, 'now');
  assert.is(s.phase, 'Running');
  const ready = s.conditions?.find((c) => c.type === 'Ready');
  assert.is(ready?.status, 'False');
  assert.is(ready?.message, 'containers with unready status: [c]');
  assert.equal(s.containerStatuses?.[0]?.lastState, { terminated: { exitCode: 3, reason: 'Error' } });
  assert.is(s.containerStatuses?.[0]?.restartCount, 2);
});

test('pending init containers keep the pod Pending and not Initialized; terminal phases pass through', () => {
  const s = buildPodStatus(pod, { hostIp: 'h', init: [view({ name: 'init', running: { startedAt: 't' } })], app: [view({})], initialized: false }, 'now');
  assert.is(s.phase, 'Pending');
  assert.is(s.conditions?.find((c) => c.type === 'Initialized')?.message, 'containers with incomplete status: [init]');
  assert.is(s.initContainerStatuses?.length, 1);
  const done = buildPodStatus(pod, { hostIp: 'h', init: [], app: [view({ terminated: { exitCode: 0, reason: 'Completed' } })], initialized: true, terminal: 'Succeeded' }, 'now');
  assert.is(done.phase, 'Succeeded');
  assert.is(done.conditions?.find((c) => c.type === 'Ready')?.reason, 'PodCompleted');
});

test('condition transition times are kept while the status does not change, and the fingerprint ignores them', () => {
  const first = buildPodStatus(pod, { hostIp: 'h', init: [], app: [view({ running: { startedAt: 't' }, ready: true, started: true })], initialized: true, podIp: '1.2.3.4' }, 'T1');
  const again = buildPodStatus({ ...pod, status: first }, { hostIp: 'h', init: [], app: [view({ running: { startedAt: 't' }, ready: true, started: true })], initialized: true, podIp: '1.2.3.4' }, 'T2');
  assert.is(again.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime, 'T1');
  assert.is(statusFingerprint(first), statusFingerprint(again));
  const flipped = buildPodStatus({ ...pod, status: first }, { hostIp: 'h', init: [], app: [view({ running: { startedAt: 't' }, ready: false, started: true })], initialized: true, podIp: '1.2.3.4' }, 'T3');
  assert.is(flipped.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime, 'T3');
  assert.is.not(statusFingerprint(first), statusFingerprint(flipped));
});

test('QoS classes', () => {
  assert.is(qosClass([{ name: 'a', resources: { limits: { cpu: '1', memory: '1Gi' } } }]), 'Guaranteed');
  assert.is(qosClass([{ name: 'a', resources: { requests: { cpu: '100m' } } }]), 'Burstable');
});

test('CrashLoopBackOff: first restart at once, then doubling up to the cap, reset after 10 minutes of running', () => {
  let b = nextBackoff(undefined, 100, 10_000, 300_000);
  assert.is(b.delayMs, 0);
  const delays: number[] = [];
  for (let i = 0; i < 7; i++) {
    b = nextBackoff(b.state, 100, 10_000, 300_000);
    delays.push(b.delayMs);
  }
  assert.equal(delays, [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
  assert.is(nextBackoff(b.state, BACKOFF_RESET_MS, 10_000, 300_000).delayMs, 0);
});

test('service environment variables like kubelet', () => {
  const svc: Service = { metadata: { name: 'redis-primary', namespace: 'shop' }, spec: { clusterIP: '10.43.0.11', ports: [{ name: 'redis', port: 6379, protocol: 'TCP' }] } };
  const env = Object.fromEntries(serviceEnv([svc]));
  assert.is(env['REDIS_PRIMARY_SERVICE_HOST'], '10.43.0.11');
  assert.is(env['REDIS_PRIMARY_SERVICE_PORT'], '6379');
  assert.is(env['REDIS_PRIMARY_SERVICE_PORT_REDIS'], '6379');
  assert.is(env['REDIS_PRIMARY_PORT'], 'tcp://10.43.0.11:6379');
  assert.is(env['REDIS_PRIMARY_PORT_6379_TCP_ADDR'], '10.43.0.11');
  assert.equal(serviceEnv([{ metadata: { name: 'headless' }, spec: { clusterIP: 'None', ports: [{ port: 80 }] } }]), []);
});

test('env: literals with $(VAR), fieldRef, configMap and secret keys, envFrom, missing keys fail', async () => {
  const p: Pod = { ...pod, spec: { ...pod.spec, containers: [{
    name: 'c',
    envFrom: [{ configMapRef: { name: 'cfg' }, prefix: 'CFG_' }],
    env: [
      { name: 'GREETING', value: 'hello' },
      { name: 'MSG', value: '$(GREETING) world $$(GREETING)' },
      { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
      { name: 'LEVEL', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'level' } } },
      { name: 'PASS', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
    ],
  }] } };
  const src = {
    configMap: async (ns: string, name: string) => (ns === 'shop' && name === 'cfg' ? { level: 'debug' } : undefined),
    secret: async (_ns: string, name: string) => (name === 'db' ? { password: 's3cret' } : undefined),
    services: () => [],
  };
  const env = Object.fromEntries(await buildEnv(p, p.spec.containers[0]!, '10.42.1.9', '10.77.0.11', src));
  assert.is(env['MSG'], 'hello world $(GREETING)');
  assert.is(env['POD'], 'web-1');
  assert.is(env['IP'], '10.42.1.9');
  assert.is(env['APP'], 'web');
  assert.is(env['LEVEL'], 'debug');
  assert.is(env['CFG_level'], 'debug');
  assert.is(env['PASS'], 's3cret');
  const bad: Pod = { ...pod, spec: { ...pod.spec, containers: [{ name: 'c', env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'db', key: 'nope' } } }] }] } };
  await buildEnv(bad, bad.spec.containers[0]!, '', '', src).then(() => assert.unreachable('missing key must fail'), (err: Error) => assert.match(err.message, /couldn't find key nope in Secret shop\/db/));
  assert.is(expandRefs('$(UNKNOWN)', new Map()), '$(UNKNOWN)');
});

test('pull policy defaults and registry credentials from dockerconfigjson', () => {
  assert.is(effectivePullPolicy({ name: 'a', image: 'busybox' }), 'Always');
  assert.is(effectivePullPolicy({ name: 'a', image: 'busybox:1.36' }), 'IfNotPresent');
  assert.is(effectivePullPolicy({ name: 'a', image: 'busybox', imagePullPolicy: 'Never' }), 'Never');
  assert.is(registryOf('registry.lan:5000/app:1'), 'registry.lan:5000');
  assert.is(registryOf('busybox'), 'docker.io');
  const data = { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths: { 'registry.lan:5000': { auth: Buffer.from('pi:raspberry').toString('base64') }, 'https://index.docker.io/v1/': { username: 'me', password: 'pw' } } })) };
  assert.equal(credentialsFor(data, 'registry.lan:5000'), { username: 'pi', password: 'raspberry' });
  assert.equal(credentialsFor(data, 'docker.io'), { username: 'me', password: 'pw' });
  assert.is(credentialsFor(data, 'other.lan'), undefined);
});

test('container ids are valid containerd ids, unique per container and attempt', () => {
  const a = containerId('0f1e2d3c-aaaa-bbbb-cccc-1234567890ab', 'my_container.name', 0);
  const b = containerId('0f1e2d3c-aaaa-bbbb-cccc-1234567890ab', 'my_container.name', 1);
  const c2 = containerId('0f1e2d3c-aaaa-bbbb-cccc-1234567890ab', 'other', 0);
  for (const id of [a, b, c2]) {
    assert.ok(/^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/.test(id) && id.length <= 76, id);
  }
  assert.ok(a !== b && a !== c2);
  assert.ok(b.endsWith('-1'));
});

test('CIDR arithmetic and node IPAM hand out 10.42.N.0/24', () => {
  assert.is(gatewayOf('10.42.3.0/24'), '10.42.3.1');
  const addrs = podAddresses('10.42.3.0/24');
  assert.is(addrs.length, 253);
  assert.is(addrs[0], '10.42.3.2');
  assert.is(addrs[252], '10.42.3.254');
  assert.is(subnetAt('10.42.0.0/16', 24, 5), '10.42.5.0/24');
  assert.ok(cidrContains(parseCidr('10.42.0.0/16'), '10.42.200.9'));
  assert.not.ok(cidrContains(parseCidr('10.42.0.0/16'), '10.43.0.1'));
  assert.is(podCidrAt('10.42.0.0/16', 0), '10.42.0.0/24');
  assert.is(podCidrAt('10.42.0.0/16', 256), undefined);
  assert.is(nextFreePodCidr('10.42.0.0/16', new Set(['10.42.0.0/24', '10.42.2.0/24'])), '10.42.1.0/24');
  assert.is(nextFreePodCidr('10.42.0.0/24', new Set(['10.42.0.0/24'])), undefined);
});

test('log tail and exec frames', () => {
  assert.is(tail('a\nb\nc\n', 2), 'b\nc\n');
  assert.is(tail('a\nb\nc', 1), 'c');
  assert.is(tail('a\n', 0), '');
  assert.equal([...frame(1, 'hi')], [1, 104, 105]);
  assert.equal(JSON.parse(exitStatus(0)), { metadata: {}, status: 'Success' });
  const fail = JSON.parse(exitStatus(3)) as { reason: string; details: { causes: { reason: string; message: string }[] } };
  assert.is(fail.reason, 'NonZeroExitCode');
  assert.equal(fail.details.causes, [{ reason: 'ExitCode', message: '3' }]);
});

test('every pod gets the kubernetes service variables, whatever its namespace or enableServiceLinks', async () => {
  const kubernetes: Service = { metadata: { name: 'kubernetes', namespace: 'default' }, spec: { clusterIP: '10.43.0.1', ports: [{ name: 'https', port: 443, protocol: 'TCP' }] } };
  const web: Service = { metadata: { name: 'web', namespace: 'team' }, spec: { clusterIP: '10.43.0.9', ports: [{ port: 80 }] } };
  const src = {
    configMap: async () => undefined, secret: async () => undefined,
    services: (ns: string) => (ns === 'default' ? [kubernetes] : ns === 'team' ? [web] : []),
  };
  const pod = (ns: string, links?: boolean): Pod => ({
    metadata: { name: 'p', namespace: ns }, spec: { containers: [{ name: 'c', image: 'x' }], ...(links === undefined ? {} : { enableServiceLinks: links }) },
  } as Pod);
  for (const p of [pod('team'), pod('team', false), pod('default'), pod('default', false)]) {
    const env = Object.fromEntries(await buildEnv(p, p.spec.containers[0]!, '10.42.0.5', '192.168.1.2', src));
    assert.is(env['KUBERNETES_SERVICE_HOST'], '10.43.0.1', `${p.metadata.namespace} links=${String(p.spec.enableServiceLinks)}`);
    assert.is(env['KUBERNETES_SERVICE_PORT'], '443');
    assert.is(env['KUBERNETES_SERVICE_PORT_HTTPS'], '443');
    assert.is(env['WEB_SERVICE_HOST'], p.metadata.namespace === 'team' && p.spec.enableServiceLinks !== false ? '10.43.0.9' : undefined);
  }
});

test('a pod worker never steps back to an older version of its pod (an older status event would start a write ping-pong)', () => {
  const version = (rv: string, startTime: string): Pod => ({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', uid: 'u1', resourceVersion: rv },
    spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox' }] }, status: { phase: 'Running', startTime },
  });
  // update() and current touch no runtime, network or API: the context is not used.
  const worker = new PodWorker({} as PodContext, version('10', '2026-12-05T21:54:49Z'));
  worker.update(version('9', '2026-12-05T21:54:48Z'));
  assert.is(worker.current?.metadata.resourceVersion, '10', 'the event of an earlier write is ignored');
  assert.is(worker.current?.status?.startTime, '2026-12-05T21:54:49Z');
  worker.update(version('11', '2026-12-05T21:54:49Z'));
  assert.is(worker.current?.metadata.resourceVersion, '11', 'a newer version is taken');
});

test.run();
