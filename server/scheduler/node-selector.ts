/**
 * Compiled core/v1 node selectors: `spec.nodeSelector` and node affinity terms.
 *
 * Terms of a NodeSelector are ORed; the matchExpressions and matchFields inside one term are ANDed.
 * A term with no requirements at all matches no node (as in Kubernetes), so an empty preferred term
 * adds no weight and an empty required term never lets a pod in.
 */
import type { NodeSelector, NodeSelectorRequirement, NodeSelectorTerm } from '../../api/types.js';
import { labelValue } from './label-selector.js';

interface CompiledRequirement {
  key: string;
  operator: NodeSelectorRequirement['operator'];
  values: ReadonlySet<string>;
  /** The integer bound of Gt/Lt; NaN when the value is missing or not an integer (never matches). */
  bound: number;
}

export interface CompiledNodeSelectorTerm {
  labels: readonly CompiledRequirement[];
  /** Requirements on `metadata.name`, the only field nodes can be selected by. */
  fields: readonly CompiledRequirement[];
}

const INTEGER = /^[+-]?\d+$/;

function parseInteger(text: string | undefined): number {
  return text !== undefined && INTEGER.test(text) ? Number(text) : Number.NaN;
}

function compileRequirement(r: NodeSelectorRequirement): CompiledRequirement {
  const values = r.values ?? [];
  return {
    key: r.key,
    operator: r.operator,
    values: new Set(values),
    bound: values.length === 1 ? parseInteger(values[0]) : Number.NaN,
  };
}

export function compileNodeSelectorTerm(term: NodeSelectorTerm): CompiledNodeSelectorTerm {
  return {
    labels: (term.matchExpressions ?? []).map(compileRequirement),
    fields: (term.matchFields ?? []).map(compileRequirement),
  };
}

export function compileNodeSelector(selector: NodeSelector): CompiledNodeSelectorTerm[] {
  return (selector.nodeSelectorTerms ?? []).map(compileNodeSelectorTerm);
}

function requirementMatches(r: CompiledRequirement, value: string | undefined): boolean {
  switch (r.operator) {
    case 'In':
      return value !== undefined && r.values.has(value);
    case 'NotIn':
      return value === undefined || !r.values.has(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      const n = parseInteger(value);
      if (Number.isNaN(n) || Number.isNaN(r.bound)) return false;
      return r.operator === 'Gt' ? n > r.bound : n < r.bound;
    }
    default:
      return false;
  }
}

export function termMatches(term: CompiledNodeSelectorTerm, nodeName: string, labels: Readonly<Record<string, string>>): boolean {
  if (term.labels.length === 0 && term.fields.length === 0) return false;
  for (const r of term.labels) {
    if (!requirementMatches(r, labelValue(labels, r.key))) return false;
  }
  for (const r of term.fields) {
    if (!requirementMatches(r, r.key === 'metadata.name' ? nodeName : undefined)) return false;
  }
  return true;
}

/** ORs the terms; a selector without terms matches nothing. */
export function anyTermMatches(terms: readonly CompiledNodeSelectorTerm[], nodeName: string, labels: Readonly<Record<string, string>>): boolean {
  for (const term of terms) if (termMatches(term, nodeName, labels)) return true;
  return false;
}

/**
 * The node names a required selector is pinned to through `matchFields metadata.name In [...]`, as
 * kube-scheduler's NodeAffinity PreFilter computes them (DaemonSet pods are pinned this way): the union
 * over terms of each term's intersection. `undefined` when any term is not pinned by name (all nodes
 * remain candidates); an empty set when the terms contradict each other.
 */
export function pinnedNodeNames(terms: readonly CompiledNodeSelectorTerm[]): Set<string> | undefined {
  if (terms.length === 0) return undefined;
  let union: Set<string> | undefined;
  for (const term of terms) {
    let termNames: Set<string> | undefined;
    for (const r of term.fields) {
      if (r.key !== 'metadata.name' || r.operator !== 'In') continue;
      termNames = termNames === undefined ? new Set(r.values) : new Set([...termNames].filter((n) => r.values.has(n)));
    }
    if (termNames === undefined) return undefined;
    union ??= new Set();
    for (const n of termNames) union.add(n);
  }
  return union;
}
