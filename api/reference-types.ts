/**
 * The small shared shapes both api/types.ts and api/storage-types.ts use (quantities, node selectors,
 * object references). They live apart so that neither of those files imports the other: no cycle.
 */

export type Quantity = string;

export interface NodeSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';
  values?: string[];
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

export interface NodeSelector { nodeSelectorTerms: NodeSelectorTerm[] }

export interface ObjectReference {
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiVersion?: string;
  resourceVersion?: string;
  fieldPath?: string;
}
