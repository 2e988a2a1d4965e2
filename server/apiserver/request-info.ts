/**
 * Parses a resource URL (`/api/v1/namespaces/default/pods/web/status`) into what it addresses, the way
 * the Kubernetes apiserver's RequestInfoFactory does. One parser for every kind keeps the routes
 * table-driven by api/resources.ts.
 */
import { resourceForPlural, type ResourceInfo } from '../../api/resources.js';
import { decodePathSegment } from '../../api/request-target.js';

export interface RequestTarget {
  info: ResourceInfo;
  /** Namespace from the URL, for namespaced kinds addressed within one namespace. */
  namespace?: string;
  name?: string;
  subresource?: string;
  /** `/api/v1/watch/...` legacy watch paths. */
  legacyWatch: boolean;
}

export type ParseResult =
  | { kind: 'resource'; target: RequestTarget }
  | { kind: 'unknown-resource'; group: string; version: string; plural: string }
  | { kind: 'not-resource' };

/**
 * `path` without the query string; each segment is percent-decoded here (bytes that are not UTF-8
 * become U+FFFD, so no name can make decoding throw; malformed escapes were refused before routing).
 */
export function parseResourcePath(path: string): ParseResult {
  const parts = path.split('/').filter((p) => p !== '').map(decodePathSegment);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) {
    group = '';
    version = parts[1]!;
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    group = parts[1]!;
    version = parts[2]!;
    rest = parts.slice(3);
  } else {
    return { kind: 'not-resource' };
  }
  let legacyWatch = false;
  if (rest[0] === 'watch') {
    legacyWatch = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  // `namespaces/<ns>/<plural>...` addresses a namespaced resource; `namespaces/<name>[/<sub>]`
  // addresses the Namespace object itself.
  if (rest[0] === 'namespaces' && rest.length >= 3 && !(group === '' && rest.length === 3 && isNamespaceSubresource(rest[2]!))) {
    namespace = rest[1]!;
    rest = rest.slice(2);
  }
  const plural = rest[0];
  if (plural === undefined) return { kind: 'not-resource' };
  const info = resourceForPlural(group, plural, version);
  if (!info) return { kind: 'unknown-resource', group, version, plural };
  if (rest.length > 3) return { kind: 'unknown-resource', group, version, plural: rest.join('/') };
  const target: RequestTarget = { info, legacyWatch };
  if (namespace !== undefined) {
    if (!info.namespaced) return { kind: 'unknown-resource', group, version, plural };
    target.namespace = namespace;
  }
  if (rest[1] !== undefined) target.name = rest[1];
  if (rest[2] !== undefined) target.subresource = rest[2];
  return { kind: 'resource', target };
}

function isNamespaceSubresource(s: string): boolean {
  return s === 'status' || s === 'finalize';
}
