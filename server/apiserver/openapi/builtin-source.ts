/** The built-in kinds of api/resources.ts as an OpenAPI source, with the schemas generated for them. */
import { RESOURCES, apiVersionOf, verbsOf } from '../../../api/resources.js';
import { builtinSchemas } from './builtin-schemas.js';
import type { GroupVersionKind } from './schema-object.js';
import type { OpenApiContribution, OpenApiKind, OpenApiSource } from './source.js';

export class BuiltinOpenApiSource implements OpenApiSource {
  private cached: OpenApiContribution | undefined;

  /** The catalogue is fixed once the process runs, so the (~100 ms) generation happens once. */
  contribution(): OpenApiContribution {
    this.cached ??= this.generate();
    return this.cached;
  }

  private generate(): OpenApiContribution {
    // Every kind a path answers with: the resources, their lists and their subresources' kinds.
    const gvks: GroupVersionKind[] = [{ group: '', version: 'v1', kind: 'Status' }];
    for (const r of RESOURCES) {
      gvks.push({ group: r.group, version: r.version, kind: r.kind }, { group: r.group, version: r.version, kind: `${r.kind}List` });
      for (const s of r.subresources) if (s.responseKind) gvks.push(s.responseKind);
    }
    const built = builtinSchemas(gvks);
    const kinds: OpenApiKind[] = [];
    for (const r of RESOURCES) {
      const apiVersion = apiVersionOf(r);
      const schema = built.schemaNameOf(apiVersion, r.kind);
      if (!schema) continue; // a kind without a protobuf table row has no schema to offer
      const listSchema = built.schemaNameOf(apiVersion, `${r.kind}List`);
      kinds.push({
        group: r.group, version: r.version, kind: r.kind, plural: r.plural, namespaced: r.namespaced,
        verbs: verbsOf(r), schema, ...(listSchema ? { listSchema } : {}),
        subresources: r.subresources.map((s) => {
          const kindSchema = s.responseKind ? built.schemaNameOf(apiVersionOf(s.responseKind), s.responseKind.kind) : undefined;
          return { name: s.name, verbs: s.verbs, ...(s.responseKind ? { gvk: s.responseKind } : {}), ...(kindSchema ? { schema: kindSchema } : {}) };
        }),
      });
    }
    return { kinds, schemas: built.schemas };
  }
}
