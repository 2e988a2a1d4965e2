/**
 * The DefaultIngressClass admission plugin, as upstream: a new Ingress that names no class (neither
 * spec.ingressClassName nor the deprecated `kubernetes.io/ingress.class` annotation) gets the
 * IngressClass annotated `ingressclass.kubernetes.io/is-default-class: "true"`; with several
 * defaults, the most recently created one. The class `corral` (served by the agents' built-in proxy)
 * exists from the start as the default; an admin may remove its annotation (a deleted one comes back
 * at the next start, as the `local-path` StorageClass does).
 */
import type { KubeObject } from '../../../api/meta.js';
import {
  CORRAL_INGRESS_CLASS, CORRAL_INGRESS_CONTROLLER, DEFAULT_INGRESS_CLASS_ANNOTATION, LEGACY_INGRESS_CLASS_ANNOTATION,
  type Ingress, type IngressClass,
} from '../../../api/networking-types.js';
import { resourceForKind, type ResourceInfo } from '../../../api/resources.js';
import { isAlreadyExists } from '../../../api/status.js';
import type { AdmissionPlugin, Registry } from '../registry.js';

const INGRESS_CLASS = resourceForKind('IngressClass')!;

/** Whether an IngressClass carries the default-class annotation (upstream accepts only "true"). */
export function isDefaultIngressClass(ic: IngressClass): boolean {
  return ic.metadata.annotations?.[DEFAULT_INGRESS_CLASS_ANNOTATION] === 'true';
}

/** The default class among `classes`: the newest annotated one (then the first name, for a stable pick). */
export function pickDefaultIngressClass(classes: readonly IngressClass[]): IngressClass | undefined {
  return classes.filter(isDefaultIngressClass).sort((a, b) => {
    const ta = a.metadata.creationTimestamp ?? '';
    const tb = b.metadata.creationTimestamp ?? '';
    if (ta !== tb) return ta < tb ? 1 : -1;
    return (a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1;
  })[0];
}

export function defaultIngressClassPlugin(registry: Registry): AdmissionPlugin {
  return {
    name: 'DefaultIngressClass',
    async admitCreate(info: ResourceInfo, obj: KubeObject) {
      if (info.kind !== 'Ingress' || info.group !== 'networking.k8s.io') return;
      const ing = obj as Ingress;
      if (ing.spec?.ingressClassName || ing.metadata.annotations?.[LEGACY_INGRESS_CLASS_ANNOTATION] !== undefined) return;
      const chosen = pickDefaultIngressClass((await registry.list(INGRESS_CLASS, undefined)).items as IngressClass[]);
      if (chosen) ing.spec = { ...(ing.spec ?? {}), ingressClassName: chosen.metadata.name! };
    },
  };
}

/** Creates the `corral` IngressClass, marked default, when missing (at every start, like the `local-path` StorageClass). */
export async function ensureDefaultIngressClass(registry: Registry): Promise<void> {
  if (await registry.tryGet(INGRESS_CLASS, undefined, CORRAL_INGRESS_CLASS)) return;
  const ic: IngressClass = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IngressClass',
    metadata: { name: CORRAL_INGRESS_CLASS, annotations: { [DEFAULT_INGRESS_CLASS_ANNOTATION]: 'true' } },
    spec: { controller: CORRAL_INGRESS_CONTROLLER },
  };
  await registry.create(INGRESS_CLASS, undefined, ic as KubeObject).catch((err: unknown) => {
    if (!isAlreadyExists(err)) throw err;
  });
}
