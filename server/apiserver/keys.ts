/** Storage keys: `/registry/<group|core>/<plural>/<namespace>/<name>` (cluster-scoped: no namespace). */
import type { ResourceInfo } from '../../api/resources.js';

function groupSegment(info: ResourceInfo): string {
  return info.group === '' ? 'core' : info.group;
}

export function objectKey(info: ResourceInfo, namespace: string | undefined, name: string): string {
  const base = `/registry/${groupSegment(info)}/${info.plural}/`;
  return info.namespaced ? `${base}${namespace ?? ''}/${name}` : `${base}${name}`;
}

/** Prefix of every object of a kind, or of one namespace's objects. */
export function listPrefix(info: ResourceInfo, namespace?: string): string {
  const base = `/registry/${groupSegment(info)}/${info.plural}/`;
  return info.namespaced && namespace !== undefined ? `${base}${namespace}/` : base;
}
