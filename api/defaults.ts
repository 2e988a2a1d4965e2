/**
 * Kubernetes' API defaults (the SetDefaults_* functions of core/v1, apps/v1 and batch/v1, plus the
 * few values the real API server fills in while creating an object), applied in place before
 * validation on every create and update. Defaulting only fills what is missing, so applying it twice
 * changes nothing.
 */
import type { KubeObject } from './meta.js';

import { ensureObj, isObj, objects, setDefault, setDefaultString, type Obj } from './default-util.js';
import { defaultWebhooks } from './admission-defaults.js';

// ------------------------------------------------------------------------------------ containers

/**
 * The tag of an image reference, '' when it has none. `registry:5000/app` has no tag: a ':' only
 * starts a tag after the last '/'. A digest (`@sha256:…`) is not a tag.
 */
export function imageTag(image: string): string {
  const withoutDigest = image.split('@')[0]!;
  const lastSlash = withoutDigest.lastIndexOf('/');
  const lastColon = withoutDigest.lastIndexOf(':');
  return lastColon > lastSlash ? withoutDigest.slice(lastColon + 1) : '';
}

/** Always for `:latest` and untagged images (which mean latest), IfNotPresent otherwise. */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  const tag = imageTag(image);
  if (tag === 'latest') return 'Always';
  if (tag === '' && !image.includes('@')) return 'Always';
  return 'IfNotPresent';
}

/** For Go's non-pointer ints, 0 is "unset" and gets the default too (protobuf clients send zeros). */
function setDefaultNonZero(obj: Obj, field: string, value: number): void {
  if (obj[field] === undefined || obj[field] === null || obj[field] === 0) obj[field] = value;
}

function defaultProbe(probe: unknown): void {
  if (!isObj(probe)) return;
  setDefaultNonZero(probe, 'timeoutSeconds', 1);
  setDefaultNonZero(probe, 'periodSeconds', 10);
  setDefaultNonZero(probe, 'successThreshold', 1);
  setDefaultNonZero(probe, 'failureThreshold', 3);
  defaultHttpGet(probe['httpGet']);
}

function defaultHttpGet(httpGet: unknown): void {
  if (!isObj(httpGet)) return;
  setDefaultString(httpGet, 'path', '/');
  setDefaultString(httpGet, 'scheme', 'HTTP');
}

function defaultContainer(c: Obj, hostNetwork: boolean): void {
  if (typeof c['image'] === 'string') setDefaultString(c, 'imagePullPolicy', defaultPullPolicy(c['image']));
  setDefaultString(c, 'terminationMessagePath', '/dev/termination-log');
  setDefaultString(c, 'terminationMessagePolicy', 'File');
  for (const port of objects(c['ports'])) {
    setDefaultString(port, 'protocol', 'TCP');
    // With the host's network the container port is the host port.
    if (hostNetwork) setDefault(port, 'hostPort', port['containerPort']);
  }
  for (const ev of objects(c['env'])) {
    const from = ev['valueFrom'];
    if (isObj(from) && isObj(from['fieldRef'])) setDefaultString(from['fieldRef'], 'apiVersion', 'v1');
  }
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) defaultProbe(c[probe]);
  const lifecycle = c['lifecycle'];
  if (isObj(lifecycle)) {
    for (const hook of ['postStart', 'preStop']) {
      if (isObj(lifecycle[hook])) defaultHttpGet((lifecycle[hook] as Obj)['httpGet']);
    }
  }
}

/** 0644, the mode Kubernetes gives files projected from ConfigMaps, Secrets and the downward API. */
const DEFAULT_FILE_MODE = 0o644;

function defaultVolume(v: Obj): void {
  for (const source of ['configMap', 'secret', 'downwardAPI', 'projected']) {
    const s = v[source];
    if (isObj(s)) setDefault(s, 'defaultMode', DEFAULT_FILE_MODE);
  }
  if (isObj(v['hostPath'])) setDefault(v['hostPath'], 'type', '');
}

// ------------------------------------------------------------------------------------ pod specs

interface PodSpecDefaults {
  /** Job pod templates keep their own restartPolicy (validation insists on OnFailure or Never). */
  restartPolicy: boolean;
}

/** SetDefaults_PodSpec and the container/volume defaults within it. */
export function defaultPodSpec(spec: Obj, opts: PodSpecDefaults = { restartPolicy: true }): void {
  setDefaultString(spec, 'dnsPolicy', 'ClusterFirst');
  if (opts.restartPolicy) setDefaultString(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  setDefault(spec, 'securityContext', {});
  setDefaultString(spec, 'schedulerName', 'default-scheduler');
  const hostNetwork = spec['hostNetwork'] === true;
  for (const c of [...objects(spec['containers']), ...objects(spec['initContainers'])]) defaultContainer(c, hostNetwork);
  for (const v of objects(spec['volumes'])) defaultVolume(v);
}

function defaultPodTemplate(template: unknown, opts?: PodSpecDefaults): void {
  if (!isObj(template)) return;
  if (isObj(template['spec'])) defaultPodSpec(template['spec'], opts);
}

/** SetDefaults_Pod: requests default to limits, per resource, for every container of a pod. */
function defaultPod(pod: Obj): void {
  const spec = pod['spec'];
  if (!isObj(spec)) return;
  defaultPodSpec(spec);
  setDefault(spec, 'enableServiceLinks', true);
  for (const c of [...objects(spec['containers']), ...objects(spec['initContainers'])]) {
    const resources = c['resources'];
    if (!isObj(resources) || !isObj(resources['limits'])) continue;
    const limits = resources['limits'];
    const requests = ensureObj(resources, 'requests');
    for (const [name, limit] of Object.entries(limits)) setDefault(requests, name, limit);
  }
}

// ------------------------------------------------------------------------------------ workloads

function defaultDeployment(obj: Obj): void {
  const spec = ensureObj(obj, 'spec');
  setDefault(spec, 'replicas', 1);
  const strategy = ensureObj(spec, 'strategy');
  setDefaultString(strategy, 'type', 'RollingUpdate');
  if (strategy['type'] === 'RollingUpdate') {
    const rolling = ensureObj(strategy, 'rollingUpdate');
    setDefault(rolling, 'maxUnavailable', '25%');
    setDefault(rolling, 'maxSurge', '25%');
  }
  setDefault(spec, 'revisionHistoryLimit', 10);
  setDefault(spec, 'progressDeadlineSeconds', 600);
  defaultPodTemplate(spec['template']);
}

function defaultReplicaSet(obj: Obj): void {
  const spec = ensureObj(obj, 'spec');
  setDefault(spec, 'replicas', 1);
  defaultPodTemplate(spec['template']);
}

/** RCs take their selector, and their own labels when they have none, from the template labels. */
function defaultReplicationController(obj: Obj): void {
  const spec = ensureObj(obj, 'spec');
  const template = spec['template'];
  const labels = isObj(template) && isObj(template['metadata']) ? template['metadata']['labels'] : undefined;
  if (isObj(labels)) {
    if (!isObj(spec['selector']) || Object.keys(spec['selector']).length === 0) spec['selector'] = { ...labels };
    const meta = ensureObj(obj, 'metadata');
    if (!isObj(meta['labels']) || Object.keys(meta['labels']).length === 0) meta['labels'] = { ...labels };
  }
  setDefault(spec, 'replicas', 1);
  defaultPodTemplate(template);
}

function defaultDaemonSet(obj: Obj): void {
  const spec = ensureObj(obj, 'spec');
  const strategy = ensureObj(spec, 'updateStrategy');
  setDefaultString(strategy, 'type', 'RollingUpdate');
  if (strategy['type'] === 'RollingUpdate') {
    const rolling = ensureObj(strategy, 'rollingUpdate');
    setDefault(rolling, 'maxUnavailable', 1);
    setDefault(rolling, 'maxSurge', 0);
  }
  setDefault(spec, 'revisionHistoryLimit', 10);
  defaultPodTemplate(spec['template']);
}

function defaultClaimSpec(spec: Obj): void {
  setDefaultString(spec, 'volumeMode', 'Filesystem');
}

function defaultStatefulSet(obj: Obj): void {
  const spec = ensureObj(obj, 'spec');
  setDefault(spec, 'replicas', 1);
  setDefaultString(spec, 'podManagementPolicy', 'OrderedReady');
  const strategy = ensureObj(spec, 'updateStrategy');
  setDefaultString(strategy, 'type', 'RollingUpdate');
  if (strategy['type'] === 'RollingUpdate') setDefault(ensureObj(strategy, 'rollingUpdate'), 'partition', 0);
  setDefault(spec, 'revisionHistoryLimit', 10);
  const retention = ensureObj(spec, 'persistentVolumeClaimRetentionPolicy');
  setDefaultString(retention, 'whenDeleted', 'Retain');
  setDefaultString(retention, 'whenScaled', 'Retain');
  for (const t of objects(spec['volumeClaimTemplates'])) defaultClaimSpec(ensureObj(t, 'spec'));
  defaultPodTemplate(spec['template']);
}

function defaultJob(obj: Obj): void {
  const spec = ensureObj(obj, 'spec');
  // A work-queue job (parallelism only) keeps completions unset.
  if ((spec['completions'] === undefined || spec['completions'] === null) && (spec['parallelism'] === undefined || spec['parallelism'] === null)) {
    spec['completions'] = 1;
  }
  setDefault(spec, 'parallelism', 1);
  setDefault(spec, 'backoffLimit', 6);
  setDefaultString(spec, 'completionMode', 'NonIndexed');
  setDefault(spec, 'suspend', false);
  setDefaultString(spec, 'podReplacementPolicy', isObj(spec['podFailurePolicy']) ? 'Failed' : 'TerminatingOrFailed');
  const template = spec['template'];
  const labels = isObj(template) && isObj(template['metadata']) ? template['metadata']['labels'] : undefined;
  const meta = ensureObj(obj, 'metadata');
  if (isObj(labels) && (!isObj(meta['labels']) || Object.keys(meta['labels']).length === 0)) meta['labels'] = { ...labels };
  defaultPodTemplate(template, { restartPolicy: false });
}

function defaultCronJob(obj: Obj): void {
  const spec = ensureObj(obj, 'spec');
  setDefaultString(spec, 'concurrencyPolicy', 'Allow');
  setDefault(spec, 'suspend', false);
  setDefault(spec, 'successfulJobsHistoryLimit', 3);
  setDefault(spec, 'failedJobsHistoryLimit', 1);
  const jobTemplate = spec['jobTemplate'];
  if (isObj(jobTemplate) && isObj(jobTemplate['spec'])) defaultPodTemplate(jobTemplate['spec']['template'], { restartPolicy: false });
}

// ------------------------------------------------------------------------------------ core kinds

/** IngressClass parameters without a scope are cluster-scoped (SetDefaults_IngressClass). */
function defaultIngressClass(obj: Obj): void {
  const spec = obj['spec'];
  if (isObj(spec) && isObj(spec['parameters'])) setDefaultString(spec['parameters'], 'scope', 'Cluster');
}

function defaultService(obj: Obj): void {
  const spec = ensureObj(obj, 'spec');
  setDefaultString(spec, 'type', 'ClusterIP');
  setDefaultString(spec, 'sessionAffinity', 'None');
  if (spec['sessionAffinity'] === 'ClientIP') {
    const config = ensureObj(spec, 'sessionAffinityConfig');
    const clientIP = ensureObj(config, 'clientIP');
    setDefault(clientIP, 'timeoutSeconds', 10800);
  }
  for (const port of objects(spec['ports'])) {
    setDefaultString(port, 'protocol', 'TCP');
    if (port['targetPort'] === undefined || port['targetPort'] === null || port['targetPort'] === 0 || port['targetPort'] === '') {
      port['targetPort'] = port['port'];
    }
  }
  const type = spec['type'];
  if (type === 'NodePort' || type === 'LoadBalancer') setDefaultString(spec, 'externalTrafficPolicy', 'Cluster');
  if (type === 'LoadBalancer') setDefault(spec, 'allocateLoadBalancerNodePorts', true);
  if (type !== 'ExternalName') {
    setDefaultString(spec, 'internalTrafficPolicy', 'Cluster');
    // corral clusters are single-stack IPv4.
    if (!Array.isArray(spec['ipFamilies']) || spec['ipFamilies'].length === 0) spec['ipFamilies'] = ['IPv4'];
    setDefaultString(spec, 'ipFamilyPolicy', 'SingleStack');
  }
}

/** stringData is write-only: it is merged (and wins) into base64 data, as the API server does. */
function defaultSecret(obj: Obj): void {
  setDefaultString(obj, 'type', 'Opaque');
  const stringData = obj['stringData'];
  if (isObj(stringData)) {
    const data = ensureObj(obj, 'data');
    for (const [k, v] of Object.entries(stringData)) data[k] = Buffer.from(String(v), 'utf8').toString('base64');
  }
  delete obj['stringData'];
}

function defaultNamespace(obj: Obj): void {
  const spec = ensureObj(obj, 'spec');
  if (!Array.isArray(spec['finalizers'])) spec['finalizers'] = ['kubernetes'];
  const status = ensureObj(obj, 'status');
  setDefaultString(status, 'phase', 'Active');
  // Since 1.21 every namespace carries its own name as a label, so selectors can pick namespaces.
  const meta = ensureObj(obj, 'metadata');
  if (typeof meta['name'] === 'string' && meta['name'] !== '') {
    meta['labels'] = { ...(isObj(meta['labels']) ? meta['labels'] : {}), 'kubernetes.io/metadata.name': meta['name'] };
  }
}

/** A node that reports capacity but no allocatable can allocate all of its capacity. */
function defaultNode(obj: Obj): void {
  const status = obj['status'];
  if (isObj(status) && isObj(status['capacity']) && !isObj(status['allocatable'])) status['allocatable'] = { ...status['capacity'] };
}

function defaultPersistentVolume(obj: Obj): void {
  const spec = ensureObj(obj, 'spec');
  setDefaultString(spec, 'persistentVolumeReclaimPolicy', 'Retain');
  setDefaultString(spec, 'volumeMode', 'Filesystem');
  if (isObj(spec['hostPath'])) setDefault(spec['hostPath'], 'type', '');
}

function defaultStorageClass(obj: Obj): void {
  setDefaultString(obj, 'reclaimPolicy', 'Delete');
  setDefaultString(obj, 'volumeBindingMode', 'Immediate');
}

function defaultEndpoints(obj: Obj): void {
  for (const subset of objects(obj['subsets'])) {
    for (const port of objects(subset['ports'])) setDefaultString(port, 'protocol', 'TCP');
  }
}

function defaultEndpointSlice(obj: Obj): void {
  for (const port of objects(obj['ports'])) {
    setDefaultString(port, 'protocol', 'TCP');
    if (port['name'] === undefined) port['name'] = '';
  }
}

/**
 * SetDefaults_LimitRangeItem, for Container items: a missing default limit is the max, a missing
 * default request is the default limit, else the min.
 */
function defaultLimitRange(obj: Obj): void {
  for (const item of objects(ensureObj(obj, 'spec')['limits'])) {
    if (item['type'] !== 'Container') continue;
    const max = isObj(item['max']) ? item['max'] : {};
    const min = isObj(item['min']) ? item['min'] : {};
    const defaults = ensureObj(item, 'default');
    const defaultRequests = ensureObj(item, 'defaultRequest');
    for (const [r, q] of Object.entries(max)) setDefault(defaults, r, q);
    for (const [r, q] of Object.entries(defaults)) setDefault(defaultRequests, r, q);
    for (const [r, q] of Object.entries(min)) setDefault(defaultRequests, r, q);
    if (Object.keys(defaults).length === 0) delete item['default'];
    if (Object.keys(defaultRequests).length === 0) delete item['defaultRequest'];
  }
}

/** SetDefaults_Subject: User and Group subjects belong to the RBAC group, ServiceAccounts to core. */
function defaultBindingSubjects(obj: Obj): void {
  for (const subject of objects(obj['subjects'])) {
    if (subject['kind'] === 'User' || subject['kind'] === 'Group') setDefaultString(subject, 'apiGroup', 'rbac.authorization.k8s.io');
  }
}

const DEFAULTERS: ReadonlyMap<string, (obj: Obj) => void> = new Map([
  ['Pod', defaultPod],
  ['Deployment', defaultDeployment],
  ['ReplicaSet', defaultReplicaSet],
  ['ReplicationController', defaultReplicationController],
  ['DaemonSet', defaultDaemonSet],
  ['Job', defaultJob],
  ['CronJob', defaultCronJob],
  ['Service', defaultService],
  ['Secret', defaultSecret],
  ['Namespace', defaultNamespace],
  ['Node', defaultNode],
  ['Endpoints', defaultEndpoints],
  ['EndpointSlice', defaultEndpointSlice],
  ['StatefulSet', defaultStatefulSet],
  ['PersistentVolume', defaultPersistentVolume],
  ['PersistentVolumeClaim', (obj) => defaultClaimSpec(ensureObj(obj, 'spec'))],
  ['StorageClass', defaultStorageClass],
  ['LimitRange', defaultLimitRange],
  ['RoleBinding', defaultBindingSubjects],
  ['ClusterRoleBinding', defaultBindingSubjects],
  ['PodTemplate', (obj) => defaultPodTemplate(obj['template'])],
  ['ValidatingWebhookConfiguration', (obj) => defaultWebhooks(obj, false)],
  ['MutatingWebhookConfiguration', (obj) => defaultWebhooks(obj, true)],
  ['PriorityClass', (obj) => setDefaultString(obj, 'preemptionPolicy', 'PreemptLowerPriority')],
  ['IngressClass', defaultIngressClass],
]);

/** Fills in Kubernetes' defaults for an object of `kind`, in place. Unknown kinds are left alone. */
export function applyDefaults(kind: string, obj: KubeObject): void {
  if (typeof obj !== 'object' || obj === null) return;
  DEFAULTERS.get(kind)?.(obj as Obj);
}
