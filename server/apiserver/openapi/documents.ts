/**
 * The served OpenAPI documents, built from every registered source: the `/openapi/v3` index (one
 * entry per group/version with a content hash), one v3 document per group/version (its paths and the
 * schemas they reach), and the single `/openapi/v2` document. Built lazily, kept until
 * `invalidate()` (CRDs come and go), each with a strong ETag derived from its bytes.
 */
import { createHash } from 'node:crypto';
import { groupVersionPath } from '../../../api/resources.js';
import { log } from '../../../api/log.js';
import { kindPaths } from './operations.js';
import { toV2Schema } from './openapi-v2.js';
import { encodeOpenApiV2 } from './openapi-v2-protobuf.js';
import { referencedNames, type SchemaObject } from './schema-object.js';
import type { OpenApiKind, OpenApiSource } from './source.js';

/** A document ready to send: its bytes and validator. */
export interface ServedDocument {
  body: string | Uint8Array;
  etag: string;
  /** Content hash that `/openapi/v3` publishes in `serverRelativeURL`. */
  hash: string;
}

interface Built {
  root: ServedDocument;
  groupVersions: Map<string, ServedDocument>;
  v2?: { json: ServedDocument; protobuf: ServedDocument };
  kinds: OpenApiKind[];
  schemas: Record<string, SchemaObject>;
}

/** `info` of every document: the Kubernetes version corral answers as. */
const INFO = { title: 'Kubernetes', version: 'v1.32.0' };

/** Schemas every document carries: what errors and deletes send. */
const ALWAYS = ['io.k8s.apimachinery.pkg.apis.meta.v1.Status', 'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions'];

function served(body: string | Uint8Array): ServedDocument {
  const hash = createHash('sha512').update(body).digest('hex').toUpperCase();
  return { body, hash, etag: `"${hash.slice(0, 32)}"` };
}

/** `api/v1`, `apis/apps/v1`: how `/openapi/v3` names a group/version. */
export function groupVersionKey(gv: { group: string; version: string }): string {
  return groupVersionPath(gv).slice(1);
}

export class OpenApiDocuments {
  private readonly sources: OpenApiSource[] = [];
  private built: Built | undefined;
  private generation = 0;

  /** Adds a source; its kinds appear in the next build. Returns a function that removes it. */
  register(source: OpenApiSource): () => void {
    this.sources.push(source);
    this.invalidate();
    return () => {
      const i = this.sources.indexOf(source);
      if (i >= 0) this.sources.splice(i, 1);
      this.invalidate();
    };
  }

  /** Drops the cached documents; the next request rebuilds them from the sources. */
  invalidate(): void {
    this.built = undefined;
    this.generation++;
  }

  /** Bumped by every invalidation: lets callers tell whether the documents may have changed. */
  get version(): number {
    return this.generation;
  }

  root(): ServedDocument {
    return this.build().root;
  }

  /** The v3 document of `key` (`apis/apps/v1`), if that group/version is served. */
  groupVersion(key: string): ServedDocument | undefined {
    return this.build().groupVersions.get(key);
  }

  /** The Swagger 2.0 document, in JSON or in gnostic's protobuf form. */
  v2(form: 'json' | 'protobuf' = 'json'): ServedDocument {
    const b = this.build();
    if (!b.v2) {
      const doc = this.v2Document(b);
      b.v2 = { json: served(JSON.stringify(doc)), protobuf: served(encodeOpenApiV2(doc)) };
    }
    return b.v2[form];
  }

  /** The merged schemas and kinds, for tests and for other dialects (protobuf v2). */
  snapshot(): { kinds: readonly OpenApiKind[]; schemas: Readonly<Record<string, SchemaObject>> } {
    const b = this.build();
    return { kinds: b.kinds, schemas: b.schemas };
  }

  private build(): Built {
    if (this.built) return this.built;
    const kinds: OpenApiKind[] = [];
    const schemas: Record<string, SchemaObject> = {};
    for (const source of this.sources) {
      let contribution;
      try {
        contribution = source.contribution();
      } catch (err) {
        // One broken source (a CRD with an unusable schema) must not take the documents down.
        log.error('openapi', 'an OpenAPI source failed; its kinds are left out', { error: (err as Error).message });
        continue;
      }
      for (const [name, schema] of Object.entries(contribution.schemas)) schemas[name] ??= schema;
      const seen = new Set(kinds.map((k) => `${k.group}/${k.version}/${k.kind}`));
      for (const k of contribution.kinds) if (!seen.has(`${k.group}/${k.version}/${k.kind}`)) kinds.push(k);
    }

    const byGroupVersion = new Map<string, OpenApiKind[]>();
    for (const k of kinds) {
      const key = groupVersionKey(k);
      byGroupVersion.set(key, [...(byGroupVersion.get(key) ?? []), k]);
    }
    const groupVersions = new Map<string, ServedDocument>();
    for (const [key, gvKinds] of byGroupVersion) {
      const paths: Record<string, unknown> = {};
      for (const k of gvKinds) Object.assign(paths, kindPaths(k, 'v3'));
      const doc = {
        openapi: '3.0.0',
        info: INFO,
        paths,
        components: {
          schemas: closure(schemas, [...gvKinds.flatMap((k) => [k.schema, ...(k.listSchema ? [k.listSchema] : []), ...(k.subresources ?? []).flatMap((s) => (s.schema ? [s.schema] : []))]), ...ALWAYS]),
          securitySchemes: { BearerToken: { type: 'apiKey', description: 'Bearer token authentication', name: 'authorization', in: 'header' } },
        },
        security: [{ BearerToken: [] }],
      };
      groupVersions.set(key, served(JSON.stringify(doc)));
    }
    const index: Record<string, { serverRelativeURL: string }> = {};
    for (const [key, doc] of groupVersions) index[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${doc.hash}` };
    this.built = { root: served(JSON.stringify({ paths: index })), groupVersions, kinds, schemas };
    return this.built;
  }

  private v2Document(b: Built): Record<string, unknown> {
    const paths: Record<string, unknown> = {};
    for (const k of b.kinds) Object.assign(paths, kindPaths(k, 'v2'));
    const definitions: Record<string, SchemaObject> = {};
    for (const [name, schema] of Object.entries(closure(b.schemas, Object.keys(b.schemas)))) definitions[name] = toV2Schema(schema);
    return {
      swagger: '2.0',
      info: INFO,
      paths,
      definitions,
      securityDefinitions: { BearerToken: { type: 'apiKey', description: 'Bearer token authentication', name: 'authorization', in: 'header' } },
      security: [{ BearerToken: [] }],
    };
  }
}

/**
 * The schemas `roots` reach, in name order. A reference to a schema no source provides is
 * logged and left dangling rather than failing the whole document.
 */
function closure(all: Readonly<Record<string, SchemaObject>>, roots: readonly string[]): Record<string, SchemaObject> {
  const wanted = new Set<string>();
  const queue = [...roots];
  while (queue.length) {
    const name = queue.pop()!;
    if (wanted.has(name)) continue;
    const schema = all[name];
    if (!schema) {
      log.warn('openapi', 'a schema refers to a type no source describes', { name });
      continue;
    }
    wanted.add(name);
    for (const next of referencedNames(schema)) if (!wanted.has(next)) queue.push(next);
  }
  const out: Record<string, SchemaObject> = {};
  for (const name of [...wanted].sort()) out[name] = all[name]!;
  return out;
}
