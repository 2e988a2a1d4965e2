/**
 * Label selectors (labels.Parse / metav1.LabelSelector) and field selectors (fields.ParseSelector).
 *
 * Both are parsed into plain requirement lists so that the API server, the scheduler and the
 * controllers share one definition of "matches". Syntax errors throw SelectorError; the server
 * answers them with 400 BadRequest.
 *
 * Why this file is long: label and field selector parsing, printing and matching, mirroring
 * upstream's labels and fields packages, which share one lexer.
 */
import type { LabelSelector } from './meta.js';

export class SelectorError extends Error {
  override name = 'SelectorError';
}

export type LabelOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Equals' | 'NotEquals' | 'Gt' | 'Lt';

export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  values: string[];
}

export interface FieldRequirement {
  path: string;
  operator: '=' | '!=';
  value: string;
}

// ---------------------------------------------------------------------------------------------
// Label key and value syntax (validation.IsQualifiedName / IsValidLabelValue)

const NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAME_PART_MESSAGE =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/** Why `key` is not a valid label key, or undefined when it is. */
export function labelKeyError(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined) {
    if (prefix.length === 0) return 'prefix part must be non-empty';
    if (prefix.length > 253) return 'prefix part must be no more than 253 characters';
    if (!DNS_SUBDOMAIN.test(prefix)) {
      return "prefix part must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
    }
  }
  if (name.length === 0) return 'name part must be non-empty';
  if (name.length > 63) return 'name part must be no more than 63 characters';
  if (!NAME_PART.test(name)) return `name part ${NAME_PART_MESSAGE}`;
  return undefined;
}

/** Why `value` is not a valid label value, or undefined when it is (the empty string is valid). */
export function labelValueError(value: string): string | undefined {
  if (value.length > 63) return 'must be no more than 63 characters';
  if (value.length > 0 && !NAME_PART.test(value)) return `a valid label must be an empty string or ${NAME_PART_MESSAGE}`;
  return undefined;
}

function invalid(field: string, value: string, reason: string): SelectorError {
  return new SelectorError(`unable to parse requirement: ${field}: Invalid value: ${JSON.stringify(value)}: ${reason}`);
}

function checkKey(key: string): void {
  const reason = labelKeyError(key);
  if (reason !== undefined) throw invalid('key', key, reason);
}

/** Builds a validated requirement, enforcing the value count each operator needs. */
export function labelRequirement(key: string, operator: LabelOperator, values: readonly string[] = []): LabelRequirement {
  // Selector objects come from request bodies, so the declared types are not guaranteed.
  if (typeof key !== 'string') throw new SelectorError('unable to parse requirement: key: Invalid value: must be a string');
  if (!Array.isArray(values) || !values.every((value) => typeof value === 'string')) {
    throw new SelectorError(`unable to parse requirement: values[${key}]: Invalid value: values must be strings`);
  }
  checkKey(key);
  switch (operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) throw invalid('values', '', `for 'in', 'notin' operators, values set can't be empty`);
      break;
    case 'Equals':
    case 'NotEquals':
      if (values.length !== 1) throw invalid('values', values.join(','), 'exact-match compatibility requires one single value');
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length !== 0) throw invalid('values', values.join(','), `values set must be empty for exists and does not exist`);
      break;
    case 'Gt':
    case 'Lt':
      if (values.length !== 1) throw invalid('values', values.join(','), `for 'Gt', 'Lt' operators, exactly one value is required`);
      if (!/^-?\d+$/.test(values[0] ?? '')) {
        throw invalid('values[0]', values[0] ?? '', `for 'Gt', 'Lt' operators, the value must be an integer`);
      }
      return { key, operator, values: [...values] };
    default:
      throw new SelectorError(`unable to parse requirement: operator: Unsupported value: ${JSON.stringify(operator)}`);
  }
  values.forEach((value, i) => {
    const reason = labelValueError(value);
    if (reason !== undefined) throw invalid(`values[${i}][${key}]`, value, reason);
  });
  return { key, operator, values: [...values] };
}

// ---------------------------------------------------------------------------------------------
// Label selector string parser

type TokenKind = 'identifier' | '!' | '=' | '==' | '!=' | '(' | ')' | ',' | '>' | '<' | 'end';

interface Token {
  kind: TokenKind;
  text: string;
}

const SPECIAL_CHARS = new Set(['!', '=', '(', ')', ',', '>', '<']);

function isSpace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\f' || ch === '\v';
}

function tokenizeLabelSelector(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] ?? '';
    if (isSpace(ch)) {
      i++;
    } else if (SPECIAL_CHARS.has(ch)) {
      const pair = text.slice(i, i + 2);
      if (pair === '==' || pair === '!=') {
        tokens.push({ kind: pair, text: pair });
        i += 2;
      } else {
        tokens.push({ kind: ch as TokenKind, text: ch });
        i++;
      }
    } else {
      let j = i;
      while (j < text.length && !isSpace(text[j] ?? '') && !SPECIAL_CHARS.has(text[j] ?? '')) j++;
      tokens.push({ kind: 'identifier', text: text.slice(i, j) });
      i = j;
    }
  }
  tokens.push({ kind: 'end', text: 'end of string' });
  return tokens;
}

/** Recursive-descent parser over the token list; one instance per parse. */
class LabelSelectorParser {
  private position = 0;

  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.position] ?? { kind: 'end', text: 'end of string' };
  }

  private next(): Token {
    const token = this.peek();
    if (this.position < this.tokens.length) this.position++;
    return token;
  }

  parse(): LabelRequirement[] {
    const requirements: LabelRequirement[] = [];
    if (this.peek().kind === 'end') return requirements;
    for (;;) {
      requirements.push(this.parseRequirement());
      const token = this.next();
      if (token.kind === 'end') return requirements;
      if (token.kind !== ',') throw new SelectorError(`found '${token.text}', expected: ',' or 'end of string'`);
      const after = this.peek();
      if (after.kind !== 'identifier' && after.kind !== '!') {
        throw new SelectorError(`found '${after.text}', expected: identifier after ','`);
      }
    }
  }

  private parseRequirement(): LabelRequirement {
    let token = this.next();
    const negated = token.kind === '!';
    if (negated) token = this.next();
    if (token.kind !== 'identifier') throw new SelectorError(`found '${token.text}', expected: identifier`);
    const key = token.text;
    const following = this.peek().kind;
    if (following === 'end' || following === ',') {
      return labelRequirement(key, negated ? 'DoesNotExist' : 'Exists');
    }
    if (negated) throw new SelectorError(`found '${this.peek().text}', expected: ',' or 'end of string'`);

    const op = this.next();
    switch (op.kind) {
      case '=':
      case '==':
        return labelRequirement(key, 'Equals', [this.parseExactValue()]);
      case '!=':
        return labelRequirement(key, 'NotEquals', [this.parseExactValue()]);
      case '>':
        return labelRequirement(key, 'Gt', [this.parseExactValue()]);
      case '<':
        return labelRequirement(key, 'Lt', [this.parseExactValue()]);
      case 'identifier':
        if (op.text === 'in') return labelRequirement(key, 'In', this.parseValueSet());
        if (op.text === 'notin') return labelRequirement(key, 'NotIn', this.parseValueSet());
        break;
      default:
        break;
    }
    throw new SelectorError(`found '${op.text}', expected: in, notin, =, ==, !=, gt, lt`);
  }

  /** The value after =, ==, != (possibly empty: "key=" matches an empty label value). */
  private parseExactValue(): string {
    const token = this.peek();
    if (token.kind === 'end' || token.kind === ',') return '';
    this.next();
    if (token.kind !== 'identifier') throw new SelectorError(`found '${token.text}', expected: identifier`);
    return token.text;
  }

  /** "(a, b, c)"; "()" and empty entries stand for the empty value, as in Kubernetes. */
  private parseValueSet(): string[] {
    const open = this.next();
    if (open.kind !== '(') throw new SelectorError(`found '${open.text}', expected: '('`);
    const values: string[] = [];
    let expectValue = true;
    for (;;) {
      const token = this.next();
      if (token.kind === 'identifier' && expectValue) {
        values.push(token.text);
        expectValue = false;
      } else if (token.kind === ',') {
        if (expectValue) values.push('');
        expectValue = true;
      } else if (token.kind === ')') {
        if (expectValue) values.push('');
        return [...new Set(values)];
      } else {
        throw new SelectorError(`found '${token.text}', expected: ',', ')' or identifier`);
      }
    }
  }
}

/**
 * Parses a label selector string ("app=web,tier!=db,env in (a,b),!legacy"). The empty string
 * (or only whitespace) yields no requirements, which matches everything.
 */
export function parseLabelSelector(text: string): LabelRequirement[] {
  return new LabelSelectorParser(tokenizeLabelSelector(text)).parse();
}

// ---------------------------------------------------------------------------------------------
// metav1.LabelSelector objects

/**
 * Converts a LabelSelector object into requirements (matchLabels first, then matchExpressions).
 * An undefined or empty selector yields [] and so matches everything — what list filters want.
 * Controllers that follow the "a null selector selects nothing" rule must check
 * `selectorMatchesNothing` first.
 */
export function labelSelectorFromObject(sel: LabelSelector | null | undefined): LabelRequirement[] {
  if (sel === undefined || sel === null) return [];
  const requirements: LabelRequirement[] = [];
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) {
    requirements.push(labelRequirement(key, 'Equals', [value]));
  }
  for (const expression of sel.matchExpressions ?? []) {
    const operator = expression.operator as string;
    if (operator !== 'In' && operator !== 'NotIn' && operator !== 'Exists' && operator !== 'DoesNotExist') {
      throw new SelectorError(`${JSON.stringify(operator)} is not a valid label selector operator`);
    }
    requirements.push(labelRequirement(expression.key, expression.operator, expression.values ?? []));
  }
  return requirements;
}

/** metav1.LabelSelectorAsSelector returns labels.Nothing() for a nil selector: it selects no object. */
export function selectorMatchesNothing(sel: LabelSelector | null | undefined): boolean {
  return sel === undefined || sel === null;
}

function parseInteger(text: string): bigint | undefined {
  return /^-?\d+$/.test(text) ? BigInt(text) : undefined;
}

function requirementMatches(req: LabelRequirement, labels: Record<string, string>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, req.key);
  const value = has ? labels[req.key] : undefined;
  switch (req.operator) {
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Equals':
    case 'In':
      return value !== undefined && req.values.includes(value);
    case 'NotEquals':
    case 'NotIn':
      return value === undefined || !req.values.includes(value);
    case 'Gt':
    case 'Lt': {
      const actual = value === undefined ? undefined : parseInteger(value);
      const limit = parseInteger(req.values[0] ?? '');
      if (actual === undefined || limit === undefined) return false;
      return req.operator === 'Gt' ? actual > limit : actual < limit;
    }
    default:
      return false;
  }
}

/** True when every requirement holds for `labels` (an empty requirement list matches everything). */
export function matchesLabels(reqs: readonly LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  const actual = labels ?? {};
  return reqs.every((req) => requirementMatches(req, actual));
}

/** Prints one requirement the way labels.Requirement.String does. */
export function labelRequirementToString(req: LabelRequirement): string {
  switch (req.operator) {
    case 'Exists':
      return req.key;
    case 'DoesNotExist':
      return `!${req.key}`;
    case 'Equals':
      return `${req.key}=${req.values[0] ?? ''}`;
    case 'NotEquals':
      return `${req.key}!=${req.values[0] ?? ''}`;
    case 'Gt':
      return `${req.key}>${req.values[0] ?? ''}`;
    case 'Lt':
      return `${req.key}<${req.values[0] ?? ''}`;
    case 'In':
    case 'NotIn':
      return `${req.key} ${req.operator === 'In' ? 'in' : 'notin'} (${[...new Set(req.values)].sort().join(',')})`;
    default:
      return req.key;
  }
}

/** Prints requirements as a selector string, sorted by key as Kubernetes does ("" when empty). */
export function labelRequirementsToString(reqs: readonly LabelRequirement[]): string {
  return [...reqs]
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map(labelRequirementToString)
    .join(',');
}

/**
 * metav1.FormatLabelSelector: "app=web,tier in (a,b)"; "<none>" for an empty or absent
 * selector, "<error>" for an invalid one.
 */
export function labelSelectorToString(sel: LabelSelector | null | undefined): string {
  let reqs: LabelRequirement[];
  try {
    reqs = labelSelectorFromObject(sel);
  } catch (err) {
    if (err instanceof SelectorError) return '<error>';
    throw err;
  }
  const text = labelRequirementsToString(reqs);
  return text.length === 0 ? '<none>' : text;
}

// ---------------------------------------------------------------------------------------------
// Field selectors

/** Splits on commas that are not escaped with a backslash. */
function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === separator) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** Resolves `\\`, `\,` and `\=` in a field selector value; anything else after `\` is an error. */
function unescapeFieldValue(raw: string, term: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i] ?? '';
    if (ch === '\\') {
      const escaped = raw[i + 1];
      if (escaped !== '\\' && escaped !== ',' && escaped !== '=') {
        throw new SelectorError(`invalid field selector: invalid escape sequence in ${JSON.stringify(term)}`);
      }
      out += escaped;
      i++;
    } else if (ch === '=' || ch === ',') {
      throw new SelectorError(`invalid field selector: unescaped '${ch}' in value of ${JSON.stringify(term)}`);
    } else {
      out += ch;
    }
  }
  return out;
}

function parseFieldTerm(term: string): FieldRequirement {
  for (let i = 0; i < term.length; i++) {
    if (term[i] === '\\') {
      i++;
      continue;
    }
    const rest = term.slice(i);
    const operator = rest.startsWith('!=') ? '!=' : rest.startsWith('==') ? '==' : rest.startsWith('=') ? '=' : undefined;
    if (operator === undefined) continue;
    const path = term.slice(0, i).trim();
    if (path.length === 0) throw new SelectorError(`invalid field selector: missing field name in ${JSON.stringify(term)}`);
    const value = unescapeFieldValue(term.slice(i + operator.length), term);
    return { path, operator: operator === '!=' ? '!=' : '=', value };
  }
  throw new SelectorError(`invalid selector: '${term}'; can't understand '${term}'`);
}

/** Parses "metadata.name=x,status.phase!=Failed" (`=`, `==`, `!=`; empty values allowed). */
export function parseFieldSelector(text: string): FieldRequirement[] {
  if (text.trim().length === 0) return [];
  return splitUnescaped(text, ',')
    .filter((term) => term.length > 0)
    .map(parseFieldTerm);
}

/**
 * Split paths, by path: a pod event is matched against every node's `spec.nodeName` watch, so the
 * same few paths are looked up over and over. Only field-selector paths reach here (a handful).
 */
const pathSegments = new Map<string, readonly string[]>();

/** Looks up a dotted path ("spec.nodeName") and renders it as a string; absent or non-scalar → "". */
export function fieldValue(obj: unknown, path: string): string {
  let segments = pathSegments.get(path);
  if (segments === undefined) {
    segments = path.split('.');
    if (pathSegments.size < 1024) pathSegments.set(path, segments);
  }
  let current: unknown = obj;
  for (const segment of segments) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return '';
    if (!Object.prototype.hasOwnProperty.call(current, segment)) return '';
    current = (current as Record<string, unknown>)[segment];
  }
  if (typeof current === 'string') return current;
  if (typeof current === 'number' || typeof current === 'boolean' || typeof current === 'bigint') return String(current);
  return '';
}

/** True when every field requirement holds for `obj` (an empty list matches everything). */
export function matchesFields(reqs: readonly FieldRequirement[], obj: unknown): boolean {
  return reqs.every((req) => (fieldValue(obj, req.path) === req.value) === (req.operator === '='));
}

/** Prints field requirements back as a selector string, escaping values. */
export function fieldRequirementsToString(reqs: readonly FieldRequirement[]): string {
  const escape = (value: string): string => value.replace(/[\\,=]/g, (ch) => `\\${ch}`);
  return reqs.map((req) => `${req.path}${req.operator}${escape(req.value)}`).join(',');
}
