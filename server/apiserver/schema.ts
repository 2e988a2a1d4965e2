/**
 * The JSON types of the served kinds, checked the way Go's decoder checks them when the real
 * apiserver unmarshals a body into its structs: a string where an int32 belongs is a 400
 * (`cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`), and a
 * `null` is the field's zero value. Without this, wrong types reached defaulting, validation and
 * the controllers (500s, or garbage stored). Fields not described here pass through unchecked, so
 * the description may stay partial; it covers everything the server and its controllers read.
 *
 * Why this file is long: mostly data: the known fields of every served kind for fieldValidation, with
 * the small walker that checks them.
 */
import type { ResourceInfo } from '../../api/resources.js';
import { apiVersionOf } from '../../api/resources.js';
import { StatusError } from '../../api/status.js';
import { canonicalQuantity, QuantityError } from '../../api/quantity.js';

type Scalar = 'string' | 'bool' | 'int32' | 'int64' | 'float64' | 'quantity' | 'intOrString' | 'time' | 'microTime' | 'any';
/**
 * `closed`: every field of the Go struct is listed, so anything else is an unknown field (dropped,
 * warned about or rejected per `fieldValidation`). Open structs pass unlisted fields through.
 */
interface ObjType { kind: 'object'; goName: string; fields: Record<string, FieldType>; closed?: boolean }
interface ArrType { kind: 'array'; of: FieldType }
interface MapType { kind: 'map'; of: FieldType }
/** Lazily resolved, for recursive or shared definitions. */
type FieldType = Scalar | ObjType | ArrType | MapType | (() => FieldType);

const obj = (goName: string, fields: Record<string, FieldType>): ObjType => ({ kind: 'object', goName, fields });
const closed = (goName: string, fields: Record<string, FieldType>): ObjType => ({ kind: 'object', goName, fields, closed: true });
const arr = (of: FieldType): ArrType => ({ kind: 'array', of });
const map = (of: FieldType): MapType => ({ kind: 'map', of });
const strings = arr('string');
const stringMap = map('string');
const resourceList = map('quantity');

// ------------------------------------------------------------------------------ meta/v1

const ownerReference = obj('OwnerReference', { apiVersion: 'string', kind: 'string', name: 'string', uid: 'string', controller: 'bool', blockOwnerDeletion: 'bool' });
const objectMeta = closed('ObjectMeta', {
  name: 'string', generateName: 'string', namespace: 'string', selfLink: 'string', uid: 'string', resourceVersion: 'string',
  generation: 'int64', creationTimestamp: 'time', deletionTimestamp: 'time', deletionGracePeriodSeconds: 'int64',
  labels: stringMap, annotations: stringMap, ownerReferences: arr(ownerReference), finalizers: strings,
  managedFields: arr(obj('ManagedFieldsEntry', { manager: 'string', operation: 'string', apiVersion: 'string', time: 'time', fieldsType: 'string', subresource: 'string' })),
});
const labelSelector = closed('LabelSelector', {
  matchLabels: stringMap,
  matchExpressions: arr(closed('LabelSelectorRequirement', { key: 'string', operator: 'string', values: strings })),
});
const condition = (goName: string, extra: Record<string, FieldType> = {}): ObjType => obj(goName, {
  type: 'string', status: 'string', reason: 'string', message: 'string', lastTransitionTime: 'time', observedGeneration: 'int64', ...extra,
});

// ------------------------------------------------------------------------------ core/v1 pods

const keyToPath = obj('KeyToPath', { key: 'string', path: 'string', mode: 'int32' });
const objectFieldSelector = obj('ObjectFieldSelector', { apiVersion: 'string', fieldPath: 'string' });
const resourceFieldSelector = obj('ResourceFieldSelector', { containerName: 'string', resource: 'string', divisor: 'quantity' });
const localObjectReference = obj('LocalObjectReference', { name: 'string' });
const volume = obj('Volume', {
  name: 'string',
  hostPath: obj('HostPathVolumeSource', { path: 'string', type: 'string' }),
  emptyDir: obj('EmptyDirVolumeSource', { medium: 'string', sizeLimit: 'quantity' }),
  secret: obj('SecretVolumeSource', { secretName: 'string', items: arr(keyToPath), defaultMode: 'int32', optional: 'bool' }),
  configMap: obj('ConfigMapVolumeSource', { name: 'string', items: arr(keyToPath), defaultMode: 'int32', optional: 'bool' }),
  persistentVolumeClaim: obj('PersistentVolumeClaimVolumeSource', { claimName: 'string', readOnly: 'bool' }),
  downwardAPI: obj('DownwardAPIVolumeSource', {
    items: arr(obj('DownwardAPIVolumeFile', { path: 'string', fieldRef: objectFieldSelector, resourceFieldRef: resourceFieldSelector, mode: 'int32' })),
    defaultMode: 'int32',
  }),
  projected: obj('ProjectedVolumeSource', { defaultMode: 'int32' }),
  nfs: obj('NFSVolumeSource', { server: 'string', path: 'string', readOnly: 'bool' }),
});
const containerPort = closed('ContainerPort', { name: 'string', hostPort: 'int32', containerPort: 'int32', protocol: 'string', hostIP: 'string' });
const envVarSource = obj('EnvVarSource', {
  fieldRef: objectFieldSelector, resourceFieldRef: resourceFieldSelector,
  configMapKeyRef: obj('ConfigMapKeySelector', { name: 'string', key: 'string', optional: 'bool' }),
  secretKeyRef: obj('SecretKeySelector', { name: 'string', key: 'string', optional: 'bool' }),
});
const envVar = closed('EnvVar', { name: 'string', value: 'string', valueFrom: envVarSource });
const envFromSource = obj('EnvFromSource', {
  prefix: 'string',
  configMapRef: obj('ConfigMapEnvSource', { name: 'string', optional: 'bool' }),
  secretRef: obj('SecretEnvSource', { name: 'string', optional: 'bool' }),
});
const resources = closed('ResourceRequirements', { limits: resourceList, requests: resourceList, claims: arr('any') });
const volumeMount = closed('VolumeMount', { name: 'string', readOnly: 'bool', recursiveReadOnly: 'string', mountPath: 'string', subPath: 'string', mountPropagation: 'string', subPathExpr: 'string' });
const handler = {
  exec: obj('ExecAction', { command: strings }),
  httpGet: obj('HTTPGetAction', {
    path: 'string', port: 'intOrString', host: 'string', scheme: 'string',
    httpHeaders: arr(obj('HTTPHeader', { name: 'string', value: 'string' })),
  }),
  tcpSocket: obj('TCPSocketAction', { port: 'intOrString', host: 'string' }),
  grpc: obj('GRPCAction', { port: 'int32', service: 'string' }),
};
const probe = obj('Probe', {
  ...handler, initialDelaySeconds: 'int32', timeoutSeconds: 'int32', periodSeconds: 'int32', successThreshold: 'int32',
  failureThreshold: 'int32', terminationGracePeriodSeconds: 'int64',
});
const lifecycleHandler = obj('LifecycleHandler', { ...handler, sleep: obj('SleepAction', { seconds: 'int64' }) });
const capabilities = obj('Capabilities', { add: strings, drop: strings });
const seLinuxOptions = obj('SELinuxOptions', { user: 'string', role: 'string', type: 'string', level: 'string' });
const seccompProfile = obj('SeccompProfile', { type: 'string', localhostProfile: 'string' });
const securityContext = obj('SecurityContext', {
  capabilities, privileged: 'bool', seLinuxOptions, runAsUser: 'int64', runAsGroup: 'int64', runAsNonRoot: 'bool',
  readOnlyRootFilesystem: 'bool', allowPrivilegeEscalation: 'bool', procMount: 'string', seccompProfile,
});
const container = closed('Container', {
  name: 'string', image: 'string', command: strings, args: strings, workingDir: 'string', ports: arr(containerPort),
  envFrom: arr(envFromSource), env: arr(envVar), resources, resizePolicy: arr('any'), restartPolicy: 'string',
  volumeMounts: arr(volumeMount), volumeDevices: arr(obj('VolumeDevice', { name: 'string', devicePath: 'string' })),
  livenessProbe: probe, readinessProbe: probe, startupProbe: probe,
  lifecycle: obj('Lifecycle', { postStart: lifecycleHandler, preStop: lifecycleHandler, stopSignal: 'string' }),
  terminationMessagePath: 'string', terminationMessagePolicy: 'string', imagePullPolicy: 'string', securityContext,
  stdin: 'bool', stdinOnce: 'bool', tty: 'bool',
});
const toleration = closed('Toleration', { key: 'string', operator: 'string', value: 'string', effect: 'string', tolerationSeconds: 'int64' });
const nodeSelectorRequirement = obj('NodeSelectorRequirement', { key: 'string', operator: 'string', values: strings });
const nodeSelectorTerm = obj('NodeSelectorTerm', { matchExpressions: arr(nodeSelectorRequirement), matchFields: arr(nodeSelectorRequirement) });
const podAffinityTerm = obj('PodAffinityTerm', {
  labelSelector, namespaces: strings, topologyKey: 'string', namespaceSelector: labelSelector, matchLabelKeys: strings, mismatchLabelKeys: strings,
});
const weightedPodAffinityTerm = obj('WeightedPodAffinityTerm', { weight: 'int32', podAffinityTerm });
const podAffinity = (goName: string): ObjType => obj(goName, {
  requiredDuringSchedulingIgnoredDuringExecution: arr(podAffinityTerm),
  preferredDuringSchedulingIgnoredDuringExecution: arr(weightedPodAffinityTerm),
});
const affinity = obj('Affinity', {
  nodeAffinity: obj('NodeAffinity', {
    requiredDuringSchedulingIgnoredDuringExecution: obj('NodeSelector', { nodeSelectorTerms: arr(nodeSelectorTerm) }),
    preferredDuringSchedulingIgnoredDuringExecution: arr(obj('PreferredSchedulingTerm', { weight: 'int32', preference: nodeSelectorTerm })),
  }),
  podAffinity: podAffinity('PodAffinity'),
  podAntiAffinity: podAffinity('PodAntiAffinity'),
});
const podSpec = closed('PodSpec', {
  volumes: arr(volume), initContainers: arr(container), containers: arr(container),
  ephemeralContainers: arr(closed('EphemeralContainer', { ...container.fields, targetContainerName: 'string' })),
  restartPolicy: 'string', terminationGracePeriodSeconds: 'int64', activeDeadlineSeconds: 'int64', dnsPolicy: 'string',
  nodeSelector: stringMap, serviceAccountName: 'string', serviceAccount: 'string', automountServiceAccountToken: 'bool',
  nodeName: 'string', hostNetwork: 'bool', hostPID: 'bool', hostIPC: 'bool', shareProcessNamespace: 'bool',
  securityContext: obj('PodSecurityContext', {
    seLinuxOptions, runAsUser: 'int64', runAsGroup: 'int64', runAsNonRoot: 'bool', supplementalGroups: arr('int64'),
    fsGroup: 'int64', sysctls: arr(obj('Sysctl', { name: 'string', value: 'string' })), fsGroupChangePolicy: 'string', seccompProfile,
  }),
  imagePullSecrets: arr(localObjectReference), hostname: 'string', subdomain: 'string', affinity, schedulerName: 'string',
  tolerations: arr(toleration), hostAliases: arr(obj('HostAlias', { ip: 'string', hostnames: strings })),
  priorityClassName: 'string', priority: 'int32',
  dnsConfig: obj('PodDNSConfig', { nameservers: strings, searches: strings, options: arr(obj('PodDNSConfigOption', { name: 'string', value: 'string' })) }),
  readinessGates: arr(obj('PodReadinessGate', { conditionType: 'string' })), runtimeClassName: 'string', enableServiceLinks: 'bool',
  preemptionPolicy: 'string', overhead: resourceList,
  topologySpreadConstraints: arr(obj('TopologySpreadConstraint', {
    maxSkew: 'int32', topologyKey: 'string', whenUnsatisfiable: 'string', labelSelector, minDomains: 'int32',
    nodeAffinityPolicy: 'string', nodeTaintsPolicy: 'string', matchLabelKeys: strings,
  })),
  setHostnameAsFQDN: 'bool', hostUsers: 'bool', os: 'any', schedulingGates: arr('any'), resourceClaims: arr('any'), resources: 'any',
});
const podTemplateSpec = closed('PodTemplateSpec', { metadata: objectMeta, spec: podSpec });
const containerState = obj('ContainerState', {
  waiting: obj('ContainerStateWaiting', { reason: 'string', message: 'string' }),
  running: obj('ContainerStateRunning', { startedAt: 'time' }),
  terminated: obj('ContainerStateTerminated', {
    exitCode: 'int32', signal: 'int32', reason: 'string', message: 'string', startedAt: 'time', finishedAt: 'time', containerID: 'string',
  }),
});
const containerStatus = obj('ContainerStatus', {
  name: 'string', state: containerState, lastState: containerState, ready: 'bool', restartCount: 'int32', image: 'string',
  imageID: 'string', containerID: 'string', started: 'bool',
});
const podIP = obj('PodIP', { ip: 'string' });
const podStatus = obj('PodStatus', {
  phase: 'string', conditions: arr(condition('PodCondition', { lastProbeTime: 'time' })), message: 'string', reason: 'string',
  nominatedNodeName: 'string', hostIP: 'string', hostIPs: arr(obj('HostIP', { ip: 'string' })), podIP: 'string', podIPs: arr(podIP),
  startTime: 'time', initContainerStatuses: arr(containerStatus), containerStatuses: arr(containerStatus),
  ephemeralContainerStatuses: arr(containerStatus), qosClass: 'string',
});

// ------------------------------------------------------------------------------ other core/v1

const taint = obj('Taint', { key: 'string', value: 'string', effect: 'string', timeAdded: 'time' });
const nodeSpec = closed('NodeSpec', {
  podCIDR: 'string', podCIDRs: strings, providerID: 'string', unschedulable: 'bool', taints: arr(taint), configSource: 'any', externalID: 'string',
});
const nodeStatus = obj('NodeStatus', {
  capacity: resourceList, allocatable: resourceList, phase: 'string',
  conditions: arr(condition('NodeCondition', { lastHeartbeatTime: 'time' })),
  addresses: arr(obj('NodeAddress', { type: 'string', address: 'string' })),
  daemonEndpoints: obj('NodeDaemonEndpoints', { kubeletEndpoint: obj('DaemonEndpoint', { Port: 'int32' }) }),
  nodeInfo: obj('NodeSystemInfo', {
    machineID: 'string', systemUUID: 'string', bootID: 'string', kernelVersion: 'string', osImage: 'string',
    containerRuntimeVersion: 'string', kubeletVersion: 'string', kubeProxyVersion: 'string', operatingSystem: 'string', architecture: 'string',
  }),
  images: arr(obj('ContainerImage', { names: strings, sizeBytes: 'int64' })),
});
const servicePort = closed('ServicePort', { name: 'string', protocol: 'string', appProtocol: 'string', port: 'int32', targetPort: 'intOrString', nodePort: 'int32' });
const serviceSpec = closed('ServiceSpec', {
  ports: arr(servicePort), selector: stringMap, clusterIP: 'string', clusterIPs: strings, type: 'string', externalIPs: strings,
  sessionAffinity: 'string', loadBalancerIP: 'string', loadBalancerSourceRanges: strings, externalName: 'string',
  externalTrafficPolicy: 'string', healthCheckNodePort: 'int32', publishNotReadyAddresses: 'bool', ipFamilies: strings,
  ipFamilyPolicy: 'string', allocateLoadBalancerNodePorts: 'bool', internalTrafficPolicy: 'string', loadBalancerClass: 'string',
  sessionAffinityConfig: 'any', trafficDistribution: 'string',
});
const objectReference = obj('ObjectReference', {
  kind: 'string', namespace: 'string', name: 'string', uid: 'string', apiVersion: 'string', resourceVersion: 'string', fieldPath: 'string',
});
const endpointAddress = obj('EndpointAddress', { ip: 'string', hostname: 'string', nodeName: 'string', targetRef: objectReference });
const eventSource = obj('EventSource', { component: 'string', host: 'string' });

// ------------------------------------------------------------------------------ networking.k8s.io/v1

const ingressBackend = closed('IngressBackend', {
  service: closed('IngressServiceBackend', { name: 'string', port: closed('ServiceBackendPort', { name: 'string', number: 'int32' }) }),
  resource: closed('TypedLocalObjectReference', { apiGroup: 'string', kind: 'string', name: 'string' }),
});
const ingressSpec = closed('IngressSpec', {
  ingressClassName: 'string', defaultBackend: ingressBackend,
  tls: arr(closed('IngressTLS', { hosts: strings, secretName: 'string' })),
  rules: arr(closed('IngressRule', {
    host: 'string',
    http: closed('HTTPIngressRuleValue', { paths: arr(closed('HTTPIngressPath', { path: 'string', pathType: 'string', backend: ingressBackend })) }),
  })),
});
const ingressLoadBalancerIngress = obj('IngressLoadBalancerIngress', {
  ip: 'string', hostname: 'string', ports: arr(obj('IngressPortStatus', { port: 'int32', protocol: 'string', error: 'string' })),
});

// ------------------------------------------------------------------------------ workloads

const deploymentSpec = closed('DeploymentSpec', {
  replicas: 'int32', selector: labelSelector, template: podTemplateSpec,
  strategy: closed('DeploymentStrategy', { type: 'string', rollingUpdate: closed('RollingUpdateDeployment', { maxUnavailable: 'intOrString', maxSurge: 'intOrString' }) }),
  minReadySeconds: 'int32', revisionHistoryLimit: 'int32', paused: 'bool', progressDeadlineSeconds: 'int32',
});
const replicaStatus = {
  replicas: 'int32', readyReplicas: 'int32', availableReplicas: 'int32', observedGeneration: 'int64',
} satisfies Record<string, FieldType>;
const jobSpec = closed('JobSpec', {
  parallelism: 'int32', completions: 'int32', activeDeadlineSeconds: 'int64', backoffLimit: 'int32', backoffLimitPerIndex: 'int32',
  maxFailedIndexes: 'int32', selector: labelSelector, manualSelector: 'bool', template: podTemplateSpec,
  ttlSecondsAfterFinished: 'int32', completionMode: 'string', suspend: 'bool', podReplacementPolicy: 'string', managedBy: 'string',
  podFailurePolicy: 'any', successPolicy: 'any',
});

// ------------------------------------------------------------------------------ rbac.authorization.k8s.io/v1

const policyRule = closed('PolicyRule', { verbs: strings, apiGroups: strings, resources: strings, resourceNames: strings, nonResourceURLs: strings });
const rbacSubject = closed('Subject', { kind: 'string', apiGroup: 'string', name: 'string', namespace: 'string' });
const roleRef = closed('RoleRef', { apiGroup: 'string', kind: 'string', name: 'string' });

// ------------------------------------------------------------------------------ kinds

/** The body of each kind below its ObjectMeta (`metadata` is added for all). */
const webhook = (goName: string, extra: Record<string, FieldType>): ObjType => closed(goName, {
  name: 'string',
  clientConfig: closed('WebhookClientConfig', {
    url: 'string', caBundle: 'string',
    service: closed('ServiceReference', { namespace: 'string', name: 'string', path: 'string', port: 'int32' }),
  }),
  rules: arr(closed('RuleWithOperations', { operations: strings, apiGroups: strings, apiVersions: strings, resources: strings, scope: 'string' })),
  failurePolicy: 'string', matchPolicy: 'string', namespaceSelector: labelSelector, objectSelector: labelSelector,
  sideEffects: 'string', timeoutSeconds: 'int32', admissionReviewVersions: strings, matchConditions: arr('any'),
  ...extra,
});

const KINDS: Record<string, Record<string, FieldType>> = {
  Pod: { spec: podSpec, status: podStatus },
  Node: { spec: nodeSpec, status: nodeStatus },
  Namespace: { spec: closed('NamespaceSpec', { finalizers: strings }), status: obj('NamespaceStatus', { phase: 'string', conditions: arr(condition('NamespaceCondition')) }) },
  Service: {
    spec: serviceSpec,
    status: obj('ServiceStatus', { loadBalancer: obj('LoadBalancerStatus', { ingress: arr(obj('LoadBalancerIngress', { ip: 'string', hostname: 'string', ipMode: 'string' })) }), conditions: arr(condition('Condition')) }),
  },
  Endpoints: {
    subsets: arr(obj('EndpointSubset', {
      addresses: arr(endpointAddress), notReadyAddresses: arr(endpointAddress),
      ports: arr(obj('EndpointPort', { name: 'string', port: 'int32', protocol: 'string', appProtocol: 'string' })),
    })),
  },
  EndpointSlice: {
    addressType: 'string',
    endpoints: arr(closed('Endpoint', {
      addresses: strings, conditions: closed('EndpointConditions', { ready: 'bool', serving: 'bool', terminating: 'bool' }),
      hostname: 'string', targetRef: objectReference, deprecatedTopology: stringMap, nodeName: 'string', zone: 'string',
      hints: obj('EndpointHints', { forZones: arr(obj('ForZone', { name: 'string' })) }),
    })),
    ports: arr(closed('EndpointPort', { name: 'string', protocol: 'string', port: 'int32', appProtocol: 'string' })),
  },
  PodTemplate: { template: podTemplateSpec },
  ValidatingWebhookConfiguration: { webhooks: arr(webhook('ValidatingWebhook', {})) },
  MutatingWebhookConfiguration: { webhooks: arr(webhook('MutatingWebhook', { reinvocationPolicy: 'string' })) },
  PriorityClass: { value: 'int32', globalDefault: 'bool', description: 'string', preemptionPolicy: 'string' },
  Ingress: { spec: ingressSpec, status: obj('IngressStatus', { loadBalancer: obj('IngressLoadBalancerStatus', { ingress: arr(ingressLoadBalancerIngress) }) }) },
  IngressClass: {
    spec: closed('IngressClassSpec', {
      controller: 'string',
      parameters: closed('IngressClassParametersReference', { apiGroup: 'string', kind: 'string', name: 'string', scope: 'string', namespace: 'string' }),
    }),
  },
  RuntimeClass: {
    handler: 'string', overhead: closed('Overhead', { podFixed: resourceList }),
    scheduling: closed('Scheduling', { nodeSelector: stringMap, tolerations: arr(toleration) }),
  },
  ConfigMap: { data: stringMap, binaryData: stringMap, immutable: 'bool' },
  Secret: { data: stringMap, stringData: stringMap, type: 'string', immutable: 'bool' },
  ServiceAccount: { secrets: arr(objectReference), imagePullSecrets: arr(localObjectReference), automountServiceAccountToken: 'bool' },
  Event: {
    involvedObject: objectReference, reason: 'string', message: 'string', source: eventSource, firstTimestamp: 'time', lastTimestamp: 'time',
    count: 'int32', type: 'string', eventTime: 'microTime', action: 'string', related: objectReference,
    reportingComponent: 'string', reportingInstance: 'string',
    series: obj('EventSeries', { count: 'int32', lastObservedTime: 'microTime' }),
  },
  Lease: {
    spec: closed('LeaseSpec', {
      holderIdentity: 'string', leaseDurationSeconds: 'int32', acquireTime: 'microTime', renewTime: 'microTime', leaseTransitions: 'int32',
      strategy: 'string', preferredHolder: 'string',
    }),
  },
  Deployment: {
    spec: deploymentSpec,
    status: obj('DeploymentStatus', {
      ...replicaStatus, updatedReplicas: 'int32', unavailableReplicas: 'int32', collisionCount: 'int32',
      conditions: arr(condition('DeploymentCondition', { lastUpdateTime: 'time' })),
    }),
  },
  ReplicaSet: {
    spec: closed('ReplicaSetSpec', { replicas: 'int32', minReadySeconds: 'int32', selector: labelSelector, template: podTemplateSpec }),
    status: obj('ReplicaSetStatus', { ...replicaStatus, fullyLabeledReplicas: 'int32', conditions: arr(condition('ReplicaSetCondition')) }),
  },
  ReplicationController: {
    spec: closed('ReplicationControllerSpec', { replicas: 'int32', minReadySeconds: 'int32', selector: stringMap, template: podTemplateSpec }),
    status: obj('ReplicationControllerStatus', { ...replicaStatus, fullyLabeledReplicas: 'int32', conditions: arr(condition('ReplicationControllerCondition')) }),
  },
  DaemonSet: {
    spec: closed('DaemonSetSpec', {
      selector: labelSelector, template: podTemplateSpec, minReadySeconds: 'int32', revisionHistoryLimit: 'int32',
      updateStrategy: closed('DaemonSetUpdateStrategy', { type: 'string', rollingUpdate: closed('RollingUpdateDaemonSet', { maxUnavailable: 'intOrString', maxSurge: 'intOrString' }) }),
    }),
    status: obj('DaemonSetStatus', {
      currentNumberScheduled: 'int32', numberMisscheduled: 'int32', desiredNumberScheduled: 'int32', numberReady: 'int32',
      observedGeneration: 'int64', updatedNumberScheduled: 'int32', numberAvailable: 'int32', numberUnavailable: 'int32',
      collisionCount: 'int32', conditions: arr(condition('DaemonSetCondition')),
    }),
  },
  StatefulSet: {
    spec: closed('StatefulSetSpec', {
      replicas: 'int32', selector: labelSelector, template: podTemplateSpec, serviceName: 'string', podManagementPolicy: 'string',
      updateStrategy: obj('StatefulSetUpdateStrategy', { type: 'string', rollingUpdate: obj('RollingUpdateStatefulSetStrategy', { partition: 'int32', maxUnavailable: 'intOrString' }) }),
      revisionHistoryLimit: 'int32', minReadySeconds: 'int32', volumeClaimTemplates: arr('any'),
      persistentVolumeClaimRetentionPolicy: 'any', ordinals: 'any',
    }),
    status: obj('StatefulSetStatus', {
      ...replicaStatus, currentReplicas: 'int32', updatedReplicas: 'int32', currentRevision: 'string', updateRevision: 'string',
      collisionCount: 'int32', conditions: arr(condition('StatefulSetCondition')),
    }),
  },
  Job: {
    spec: jobSpec,
    status: obj('JobStatus', {
      conditions: arr(condition('JobCondition', { lastProbeTime: 'time' })), startTime: 'time', completionTime: 'time', active: 'int32',
      succeeded: 'int32', failed: 'int32', terminating: 'int32', completedIndexes: 'string', failedIndexes: 'string', ready: 'int32',
    }),
  },
  CronJob: {
    spec: closed('CronJobSpec', {
      schedule: 'string', timeZone: 'string', startingDeadlineSeconds: 'int64', concurrencyPolicy: 'string', suspend: 'bool',
      jobTemplate: closed('JobTemplateSpec', { metadata: objectMeta, spec: jobSpec }),
      successfulJobsHistoryLimit: 'int32', failedJobsHistoryLimit: 'int32',
    }),
    status: obj('CronJobStatus', { active: arr(objectReference), lastScheduleTime: 'time', lastSuccessfulTime: 'time' }),
  },
  ResourceQuota: {
    spec: closed('ResourceQuotaSpec', {
      hard: resourceList, scopes: strings,
      scopeSelector: closed('ScopeSelector', { matchExpressions: arr(closed('ScopedResourceSelectorRequirement', { scopeName: 'string', operator: 'string', values: strings })) }),
    }),
    status: closed('ResourceQuotaStatus', { hard: resourceList, used: resourceList }),
  },
  LimitRange: {
    spec: closed('LimitRangeSpec', {
      limits: arr(closed('LimitRangeItem', {
        type: 'string', max: resourceList, min: resourceList, default: resourceList, defaultRequest: resourceList, maxLimitRequestRatio: resourceList,
      })),
    }),
  },
  Role: { rules: arr(policyRule) },
  ClusterRole: { rules: arr(policyRule), aggregationRule: closed('AggregationRule', { clusterRoleSelectors: arr(labelSelector) }) },
  RoleBinding: { subjects: arr(rbacSubject), roleRef },
  ClusterRoleBinding: { subjects: arr(rbacSubject), roleRef },
  PodDisruptionBudget: {
    spec: closed('PodDisruptionBudgetSpec', { minAvailable: 'intOrString', selector: labelSelector, maxUnavailable: 'intOrString', unhealthyPodEvictionPolicy: 'string' }),
    status: obj('PodDisruptionBudgetStatus', {
      observedGeneration: 'int64', disruptedPods: map('time'), disruptionsAllowed: 'int32', currentHealthy: 'int32',
      desiredHealthy: 'int32', expectedPods: 'int32', conditions: arr(condition('Condition')),
    }),
  },
};

const kindTypes = new Map<string, ObjType>();
/** The kind whose Go types describe `info`; custom resources have only ObjectMeta's (their schema does the rest). */
function typesOf(info: ResourceInfo): string {
  return info.custom ? '' : info.kind;
}

function kindType(kind: string): ObjType {
  let t = kindTypes.get(kind);
  if (!t) {
    const fields = { apiVersion: 'string', kind: 'string', metadata: objectMeta, ...(KINDS[kind] ?? {}) } satisfies Record<string, FieldType>;
    // Kinds described here are complete at the top level; others pass unknown members through.
    t = KINDS[kind] ? closed(kind, fields) : obj(kind, fields);
    kindTypes.set(kind, t);
  }
  return t;
}

// ------------------------------------------------------------------------------ checking

const GO_SCALAR: Record<Scalar, string> = {
  string: 'string', bool: 'bool', int32: 'int32', int64: 'int64', float64: 'float64',
  quantity: 'resource.Quantity', intOrString: 'intstr.IntOrString', time: 'v1.Time', microTime: 'v1.MicroTime', any: 'interface {}',
};
const INT_RANGE: Partial<Record<Scalar, [number, number]>> = { int32: [-(2 ** 31), 2 ** 31 - 1], int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER] };
/** RFC 3339 as Go's time.Time.UnmarshalJSON accepts it. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function resolve(t: FieldType): Exclude<FieldType, () => FieldType> {
  return typeof t === 'function' ? resolve(t()) : t;
}

function goTypeName(t: FieldType): string {
  const r = resolve(t);
  if (typeof r === 'string') return GO_SCALAR[r];
  if (r.kind === 'object') return `v1.${r.goName}`;
  if (r.kind === 'array') return `[]${goTypeName(r.of)}`;
  return `map[string]${goTypeName(r.of)}`;
}

/** How Go's json.UnmarshalTypeError names the JSON value. */
function jsonTypeName(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'number' : `number ${v}`;
  return typeof v;
}

class TypeMismatch extends Error {}

/** resource.ErrFormatWrong, what Go's Quantity.UnmarshalJSON answers for anything unparsable. */
const QUANTITY_FORMAT_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/**
 * Where a value sits: the Go struct holding it and the field path without indices (for type
 * errors, as Go prints them), and the path with indices (for unknown fields, as upstream prints).
 */
/**
 * Where a value sits, for error messages: a chain to the kind's root, turned into text only when a
 * message needs it (building both paths for every field was most of the check's cost and garbage).
 * `sub`: `seg` is an array index or map key (in the full path, not in Go's field path).
 */
interface Where { struct: string; up: Where | undefined; seg: string | number; sub: boolean }

function rootWhere(struct: string): Where {
  return { struct, up: undefined, seg: '', sub: false };
}

/** Go's field path (`spec.containers.image`: field names only). */
function goPath(where: Where): string {
  const names: string[] = [];
  for (let w: Where | undefined = where; w?.up !== undefined; w = w.up) if (!w.sub) names.push(String(w.seg));
  return names.reverse().join('.');
}

/** The full path (`spec.containers[0].image`). */
function fullPath(where: Where): string {
  const chain: Where[] = [];
  for (let w: Where | undefined = where; w?.up !== undefined; w = w.up) chain.push(w);
  let out = '';
  for (let i = chain.length - 1; i >= 0; i--) {
    const w = chain[i]!;
    out = w.sub ? `${out}[${w.seg}]` : out === '' ? String(w.seg) : `${out}.${w.seg}`;
  }
  return out;
}

/** How unknown fields of closed structs are handled (the `fieldValidation` query parameter). */
export type FieldValidation = 'Ignore' | 'Warn' | 'Strict';

interface CheckContext { unknown: string[]; drop: boolean }

function zeroValue(t: FieldType): unknown {
  const r = resolve(t);
  switch (r) {
    case 'string': case 'time': case 'microTime': return '';
    case 'quantity': return '0';
    case 'bool': return false;
    case 'int32': case 'int64': case 'float64': case 'intOrString': return 0;
    case 'any': return null;
  }
  return r.kind === 'object' ? {} : undefined;
}

/** Checks `value` against `t`; returns the value to keep (nulls become zero values or vanish). */
function mismatch(value: unknown, r: FieldType, where: Where): TypeMismatch {
  return new TypeMismatch(`json: cannot unmarshal ${jsonTypeName(value)} into Go struct field ${where.struct}.${goPath(where)} of type ${goTypeName(r)}`);
}

/** Whether `value` trivially has scalar type `r` (the common case, checked without a Where). */
function plainScalar(r: Exclude<FieldType, () => FieldType>, value: unknown): boolean {
  switch (r) {
    case 'any': return true;
    case 'string': return typeof value === 'string';
    case 'bool': return typeof value === 'boolean';
    case 'float64': return typeof value === 'number';
    default: return false;
  }
}

function check(value: unknown, t: FieldType, where: Where, ctx: CheckContext): unknown {
  const r = resolve(t);
  if (typeof r === 'string') {
    switch (r) {
      case 'any':
        return value;
      case 'string':
        if (typeof value !== 'string') throw mismatch(value, r, where);
        return value;
      case 'bool':
        if (typeof value !== 'boolean') throw mismatch(value, r, where);
        return value;
      case 'float64':
        if (typeof value !== 'number') throw mismatch(value, r, where);
        return value;
      case 'int32':
      case 'int64': {
        if (typeof value !== 'number' || !Number.isInteger(value)) throw mismatch(value, r, where);
        const [lo, hi] = INT_RANGE[r]!;
        if (value < lo || value > hi) throw mismatch(value, r, where);
        return value;
      }
      case 'quantity':
        if (typeof value !== 'string' && typeof value !== 'number') throw mismatch(value, r, where);
        try {
          // A JSON number is stored in canonical string form, as Go's Quantity would serialise it.
          const canonical = canonicalQuantity(value);
          return typeof value === 'number' ? canonical : value;
        } catch (err) {
          if (err instanceof QuantityError) throw new TypeMismatch(QUANTITY_FORMAT_ERROR);
          throw err;
        }
      case 'intOrString':
        if (typeof value !== 'string' && !(typeof value === 'number' && Number.isInteger(value))) throw mismatch(value, r, where);
        return value;
      case 'time':
      case 'microTime':
        if (typeof value !== 'string') throw mismatch(value, r, where);
        if (value !== '' && !RFC3339.test(value)) {
          throw new TypeMismatch(`parsing time ${JSON.stringify(value)} as "2006-01-02T15:04:05Z07:00": cannot parse ${JSON.stringify(value)} as RFC 3339 (field ${goPath(where)})`);
        }
        return value;
    }
  }
  if (r.kind === 'array') {
    if (!Array.isArray(value)) throw mismatch(value, r, where);
    const list = value as unknown[];
    const of = resolve(r.of);
    for (let i = 0; i < list.length; i++) {
      const v = list[i];
      if (v === null) list[i] = zeroValue(of) ?? null;
      else if (!plainScalar(of, v)) list[i] = check(v, of, { struct: where.struct, up: where, seg: i, sub: true }, ctx);
    }
    return list;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw mismatch(value, r, where);
  const record = value as Record<string, unknown>;
  if (r.kind === 'map') {
    const of = resolve(r.of);
    for (const k of Object.keys(record)) {
      const v = record[k];
      if (v === null) record[k] = zeroValue(of) ?? null;
      else if (!plainScalar(of, v)) record[k] = check(v, of, { struct: where.struct, up: where, seg: k, sub: true }, ctx);
    }
    return record;
  }
  // Walk the members present (far fewer than the struct's fields); unknown ones per `closed`.
  for (const name of Object.keys(record)) {
    const ft = Object.prototype.hasOwnProperty.call(r.fields, name) ? r.fields[name] : undefined;
    if (ft === undefined) {
      if (!r.closed) continue;
      const full = fullPath(where);
      ctx.unknown.push(full === '' ? name : `${full}.${name}`);
      if (ctx.drop) delete record[name];
      continue;
    }
    const v = record[name];
    if (v === undefined) continue;
    const ftr = resolve(ft);
    if (v === null) {
      // Go renders a zero metav1.Time as null (`creationTimestamp: null` in templates): keep it.
      if (ftr === 'time' || ftr === 'microTime') continue;
      // A kind's spec is a struct, not a pointer: null decodes to an empty one.
      if (where.up === undefined && typeof ftr === 'object' && ftr.kind === 'object' && name !== 'metadata') record[name] = {};
      else delete record[name];
      continue;
    }
    if (plainScalar(ftr, v)) continue;
    // Go names the struct that holds the field and the whole path to it.
    record[name] = check(v, ftr, { struct: r.goName, up: where, seg: name, sub: false }, ctx);
  }
  return record;
}

/**
 * Checks (and normalises nulls in) an object of `info`'s kind in place. Throws the apiserver's 400
 * `<Kind> in version "<v>" cannot be handled as a <Kind>: ...` for a value of the wrong JSON type,
 * and for unknown fields under `Strict`; otherwise drops them and returns upstream's warnings.
 */
export function checkObjectTypes(info: ResourceInfo, obj: Record<string, unknown>, validation: FieldValidation = 'Ignore'): string[] {
  const version = apiVersionOf(info).split('/').pop()!;
  const cannotHandle = (detail: string): StatusError =>
    new StatusError(400, 'BadRequest', `${info.kind} in version "${version}" cannot be handled as a ${info.kind}: ${detail}`);
  const ctx: CheckContext = { unknown: [], drop: validation !== 'Strict' };
  try {
    check(obj, kindType(typesOf(info)), rootWhere(info.kind), ctx);
  } catch (err) {
    if (!(err instanceof TypeMismatch)) throw err;
    throw cannotHandle(err.message);
  }
  const messages = ctx.unknown.map((f) => `unknown field ${JSON.stringify(f)}`);
  if (validation === 'Strict' && messages.length > 0) throw cannotHandle(`strict decoding error: ${messages.join(', ')}`);
  return validation === 'Warn' ? messages : [];
}

/** The fields of an apply configuration the schema does not declare (server-side apply rejects them). */
export function undeclaredFields(info: ResourceInfo, obj: Record<string, unknown>): string[] {
  const ctx: CheckContext = { unknown: [], drop: false };
  try {
    check(obj, kindType(typesOf(info)), rootWhere(info.kind), ctx);
  } catch (err) {
    if (!(err instanceof TypeMismatch)) throw err;
  }
  return ctx.unknown;
}

const deleteOptions = obj('DeleteOptions', {
  kind: 'string', apiVersion: 'string', gracePeriodSeconds: 'int64', propagationPolicy: 'string', orphanDependents: 'bool',
  preconditions: obj('Preconditions', { uid: 'string', resourceVersion: 'string' }), dryRun: strings,
});

/** Checks a DELETE body as Go decodes DeleteOptions (400 `json: cannot unmarshal ...`). */
export function checkDeleteOptionsTypes(body: Record<string, unknown>): void {
  try {
    check(body, deleteOptions, rootWhere('DeleteOptions'), { unknown: [], drop: false });
  } catch (err) {
    if (!(err instanceof TypeMismatch)) throw err;
    throw new StatusError(400, 'BadRequest', err.message);
  }
}
