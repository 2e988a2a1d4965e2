/**
 * The RuntimeClass admission plugin, as upstream: a new pod naming a `runtimeClassName` must name an
 * existing RuntimeClass; the class's pod overhead becomes the pod's `spec.overhead` (a pod stating a
 * different overhead is refused), and its scheduling constraints are merged into the pod's node
 * selector (a conflicting label is refused) and tolerations.
 */
import type { KubeObject } from '../../../api/meta.js';
import { deepEqual } from '../../../api/object-util.js';
import { resourceForKind, type ResourceInfo } from '../../../api/resources.js';
import type { RuntimeClass } from '../../../api/scheduling-types.js';
import { errors } from '../../../api/status.js';
import type { Pod } from '../../../api/types.js';
import type { AdmissionPlugin, Registry } from '../registry.js';

const RUNTIME_CLASS = resourceForKind('RuntimeClass')!;

export function runtimeClassAdmissionPlugin(registry: Registry): AdmissionPlugin {
  return {
    name: 'RuntimeClass',
    async admitCreate(info: ResourceInfo, obj: KubeObject) {
      if (info.kind !== 'Pod' || info.group !== '') return;
      const pod = obj as Pod;
      const name = pod.spec?.runtimeClassName;
      if (!name) return;
      const refuse = (why: string): never => {
        throw errors.forbidden(`pods "${pod.metadata.name ?? pod.metadata.generateName ?? ''}" is forbidden: ${why}`, { name: pod.metadata.name ?? '', kind: 'pods' });
      };
      const rc = await registry.tryGet(RUNTIME_CLASS, undefined, name) as RuntimeClass | undefined;
      if (!rc) refuse(`pod rejected: RuntimeClass "${name}" not found`);
      const overhead = rc!.overhead?.podFixed;
      if (overhead) {
        if (pod.spec.overhead && !deepEqual(pod.spec.overhead, overhead)) refuse('pod rejected: Pod\'s Overhead doesn\'t match RuntimeClass\'s defined Overhead');
        pod.spec.overhead = { ...overhead };
      } else if (pod.spec.overhead) {
        refuse('pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead');
      }
      const scheduling = rc!.scheduling;
      if (scheduling?.nodeSelector) {
        const selector = { ...(pod.spec.nodeSelector ?? {}) };
        for (const [k, v] of Object.entries(scheduling.nodeSelector)) {
          if (selector[k] !== undefined && selector[k] !== v) refuse(`pod rejected: conflict: runtimeClass.scheduling.nodeSelector[${k}] = ${v}; pod.spec.nodeSelector[${k}] = ${selector[k]}`);
          selector[k] = v;
        }
        pod.spec.nodeSelector = selector;
      }
      if (scheduling?.tolerations) {
        const tolerations = [...(pod.spec.tolerations ?? [])];
        for (const t of scheduling.tolerations) if (!tolerations.some((x) => deepEqual(x, t))) tolerations.push({ ...t });
        pod.spec.tolerations = tolerations;
      }
    },
  };
}
