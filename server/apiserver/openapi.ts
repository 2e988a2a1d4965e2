/**
 * The minimal OpenAPI v3 documents that make `kubectl apply -f` work with its default
 * `--validate=strict`: kubectl only checks that each kind's PATCH operation accepts a
 * `fieldValidation` parameter, then leaves validation to the server (kubectl-wire.md §3).
 */
import { createHash } from 'node:crypto';
import { RESOURCES, groupVersionPath, groupVersions } from '../../api/resources.js';

function gvKey(gv: { group: string; version: string }): string {
  return groupVersionPath(gv).slice(1); // "api/v1", "apis/apps/v1"
}

const documents = new Map<string, unknown>();
for (const gv of groupVersions()) {
  const paths: Record<string, unknown> = {};
  for (const r of RESOURCES.filter((x) => x.group === gv.group && x.version === gv.version)) {
    const path = r.namespaced
      ? `${groupVersionPath(r)}/namespaces/{namespace}/${r.plural}/{name}`
      : `${groupVersionPath(r)}/${r.plural}/{name}`;
    paths[path] = {
      patch: {
        'x-kubernetes-group-version-kind': { group: r.group, version: r.version, kind: r.kind },
        parameters: [{ name: 'fieldValidation', in: 'query', schema: { type: 'string' } }],
        responses: {},
      },
    };
  }
  documents.set(gvKey(gv), {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.32.0' },
    components: { schemas: {} },
    paths,
  });
}

const hash = createHash('sha256').update(JSON.stringify([...documents.entries()])).digest('hex').slice(0, 16).toUpperCase();

export function openApiRoot(): unknown {
  const paths: Record<string, unknown> = {};
  for (const gv of groupVersions()) paths[gvKey(gv)] = { serverRelativeURL: `/openapi/v3/${gvKey(gv)}?hash=${hash}` };
  return { paths };
}

/** `key` is the path after `/openapi/v3/`, e.g. `apis/apps/v1`. */
export function openApiGroupVersion(key: string): unknown | undefined {
  return documents.get(key);
}

