/**
 * The Priority admission plugin, as upstream: a new pod gets `spec.priority` (and preemptionPolicy)
 * from its `priorityClassName`, or from the global default class when it names none (priority 0 when
 * there is no default); a pod naming a class that does not exist, or stating a priority other than
 * its class's, is refused. At most one PriorityClass may be the global default, and the built-in
 * `system-` classes exist from the start and cannot be deleted.
 */
import type { KubeObject } from '../../../api/meta.js';
import { resourceForKind, type ResourceInfo } from '../../../api/resources.js';
import {
  SYSTEM_PRIORITY_CLASSES, type PreemptionPolicy, type PriorityClass,
} from '../../../api/scheduling-types.js';
import { errors, isAlreadyExists } from '../../../api/status.js';
import type { Pod } from '../../../api/types.js';
import type { AdmissionPlugin, Registry } from '../registry.js';

const PRIORITY_CLASS = resourceForKind('PriorityClass')!;
const DEFAULT_PREEMPTION: PreemptionPolicy = 'PreemptLowerPriority';

function isPod(info: ResourceInfo): boolean {
  return info.kind === 'Pod' && info.group === '';
}

function isPriorityClass(info: ResourceInfo): boolean {
  return info.kind === 'PriorityClass' && info.group === PRIORITY_CLASS.group;
}

export function priorityAdmissionPlugin(registry: Registry): AdmissionPlugin {
  const classes = async (): Promise<PriorityClass[]> => (await registry.list(PRIORITY_CLASS, undefined)).items as PriorityClass[];

  /** The global default as upstream picks it when several exist: the lowest value. */
  const defaultClass = async (): Promise<PriorityClass | undefined> =>
    (await classes()).filter((c) => c.globalDefault === true).sort((a, b) => a.value - b.value)[0];

  const onlyOneDefault = async (pc: PriorityClass): Promise<void> => {
    if (pc.globalDefault !== true) return;
    const other = (await classes()).find((c) => c.globalDefault === true && c.metadata.name !== pc.metadata.name);
    if (other) {
      throw errors.forbidden(
        `priorityclasses.scheduling.k8s.io "${pc.metadata.name}" is forbidden: PriorityClass ${other.metadata.name} is already marked as default. Only one default can exist`,
        { name: pc.metadata.name ?? '', group: PRIORITY_CLASS.group, kind: 'priorityclasses' },
      );
    }
  };

  const assignPriority = async (pod: Pod): Promise<void> => {
    const spec = pod.spec;
    if (!spec) return;
    const refuse = (why: string): never => {
      throw errors.forbidden(`pods "${pod.metadata.name ?? pod.metadata.generateName ?? ''}" is forbidden: ${why}`, { name: pod.metadata.name ?? '', kind: 'pods' });
    };
    let priority = 0;
    let policy: PreemptionPolicy = DEFAULT_PREEMPTION;
    if (!spec.priorityClassName) {
      const pc = await defaultClass();
      if (pc) {
        spec.priorityClassName = pc.metadata.name!;
        priority = pc.value;
        policy = pc.preemptionPolicy ?? DEFAULT_PREEMPTION;
      }
    } else {
      const pc = await registry.tryGet(PRIORITY_CLASS, undefined, spec.priorityClassName) as PriorityClass | undefined;
      if (!pc) refuse(`no PriorityClass with name ${spec.priorityClassName} was found`);
      priority = pc!.value;
      policy = pc!.preemptionPolicy ?? DEFAULT_PREEMPTION;
    }
    if (spec.priority !== undefined && spec.priority !== null && spec.priority !== priority) {
      refuse(`the integer value of priority (${spec.priority}) must not be provided in pod spec; priority admission controller computed ${priority} from the given PriorityClass name`);
    }
    if (spec.preemptionPolicy !== undefined && spec.preemptionPolicy !== null && spec.preemptionPolicy !== policy) {
      refuse(`the string value of PreemptionPolicy (${spec.preemptionPolicy}) must not be provided in pod spec; priority admission controller computed ${policy} from the given PriorityClass name`);
    }
    spec.priority = priority;
    spec.preemptionPolicy = policy;
  };

  return {
    name: 'Priority',
    async admitCreate(info: ResourceInfo, obj: KubeObject) {
      if (isPod(info)) await assignPriority(obj as Pod);
      else if (isPriorityClass(info)) await onlyOneDefault(obj as PriorityClass);
    },
    async admitUpdate(info: ResourceInfo, obj: KubeObject, old: KubeObject) {
      if (isPriorityClass(info) && (old as PriorityClass).globalDefault !== true) await onlyOneDefault(obj as PriorityClass);
    },
    async admitDelete(info: ResourceInfo, obj: KubeObject) {
      if (!isPriorityClass(info) || !SYSTEM_PRIORITY_CLASSES.some((s) => s.metadata.name === obj.metadata.name)) return;
      throw errors.forbidden(
        `priorityclasses.scheduling.k8s.io "${obj.metadata.name}" is forbidden: this is a system priority class and cannot be deleted`,
        { name: obj.metadata.name ?? '', group: PRIORITY_CLASS.group, kind: 'priorityclasses' },
      );
    },
  };
}

/** Creates the built-in priority classes when missing (at every start, as upstream's apiserver does). */
export async function ensureSystemPriorityClasses(registry: Registry): Promise<void> {
  for (const pc of SYSTEM_PRIORITY_CLASSES) {
    if (await registry.tryGet(PRIORITY_CLASS, undefined, pc.metadata.name!)) continue;
    await registry.create(PRIORITY_CLASS, undefined, structuredClone(pc) as unknown as KubeObject).catch((err: unknown) => {
      if (!isAlreadyExists(err)) throw err;
    });
  }
}
