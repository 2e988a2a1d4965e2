/**
 * The JSONPath subset CRDs use in additionalPrinterColumns and the scale subresource (kubectl's
 * template without braces): `.spec.replicas`, `.spec.items[0].name`, `.spec.items[*].name`,
 * `.metadata.labels['app.kubernetes.io/name']`, `.status.conditions[?(@.type=="Ready")].status`.
 */

type Step =
  | { kind: 'field'; name: string }
  | { kind: 'index'; index: number }
  | { kind: 'all' }
  | { kind: 'filter'; path: string[]; operator: '==' | '!='; value: unknown };

export class JsonPathError extends Error {}

const cache = new Map<string, Step[]>();

function parseLiteral(text: string): unknown {
  const t = text.trim();
  if (/^'.*'$/.test(t)) return t.slice(1, -1);
  try {
    return JSON.parse(t);
  } catch {
    throw new JsonPathError(`unsupported filter value ${t}`);
  }
}

/** Parses a path once; throws JsonPathError for what the subset does not cover. */
export function parseJsonPath(path: string): Step[] {
  const cached = cache.get(path);
  if (cached) return cached;
  let text = path.trim();
  if (text.startsWith('{') && text.endsWith('}')) text = text.slice(1, -1);
  if (text.startsWith('$')) text = text.slice(1);
  const steps: Step[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '.') {
      const m = /^[^.[\]]+/.exec(text.slice(i + 1));
      if (!m) throw new JsonPathError(`unexpected end of path at ${i} in ${path}`);
      steps.push({ kind: 'field', name: m[0] });
      i += 1 + m[0].length;
    } else if (c === '[') {
      const close = findClose(text, i);
      const inner = text.slice(i + 1, close).trim();
      i = close + 1;
      if (inner === '*') steps.push({ kind: 'all' });
      else if (/^-?\d+$/.test(inner)) steps.push({ kind: 'index', index: Number(inner) });
      else if (/^'.*'$/.test(inner) || /^".*"$/.test(inner)) steps.push({ kind: 'field', name: inner.slice(1, -1).replace(/\\\./g, '.') });
      else {
        const f = /^\?\(@((?:\.[A-Za-z0-9_-]+)+)\s*(==|!=)\s*(.+)\)$/.exec(inner);
        if (!f) throw new JsonPathError(`unsupported expression [${inner}] in ${path}`);
        steps.push({ kind: 'filter', path: f[1]!.slice(1).split('.'), operator: f[2] as '==' | '!=', value: parseLiteral(f[3]!) });
      }
    } else {
      throw new JsonPathError(`unexpected ${JSON.stringify(c)} at ${i} in ${path}`);
    }
  }
  if (cache.size > 1000) cache.clear();
  cache.set(path, steps);
  return steps;
}

function findClose(text: string, open: number): number {
  let quote: string | undefined;
  for (let j = open + 1; j < text.length; j++) {
    const c = text[j];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === ']') return j;
  }
  throw new JsonPathError(`unclosed [ in ${text}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Every value the path selects (none when a step finds nothing). */
export function evaluateJsonPath(value: unknown, path: string): unknown[] {
  let current: unknown[] = [value];
  for (const step of parseJsonPath(path)) {
    const next: unknown[] = [];
    for (const v of current) {
      switch (step.kind) {
        case 'field':
          if (isRecord(v) && v[step.name] !== undefined) next.push(v[step.name]);
          break;
        case 'index':
          if (Array.isArray(v)) {
            const item = v[step.index < 0 ? v.length + step.index : step.index];
            if (item !== undefined) next.push(item);
          }
          break;
        case 'all':
          if (Array.isArray(v)) next.push(...v);
          else if (isRecord(v)) next.push(...Object.values(v));
          break;
        case 'filter':
          if (Array.isArray(v)) {
            for (const item of v) {
              let field: unknown = item;
              for (const name of step.path) field = isRecord(field) ? field[name] : undefined;
              const equal = field === step.value;
              if (field !== undefined && (step.operator === '==' ? equal : !equal)) next.push(item);
            }
          }
          break;
      }
    }
    current = next;
  }
  return current;
}

/** The value at a plain field path (`.spec.replicas`), for the scale subresource. */
export function fieldPathSteps(path: string): string[] {
  return parseJsonPath(path).map((s) => {
    if (s.kind !== 'field') throw new JsonPathError(`${path} is not a plain field path`);
    return s.name;
  });
}
