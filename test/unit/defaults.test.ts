import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { applyDefaults, defaultPullPolicy, imageTag } from '../../api/defaults.js';
import type { KubeObject } from '../../api/meta.js';
import { resourceForKind } from '../../api/resources.js';
import { validateObject } from '../../api/validation/index.js';

type Obj = Record<string, unknown>;

function defaulted(kind: string, obj: KubeObject): KubeObject {
  applyDefaults(kind, obj);
  return obj;
}

function at(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = /^\d+$/.test(part) ? (cur as unknown[])[Number(part)] : (cur as Obj)[part];
  }
  return cur;
}

const pods = suite('pod defaults');

pods('image pull policy follows the tag', () => {
  assert.is(imageTag('nginx'), '');
  assert.is(imageTag('registry.local:5000/team/app'), '');
  assert.is(imageTag('registry.local:5000/team/app:v2'), 'v2');
  assert.is(defaultPullPolicy('nginx'), 'Always');
  assert.is(defaultPullPolicy('nginx:latest'), 'Always');
  assert.is(defaultPullPolicy('nginx:1.27'), 'IfNotPresent');
  assert.is(defaultPullPolicy('registry.local:5000/app'), 'Always');
  assert.is(defaultPullPolicy('nginx@sha256:0123abcd'), 'IfNotPresent');
  assert.is(defaultPullPolicy('nginx:latest@sha256:0123abcd'), 'Always');
});

pods('a bare pod gets the pod, container, port, probe and env defaults', () => {
  const pod = defaulted('Pod', {
    metadata: { name: 'p', namespace: 'default' },
    spec: {
      containers: [{
        name: 'app', image: 'nginx:1.27',
        ports: [{ containerPort: 80 }],
        livenessProbe: { httpGet: { port: 80 } },
        readinessProbe: { tcpSocket: { port: 80 }, periodSeconds: 5, successThreshold: 0 },
        env: [{ name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
        resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '100m' } },
      }],
      initContainers: [{ name: 'init', image: 'busybox' }],
      volumes: [{ name: 'cfg', configMap: { name: 'c' } }],
    },
  });
  const spec = pod['spec'] as Obj;
  assert.is(spec['restartPolicy'], 'Always');
  assert.is(spec['terminationGracePeriodSeconds'], 30);
  assert.is(spec['dnsPolicy'], 'ClusterFirst');
  assert.is(spec['schedulerName'], 'default-scheduler');
  assert.equal(spec['securityContext'], {});
  assert.is(spec['enableServiceLinks'], true);
  assert.is(at(pod, 'spec.containers.0.imagePullPolicy'), 'IfNotPresent');
  assert.is(at(pod, 'spec.initContainers.0.imagePullPolicy'), 'Always');
  assert.is(at(pod, 'spec.containers.0.terminationMessagePath'), '/dev/termination-log');
  assert.is(at(pod, 'spec.containers.0.terminationMessagePolicy'), 'File');
  assert.is(at(pod, 'spec.initContainers.0.terminationMessagePolicy'), 'File');
  assert.is(at(pod, 'spec.containers.0.ports.0.protocol'), 'TCP');
  assert.equal(at(pod, 'spec.containers.0.livenessProbe'), {
    httpGet: { port: 80, path: '/', scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3,
  });
  assert.is(at(pod, 'spec.containers.0.readinessProbe.periodSeconds'), 5);
  assert.is(at(pod, 'spec.containers.0.readinessProbe.successThreshold'), 1, 'a zero (protobuf "unset") threshold is defaulted');
  assert.is(at(pod, 'spec.containers.0.env.0.valueFrom.fieldRef.apiVersion'), 'v1');
  // Requests default to limits per resource; an explicit request is kept.
  assert.equal(at(pod, 'spec.containers.0.resources.requests'), { cpu: '100m', memory: '128Mi' });
  assert.is(at(pod, 'spec.volumes.0.configMap.defaultMode'), 0o644);
});

pods('explicit values are never overwritten and defaulting twice changes nothing', () => {
  const pod = defaulted('Pod', {
    metadata: { name: 'p', namespace: 'default' },
    spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 0, dnsPolicy: 'Default', containers: [{ name: 'a', image: 'x', imagePullPolicy: 'Never' }] },
  });
  const spec = pod['spec'] as Obj;
  assert.is(spec['restartPolicy'], 'Never');
  assert.is(spec['terminationGracePeriodSeconds'], 0);
  assert.is(spec['dnsPolicy'], 'Default');
  assert.is(at(pod, 'spec.containers.0.imagePullPolicy'), 'Never');
  const snapshot = structuredClone(pod);
  applyDefaults('Pod', pod);
  assert.equal(pod, snapshot);
});

pods('host-network pods publish container ports on the host', () => {
  const pod = defaulted('Pod', { metadata: { name: 'p' }, spec: { hostNetwork: true, containers: [{ name: 'a', image: 'x', ports: [{ containerPort: 9100 }] }] } });
  assert.is(at(pod, 'spec.containers.0.ports.0.hostPort'), 9100);
});

pods.run();

const workloads = suite('workload defaults');

workloads('Deployment: replicas, rolling update 25%/25%, history and progress deadline, template defaults', () => {
  const d = defaulted('Deployment', {
    metadata: { name: 'web', namespace: 'default' },
    spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } } },
  });
  assert.is(at(d, 'spec.replicas'), 1);
  assert.equal(at(d, 'spec.strategy'), { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
  assert.is(at(d, 'spec.revisionHistoryLimit'), 10);
  assert.is(at(d, 'spec.progressDeadlineSeconds'), 600);
  assert.is(at(d, 'spec.template.spec.restartPolicy'), 'Always');
  assert.is(at(d, 'spec.template.spec.containers.0.imagePullPolicy'), 'Always');
  // Templates do not get the pod-only defaults.
  assert.is(at(d, 'spec.template.spec.enableServiceLinks'), undefined);
  assert.equal(validateObject(resourceForKind('Deployment')!, d), []);
});

workloads('Deployment with Recreate gets no rollingUpdate; replicas 0 is kept', () => {
  const d = defaulted('Deployment', { metadata: { name: 'w' }, spec: { replicas: 0, strategy: { type: 'Recreate' }, template: { spec: { containers: [] } } } });
  assert.equal(at(d, 'spec.strategy'), { type: 'Recreate' });
  assert.is(at(d, 'spec.replicas'), 0);
});

workloads('ReplicaSet and ReplicationController replicas; RC selector and labels from the template', () => {
  const rs = defaulted('ReplicaSet', { metadata: { name: 'rs' }, spec: { template: { spec: { containers: [{ name: 'a', image: 'x:1' }] } } } });
  assert.is(at(rs, 'spec.replicas'), 1);
  assert.is(at(rs, 'spec.template.spec.dnsPolicy'), 'ClusterFirst');
  const rc = defaulted('ReplicationController', {
    metadata: { name: 'rc', namespace: 'default' },
    spec: { template: { metadata: { labels: { app: 'rc' } }, spec: { containers: [{ name: 'a', image: 'x:1' }] } } },
  });
  assert.is(at(rc, 'spec.replicas'), 1);
  assert.equal(at(rc, 'spec.selector'), { app: 'rc' });
  assert.equal(rc.metadata.labels, { app: 'rc' });
  const labelled = defaulted('ReplicationController', {
    metadata: { name: 'rc', labels: { own: 'x' } },
    spec: { selector: { app: 'rc' }, template: { metadata: { labels: { app: 'rc', extra: 'y' } }, spec: { containers: [] } } },
  });
  assert.equal(labelled.metadata.labels, { own: 'x' });
  assert.equal(at(labelled, 'spec.selector'), { app: 'rc' });
});

workloads('DaemonSet: rolling update maxUnavailable 1, maxSurge 0, history 10', () => {
  const ds = defaulted('DaemonSet', { metadata: { name: 'ds' }, spec: { template: { spec: { containers: [] } } } });
  assert.equal(at(ds, 'spec.updateStrategy'), { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
  assert.is(at(ds, 'spec.revisionHistoryLimit'), 10);
  const onDelete = defaulted('DaemonSet', { metadata: { name: 'ds' }, spec: { updateStrategy: { type: 'OnDelete' }, template: { spec: { containers: [] } } } });
  assert.equal(at(onDelete, 'spec.updateStrategy'), { type: 'OnDelete' });
});

workloads('Job: counts, backoff, mode, suspend; its template keeps its restartPolicy; labels from template', () => {
  const job = defaulted('Job', {
    metadata: { name: 'pi', namespace: 'default' },
    spec: { template: { metadata: { labels: { job: 'pi' } }, spec: { containers: [{ name: 'pi', image: 'perl:5' }] } } },
  });
  assert.is(at(job, 'spec.completions'), 1);
  assert.is(at(job, 'spec.parallelism'), 1);
  assert.is(at(job, 'spec.backoffLimit'), 6);
  assert.is(at(job, 'spec.completionMode'), 'NonIndexed');
  assert.is(at(job, 'spec.suspend'), false);
  assert.is(at(job, 'spec.template.spec.restartPolicy'), undefined);
  assert.is(at(job, 'spec.template.spec.terminationGracePeriodSeconds'), 30);
  assert.equal(job.metadata.labels, { job: 'pi' });
  const workQueue = defaulted('Job', { metadata: { name: 'q' }, spec: { parallelism: 4, template: { spec: { containers: [] } } } });
  assert.is(at(workQueue, 'spec.completions'), undefined);
  assert.is(at(workQueue, 'spec.parallelism'), 4);
});

workloads('CronJob: policy, suspend and history limits; job template pods defaulted but restartPolicy kept', () => {
  const cj = defaulted('CronJob', {
    metadata: { name: 'tick' },
    spec: { schedule: '@hourly', jobTemplate: { spec: { template: { spec: { containers: [{ name: 'a', image: 'busybox:1.36' }], restartPolicy: 'OnFailure' } } } } },
  });
  assert.is(at(cj, 'spec.concurrencyPolicy'), 'Allow');
  assert.is(at(cj, 'spec.suspend'), false);
  assert.is(at(cj, 'spec.successfulJobsHistoryLimit'), 3);
  assert.is(at(cj, 'spec.failedJobsHistoryLimit'), 1);
  assert.is(at(cj, 'spec.jobTemplate.spec.template.spec.restartPolicy'), 'OnFailure');
  assert.is(at(cj, 'spec.jobTemplate.spec.template.spec.containers.0.imagePullPolicy'), 'IfNotPresent');
  assert.is(at(cj, 'spec.jobTemplate.spec.backoffLimit'), undefined);
});

workloads.run();

const core = suite('core defaults');

core('Service: ClusterIP, no affinity, TCP, targetPort = port, IPv4 single stack, Cluster traffic policies', () => {
  const s = defaulted('Service', {
    metadata: { name: 'web' },
    spec: { selector: { app: 'web' }, ports: [{ port: 80 }, { port: 443, targetPort: 'https', protocol: 'TCP' }] },
  });
  assert.equal(s['spec'], {
    selector: { app: 'web' },
    ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }, { port: 443, targetPort: 'https', protocol: 'TCP' }],
    type: 'ClusterIP', sessionAffinity: 'None', internalTrafficPolicy: 'Cluster', ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack',
  });
  const np = defaulted('Service', { metadata: { name: 'np' }, spec: { type: 'NodePort', ports: [{ port: 80 }] } });
  assert.is(at(np, 'spec.externalTrafficPolicy'), 'Cluster');
  const ext = defaulted('Service', { metadata: { name: 'db' }, spec: { type: 'ExternalName', externalName: 'db.example.com' } });
  assert.is(at(ext, 'spec.ipFamilies'), undefined);
  assert.is(at(ext, 'spec.internalTrafficPolicy'), undefined);
  const sticky = defaulted('Service', { metadata: { name: 's' }, spec: { sessionAffinity: 'ClientIP', ports: [{ port: 1 }] } });
  assert.is(at(sticky, 'spec.sessionAffinityConfig.clientIP.timeoutSeconds'), 10800);
});

core('Secret: type Opaque; stringData merged into base64 data and removed', () => {
  const s = defaulted('Secret', { metadata: { name: 's' }, data: { a: 'eA==', b: 'eQ==' }, stringData: { b: 'new', c: 'ünï' } });
  assert.is(s['type'], 'Opaque');
  assert.equal(s['data'], { a: 'eA==', b: Buffer.from('new').toString('base64'), c: Buffer.from('ünï').toString('base64') });
  assert.not.ok('stringData' in s);
  const typed = defaulted('Secret', { metadata: { name: 't' }, type: 'kubernetes.io/tls' });
  assert.is(typed['type'], 'kubernetes.io/tls');
});

core('Namespace: kubernetes finalizer, Active phase and the metadata.name label', () => {
  const ns = defaulted('Namespace', { metadata: { name: 'team-a', labels: { owner: 'me' } } });
  assert.equal(ns['spec'], { finalizers: ['kubernetes'] });
  assert.equal(ns['status'], { phase: 'Active' });
  assert.equal(ns.metadata.labels, { owner: 'me', 'kubernetes.io/metadata.name': 'team-a' });
  const terminating = defaulted('Namespace', { metadata: { name: 'x' }, spec: { finalizers: [] }, status: { phase: 'Terminating' } });
  assert.equal(terminating['spec'], { finalizers: [] });
  assert.equal(terminating['status'], { phase: 'Terminating' });
});

core('Node allocatable defaults to capacity; unknown kinds are untouched', () => {
  const node = defaulted('Node', { metadata: { name: 'pi' }, status: { capacity: { cpu: '4', memory: '8Gi', pods: '110' } } });
  assert.equal(at(node, 'status.allocatable'), { cpu: '4', memory: '8Gi', pods: '110' });
  const cm: KubeObject = { metadata: { name: 'c' }, data: { a: 'b' } };
  applyDefaults('ConfigMap', cm);
  assert.equal(cm, { metadata: { name: 'c' }, data: { a: 'b' } });
});

core.run();
