/**
 * DefaultTolerationSeconds, as the upstream admission plugin: every new pod tolerates the
 * `not-ready` and `unreachable` NoExecute taints for a bounded time unless it says otherwise, so a
 * lost node's pods are evicted after `--pod-eviction-timeout` (an edge-friendly 30 s by default,
 * not Kubernetes' five minutes).
 */
import type { KubeObject } from '../../../api/meta.js';
import type { Pod, Toleration } from '../../../api/types.js';
import type { ResourceInfo } from '../../../api/resources.js';
import type { AdmissionPlugin } from '../registry.js';

export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';

/** Whether the pod already says how it treats a NoExecute taint with this key. */
function hasNoExecuteToleration(tolerations: readonly Toleration[], key: string): boolean {
  return tolerations.some((t) => (t.effect === 'NoExecute' || !t.effect) && (t.key === key || (!t.key && t.operator === 'Exists')));
}

export function defaultTolerationSecondsPlugin(seconds: number): AdmissionPlugin {
  return {
    name: 'DefaultTolerationSeconds',
    async admitCreate(info: ResourceInfo, obj: KubeObject) {
      if (info.kind !== 'Pod' || info.group !== '') return;
      const spec = (obj as Pod).spec;
      if (!spec) return;
      const tolerations = spec.tolerations ?? [];
      for (const key of [TAINT_NOT_READY, TAINT_UNREACHABLE]) {
        if (!hasNoExecuteToleration(tolerations, key)) {
          tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: seconds });
        }
      }
      spec.tolerations = tolerations;
    },
  };
}
