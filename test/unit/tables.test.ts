/**
 * Server-side printing: exact cells for realistic objects of each kind, upstream's relative-time
 * format, and the Table envelope (row objects, headers, list metadata).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { KubeObject } from '../../api/meta.js';
import type { ResourceInfo } from '../../api/resources.js';
import { resourceForKind } from '../../api/resources.js';
import { formatAge, humanDuration, toTable } from '../../server/apiserver/tables.js';

const NOW = new Date('2025-06-01T12:00:00Z');
const ago = (seconds: number): string => new Date(NOW.getTime() - seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const info = (kind: string): ResourceInfo => {
  const r = resourceForKind(kind);
  if (r === undefined) throw new Error(`no resource for ${kind}`);
  return r;
};
/** The single row's cells for one object. */
const cells = (kind: string, obj: object): unknown[] => toTable(info(kind), [obj as KubeObject], { now: NOW }).rows[0]!.cells;
const columns = (kind: string): string[] => (toTable(info(kind), [], { now: NOW }).columnDefinitions ?? []).map((c) => c.name);
const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, namespace: 'default', uid: `uid-${name}`, creationTimestamp: ago(600), ...extra });

// ---------------------------------------------------------------- durations

const durations = suite('tables: HumanDuration');

durations('matches apimachinery duration.HumanDuration at every boundary', () => {
  const S = 1000;
  const M = 60 * S;
  const H = 60 * M;
  const D = 24 * H;
  const cases: [number, string][] = [
    [-2500, '<invalid>'], [-1500, '0s'], [0, '0s'], [5 * S, '5s'], [119 * S, '119s'],
    [120 * S, '2m'], [150 * S, '2m30s'], [9 * M + 59 * S, '9m59s'], [10 * M, '10m'], [179 * M, '179m'],
    [3 * H, '3h'], [5 * H + 30 * M, '5h30m'], [8 * H, '8h'], [47 * H, '47h'],
    [48 * H, '2d'], [3 * D + 4 * H, '3d4h'], [8 * D, '8d'], [729 * D, '729d'],
    [730 * D, '2y'], [3 * 365 * D + 20 * D, '3y20d'], [8 * 365 * D, '8y'], [20 * 365 * D + 100 * D, '20y'],
  ];
  for (const [ms, want] of cases) assert.is(humanDuration(ms), want, `${ms} ms`);
});

durations('formatAge is relative to now and <unknown> when unset', () => {
  assert.is(formatAge(ago(150), NOW), '2m30s');
  assert.is(formatAge(undefined, NOW), '<unknown>');
  assert.is(formatAge('', NOW), '<unknown>');
});

durations.run();

// ---------------------------------------------------------------- pods

const pods = suite('tables: pods');

const container = (name: string) => ({ name, image: `${name}:1` });
const running = (name: string, extra: Record<string, unknown> = {}) => ({
  name, ready: true, restartCount: 0, image: `${name}:1`, imageID: '', state: { running: { startedAt: ago(500) } }, ...extra,
});

pods('columns are upstream\'s, wide ones at priority 1', () => {
  const defs = toTable(info('Pod'), [], { now: NOW }).columnDefinitions!;
  assert.equal(defs.map((c) => [c.name, c.priority]), [
    ['Name', 0], ['Ready', 0], ['Status', 0], ['Restarts', 0], ['Age', 0],
    ['IP', 1], ['Node', 1], ['Nominated Node', 1], ['Readiness Gates', 1],
  ]);
  assert.is(defs[0]!.format, 'name');
  assert.is(defs[1]!.format, '');
});

pods('a running pod with restarts shows when the last one was', () => {
  const pod = {
    metadata: meta('web-1'),
    spec: { nodeName: 'node-1', containers: [container('web'), container('log')] },
    status: {
      phase: 'Running', podIP: '10.42.0.9', podIPs: [{ ip: '10.42.0.9' }],
      conditions: [{ type: 'Ready', status: 'True' }],
      containerStatuses: [
        running('web', { restartCount: 5, lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: ago(300) } } }),
        running('log'),
      ],
    },
  };
  assert.equal(cells('Pod', pod), ['web-1', '2/2', 'Running', '5 (5m ago)', '10m', '10.42.0.9', 'node-1', '<none>', '<none>']);
});

pods('waiting reasons win: CrashLoopBackOff and ContainerCreating', () => {
  const crashing = {
    metadata: meta('crash'),
    spec: { nodeName: 'node-1', containers: [container('app')] },
    status: {
      phase: 'Running', podIPs: [{ ip: '10.42.0.10' }],
      containerStatuses: [{
        name: 'app', ready: false, restartCount: 3, image: 'app:1', imageID: '',
        state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } },
        lastState: { terminated: { exitCode: 2, reason: 'Error', finishedAt: ago(100) } },
      }],
    },
  };
  assert.equal(cells('Pod', crashing).slice(1, 4), ['0/1', 'CrashLoopBackOff', '3 (100s ago)']);

  const creating = {
    metadata: meta('new'),
    spec: { nodeName: 'node-2', containers: [container('app')] },
    status: { phase: 'Pending', containerStatuses: [{ name: 'app', ready: false, restartCount: 0, image: 'app:1', imageID: '', state: { waiting: { reason: 'ContainerCreating' } } }] },
  };
  assert.equal(cells('Pod', creating), ['new', '0/1', 'ContainerCreating', '0', '10m', '<none>', 'node-2', '<none>', '<none>']);
});

pods('a succeeded pod reads Completed and carries the Completed row condition', () => {
  const pod = {
    metadata: meta('once'),
    spec: { nodeName: 'node-1', containers: [container('job')] },
    status: {
      phase: 'Succeeded',
      containerStatuses: [{ name: 'job', ready: false, restartCount: 0, image: 'job:1', imageID: '', state: { terminated: { exitCode: 0, reason: 'Completed', finishedAt: ago(60) } } }],
    },
  };
  const row = toTable(info('Pod'), [pod as unknown as KubeObject], { now: NOW }).rows[0]!;
  assert.equal(row.cells.slice(1, 4), ['0/1', 'Completed', '0']);
  assert.equal(row.conditions, [{ type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' }]);
});

pods('a terminated container without a reason shows its exit code or signal', () => {
  const pod = (terminated: Record<string, unknown>) => ({
    metadata: meta('x'), spec: { containers: [container('app')] },
    status: { phase: 'Failed', containerStatuses: [{ name: 'app', ready: false, restartCount: 0, image: 'app:1', imageID: '', state: { terminated } }] },
  });
  assert.is(cells('Pod', pod({ exitCode: 137 }))[2], 'ExitCode:137');
  assert.is(cells('Pod', pod({ exitCode: 143, signal: 15 }))[2], 'Signal:15');
});

pods('init containers: Init:0/1, Init:CrashLoopBackOff, Init:Error', () => {
  const withInit = (initState: Record<string, unknown>) => ({
    metadata: meta('db'),
    spec: { nodeName: 'node-1', initContainers: [container('migrate')], containers: [container('db')] },
    status: {
      phase: 'Pending',
      conditions: [{ type: 'Initialized', status: 'False' }],
      initContainerStatuses: [{ name: 'migrate', ready: false, restartCount: 0, image: 'migrate:1', imageID: '', state: initState }],
      containerStatuses: [{ name: 'db', ready: false, restartCount: 0, image: 'db:1', imageID: '', state: { waiting: { reason: 'PodInitializing' } } }],
    },
  });
  assert.equal(cells('Pod', withInit({ running: { startedAt: ago(5) } })).slice(1, 3), ['0/1', 'Init:0/1']);
  assert.is(cells('Pod', withInit({ waiting: { reason: 'PodInitializing' } }))[2], 'Init:0/1');
  assert.is(cells('Pod', withInit({ waiting: { reason: 'CrashLoopBackOff' } }))[2], 'Init:CrashLoopBackOff');
  assert.is(cells('Pod', withInit({ terminated: { exitCode: 1, reason: 'Error' } }))[2], 'Init:Error');
  assert.is(cells('Pod', withInit({ terminated: { exitCode: 3 } }))[2], 'Init:ExitCode:3');
});

pods('a started sidecar (restartable init container) counts as a container', () => {
  const pod = {
    metadata: meta('meshed'),
    spec: { nodeName: 'node-1', initContainers: [{ ...container('proxy'), restartPolicy: 'Always' }], containers: [container('app')] },
    status: {
      phase: 'Running', podIPs: [{ ip: '10.42.1.4' }],
      conditions: [{ type: 'Initialized', status: 'True' }, { type: 'Ready', status: 'True' }],
      initContainerStatuses: [running('proxy', { started: true, restartCount: 1, lastState: { terminated: { exitCode: 1, finishedAt: ago(30) } } })],
      containerStatuses: [running('app')],
    },
  };
  assert.equal(cells('Pod', pod).slice(0, 4), ['meshed', '2/2', 'Running', '1 (30s ago)']);
});

pods('deletion shows Terminating; unscheduled pods show Pending and their nominated node', () => {
  const deleting = {
    metadata: meta('old', { deletionTimestamp: ago(10) }),
    spec: { nodeName: 'node-1', containers: [container('app')] },
    status: { phase: 'Running', podIPs: [{ ip: '10.42.0.5' }], containerStatuses: [running('app')] },
  };
  assert.is(cells('Pod', deleting)[2], 'Terminating');
  const pending = {
    metadata: meta('waiting'),
    spec: { containers: [container('app')] },
    status: { phase: 'Pending', nominatedNodeName: 'node-3', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] },
  };
  assert.equal(cells('Pod', pending), ['waiting', '0/1', 'Pending', '0', '10m', '<none>', '<none>', 'node-3', '<none>']);
});

pods('readiness gates count the true conditions they name', () => {
  const pod = {
    metadata: meta('gated'),
    spec: { nodeName: 'node-1', containers: [container('app')], readinessGates: [{ conditionType: 'example.com/lb' }, { conditionType: 'example.com/dns' }] },
    status: { phase: 'Running', podIPs: [{ ip: '10.42.0.6' }], conditions: [{ type: 'example.com/lb', status: 'True' }, { type: 'example.com/dns', status: 'False' }], containerStatuses: [running('app')] },
  };
  assert.is(cells('Pod', pod)[8], '1/2');
});

pods.run();

// ---------------------------------------------------------------- nodes

const nodes = suite('tables: nodes');

const nodeInfo = { kubeletVersion: 'v1.32.0-corral', osImage: 'Debian GNU/Linux 12 (bookworm)', kernelVersion: '6.1.0-rpi7', containerRuntimeVersion: 'containerd://1.6.20' };

nodes('a ready control-plane node with addresses', () => {
  const node = {
    metadata: { name: 'pi-1', creationTimestamp: ago(3 * 86400 + 4 * 3600), labels: { 'node-role.kubernetes.io/control-plane': 'true', 'node-role.kubernetes.io/etcd': 'true', 'kubernetes.io/arch': 'arm64' } },
    spec: {},
    status: {
      conditions: [{ type: 'MemoryPressure', status: 'False' }, { type: 'Ready', status: 'True' }],
      addresses: [{ type: 'Hostname', address: 'pi-1' }, { type: 'InternalIP', address: '192.168.77.11' }],
      nodeInfo,
    },
  };
  assert.equal(columns('Node'), ['Name', 'Status', 'Roles', 'Age', 'Version', 'Internal-IP', 'External-IP', 'OS-Image', 'Kernel-Version', 'Container-Runtime']);
  assert.equal(cells('Node', node), [
    'pi-1', 'Ready', 'control-plane,etcd', '3d4h', 'v1.32.0-corral',
    '192.168.77.11', '<none>', 'Debian GNU/Linux 12 (bookworm)', '6.1.0-rpi7', 'containerd://1.6.20',
  ]);
});

nodes('NotReady, Unknown and SchedulingDisabled; legacy role label', () => {
  const node = (ready: string | undefined, extra: Record<string, unknown> = {}, labels: Record<string, string> = {}) => ({
    metadata: { name: 'n', creationTimestamp: ago(60), labels },
    status: { conditions: ready === undefined ? [] : [{ type: 'Ready', status: ready }], addresses: [{ type: 'ExternalIP', address: '203.0.113.9' }] },
    ...extra,
  });
  assert.equal(cells('Node', node('False', { spec: { unschedulable: true } })).slice(1, 3), ['NotReady,SchedulingDisabled', '<none>']);
  assert.is(cells('Node', node('Unknown'))[1], 'NotReady');
  assert.is(cells('Node', node(undefined))[1], 'Unknown');
  assert.is(cells('Node', node('True', {}, { 'kubernetes.io/role': 'worker' }))[2], 'worker');
  // No nodeInfo: the version is empty and the wide system columns say <unknown>.
  assert.equal(cells('Node', node('True')).slice(4), ['', '<none>', '203.0.113.9', '<unknown>', '<unknown>', '<unknown>']);
});

nodes.run();

// ---------------------------------------------------------------- workloads

const workloads = suite('tables: workloads');

const template = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }, { name: 'sidecar', image: 'busybox:1.36' }] } };

workloads('deployments: ready/desired, up-to-date, available', () => {
  const d = {
    metadata: meta('web'),
    spec: { replicas: 2, selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'edge'] }] }, template },
    status: { replicas: 2, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 },
  };
  assert.equal(columns('Deployment'), ['Name', 'Ready', 'Up-to-date', 'Available', 'Age', 'Containers', 'Images', 'Selector']);
  assert.equal(cells('Deployment', d), ['web', '1/2', 1, 1, '10m', 'nginx,sidecar', 'nginx:1.27,busybox:1.36', 'app=web,tier in (edge,front)']);
  // No status yet: zeros, and replicas defaults to 1.
  assert.equal(cells('Deployment', { metadata: meta('new'), spec: { selector: { matchLabels: { app: 'new' } }, template } }).slice(1, 4), ['0/1', 0, 0]);
});

workloads('replicasets and replicationcontrollers', () => {
  const rs = { metadata: meta('web-7d9f'), spec: { replicas: 3, selector: { matchLabels: { app: 'web', 'pod-template-hash': '7d9f' } }, template }, status: { replicas: 3, readyReplicas: 2 } };
  assert.equal(columns('ReplicaSet'), ['Name', 'Desired', 'Current', 'Ready', 'Age', 'Containers', 'Images', 'Selector']);
  assert.equal(cells('ReplicaSet', rs), ['web-7d9f', 3, 3, 2, '10m', 'nginx,sidecar', 'nginx:1.27,busybox:1.36', 'app=web,pod-template-hash=7d9f']);
  const rc = { metadata: meta('legacy'), spec: { replicas: 1, selector: { tier: 'db', app: 'pg' }, template }, status: { replicas: 1 } };
  assert.equal(cells('ReplicationController', rc), ['legacy', 1, 1, 0, '10m', 'nginx,sidecar', 'nginx:1.27,busybox:1.36', 'app=pg,tier=db']);
});

workloads('daemonsets', () => {
  const ds = {
    metadata: meta('agent'),
    spec: { selector: { matchLabels: { app: 'agent' } }, template: { spec: { nodeSelector: { 'kubernetes.io/os': 'linux' }, containers: [{ name: 'agent', image: 'corral/agent:0.1' }] } } },
    status: { desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 2, updatedNumberScheduled: 3, numberAvailable: 2, numberMisscheduled: 0 },
  };
  assert.equal(columns('DaemonSet'), ['Name', 'Desired', 'Current', 'Ready', 'Up-to-date', 'Available', 'Node Selector', 'Age', 'Containers', 'Images', 'Selector']);
  assert.equal(cells('DaemonSet', ds), ['agent', 3, 3, 2, 3, 2, 'kubernetes.io/os=linux', '10m', 'agent', 'corral/agent:0.1', 'app=agent']);
  const bare = { ...ds, spec: { ...ds.spec, template: { spec: { containers: [] } } } };
  assert.is(cells('DaemonSet', bare)[6], '<none>');
});

workloads('jobs: status, completions, duration', () => {
  const jobTemplate = { spec: { containers: [{ name: 'once', image: 'busybox:1.36' }], restartPolicy: 'Never' } };
  const runningJob = {
    metadata: meta('once'),
    spec: { template: jobTemplate, selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'c1' } } },
    status: { startTime: ago(90), active: 1 },
  };
  assert.equal(columns('Job'), ['Name', 'Status', 'Completions', 'Duration', 'Age', 'Containers', 'Images', 'Selector']);
  assert.equal(cells('Job', runningJob), ['once', 'Running', '0/1', '90s', '10m', 'once', 'busybox:1.36', 'batch.kubernetes.io/controller-uid=c1']);

  const done = {
    metadata: meta('batch'),
    spec: { completions: 3, template: jobTemplate },
    status: { startTime: ago(500), completionTime: ago(350), succeeded: 3, conditions: [{ type: 'Complete', status: 'True' }] },
  };
  assert.equal(cells('Job', done).slice(1, 4), ['Complete', '3/3', '2m30s']);

  const parallel = { metadata: meta('fan'), spec: { parallelism: 4, template: jobTemplate }, status: {} };
  assert.equal(cells('Job', parallel).slice(1, 4), ['Running', '0/1 of 4', '']);
  assert.is(cells('Job', parallel)[7], '');

  const failed = { ...done, status: { ...done.status, conditions: [{ type: 'Failed', status: 'True' }] } };
  assert.is(cells('Job', failed)[1], 'Failed');
  const suspended = { ...parallel, status: { conditions: [{ type: 'Suspended', status: 'True' }] } };
  assert.is(cells('Job', suspended)[1], 'Suspended');
  const terminating = { ...parallel, metadata: meta('fan', { deletionTimestamp: ago(1) }) };
  assert.is(cells('Job', terminating)[1], 'Terminating');
});

workloads('cronjobs', () => {
  const cj = {
    metadata: meta('tick'),
    spec: { schedule: '*/5 * * * *', suspend: false, jobTemplate: { spec: { template: { spec: { containers: [{ name: 'tick', image: 'busybox:1.36' }] } } } } },
    status: { active: [{ kind: 'Job', name: 'tick-1', namespace: 'default' }], lastScheduleTime: ago(180) },
  };
  assert.equal(columns('CronJob'), ['Name', 'Schedule', 'Timezone', 'Suspend', 'Active', 'Last Schedule', 'Age', 'Containers', 'Images', 'Selector']);
  assert.equal(cells('CronJob', cj), ['tick', '*/5 * * * *', '<none>', 'False', 1, '3m', '10m', 'tick', 'busybox:1.36', '']);
  const never = { ...cj, spec: { ...cj.spec, timeZone: 'Europe/Paris', suspend: undefined }, status: {} };
  assert.equal(cells('CronJob', never).slice(2, 6), ['Europe/Paris', '<unset>', 0, '<none>']);
});

workloads.run();

// ---------------------------------------------------------------- networking and events

const network = suite('tables: services, endpoints, events');

network('services of each type', () => {
  const svc = (spec: Record<string, unknown>, status: Record<string, unknown> = {}) => ({ metadata: meta('web'), spec, status });
  assert.equal(columns('Service'), ['Name', 'Type', 'Cluster-IP', 'External-IP', 'Port(s)', 'Age', 'Selector']);
  assert.equal(
    cells('Service', svc({ type: 'ClusterIP', clusterIP: '10.43.0.10', clusterIPs: ['10.43.0.10'], selector: { app: 'web' }, ports: [{ port: 80, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }] })),
    ['web', 'ClusterIP', '10.43.0.10', '<none>', '80/TCP,53/UDP', '10m', 'app=web'],
  );
  assert.equal(
    cells('Service', svc({ type: 'NodePort', clusterIPs: ['10.43.0.11'], externalIPs: ['192.168.77.50'], ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }] })).slice(1, 7),
    ['NodePort', '10.43.0.11', '192.168.77.50', '80:30080/TCP', '10m', '<none>'],
  );
  assert.is(cells('Service', svc({ type: 'LoadBalancer', clusterIPs: ['10.43.0.12'], ports: [{ port: 443 }] }))[3], '<pending>');
  assert.is(cells('Service', svc({ type: 'LoadBalancer', clusterIPs: ['10.43.0.12'], ports: [{ port: 443 }] }, { loadBalancer: { ingress: [{ ip: '192.168.77.200' }, { hostname: 'lb.local' }] } }))[3], '192.168.77.200,lb.local');
  assert.equal(cells('Service', svc({ type: 'ExternalName', externalName: 'db.example.com' })).slice(1, 5), ['ExternalName', '<none>', 'db.example.com', '<none>']);
  assert.is(cells('Service', svc({ type: 'ClusterIP', clusterIP: 'None', clusterIPs: ['None'] }))[2], 'None');
});

network('endpoints: three addresses, then a count of the rest', () => {
  const ep = {
    metadata: meta('web'),
    subsets: [{ addresses: [{ ip: '10.42.0.1' }, { ip: '10.42.0.2' }, { ip: '10.42.1.3' }, { ip: '10.42.1.4' }], ports: [{ port: 8080, protocol: 'TCP' }] }],
  };
  assert.equal(cells('Endpoints', ep), ['web', '10.42.0.1:8080,10.42.0.2:8080,10.42.1.3:8080 + 1 more...', '10m']);
  assert.is(cells('Endpoints', { metadata: meta('none') })[1], '<none>');
  assert.is(cells('Endpoints', { metadata: meta('v6'), subsets: [{ addresses: [{ ip: 'fd00::5' }], ports: [{ port: 80 }] }] })[1], '[fd00::5]:80');
  assert.is(cells('Endpoints', { metadata: meta('headless'), subsets: [{ addresses: [{ ip: '10.42.0.7' }] }] })[1], '10.42.0.7');
});

network('events: object, source, counts and times', () => {
  const ev = {
    metadata: meta('web-1.17f'),
    involvedObject: { kind: 'Pod', namespace: 'default', name: 'web-1', uid: 'u1', apiVersion: 'v1', fieldPath: 'spec.containers{web}' },
    reason: 'BackOff', message: 'Back-off restarting failed container\n', type: 'Warning',
    source: { component: 'kubelet', host: 'pi-1' },
    firstTimestamp: ago(3600), lastTimestamp: ago(30), count: 12,
  };
  assert.equal(columns('Event'), ['Last Seen', 'Type', 'Reason', 'Object', 'Subobject', 'Source', 'Message', 'First Seen', 'Count', 'Name']);
  assert.equal(cells('Event', ev), ['30s', 'Warning', 'BackOff', 'pod/web-1', 'spec.containers{web}', 'kubelet, pi-1', 'Back-off restarting failed container', '60m', 12, 'web-1.17f']);

  const fresh = {
    metadata: meta('n1.18a'),
    involvedObject: { kind: 'Node', name: '' },
    reason: 'Starting', message: 'corral agent started', type: 'Normal',
    eventTime: '2025-06-01T11:59:50.000000Z', reportingComponent: 'corral-agent', reportingInstance: 'pi-2',
  };
  assert.equal(cells('Event', fresh), ['10s', 'Normal', 'Starting', 'node', '', 'corral-agent, pi-2', 'corral agent started', '10s', 1, 'n1.18a']);

  const series = { ...ev, series: { count: 40, lastObservedTime: '2025-06-01T11:59:55.000000Z' } };
  assert.equal([cells('Event', series)[0], cells('Event', series)[8]], ['5s', 40]);
});

network.run();

// ---------------------------------------------------------------- config and cluster kinds

const config = suite('tables: namespaces, configmaps, secrets, serviceaccounts, leases, pdbs, default');

config('namespaces, configmaps, secrets, serviceaccounts, leases', () => {
  assert.equal(cells('Namespace', { metadata: { name: 'team-a', creationTimestamp: ago(7200) }, status: { phase: 'Active' } }), ['team-a', 'Active', '120m']);
  assert.equal(cells('ConfigMap', { metadata: meta('settings'), data: { mode: 'fast', level: '3' }, binaryData: { 'logo.bin': 'iVBO' } }), ['settings', 3, '10m']);
  assert.equal(cells('ConfigMap', { metadata: meta('empty') }), ['empty', 0, '10m']);
  assert.equal(columns('Secret'), ['Name', 'Type', 'Data', 'Age']);
  assert.equal(cells('Secret', { metadata: meta('regcred'), type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': 'e30=' } }), ['regcred', 'kubernetes.io/dockerconfigjson', 1, '10m']);
  assert.equal(cells('Secret', { metadata: meta('creds'), type: 'Opaque', data: { user: 'YQ==' }, stringData: { user: 'b', pass: 'c' } }), ['creds', 'Opaque', 2, '10m']);
  assert.equal(cells('ServiceAccount', { metadata: meta('builder'), secrets: [{ name: 'builder-token' }] }), ['builder', 1, '10m']);
  assert.equal(cells('ServiceAccount', { metadata: meta('default') }), ['default', 0, '10m']);
  assert.equal(cells('Lease', { metadata: meta('pi-1'), spec: { holderIdentity: 'pi-1', leaseDurationSeconds: 40 } }), ['pi-1', 'pi-1', '10m']);
  assert.equal(cells('Lease', { metadata: meta('free'), spec: {} }), ['free', '', '10m']);
});

config('poddisruptionbudgets', () => {
  assert.equal(columns('PodDisruptionBudget'), ['Name', 'Min Available', 'Max Unavailable', 'Allowed Disruptions', 'Age']);
  const pdb = { metadata: meta('web-pdb'), spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } } }, status: { disruptionsAllowed: 1, currentHealthy: 2, desiredHealthy: 1, expectedPods: 2 } };
  assert.equal(cells('PodDisruptionBudget', pdb), ['web-pdb', '1', 'N/A', 1, '10m']);
  assert.equal(cells('PodDisruptionBudget', { metadata: meta('pct'), spec: { maxUnavailable: '25%' } }).slice(1, 4), ['N/A', '25%', 0]);
});

config('kinds without a printer get Name and Created At', () => {
  // A kind outside the built-in catalogue (a custom resource, say).
  const widgets: ResourceInfo = { ...info('ConfigMap'), group: 'example.com', kind: 'Widget', plural: 'widgets', singular: 'widget' };
  const table = toTable(widgets, [{ metadata: meta('gear') } as KubeObject], { now: NOW });
  assert.equal(table.columnDefinitions!.map((c) => [c.name, c.type, c.format]), [['Name', 'string', 'name'], ['Created At', 'date', '']]);
  assert.equal(table.rows[0]!.cells, ['gear', '2025-06-01T11:50:00Z']);
  // Go prints the zero time for an unset creationTimestamp.
  assert.equal(toTable(widgets, [{ metadata: { name: 'w' } }], { now: NOW }).rows[0]!.cells, ['w', '0001-01-01T00:00:00Z']);
});

config.run();

// ---------------------------------------------------------------- the Table envelope

const envelope = suite('tables: envelope');

const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('settings', { labels: { app: 'web' }, resourceVersion: '42' }), data: { a: '1' } } as KubeObject;

envelope('row objects are PartialObjectMetadata by default and carry the full metadata', () => {
  const table = toTable(info('ConfigMap'), [cm], { now: NOW, listMeta: { resourceVersion: '125', continue: '' } });
  assert.is(table.kind, 'Table');
  assert.is(table.apiVersion, 'meta.k8s.io/v1');
  assert.equal(table.metadata, { resourceVersion: '125', continue: '' });
  assert.equal(table.rows[0]!.object, { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: cm.metadata });
  assert.not.ok('conditions' in table.rows[0]!);
});

envelope('includeObject=Object embeds the object with its type; None embeds nothing', () => {
  const untyped = { metadata: cm.metadata, data: { a: '1' } } as KubeObject;
  const full = toTable(info('ConfigMap'), [untyped], { now: NOW, includeObject: 'Object' }).rows[0]!.object;
  assert.equal(full, { metadata: cm.metadata, data: { a: '1' }, kind: 'ConfigMap', apiVersion: 'v1' });
  const deploy = toTable(info('Deployment'), [{ metadata: meta('web'), spec: { template } } as KubeObject], { now: NOW, includeObject: 'Object' }).rows[0]!.object as KubeObject;
  assert.is(deploy.apiVersion, 'apps/v1');
  const none = toTable(info('ConfigMap'), [cm], { now: NOW, includeObject: 'None' }).rows[0]!;
  assert.not.ok('object' in none);
});

envelope('noHeaders gives null column definitions but full rows', () => {
  const table = toTable(info('ConfigMap'), [cm], { now: NOW, noHeaders: true });
  assert.is(table.columnDefinitions, null);
  assert.equal(table.rows[0]!.cells, ['settings', 1, '10m']);
  assert.equal(toTable(info('ConfigMap'), [], { now: NOW }).metadata, {});
});

envelope.run();
