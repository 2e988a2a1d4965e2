/**
 * ServiceAccount admission for pods being created (upstream's ServiceAccount plugin, without the
 * token volume, which needs the agent's projected volumes): an empty serviceAccountName becomes
 * `default` (and the deprecated `serviceAccount` field mirrors it), and a named account must exist
 * (403 as upstream). A missing `default` is let through: the serviceaccount controller is creating it
 * in a namespace made a moment ago.
 */
import { qualifiedResource, resourceForKind } from '../../api/resources.js';
import { errors } from '../../api/status.js';
import type { Pod } from '../../api/types.js';
import type { AdmissionPlugin, Registry } from './registry.js';

export const DEFAULT_SERVICE_ACCOUNT = 'default';

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
      if (name === DEFAULT_SERVICE_ACCOUNT) return;
      const ns = pod.metadata.namespace!;
      if (await registry.tryGet(saInfo, ns, name)) return;
      throw errors.forbidden(`${qualifiedResource(info)} "${pod.metadata.name ?? ''}" is forbidden: error looking up service account ${ns}/${name}: serviceaccount "${name}" not found`,
        { name: pod.metadata.name ?? '', group: '', kind: info.plural });
    },
  };
}
