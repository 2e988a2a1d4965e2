/**
 * What an OpenAPI source contributes to the served documents: the kinds it serves and the named
 * schemas they use. The built-in kinds are one source (./builtin-source.ts); CustomResourceDefinitions
 * register another. Sources are asked again whenever the documents are rebuilt, after
 * `OpenApiDocuments.invalidate()`.
 */
import type { GroupVersionKind, SchemaObject } from './schema-object.js';

export interface OpenApiSubresource {
  name: string;
  /** Verbs as discovery names them (get, update, patch, create). */
  verbs: readonly string[];
  /** Schema of the subresource's body when it is not the parent's (autoscaling/v1 Scale, ...). */
  schema?: string;
  /** Its kind when not the parent's. */
  gvk?: GroupVersionKind;
}

export interface OpenApiKind extends GroupVersionKind {
  plural: string;
  namespaced: boolean;
  /** Discovery verbs: `create` alone for request kinds (TokenReview), all eight for stored kinds. */
  verbs: readonly string[];
  /** Name of the kind's schema in the merged `schemas`. */
  schema: string;
  /** Name of the `<Kind>List` schema, when there is one. */
  listSchema?: string;
  subresources?: readonly OpenApiSubresource[];
}

export interface OpenApiContribution {
  kinds: readonly OpenApiKind[];
  /**
   * Named schemas; `$ref`s are `#/components/schemas/<name>` and may point at another source's
   * schemas (a custom resource's `metadata` refers to the built-in ObjectMeta).
   */
  schemas: Readonly<Record<string, SchemaObject>>;
}

export interface OpenApiSource {
  /** Called on every rebuild; must be synchronous and cheap enough to run after each change. */
  contribution(): OpenApiContribution;
}
