/**
 * ObjectMeta validation shared by every kind (apimachinery ValidateObjectMeta plus core's finalizer
 * rule): name or generateName, the name rule of the kind, namespace, labels, annotations, owner
 * references and finalizers.
 */
import type { KubeObject } from '../meta.js';
import type { ResourceInfo } from '../resources.js';
import type { StatusCause } from '../status.js';
import { asArray, asString, child, eachInvalid, forbidden, GoText, index, invalid, isRecord, nonNegative, required } from './field.js';
import {
  isDNS1123Label, isQualifiedName, nameIsDNS1035Label, nameIsDNSLabel, nameIsDNSSubdomain, validateAnnotations,
  validateLabels,
} from './names.js';
import type { NameValidator } from './names.js';
import { nameIsPathSegment } from './rbac.js';

/** Finalizer names without a '/' that Kubernetes itself defines. */
// The CRD cleanup finalizer is unqualified upstream too (apiextensions validates finalizers as qualified names only).
const STANDARD_FINALIZERS = new Set(['kubernetes', 'orphan', 'foregroundDeletion', 'customresourcecleanup.apiextensions.k8s.io']);

/** The name rule of each kind; anything not listed uses DNS-1123 subdomains, as most kinds do. */
const NAME_RULES: ReadonlyMap<string, NameValidator> = new Map([
  ['Namespace', nameIsDNSLabel],
  ['Service', nameIsDNS1035Label],
  ['Role', nameIsPathSegment],
  ['ClusterRole', nameIsPathSegment],
  ['RoleBinding', nameIsPathSegment],
  ['ClusterRoleBinding', nameIsPathSegment],
]);

export function nameValidatorFor(kind: string): NameValidator {
  return NAME_RULES.get(kind) ?? nameIsDNSSubdomain;
}

/** A finalizer is a qualified name, and a bare (unprefixed) one must be a standard finalizer. */
export function validateFinalizerName(name: string, path: string): StatusCause[] {
  const out = eachInvalid(path, name, isQualifiedName(name));
  if (!name.includes('/') && !STANDARD_FINALIZERS.has(name)) {
    out.push(invalid(path, name, 'name is neither a standard finalizer name nor is it fully qualified'));
  }
  return out;
}

function goOwnerReference(ref: Record<string, unknown>): string {
  return `v1.OwnerReference{APIVersion:${JSON.stringify(asString(ref['apiVersion']))}, Kind:${JSON.stringify(asString(ref['kind']))}, ` +
    `Name:${JSON.stringify(asString(ref['name']))}, UID:${JSON.stringify(asString(ref['uid']))}}`;
}

function validateOwnerReferences(refs: unknown, path: string): StatusCause[] {
  const out: StatusCause[] = [];
  let firstController = '';
  for (const ref of asArray(refs)) {
    if (!isRecord(ref)) {
      out.push(invalid(path, String(ref), 'must be an owner reference object'));
      continue;
    }
    const apiVersion = asString(ref['apiVersion']);
    const version = apiVersion.includes('/') ? apiVersion.slice(apiVersion.indexOf('/') + 1) : apiVersion;
    if (version === '') out.push(invalid(child(path, 'apiVersion'), apiVersion, 'version must not be empty'));
    for (const field of ['kind', 'name', 'uid']) {
      if (asString(ref[field]) === '') out.push(invalid(child(path, field), '', 'must not be empty'));
    }
    if (apiVersion === 'v1' && ref['kind'] === 'Event') {
      out.push(invalid(path, new GoText(goOwnerReference(ref)), '/v1, Kind=Event is disallowed from being an owner'));
    }
    if (ref['controller'] === true) {
      const current = `${asString(ref['kind'])}/${asString(ref['name'])}`;
      if (firstController !== '') {
        const all = asArray(refs).filter(isRecord).map(goOwnerReference).join(', ');
        out.push(invalid(path, new GoText(`[]v1.OwnerReference{${all}}`),
          `Only one reference can have Controller set to true. Found "true" in references for ${firstController} and ${current}`));
      } else {
        firstController = current;
      }
    }
  }
  return out;
}

function validateFinalizers(finalizers: unknown, path: string): StatusCause[] {
  const out: StatusCause[] = [];
  const list = asArray(finalizers).map(asString);
  list.forEach((f, i) => {
    out.push(...eachInvalid(path, f, isQualifiedName(f)));
    if (!f.includes('/') && !STANDARD_FINALIZERS.has(f)) {
      out.push(invalid(index(path, i), f, 'name is neither a standard finalizer name nor is it fully qualified'));
    }
  });
  if (list.includes('orphan') && list.includes('foregroundDeletion')) {
    out.push(invalid(path, list, 'finalizer orphan and foregroundDeletion cannot be both set'));
  }
  return out;
}

/** ValidateObjectMeta for `obj` of the kind described by `info`. */
export function validateObjectMeta(info: ResourceInfo, obj: KubeObject): StatusCause[] {
  const path = 'metadata';
  const meta = obj.metadata;
  if (!isRecord(meta)) return [required(path)];
  const out: StatusCause[] = [];
  const nameRule = nameValidatorFor(info.kind);
  const generateName = asString(meta.generateName);
  if (generateName !== '') out.push(...eachInvalid(child(path, 'generateName'), generateName, nameRule(generateName, true)));
  const name = asString(meta.name);
  if (name === '') out.push(required(child(path, 'name'), 'name or generateName is required'));
  else out.push(...eachInvalid(child(path, 'name'), name, nameRule(name, false)));

  const namespace = asString(meta.namespace);
  if (info.namespaced) {
    if (namespace === '') out.push(required(child(path, 'namespace')));
    else out.push(...eachInvalid(child(path, 'namespace'), namespace, isDNS1123Label(namespace)));
  } else if (namespace !== '') {
    out.push(forbidden(child(path, 'namespace'), 'not allowed on this type'));
  }
  out.push(...nonNegative(child(path, 'generation'), meta.generation));
  out.push(...validateLabels(meta['labels'] as Record<string, string> | undefined, child(path, 'labels')));
  out.push(...validateAnnotations(meta['annotations'] as Record<string, string> | undefined, child(path, 'annotations')));
  out.push(...validateOwnerReferences(meta.ownerReferences, child(path, 'ownerReferences')));
  out.push(...validateFinalizers(meta.finalizers, child(path, 'finalizers')));
  return out;
}
