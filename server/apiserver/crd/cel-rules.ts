/**
 * x-kubernetes-validations: CEL rules over `self` (the value at the rule's schema node) and `oldSelf`
 * (its stored value, for transition rules), evaluated with @marcbachmann/cel-js. Values are handed
 * to CEL typed by the schema: integers as int (BigInt), numbers as double, so `self.replicas > 2`
 * compares like upstream's cel-go.
 */
import { Environment } from '@marcbachmann/cel-js';
import type { JSONSchemaProps, ValidationRule } from '../../../api/apiextensions-types.js';
import type { StatusCause } from '../../../api/status.js';
import { renderValue } from '../../../api/validation/field.js';
import { isRecord, memberSchema } from './schema-walk.js';

const environment = new Environment({
  homogeneousAggregateLiterals: false,
  enableOptionalTypes: true,
  // A rule is a small expression; these bound what one CRD can make the server parse.
  limits: { maxAstNodes: 2_000, maxDepth: 64, maxListElements: 500, maxMapEntries: 500, maxCallArguments: 32 },
})
  .registerVariable('self', 'dyn')
  .registerVariable('oldSelf', 'dyn');

type Program = ReturnType<typeof environment.parse>;

interface CompiledRule {
  program: Program;
  message?: Program;
  /** The rule reads oldSelf: evaluated on updates only, where the old value exists. */
  transition: boolean;
}

const compiled = new WeakMap<ValidationRule, CompiledRule>();

/** Mentions the variable oldSelf outside string literals. */
function readsOldSelf(expression: string): boolean {
  return /\boldSelf\b/.test(expression.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""'));
}

/** Parses a rule once (CRD validation calls this first, so a bad rule never reaches objects). */
export function compileRule(rule: ValidationRule): CompiledRule {
  let c = compiled.get(rule);
  if (!c) {
    c = {
      program: environment.parse(rule.rule),
      ...(rule.messageExpression ? { message: environment.parse(rule.messageExpression) } : {}),
      transition: readsOldSelf(rule.rule),
    };
    compiled.set(rule, c);
  }
  return c;
}

/** The compile error of a rule, or undefined when it parses. */
export function ruleCompileError(rule: ValidationRule): string | undefined {
  try {
    compileRule(rule);
    return undefined;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

/** A JSON value as CEL sees it under `schema`: integers as BigInt, the rest as is. */
export function toCelValue(value: unknown, schema: JSONSchemaProps | undefined): unknown {
  if (typeof value === 'number') {
    const integral = schema?.type === 'integer' || schema?.['x-kubernetes-int-or-string'] === true || (schema?.type === undefined && Number.isInteger(value));
    return integral && Number.isInteger(value) ? BigInt(value) : value;
  }
  if (Array.isArray(value)) return value.map((v) => toCelValue(v, schema?.items));
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toCelValue(v, schema ? memberSchema(schema, k) : undefined);
    return out;
  }
  return value;
}

/** The schema type upstream prints as the bad value of a failed rule (`Invalid value: "object"`). */
function typeName(schema: JSONSchemaProps): string {
  if (schema['x-kubernetes-int-or-string']) return 'integer';
  return schema.type ?? 'object';
}

function joinFieldPath(path: string, relative: string | undefined): string {
  if (!relative) return path;
  return relative.startsWith('.') || relative.startsWith('[') ? `${path}${relative}` : `${path}.${relative}`;
}

/**
 * Runs the rules of one schema node on `value`; `old` is the correlated stored value (undefined on
 * create, or where nothing correlates). Failures become upstream's causes.
 */
export function evaluateRules(schema: JSONSchemaProps, value: unknown, old: unknown, path: string, out: StatusCause[]): void {
  const rules = schema['x-kubernetes-validations'];
  if (!rules || rules.length === 0) return;
  const self = toCelValue(value, schema);
  const oldSelf = old === undefined ? undefined : toCelValue(old, schema);
  for (const rule of rules) {
    let c: CompiledRule;
    try {
      c = compileRule(rule);
    } catch {
      continue; // refused when the CRD was written; a stored CRD from elsewhere must not fail writes
    }
    if (c.transition && oldSelf === undefined && !rule.optionalOldSelf) continue;
    const field = joinFieldPath(path, rule.fieldPath);
    let result: unknown;
    try {
      result = c.program({ self, oldSelf: oldSelf ?? null });
    } catch (err) {
      out.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${renderValue(typeName(schema))}: ${(err as Error).message.split('\n')[0]}`, field });
      continue;
    }
    if (result === true) continue;
    let message = rule.message || `failed rule: ${rule.rule}`;
    if (c.message) {
      try {
        const m = c.message({ self, oldSelf: oldSelf ?? null });
        if (typeof m === 'string' && m.trim() !== '' && !m.includes('\n')) message = m;
      } catch {
        // upstream falls back to the static message when the expression fails
      }
    }
    out.push(ruleFailure(rule.reason, field, typeName(schema), message));
  }
}

function ruleFailure(reason: ValidationRule['reason'], field: string, type: string, message: string): StatusCause {
  switch (reason) {
    case 'FieldValueForbidden': return { reason, message: `Forbidden: ${message}`, field };
    case 'FieldValueRequired': return { reason, message: `Required value: ${message}`, field };
    case 'FieldValueDuplicate': return { reason, message: `Duplicate value: ${renderValue(type)}`, field };
    default: return { reason: 'FieldValueInvalid', message: `Invalid value: ${renderValue(type)}: ${message}`, field };
  }
}
