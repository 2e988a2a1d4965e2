/**
 * The REST strategy of CustomResourceDefinitions: status (storedVersions, conditions) is the
 * server's; validation is crd-validation.ts; a delete first adds upstream's cleanup finalizer and the
 * Terminating condition, and the CRD controller removes the finalizer once every object is gone.
 */
import { CUSTOM_RESOURCE_CLEANUP_FINALIZER, type CustomResourceDefinition, type CustomResourceDefinitionCondition } from '../../../api/apiextensions-types.js';
import { rfc3339 } from '../../../api/meta.js';
import type { KubeObject } from '../../../api/meta.js';
import { validateCustomResourceDefinition } from './crd-validation.js';


/** Sets (or replaces) one condition, keeping its transition time when the status did not change. */
export function setCondition(conditions: CustomResourceDefinitionCondition[], next: CustomResourceDefinitionCondition): CustomResourceDefinitionCondition[] {
  const old = conditions.find((c) => c.type === next.type);
  const lastTransitionTime = old && old.status === next.status && old.lastTransitionTime ? old.lastTransitionTime : rfc3339();
  const entry = { ...next, lastTransitionTime };
  return old ? conditions.map((c) => (c.type === next.type ? entry : c)) : [...conditions, entry];
}

function specVersions(crd: CustomResourceDefinition): string[] {
  return Array.isArray(crd.spec?.versions) ? crd.spec.versions.filter((v) => v && v.storage === true).map((v) => String(v.name)) : [];
}

/** Upstream's defaults: conversion None, singular and listKind from the kind. */
function applyCrdDefaults(crd: CustomResourceDefinition): void {
  const spec = crd.spec as Partial<CustomResourceDefinition['spec']> | undefined;
  if (!spec || typeof spec !== 'object') return;
  spec.conversion ??= { strategy: 'None' };
  const names = spec.names;
  if (names && typeof names === 'object' && typeof names.kind === 'string' && names.kind !== '') {
    if (!names.singular) names.singular = names.kind.toLowerCase();
    if (!names.listKind) names.listKind = `${names.kind}List`;
  }
}

/** Shaped as strategies.ts's KindStrategy (not imported: strategies.ts imports this module). */
export const crdStrategy = {
  hasStatus: true,
  prepareForCreate(obj: KubeObject) {
    const crd = obj as CustomResourceDefinition;
    applyCrdDefaults(crd);
    crd.status = { storedVersions: specVersions(crd), conditions: [], acceptedNames: { plural: '', kind: '' } };
  },
  prepareForUpdate(next: KubeObject, old: KubeObject) {
    // A new storage version joins storedVersions (objects may now be stored in it).
    const crd = next as CustomResourceDefinition;
    applyCrdDefaults(crd);
    const stored = [...((old as CustomResourceDefinition).status?.storedVersions ?? [])];
    for (const v of specVersions(crd)) if (!stored.includes(v)) stored.push(v);
    crd.status = { ...(crd.status ?? {}), storedVersions: stored };
  },
  prepareForStatusUpdate() { /* the controller owns status */ },
  validate: (obj: KubeObject, old?: KubeObject) => validateCustomResourceDefinition(obj, old),
  gracePeriod: () => 0,
  // Until the cleanup finalizer is on it, a deleted CRD stays; the finalizer then holds it.
  holdOnDelete: (obj: KubeObject) => !obj.metadata.deletionTimestamp,
  prepareForDelete(obj: KubeObject) {
    const crd = obj as CustomResourceDefinition;
    const finalizers = crd.metadata.finalizers ?? [];
    if (!finalizers.includes(CUSTOM_RESOURCE_CLEANUP_FINALIZER)) crd.metadata.finalizers = [...finalizers, CUSTOM_RESOURCE_CLEANUP_FINALIZER];
    crd.status = {
      ...(crd.status ?? {}),
      conditions: setCondition(crd.status?.conditions ?? [], {
        type: 'Terminating', status: 'True', reason: 'InstanceDeletionPending',
        message: 'CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon',
      }),
    };
  },
};


