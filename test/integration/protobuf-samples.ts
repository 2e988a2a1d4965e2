/**
 * Zero values are sent only where Kubernetes keeps them (pointers such as `replicas: 0`): corral's
 * JSON path stores a sent `stdin: false` as is, where upstream's typed round trip drops it, so such a
 * field would differ from the protobuf path for reasons that are not protobuf's.
 *
 * One object per served kind for protobuf-kinds.test.ts, filled with as many different field types as
 * the kind has (nested messages, lists, maps, quantities, int-or-strings, times, bytes, pointers set to
 * zero). A kind without an entry is tried with bare metadata, which fails its validation if it needs
 * more: add an entry here when adding a kind.
 */
type Json = Record<string, unknown>;

const podSpec = (): Json => ({
  volumes: [
    { name: 'config', configMap: { name: 'app-config', items: [{ key: 'a', path: 'a.txt', mode: 0o400 }], defaultMode: 0o644, optional: false } },
    { name: 'secret', secret: { secretName: 'app-secret', optional: true } },
    { name: 'scratch', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
    { name: 'host', hostPath: { path: '/var/log', type: 'Directory' } },
    { name: 'info', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
    {
      name: 'projected',
      projected: { sources: [{ serviceAccountToken: { audience: 'vault', expirationSeconds: 3600, path: 'token' } }, { configMap: { name: 'app-config' } }] },
    },
  ],
  initContainers: [{ name: 'init', image: 'busybox:1.36', command: ['sh', '-c', 'true'] }],
  containers: [{
    name: 'app',
    image: 'nginx:1.27-alpine',
    args: ['-g', 'daemon off;'],
    workingDir: '/srv',
    ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }, { containerPort: 9090, hostPort: 19090, protocol: 'UDP' }],
    env: [
      { name: 'PLAIN', value: 'x' },
      { name: 'UNSET' },
      { name: 'FROM_FIELD', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } },
      { name: 'FROM_CM', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'a', optional: false } } },
      { name: 'FROM_RES', valueFrom: { resourceFieldRef: { containerName: 'app', resource: 'limits.memory', divisor: '1Mi' } } },
    ],
    envFrom: [{ prefix: 'CM_', configMapRef: { name: 'app-config' } }, { secretRef: { name: 'app-secret', optional: true } }],
    resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '100m', memory: '64Mi' } },
    volumeMounts: [
      { name: 'config', mountPath: '/etc/app', readOnly: true },
      { name: 'scratch', mountPath: '/tmp/scratch', subPath: 'x' },
      { name: 'secret', mountPath: '/etc/secret' },
    ],
    livenessProbe: { httpGet: { path: '/healthz', port: 'http', scheme: 'HTTP', httpHeaders: [{ name: 'X-Probe', value: '1' }] }, initialDelaySeconds: 3, periodSeconds: 10, failureThreshold: 3 },
    readinessProbe: { tcpSocket: { port: 80 }, timeoutSeconds: 2 },
    startupProbe: { exec: { command: ['cat', '/tmp/ready'] }, failureThreshold: 30 },
    lifecycle: { preStop: { exec: { command: ['nginx', '-s', 'quit'] } }, postStart: { sleep: { seconds: 1 } } },
    securityContext: { runAsUser: 1000, runAsNonRoot: true, readOnlyRootFilesystem: false, allowPrivilegeEscalation: false, capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] } },
    imagePullPolicy: 'IfNotPresent',
    terminationMessagePolicy: 'FallbackToLogsOnError',
    stdinOnce: true,
  }],
  terminationGracePeriodSeconds: 0,
  dnsPolicy: 'ClusterFirst',
  nodeSelector: { 'kubernetes.io/os': 'linux' },
  serviceAccountName: 'default',
  automountServiceAccountToken: false,
  hostname: 'app',
  subdomain: 'apps',
  securityContext: { fsGroup: 2000, runAsGroup: 3000, supplementalGroups: [4000], sysctls: [{ name: 'net.ipv4.ping_group_range', value: '0 2147483647' }] },
  affinity: {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/arch', operator: 'In', values: ['amd64', 'arm64'] }] }] },
      preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, preference: { matchExpressions: [{ key: 'disk', operator: 'Exists' }] } }],
    },
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, podAffinityTerm: { labelSelector: { matchLabels: { app: 'web' } }, topologyKey: 'kubernetes.io/hostname' } }],
    },
  },
  tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'edge', effect: 'NoSchedule' }, { operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }],
  hostAliases: [{ ip: '127.0.0.2', hostnames: ['alias.local'] }],
  dnsConfig: { nameservers: ['10.43.0.10'], searches: ['svc.cluster.local'], options: [{ name: 'ndots', value: '2' }] },
  enableServiceLinks: false,
  topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { app: 'web' } } }],
});

/** A webhook whose rules match nothing the tests create, so it is never called. */
const webhook = (path: string): Json => ({
  name: `${path}.hooks.example.com`,
  clientConfig: { service: { namespace: 'default', name: 'hooks', path: `/${path}`, port: 8443 }, caBundle: Buffer.from('not a real CA').toString('base64') },
  rules: [{ operations: ['CREATE', 'UPDATE'], apiGroups: ['example.com'], apiVersions: ['v1'], resources: ['widgets'], scope: 'Namespaced' }],
  failurePolicy: 'Ignore', matchPolicy: 'Equivalent', sideEffects: 'None', timeoutSeconds: 5, admissionReviewVersions: ['v1'],
  namespaceSelector: { matchExpressions: [{ key: 'hooks', operator: 'In', values: ['on'] }] },
  objectSelector: { matchLabels: { hooked: 'yes' } },
});

const template = (labels: Json, restartPolicy = 'Always'): Json => ({
  metadata: { labels, annotations: { 'example.com/template': 'yes' } },
  spec: { ...podSpec(), restartPolicy },
});

/** By kind, or by `apiVersion kind` where two groups share a kind name (Event) or the kind is not served yet. */
export const PROTOBUF_SAMPLES: Record<string, (name: string, namespace: string) => Json> = {
  Namespace: (name) => ({ metadata: { name, annotations: { owner: 'team-a' } }, spec: { finalizers: ['kubernetes'] } }),
  Node: (name) => ({
    metadata: { name, labels: { 'kubernetes.io/arch': 'arm64' } },
    spec: { podCIDR: '10.42.9.0/24', podCIDRs: ['10.42.9.0/24'], unschedulable: true, taints: [{ key: 'edge', value: 'yes', effect: 'NoSchedule' }] },
  }),
  Pod: (name) => ({ metadata: { name, labels: { app: 'web' } }, spec: { ...podSpec(), activeDeadlineSeconds: 600 } }),
  Service: (name) => ({
    metadata: { name },
    spec: {
      type: 'NodePort',
      selector: { app: 'web' },
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }, { name: 'metrics', port: 9090, targetPort: 9090, protocol: 'TCP' }],
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
      externalTrafficPolicy: 'Local',
      publishNotReadyAddresses: true,
    },
  }),
  Endpoints: (name) => ({
    metadata: { name },
    subsets: [{
      addresses: [{ ip: '10.42.0.7', hostname: 'a', nodeName: 'node-a', targetRef: { kind: 'Pod', name: 'web-1', namespace: 'default', uid: 'u-1' } }],
      notReadyAddresses: [{ ip: '10.42.0.8' }],
      ports: [{ name: 'http', port: 80, protocol: 'TCP', appProtocol: 'http' }],
    }],
  }),
  ConfigMap: (name) => ({ metadata: { name }, data: { 'a.txt': 'hello', empty: '' }, binaryData: { 'b.bin': Buffer.from([0, 1, 2, 255]).toString('base64') } }),
  Secret: (name) => ({ metadata: { name }, type: 'Opaque', data: { password: Buffer.from('s3cr3t').toString('base64'), empty: '' } }),
  ServiceAccount: (name) => ({ metadata: { name }, imagePullSecrets: [{ name: 'registry' }], automountServiceAccountToken: false }),
  Event: (name, namespace) => ({
    metadata: { name },
    involvedObject: { kind: 'Pod', namespace, name: 'web-1', uid: 'u-1', apiVersion: 'v1', fieldPath: 'spec.containers{app}' },
    reason: 'Pulled', message: 'Container image pulled', type: 'Normal', count: 3,
    source: { component: 'kubelet', host: 'node-a' },
    firstTimestamp: '2026-01-02T03:04:05Z', lastTimestamp: '2026-01-02T03:05:05Z',
    eventTime: '2026-01-02T03:04:05.123456Z', reportingComponent: 'kubelet', reportingInstance: 'node-a', action: 'Pull',
  }),
  ReplicationController: (name) => ({
    metadata: { name },
    spec: { replicas: 0, minReadySeconds: 5, selector: { app: name }, template: template({ app: name }) },
  }),
  Deployment: (name) => ({
    metadata: { name },
    spec: {
      replicas: 0, revisionHistoryLimit: 3, progressDeadlineSeconds: 120, minReadySeconds: 2,
      selector: { matchLabels: { app: name }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }] },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '50%' } },
      template: template({ app: name, tier: 'web' }),
    },
  }),
  ReplicaSet: (name) => ({
    metadata: { name },
    spec: { replicas: 0, selector: { matchLabels: { app: name } }, template: template({ app: name }) },
  }),
  DaemonSet: (name) => ({
    metadata: { name },
    spec: {
      selector: { matchLabels: { app: name } }, template: template({ app: name }),
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }, revisionHistoryLimit: 2,
    },
  }),
  Job: (name) => ({
    metadata: { name },
    spec: {
      parallelism: 0, completions: 3, backoffLimit: 2, activeDeadlineSeconds: 300, ttlSecondsAfterFinished: 60,
      completionMode: 'Indexed', suspend: true, template: template({ job: name }, 'Never'),
      podFailurePolicy: { rules: [{ action: 'FailJob', onExitCodes: { containerName: 'app', operator: 'In', values: [42] } }] },
    },
  }),
  CronJob: (name) => ({
    metadata: { name },
    spec: {
      schedule: '*/5 * * * *', timeZone: 'Etc/UTC', concurrencyPolicy: 'Forbid', suspend: false, startingDeadlineSeconds: 30,
      successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 0,
      jobTemplate: { metadata: { labels: { cron: name } }, spec: { backoffLimit: 0, template: template({ cron: name }, 'OnFailure') } },
    },
  }),
  Lease: (name) => ({
    metadata: { name },
    spec: { holderIdentity: 'node-a', leaseDurationSeconds: 40, acquireTime: '2026-01-02T03:04:05.000001Z', renewTime: '2026-01-02T03:04:45.250000Z', leaseTransitions: 0 },
  }),
  PersistentVolume: (name) => ({
    metadata: { name },
    spec: {
      capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Retain', storageClassName: 'manual',
      volumeMode: 'Filesystem', mountOptions: ['noatime'], hostPath: { path: '/srv/pv', type: 'DirectoryOrCreate' },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-a'] }] }] } },
    },
  }),
  PersistentVolumeClaim: (name) => ({
    metadata: { name },
    spec: {
      accessModes: ['ReadWriteOnce'], storageClassName: 'manual', volumeMode: 'Filesystem',
      resources: { requests: { storage: '512Mi' }, limits: { storage: '1Gi' } }, selector: { matchLabels: { tier: 'db' } },
    },
  }),
  StatefulSet: (name) => ({
    metadata: { name },
    spec: {
      replicas: 0, serviceName: name, podManagementPolicy: 'Parallel', revisionHistoryLimit: 2, minReadySeconds: 1,
      selector: { matchLabels: { app: name } }, template: template({ app: name }),
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0, maxUnavailable: 1 } },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Delete', whenScaled: 'Retain' },
      ordinals: { start: 0 },
    },
  }),
  ControllerRevision: (name) => ({ metadata: { name }, revision: 3, data: { spec: { template: { metadata: { labels: { app: name } } } } } }),
  EndpointSlice: (name) => ({
    metadata: { name, labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    endpoints: [{
      addresses: ['10.42.0.7'], conditions: { ready: true, serving: true, terminating: false }, hostname: 'a', nodeName: 'node-a', zone: 'z1',
      targetRef: { kind: 'Pod', name: 'web-1', namespace: 'default', uid: 'u-1' }, hints: { forZones: [{ name: 'z1' }] },
    }],
    ports: [{ name: 'http', protocol: 'TCP', port: 80, appProtocol: 'http' }],
  }),
  StorageClass: (name) => ({
    metadata: { name },
    provisioner: 'example.com/none', parameters: { type: 'ssd' }, reclaimPolicy: 'Retain', mountOptions: ['noatime'],
    allowVolumeExpansion: true, volumeBindingMode: 'WaitForFirstConsumer',
    allowedTopologies: [{ matchLabelExpressions: [{ key: 'topology.kubernetes.io/zone', values: ['z1'] }] }],
  }),
  ClusterRole: (name) => ({
    metadata: { name },
    rules: [{ apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'watch'] }, { nonResourceURLs: ['/healthz'], verbs: ['get'] }],
    aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'example.com/aggregate': 'true' } }] },
  }),
  ClusterRoleBinding: (name) => ({
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
    subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' }, { kind: 'ServiceAccount', name: 'default', namespace: 'default' }],
  }),
  Role: (name) => ({ metadata: { name }, rules: [{ apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['web'], verbs: ['get', 'patch'] }] }),
  RoleBinding: (name, namespace) => ({
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'editor' },
    subjects: [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'devs' }, { kind: 'ServiceAccount', name: 'default', namespace }],
  }),
  TokenReview: () => ({ metadata: {}, spec: { token: 'not-a-real-token', audiences: ['https://kubernetes.default.svc'] } }),
  SelfSubjectReview: () => ({ metadata: {} }),
  SubjectAccessReview: () => ({
    metadata: {},
    spec: { user: 'alice', groups: ['devs'], extra: { scopes: ['a', 'b'] }, resourceAttributes: { namespace: 'default', verb: 'get', group: 'apps', resource: 'deployments', name: 'web' } },
  }),
  SelfSubjectAccessReview: () => ({ metadata: {}, spec: { nonResourceAttributes: { path: '/healthz', verb: 'get' } } }),
  LocalSubjectAccessReview: (_name, namespace) => ({
    metadata: {},
    spec: { user: 'bob', resourceAttributes: { namespace, verb: 'list', resource: 'pods', subresource: 'log' } },
  }),
  SelfSubjectRulesReview: (_name, namespace) => ({ metadata: {}, spec: { namespace } }),
  PodTemplate: (name) => ({ metadata: { name }, template: template({ app: name }) }),
  PriorityClass: (name) => ({ metadata: { name }, value: 0, description: 'zero is a real priority', preemptionPolicy: 'Never' }),
  RuntimeClass: (name) => ({
    metadata: { name }, handler: 'runc',
    overhead: { podFixed: { cpu: '10m', memory: '16Mi' } },
    scheduling: { nodeSelector: { 'kubernetes.io/arch': 'arm64' }, tolerations: [{ key: 'runtime', operator: 'Exists', effect: 'NoSchedule' }] },
  }),
  Ingress: (name) => ({
    metadata: { name },
    spec: {
      ingressClassName: 'corral',
      defaultBackend: { service: { name: 'fallback', port: { name: 'http' } } },
      tls: [{ hosts: ['a.example.com', '*.example.com'], secretName: 'example-tls' }],
      rules: [
        { host: 'a.example.com', http: { paths: [{ path: '/api', pathType: 'Prefix', backend: { service: { name: 'api', port: { number: 8080 } } } }] } },
        { http: { paths: [{ path: '/x', pathType: 'Exact', backend: { resource: { apiGroup: 'k8s.example.com', kind: 'Bucket', name: 'static' } } }] } },
      ],
    },
  }),
  IngressClass: (name) => ({
    metadata: { name },
    spec: { controller: 'example.com/ingress', parameters: { apiGroup: 'k8s.example.com', kind: 'Params', name: 'p', scope: 'Namespace', namespace: 'default' } },
  }),
  ResourceQuota: (name) => ({
    metadata: { name },
    spec: {
      hard: { pods: '10', 'requests.cpu': '2', 'limits.memory': '4Gi', 'count/deployments.apps': '5' },
      scopeSelector: { matchExpressions: [{ scopeName: 'PriorityClass', operator: 'In', values: ['high'] }] },
    },
  }),
  LimitRange: (name) => ({
    metadata: { name },
    spec: {
      limits: [
        { type: 'Container', default: { cpu: '500m', memory: '256Mi' }, defaultRequest: { cpu: '100m' }, max: { cpu: '2' }, min: { cpu: '10m' }, maxLimitRequestRatio: { cpu: '10' } },
        { type: 'Pod', max: { memory: '2Gi' } },
      ],
    },
  }),
  'admissionregistration.k8s.io/v1 ValidatingWebhookConfiguration': (name) => ({ metadata: { name }, webhooks: [webhook('validate')] }),
  'admissionregistration.k8s.io/v1 MutatingWebhookConfiguration': (name) => ({ metadata: { name }, webhooks: [{ ...webhook('mutate'), reinvocationPolicy: 'IfNeeded' }] }),
  'events.k8s.io/v1 Event': (name, namespace) => ({
    metadata: { name },
    eventTime: '2026-01-02T03:04:05.123456Z', reportingController: 'example.com/controller', reportingInstance: 'controller-0',
    action: 'Scale', reason: 'ScalingReplicaSet', type: 'Normal', note: 'Scaled up to 3',
    regarding: { kind: 'Deployment', namespace, name: 'web', uid: 'u-1', apiVersion: 'apps/v1' },
    related: { kind: 'ReplicaSet', namespace, name: 'web-1', apiVersion: 'apps/v1' },
    series: { count: 2, lastObservedTime: '2026-01-02T03:05:05.000000Z' },
  }),
  PodDisruptionBudget: (name) => ({
    metadata: { name },
    spec: { minAvailable: '50%', selector: { matchLabels: { app: name } }, unhealthyPodEvictionPolicy: 'AlwaysAllow' },
  }),
};
