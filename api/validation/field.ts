/**
 * Field paths and field errors in the exact shape Kubernetes prints them.
 *
 * Kubernetes renders the bad value of a field error with Go's fmt: strings quoted (%q), numbers and
 * booleans bare, Stringers bare, everything else as %#v (`map[string]string{"app":"web"}`). kubectl
 * shows that text verbatim, so values that are not plain strings or numbers are pre-rendered here
 * with `goValue`-style helpers before they go into a cause.
 */
import { causes } from '../status.js';
import type { StatusCause } from '../status.js';
import type { LabelSelector, LabelSelectorRequirement } from '../meta.js';

// ------------------------------------------------------------------------------------ paths

/** `spec` + `template` → `spec.template`. */
export function child(path: string, ...names: string[]): string {
  let out = path;
  for (const name of names) out = out === '' ? name : `${out}.${name}`;
  return out;
}

/** `spec.containers` + 0 → `spec.containers[0]`. */
export function index(path: string, i: number): string {
  return `${path}[${i}]`;
}

/** `data` + `my.key` → `data[my.key]` (field.Path.Key does not quote). */
export function key(path: string, k: string): string {
  return `${path}[${k}]`;
}

// ------------------------------------------------------------------------------------ values

/** A value already rendered the way Go's fmt would print it. */
export class GoText {
  constructor(readonly text: string) {}
}

/** A value that Go prints through its String() method, i.e. without quotes (IntOrString). */
export function bare(value: string | number): GoText {
  return new GoText(String(value));
}

function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** `map[string]string{"a":"1", "b":"2"}` with sorted keys; `map[string]string(nil)` when absent. */
export function goStringMap(map: Record<string, string> | undefined | null): GoText {
  if (map === undefined || map === null) return new GoText('map[string]string(nil)');
  const body = Object.keys(map).sort().map((k) => `${goQuote(k)}:${goQuote(String(map[k]))}`).join(', ');
  return new GoText(`map[string]string{${body}}`);
}

/** `[]string{"a", "b"}`; `[]string(nil)` when absent. */
export function goStringSlice(list: readonly string[] | undefined | null): GoText {
  if (list === undefined || list === null) return new GoText('[]string(nil)');
  return new GoText(`[]string{${list.map((s) => goQuote(String(s))).join(', ')}}`);
}

function goRequirement(r: LabelSelectorRequirement): string {
  return `v1.LabelSelectorRequirement{Key:${goQuote(r.key)}, Operator:${goQuote(r.operator)}, Values:${goStringSlice(r.values).text}}`;
}

/** A metav1.LabelSelector as `%#v` prints it (the form kubectl users know from "field is immutable"). */
export function goLabelSelector(sel: LabelSelector | undefined | null): GoText {
  if (sel === undefined || sel === null) return new GoText('null');
  const expressions = sel.matchExpressions === undefined
    ? '[]v1.LabelSelectorRequirement(nil)'
    : `[]v1.LabelSelectorRequirement{${sel.matchExpressions.map(goRequirement).join(', ')}}`;
  return new GoText(`v1.LabelSelector{MatchLabels:${goStringMap(sel.matchLabels).text}, MatchExpressions:${expressions}}`);
}

/** Renders any bad value as field.Error.ErrorBody would. */
export function renderValue(value: unknown): string {
  if (value instanceof GoText) return value.text;
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'string') return goQuote(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return goStringSlice(value as string[]).text;
  if (typeof value === 'object' && Object.values(value).every((v) => typeof v === 'string')) {
    return goStringMap(value as Record<string, string>).text;
  }
  return JSON.stringify(value);
}

// ------------------------------------------------------------------------------------ errors

/** field.Invalid */
export function invalid(field: string, value: unknown, detail: string): StatusCause {
  return { reason: 'FieldValueInvalid', message: `Invalid value: ${renderValue(value)}: ${detail}`, field };
}

/** field.Required; Kubernetes never prints the value, only the optional detail. */
export function required(field: string, detail = ''): StatusCause {
  if (detail === '') return causes.required(field);
  return { reason: 'FieldValueRequired', message: `Required value: ${detail}`, field };
}

/** field.Forbidden */
export function forbidden(field: string, detail: string): StatusCause {
  return causes.forbidden(field, detail);
}

/** field.NotSupported: the allowed values are listed quoted, in the order given. */
export function notSupported(field: string, value: unknown, supported: readonly string[]): StatusCause {
  const list = supported.map((s) => goQuote(s)).join(', ');
  return { reason: 'FieldValueNotSupported', message: `Unsupported value: ${renderValue(value)}: supported values: ${list}`, field };
}

/** field.Duplicate */
export function duplicate(field: string, value: unknown): StatusCause {
  return { reason: 'FieldValueDuplicate', message: `Duplicate value: ${renderValue(value)}`, field };
}

/** field.NotFound */
export function notFound(field: string, value: unknown): StatusCause {
  return { reason: 'FieldValueNotFound', message: `Not found: ${renderValue(value)}`, field };
}

/** field.TooLong (Kubernetes ≥ 1.32 wording, shared with api/status.ts). */
export function tooLong(field: string, maxBytes: number): StatusCause {
  const cause = causes.tooLong(field, maxBytes);
  // An error about the whole object has no field (Kubernetes omits the empty string).
  if (field === '') delete cause.field;
  return cause;
}

// ------------------------------------------------------------------------------------ common checks

export const NEGATIVE_MESSAGE = 'must be greater than or equal to 0';

/** ValidateNonnegativeField, for optional numbers. */
export function nonNegative(field: string, value: unknown): StatusCause[] {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'number' || !Number.isInteger(value)) return [invalid(field, value, 'must be an integer')];
  return value < 0 ? [invalid(field, value, NEGATIVE_MESSAGE)] : [];
}

/** A strictly positive optional integer (ValidatePositiveField). */
export function positive(field: string, value: unknown): StatusCause[] {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'number' || !Number.isInteger(value)) return [invalid(field, value, 'must be an integer')];
  return value <= 0 ? [invalid(field, value, 'must be greater than 0')] : [];
}

/** Turns each message of a names.ts check into an Invalid cause for `field`. */
export function eachInvalid(field: string, value: unknown, messages: readonly string[]): StatusCause[] {
  return messages.map((m) => invalid(field, value, m));
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function asString(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
