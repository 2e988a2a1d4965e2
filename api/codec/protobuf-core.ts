/**
 * Field tables for the core/v1 messages (k8s.io/api/core/v1/generated.proto) that `kubectl create`
 * produces: pod templates, Namespace, ConfigMap, Secret, Service, ServiceAccount, ResourceQuota.
 *
 * Pod specs cover what kubectl's generators and ordinary manifests use (containers, ports, env,
 * resources, volume mounts, scheduling fields). Volumes, probes, lifecycle hooks, affinity and security
 * contexts are not in these tables: kubectl's typed create commands never emit them, and an unknown
 * field is skipped rather than guessed at.
 */
import { KEEP, LIST, MAP, field, message } from './protobuf-schema.js';
import { LOCAL_OBJECT_REFERENCE, META_CONDITION, OBJECT_META, OBJECT_REFERENCE } from './protobuf-meta.js';

const CONTAINER_PORT = message('ContainerPort', {
  1: field('name', 'string'),
  2: field('hostPort', 'int32'),
  3: field('containerPort', 'int32', KEEP),
  4: field('protocol', 'string'),
  5: field('hostIP', 'string'),
});

const KEY_SELECTOR = (name: string) => message(name, {
  1: field('localObjectReference', LOCAL_OBJECT_REFERENCE, { inline: true }),
  2: field('key', 'string', KEEP),
  3: field('optional', 'bool', KEEP),
});

const ENV_VAR_SOURCE = message('EnvVarSource', {
  1: field('fieldRef', message('ObjectFieldSelector', {
    1: field('apiVersion', 'string'),
    2: field('fieldPath', 'string', KEEP),
  })),
  2: field('resourceFieldRef', message('ResourceFieldSelector', {
    1: field('containerName', 'string'),
    2: field('resource', 'string', KEEP),
    3: field('divisor', 'quantity'),
  })),
  3: field('configMapKeyRef', KEY_SELECTOR('ConfigMapKeySelector')),
  4: field('secretKeyRef', KEY_SELECTOR('SecretKeySelector')),
});

const ENV_VAR = message('EnvVar', {
  1: field('name', 'string', KEEP),
  2: field('value', 'string'),
  3: field('valueFrom', ENV_VAR_SOURCE),
});

const ENV_SOURCE_REF = (name: string) => message(name, {
  1: field('localObjectReference', LOCAL_OBJECT_REFERENCE, { inline: true }),
  2: field('optional', 'bool', KEEP),
});

const ENV_FROM_SOURCE = message('EnvFromSource', {
  1: field('prefix', 'string'),
  2: field('configMapRef', ENV_SOURCE_REF('ConfigMapEnvSource')),
  3: field('secretRef', ENV_SOURCE_REF('SecretEnvSource')),
});

const RESOURCE_REQUIREMENTS = message('ResourceRequirements', {
  1: field('limits', 'quantity', MAP),
  2: field('requests', 'quantity', MAP),
  3: field('claims', message('ResourceClaim', { 1: field('name', 'string', KEEP), 2: field('request', 'string') }), LIST),
});

const VOLUME_MOUNT = message('VolumeMount', {
  1: field('name', 'string', KEEP),
  2: field('readOnly', 'bool'),
  3: field('mountPath', 'string', KEEP),
  4: field('subPath', 'string'),
  5: field('mountPropagation', 'string', KEEP),
  6: field('subPathExpr', 'string'),
  7: field('recursiveReadOnly', 'string', KEEP),
});

export const CONTAINER = message('Container', {
  1: field('name', 'string', KEEP),
  2: field('image', 'string'),
  3: field('command', 'string', LIST),
  4: field('args', 'string', LIST),
  5: field('workingDir', 'string'),
  6: field('ports', CONTAINER_PORT, LIST),
  7: field('env', ENV_VAR, LIST),
  8: field('resources', RESOURCE_REQUIREMENTS),
  9: field('volumeMounts', VOLUME_MOUNT, LIST),
  13: field('terminationMessagePath', 'string'),
  14: field('imagePullPolicy', 'string'),
  16: field('stdin', 'bool'),
  17: field('stdinOnce', 'bool'),
  18: field('tty', 'bool'),
  19: field('envFrom', ENV_FROM_SOURCE, LIST),
  20: field('terminationMessagePolicy', 'string'),
  24: field('restartPolicy', 'string', KEEP),
});

const TOLERATION = message('Toleration', {
  1: field('key', 'string'),
  2: field('operator', 'string'),
  3: field('value', 'string'),
  4: field('effect', 'string'),
  5: field('tolerationSeconds', 'int64', KEEP),
});

const HOST_ALIAS = message('HostAlias', {
  1: field('ip', 'string', KEEP),
  2: field('hostnames', 'string', LIST),
});

export const POD_SPEC = message('PodSpec', {
  2: field('containers', CONTAINER, LIST),
  3: field('restartPolicy', 'string'),
  4: field('terminationGracePeriodSeconds', 'int64', KEEP),
  5: field('activeDeadlineSeconds', 'int64', KEEP),
  6: field('dnsPolicy', 'string'),
  7: field('nodeSelector', 'string', MAP),
  8: field('serviceAccountName', 'string'),
  9: field('serviceAccount', 'string'),
  10: field('nodeName', 'string'),
  11: field('hostNetwork', 'bool'),
  12: field('hostPID', 'bool'),
  13: field('hostIPC', 'bool'),
  15: field('imagePullSecrets', LOCAL_OBJECT_REFERENCE, LIST),
  16: field('hostname', 'string'),
  17: field('subdomain', 'string'),
  19: field('schedulerName', 'string'),
  20: field('initContainers', CONTAINER, LIST),
  21: field('automountServiceAccountToken', 'bool', KEEP),
  22: field('tolerations', TOLERATION, LIST),
  23: field('hostAliases', HOST_ALIAS, LIST),
  24: field('priorityClassName', 'string'),
  25: field('priority', 'int32', KEEP),
  27: field('shareProcessNamespace', 'bool', KEEP),
  29: field('runtimeClassName', 'string', KEEP),
  30: field('enableServiceLinks', 'bool', KEEP),
  31: field('preemptionPolicy', 'string', KEEP),
  35: field('setHostnameAsFQDN', 'bool', KEEP),
  37: field('hostUsers', 'bool', KEEP),
});

export const POD_TEMPLATE_SPEC = message('PodTemplateSpec', {
  1: field('metadata', OBJECT_META),
  2: field('spec', POD_SPEC),
});

const NAMESPACE_CONDITION = message('NamespaceCondition', {
  1: field('type', 'string', KEEP),
  2: field('status', 'string', KEEP),
  4: field('lastTransitionTime', 'time'),
  5: field('reason', 'string'),
  6: field('message', 'string'),
});

export const NAMESPACE = message('Namespace', {
  1: field('metadata', OBJECT_META),
  2: field('spec', message('NamespaceSpec', { 1: field('finalizers', 'string', LIST) })),
  3: field('status', message('NamespaceStatus', {
    1: field('phase', 'string'),
    2: field('conditions', NAMESPACE_CONDITION, LIST),
  })),
});

export const CONFIG_MAP = message('ConfigMap', {
  1: field('metadata', OBJECT_META),
  2: field('data', 'string', MAP),
  3: field('binaryData', 'bytes', MAP),
  4: field('immutable', 'bool', KEEP),
});

export const SECRET = message('Secret', {
  1: field('metadata', OBJECT_META),
  2: field('data', 'bytes', MAP),
  3: field('type', 'string'),
  4: field('stringData', 'string', MAP),
  5: field('immutable', 'bool', KEEP),
});

const SERVICE_PORT = message('ServicePort', {
  1: field('name', 'string'),
  2: field('protocol', 'string'),
  3: field('port', 'int32', KEEP),
  4: field('targetPort', 'intOrString'),
  5: field('nodePort', 'int32'),
  6: field('appProtocol', 'string', KEEP),
});

const SERVICE_SPEC = message('ServiceSpec', {
  1: field('ports', SERVICE_PORT, LIST),
  2: field('selector', 'string', MAP),
  3: field('clusterIP', 'string'),
  4: field('type', 'string'),
  5: field('externalIPs', 'string', LIST),
  7: field('sessionAffinity', 'string'),
  8: field('loadBalancerIP', 'string'),
  9: field('loadBalancerSourceRanges', 'string', LIST),
  10: field('externalName', 'string'),
  11: field('externalTrafficPolicy', 'string'),
  12: field('healthCheckNodePort', 'int32'),
  13: field('publishNotReadyAddresses', 'bool'),
  14: field('sessionAffinityConfig', message('SessionAffinityConfig', {
    1: field('clientIP', message('ClientIPConfig', { 1: field('timeoutSeconds', 'int32', KEEP) })),
  })),
  17: field('ipFamilyPolicy', 'string', KEEP),
  18: field('clusterIPs', 'string', LIST),
  19: field('ipFamilies', 'string', LIST),
  20: field('allocateLoadBalancerNodePorts', 'bool', KEEP),
  21: field('loadBalancerClass', 'string', KEEP),
  22: field('internalTrafficPolicy', 'string', KEEP),
  23: field('trafficDistribution', 'string', KEEP),
});

const LOAD_BALANCER_INGRESS = message('LoadBalancerIngress', {
  1: field('ip', 'string'),
  2: field('hostname', 'string'),
});

export const SERVICE = message('Service', {
  1: field('metadata', OBJECT_META),
  2: field('spec', SERVICE_SPEC),
  3: field('status', message('ServiceStatus', {
    1: field('loadBalancer', message('LoadBalancerStatus', { 1: field('ingress', LOAD_BALANCER_INGRESS, LIST) })),
    2: field('conditions', META_CONDITION, LIST),
  })),
});

export const SERVICE_ACCOUNT = message('ServiceAccount', {
  1: field('metadata', OBJECT_META),
  2: field('secrets', OBJECT_REFERENCE, LIST),
  3: field('imagePullSecrets', LOCAL_OBJECT_REFERENCE, LIST),
  4: field('automountServiceAccountToken', 'bool', KEEP),
});

const SCOPED_RESOURCE_SELECTOR_REQUIREMENT = message('ScopedResourceSelectorRequirement', {
  1: field('scopeName', 'string', KEEP),
  2: field('operator', 'string', KEEP),
  3: field('values', 'string', LIST),
});

export const RESOURCE_QUOTA = message('ResourceQuota', {
  1: field('metadata', OBJECT_META),
  2: field('spec', message('ResourceQuotaSpec', {
    1: field('hard', 'quantity', MAP),
    2: field('scopes', 'string', LIST),
    3: field('scopeSelector', message('ScopeSelector', {
      1: field('matchExpressions', SCOPED_RESOURCE_SELECTOR_REQUIREMENT, LIST),
    })),
  })),
  3: field('status', message('ResourceQuotaStatus', {
    1: field('hard', 'quantity', MAP),
    2: field('used', 'quantity', MAP),
  })),
});
