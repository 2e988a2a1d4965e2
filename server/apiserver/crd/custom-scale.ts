/**
 * The scale subresource of custom resources: autoscaling/v1 Scale read from and written to the
 * paths the CRD names (specReplicasPath, statusReplicasPath, labelSelectorPath).
 */
import type { KubeObject } from '../../../api/meta.js';
import type { CustomResourceBehaviour } from '../../../api/resources.js';
import type { Scale } from '../../../api/types.js';
import { clone } from '../../../api/object-util.js';
import { fieldPathSteps } from './json-path.js';

type ScalePaths = NonNullable<CustomResourceBehaviour['scale']>;

function valueAt(obj: unknown, path: string): unknown {
  let v = obj;
  for (const name of fieldPathSteps(path)) v = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[name] : undefined;
  return v;
}

/** A Scale for `obj` with the given numbers. */
export function scaleOf(obj: KubeObject, specReplicas: number, statusReplicas: number, selector: string): Scale {
  const m = obj.metadata;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: m.name!, ...(m.namespace ? { namespace: m.namespace } : {}), uid: m.uid!,
      resourceVersion: m.resourceVersion!, creationTimestamp: m.creationTimestamp!,
    },
    spec: { replicas: specReplicas },
    status: { replicas: statusReplicas, selector },
  };
}

export function customScale(paths: ScalePaths, obj: KubeObject): Scale {
  const spec = valueAt(obj, paths.specReplicasPath);
  const status = valueAt(obj, paths.statusReplicasPath);
  const selector = paths.labelSelectorPath ? valueAt(obj, paths.labelSelectorPath) : undefined;
  return scaleOf(obj, typeof spec === 'number' ? spec : 0, typeof status === 'number' ? status : 0, typeof selector === 'string' ? selector : '');
}

/** A copy of `obj` with `replicas` at the spec replicas path (missing objects on the way are created). */
export function withCustomReplicas(paths: ScalePaths, obj: KubeObject, replicas: number): KubeObject {
  const next = clone(obj);
  const steps = fieldPathSteps(paths.specReplicasPath);
  let node = next as unknown as Record<string, unknown>;
  for (const name of steps.slice(0, -1)) {
    const child = node[name];
    if (child === null || typeof child !== 'object' || Array.isArray(child)) node[name] = {};
    node = node[name] as Record<string, unknown>;
  }
  node[steps[steps.length - 1]!] = replicas;
  return next;
}
