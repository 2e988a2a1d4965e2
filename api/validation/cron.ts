/**
 * CronJob schedules as Kubernetes accepts them (robfig/cron ParseStandard): five fields, or one of
 * the descriptors @yearly/@annually, @monthly, @weekly, @daily/@midnight, @hourly and the
 * undocumented-but-accepted `@every <duration>`. Six-field (seconds) expressions are rejected, as in
 * Kubernetes. Field errors are worded like robfig's, so `kubectl` shows the familiar text.
 *
 * Every five-field expression must also be schedulable by node-cron (which the CronJob controller
 * uses), so its `validate` is the final gate.
 */
import { validate as nodeCronValidate } from 'node-cron';

interface FieldBounds { min: number; max: number; names?: ReadonlyMap<string, number> }

const MONTH_NAMES: ReadonlyMap<string, number> = new Map(
  ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'].map((n, i) => [n, i + 1]),
);
const DAY_NAMES: ReadonlyMap<string, number> = new Map(['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'].map((n, i) => [n, i]));

const FIELDS: readonly FieldBounds[] = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: MONTH_NAMES },
  { min: 0, max: 6, names: DAY_NAMES },
];

/** The five-field equivalents of the descriptors (what node-cron is handed). */
const DESCRIPTORS: ReadonlyMap<string, string> = new Map([
  ['@yearly', '0 0 1 1 *'],
  ['@annually', '0 0 1 1 *'],
  ['@monthly', '0 0 1 * *'],
  ['@weekly', '0 0 * * 0'],
  ['@daily', '0 0 * * *'],
  ['@midnight', '0 0 * * *'],
  ['@hourly', '0 * * * *'],
]);

function parseInt10(expr: string): number {
  if (!/^[+-]?\d+$/.test(expr)) throw new Error(`failed to parse int from ${expr}: strconv.Atoi: parsing ${JSON.stringify(expr)}: invalid syntax`);
  const n = Number(expr);
  if (n < 0) throw new Error(`negative number (${n}) not allowed: ${expr}`);
  return n;
}

function parseIntOrName(expr: string, names: ReadonlyMap<string, number> | undefined): number {
  const named = names?.get(expr.toLowerCase());
  return named ?? parseInt10(expr);
}

/** One comma-separated term of a field: `*`, `?`, `N`, `N-M`, with an optional `/step`. */
function checkRange(expr: string, bounds: FieldBounds): void {
  const rangeAndStep = expr.split('/');
  const lowAndHigh = rangeAndStep[0]!.split('-');
  const singleDigit = lowAndHigh.length === 1;
  let start: number;
  let end: number;
  if (lowAndHigh[0] === '*' || lowAndHigh[0] === '?') {
    start = bounds.min;
    end = bounds.max;
  } else {
    start = parseIntOrName(lowAndHigh[0]!, bounds.names);
    if (lowAndHigh.length === 1) end = start;
    else if (lowAndHigh.length === 2) end = parseIntOrName(lowAndHigh[1]!, bounds.names);
    else throw new Error(`too many hyphens: ${expr}`);
  }
  let step: number;
  if (rangeAndStep.length === 1) step = 1;
  else if (rangeAndStep.length === 2) {
    step = parseInt10(rangeAndStep[1]!);
    if (singleDigit && lowAndHigh[0] !== '*' && lowAndHigh[0] !== '?') end = bounds.max;
  } else throw new Error(`too many slashes: ${expr}`);
  if (start < bounds.min) throw new Error(`beginning of range (${start}) below minimum (${bounds.min}): ${expr}`);
  if (end > bounds.max) throw new Error(`end of range (${end}) above maximum (${bounds.max}): ${expr}`);
  if (start > end) throw new Error(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
  if (step === 0) throw new Error(`step of range should be a positive number: ${expr}`);
}

const DURATION_UNITS: ReadonlyMap<string, number> = new Map([
  ['ns', 1e-6], ['us', 1e-3], ['µs', 1e-3], ['μs', 1e-3], ['ms', 1], ['s', 1e3], ['m', 60e3], ['h', 3600e3],
]);

/** Go's time.ParseDuration, in milliseconds; throws its error text. */
export function parseGoDuration(text: string): number {
  const fail = (): never => { throw new Error(`time: invalid duration ${JSON.stringify(text)}`); };
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest.startsWith('-')) sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') fail();
  let total = 0;
  while (rest !== '') {
    const m = /^(\d*\.?\d*)([a-zµμ]+)/.exec(rest);
    if (!m || m[1] === '' || m[1] === '.') fail();
    const unit = DURATION_UNITS.get(m![2]!);
    if (unit === undefined) throw new Error(`time: unknown unit ${JSON.stringify(m![2])} in duration ${JSON.stringify(text)}`);
    total += Number(m![1]) * unit;
    rest = rest.slice(m![0].length);
  }
  return sign * total;
}

/**
 * Why Kubernetes would reject `schedule`, or undefined when it is accepted.
 * (TZ= / CRON_TZ= prefixes are reported separately by the CronJob validation.)
 */
export function cronScheduleError(schedule: string): string | undefined {
  let spec = schedule.trim();
  if (spec === '') return 'empty spec string';
  const tz = /^(CRON_TZ|TZ)=(\S*)\s*/.exec(spec);
  if (tz) spec = spec.slice(tz[0].length);
  if (spec.startsWith('@')) {
    if (spec.startsWith('@every ')) {
      const text = spec.slice('@every '.length);
      try {
        parseGoDuration(text);
      } catch (err) {
        return `failed to parse duration ${spec}: ${(err as Error).message}`;
      }
      return undefined;
    }
    return DESCRIPTORS.has(spec) ? undefined : `unrecognized descriptor: ${spec}`;
  }
  const fields = spec.split(/\s+/);
  if (fields.length !== 5) return `expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`;
  try {
    fields.forEach((f, i) => {
      for (const term of f.split(',')) checkRange(term, FIELDS[i]!);
    });
  } catch (err) {
    return (err as Error).message;
  }
  if (!nodeCronValidate(nodeCronFields(fields).join(' '))) return 'unsupported cron expression';
  return undefined;
}

/**
 * Rewrites robfig-only spellings into ones node-cron understands: `N/step` means `N-max/step`, and
 * `?` means `*`.
 */
function nodeCronFields(fields: readonly string[]): string[] {
  return fields.map((field, i) => field.split(',').map((term) => {
    if (term === '?') return '*';
    const m = /^([^-/*?]+)\/(\d+)$/.exec(term);
    return m ? `${m[1]}-${FIELDS[i]!.max}/${m[2]}` : term;
  }).join(','));
}

/**
 * The expression to hand node-cron for a valid Kubernetes schedule: descriptors become five fields;
 * `@every` (which node-cron cannot express) and invalid schedules give undefined.
 */
export function toNodeCronExpression(schedule: string): string | undefined {
  if (cronScheduleError(schedule) !== undefined) return undefined;
  const spec = schedule.trim().replace(/^(CRON_TZ|TZ)=\S*\s*/, '');
  if (spec.startsWith('@every ')) return undefined;
  return DESCRIPTORS.get(spec) ?? nodeCronFields(spec.split(/\s+/)).join(' ');
}

/** An IANA time zone name the runtime knows (Kubernetes loads it with time.LoadLocation). */
export function timeZoneError(timeZone: string): string | undefined {
  if (timeZone === '') return 'timeZone must be nil or non-empty string';
  for (const part of timeZone.split('/')) {
    if (part === '.' || part === '..' || part.startsWith('-') || !/^[A-Za-z.\-_0-9+]{1,14}$/.test(part)) {
      return `unknown time zone ${timeZone}`;
    }
  }
  if (timeZone.toLowerCase() === 'local') return 'timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    return `unknown time zone ${timeZone}`;
  }
  return undefined;
}
