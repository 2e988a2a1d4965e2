/**
 * ServiceAccount admission for pods being created (upstream's ServiceAccount plugin): an empty
 * serviceAccountName becomes `default` (the deprecated `serviceAccount` field mirrors it), a named
 * account must exist (403 as upstream), and unless automountServiceAccountToken is false (on the pod,
 * else on the account) the pod gets the projected `kube-api-access-<suffix>` volume — a pod-bound
 * token, the cluster CA (`kube-root-ca.crt`) and the namespace — mounted read-only at
 * /var/run/secrets/kubernetes.io/serviceaccount in every container that has nothing there yet. A
 * missing `default` is let through: the serviceaccount controller is creating it in a namespace made
 * a moment ago.
 */
import { qualifiedResource, resourceForKind } from '../../api/resources.js';
import { errors } from '../../api/status.js';
import { randomInt } from 'node:crypto';
import type { Pod, ServiceAccount, Volume } from '../../api/types.js';
import type { AdmissionPlugin, Registry } from './registry.js';

export const DEFAULT_SERVICE_ACCOUNT = 'default';
export const SERVICE_ACCOUNT_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
const NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';

/** The volume upstream adds (kubelet renews the token; 3607 s is upstream's marker for "renewed by the node"). */
export function kubeApiAccessVolume(suffix: string): Volume {
  return {
    name: `kube-api-access-${suffix}`,
    projected: {
      defaultMode: 0o644,
      sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
      ],
    },
  };
}

/** Adds the token volume and its mounts, unless every container already mounts something there. */
export function mountServiceAccountToken(pod: Pod, suffix: string): void {
  const containers = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  const needing = containers.filter((c) => !(c.volumeMounts ?? []).some((m) => m.mountPath === SERVICE_ACCOUNT_MOUNT_PATH));
  if (needing.length === 0) return;
  const volume = kubeApiAccessVolume(suffix);
  pod.spec.volumes = [...(pod.spec.volumes ?? []), volume];
  for (const c of needing) c.volumeMounts = [...(c.volumeMounts ?? []), { name: volume.name, readOnly: true, mountPath: SERVICE_ACCOUNT_MOUNT_PATH }];
}

export function serviceAccountAdmissionPlugin(registry: Registry): AdmissionPlugin {
  const saInfo = resourceForKind('ServiceAccount')!;
  return {
    name: 'ServiceAccount',
    async admitCreate(info, obj) {
      if (info.kind !== 'Pod') return;
      const pod = obj as Pod & { spec: { serviceAccount?: string } };
      const name = pod.spec.serviceAccountName || pod.spec.serviceAccount || DEFAULT_SERVICE_ACCOUNT;
      pod.spec.serviceAccountName = name;
      pod.spec.serviceAccount = name;
      const ns = pod.metadata.namespace!;
      const account = (await registry.tryGet(saInfo, ns, name)) as ServiceAccount | undefined;
      if (account || name === DEFAULT_SERVICE_ACCOUNT) {
        if (pod.spec.automountServiceAccountToken ?? account?.automountServiceAccountToken ?? true) {
          let suffix = '';
          for (let i = 0; i < 5; i++) suffix += NAME_CHARS[randomInt(NAME_CHARS.length)];
          mountServiceAccountToken(pod, suffix);
        }
        return;
      }
      throw errors.forbidden(`${qualifiedResource(info)} "${pod.metadata.name ?? ''}" is forbidden: error looking up service account ${ns}/${name}: serviceaccount "${name}" not found`,
        { name: pod.metadata.name ?? '', group: '', kind: info.plural });
    },
  };
}
