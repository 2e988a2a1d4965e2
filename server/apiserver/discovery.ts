/**
 * API discovery documents, built from api/resources.ts: aggregated (apidiscovery.k8s.io/v2, what
 * kubectl v1.32 asks for first) and legacy (`/api`, `/apis`, `/api/v1`, `/apis/<g>/<v>`), which
 * `kubectl drain` still reads. See kubectl-wire.md §2.
 */
import { servedResources, verbsOf, apiVersionOf, groupVersions, type ResourceInfo } from '../../api/resources.js';

export const AGGREGATED_CONTENT_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

/** kubectl decides by the Accept parameters whether it may receive the aggregated form. */
export function wantsAggregated(accept: string | null): boolean {
  return !!accept && /g=apidiscovery\.k8s\.io/.test(accept) && /as=APIGroupDiscoveryList/.test(accept);
}

function aggregatedResource(r: ResourceInfo): Record<string, unknown> {
  return {
    resource: r.plural,
    singularResource: r.singular,
    scope: r.namespaced ? 'Namespaced' : 'Cluster',
    responseKind: { group: r.group, version: r.version, kind: r.kind },
    verbs: verbsOf(r),
    ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
    ...(r.categories.length ? { categories: r.categories } : {}),
    subresources: r.subresources.map((s) => ({
      subresource: s.name,
      responseKind: s.responseKind ?? { group: r.group, version: r.version, kind: r.kind },
      verbs: s.verbs,
    })),
  };
}

/** Each served group with its versions, the preferred (first served) version first. */
function groupsWithVersions(): { group: string; versions: string[] }[] {
  const groups = new Map<string, string[]>();
  for (const gv of groupVersions()) {
    const versions = groups.get(gv.group) ?? [];
    versions.push(gv.version);
    groups.set(gv.group, versions);
  }
  return [...groups.entries()].map(([group, versions]) => ({ group, versions }));
}

/** `core: true` → the document for `/api`; otherwise for `/apis`. */
export function aggregatedDiscovery(core: boolean): unknown {
  const resources = servedResources();
  const items = groupsWithVersions()
    .filter((g) => (g.group === '') === core)
    .map((g) => ({
      metadata: { name: g.group, creationTimestamp: null },
      versions: g.versions.map((version) => ({
        version,
        freshness: 'Current',
        resources: resources.filter((r) => r.group === g.group && r.version === version).map(aggregatedResource),
      })),
    }));
  return { kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', metadata: {}, items };
}

export function legacyApiVersions(serverAddress: string): unknown {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function legacyGroup(g: { group: string; versions: string[] }): { name: string; versions: unknown[]; preferredVersion: unknown } {
  const versions = g.versions.map((version) => ({ groupVersion: apiVersionOf({ group: g.group, version }), version }));
  return { name: g.group, versions, preferredVersion: versions[0] };
}

export function legacyApiGroupList(): unknown {
  const groups = groupsWithVersions().filter((g) => g.group !== '').map(legacyGroup);
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

export function legacyApiGroup(group: string): unknown | undefined {
  const g = groupsWithVersions().find((x) => x.group === group);
  if (!g) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...legacyGroup(g) };
}

/** `APIResourceList` for one group/version, subresources listed as `pods/log` etc. */
export function apiResourceList(group: string, version: string): unknown | undefined {
  const rs = servedResources().filter((r) => r.group === group && r.version === version);
  if (rs.length === 0) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const r of rs) {
    resources.push({
      name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: verbsOf(r),
      ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
      ...(r.categories.length ? { categories: r.categories } : {}),
    });
    for (const s of r.subresources) {
      resources.push({
        name: `${r.plural}/${s.name}`, singularName: '', namespaced: r.namespaced,
        ...(s.responseKind ? { group: s.responseKind.group, version: s.responseKind.version, kind: s.responseKind.kind } : { kind: r.kind }),
        verbs: s.verbs,
      });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf({ group, version }), resources };
}
