/**
 * Kubernetes resource quantities (resource.Quantity), parsed and printed exactly.
 *
 * A quantity is held as a bigint count of nano-units plus the "format" its suffix implied, because
 * Kubernetes keeps that format when it prints the canonical form ("1.5Gi" stays binary: "1536Mi";
 * "1.5" stays decimal: "1500m"). Floats are never used for the value, so "0.1" + "0.2" is exactly "300m".
 * Like Kubernetes, anything finer than one nano-unit is rounded up (away from zero) on parse.
 *
 *   <quantity>  ::= <sign>? <number> <suffix>
 *   <number>    ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
 *   <suffix>    ::= Ki|Mi|Gi|Ti|Pi|Ei  |  n|u|m|""|k|M|G|T|P|E  |  (e|E)<sign>?<digits>
 */

export class QuantityError extends Error {
  override name = 'QuantityError';
}

/** Which suffix family a quantity was written in; decides how it is printed back. */
export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

export interface Quantity {
  /** The value in nano-units (1 = 1e-9), exact. */
  readonly nano: bigint;
  readonly format: QuantityFormat;
}

const NANO_PER_UNIT = 1_000_000_000n;
const NANO_PER_MILLI = 1_000_000n;

/** Decimal SI suffixes as powers of ten. */
const DECIMAL_SUFFIXES: ReadonlyMap<string, number> = new Map([
  ['n', -9], ['u', -6], ['m', -3], ['', 0], ['k', 3], ['M', 6], ['G', 9], ['T', 12], ['P', 15], ['E', 18],
]);
const DECIMAL_SUFFIX_BY_EXPONENT: ReadonlyMap<number, string> = new Map(
  [...DECIMAL_SUFFIXES].map(([suffix, exponent]) => [exponent, suffix]),
);

/** Binary SI suffixes as powers of 1024. */
const BINARY_SUFFIXES: ReadonlyMap<string, number> = new Map([
  ['Ki', 1], ['Mi', 2], ['Gi', 3], ['Ti', 4], ['Pi', 5], ['Ei', 6],
]);
const BINARY_SUFFIX_BY_POWER: ReadonlyMap<number, string> = new Map(
  [...BINARY_SUFFIXES].map(([suffix, power]) => [power, suffix]),
);

/** Guards against inputs like "1e999999999" that would make bigint arithmetic explode. */
const MAX_EXPONENT = 1000;
const MAX_INPUT_LENGTH = 1000;

const NUMBER_PATTERN = /^([+-]?)(\d*)(?:\.(\d*))?(.*)$/s;
const EXPONENT_SUFFIX = /^[eE]([+-]?\d+)$/;

function pow10(exponent: number): bigint {
  return 10n ** BigInt(exponent);
}

/** Divides rounding away from zero, matching Kubernetes' "round up" to nano precision. */
function divideAwayFromZero(numerator: bigint, denominator: bigint): bigint {
  const quotient = numerator / denominator;
  if (quotient * denominator === numerator) return quotient;
  return numerator < 0n ? quotient - 1n : quotient + 1n;
}

/** Ceiling division (toward +infinity), as Quantity.ScaledValue rounds. */
function divideCeil(numerator: bigint, denominator: bigint): bigint {
  const quotient = numerator / denominator;
  if (quotient * denominator === numerator) return quotient;
  return numerator > 0n ? quotient + 1n : quotient;
}

function parseQuantityString(input: string): Quantity {
  if (input.length === 0) throw new QuantityError('quantities must not be empty');
  if (input.length > MAX_INPUT_LENGTH) throw new QuantityError('quantity is too long');
  const match = NUMBER_PATTERN.exec(input);
  const sign = match?.[1] ?? '';
  const whole = match?.[2] ?? '';
  const fraction = match?.[3] ?? '';
  const suffix = match?.[4] ?? '';
  if (match === null || (whole.length === 0 && fraction.length === 0)) {
    throw new QuantityError(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': ${JSON.stringify(input)}`);
  }

  // The digits as an integer mantissa scaled by 10^-fraction.length.
  let mantissa = BigInt(whole + fraction || '0');
  let exponent = -fraction.length;
  let format: QuantityFormat;
  let binaryMultiplier = 1n;

  const decimal = DECIMAL_SUFFIXES.get(suffix);
  const binary = BINARY_SUFFIXES.get(suffix);
  const exponentMatch = EXPONENT_SUFFIX.exec(suffix);
  if (decimal !== undefined) {
    format = 'DecimalSI';
    exponent += decimal;
  } else if (binary !== undefined) {
    format = 'BinarySI';
    binaryMultiplier = 1024n ** BigInt(binary);
  } else if (exponentMatch?.[1] !== undefined) {
    const value = Number(exponentMatch[1]);
    if (Math.abs(value) > MAX_EXPONENT) throw new QuantityError(`quantity exponent out of range: ${JSON.stringify(input)}`);
    format = 'DecimalExponent';
    exponent += value;
  } else {
    throw new QuantityError(`unable to parse quantity's suffix: ${JSON.stringify(input)}`);
  }

  mantissa *= binaryMultiplier;
  // Convert mantissa * 10^exponent to nano-units (10^-9).
  const nanoExponent = exponent + 9;
  let nano = nanoExponent >= 0 ? mantissa * pow10(nanoExponent) : divideAwayFromZero(mantissa, pow10(-nanoExponent));
  if (sign === '-') nano = -nano;
  return { nano, format };
}

/**
 * Parses a quantity. JS numbers are taken at their shortest decimal spelling (0.1 is exactly 100m)
 * and get the DecimalSI format, as a JSON number in a manifest would when it is not written with an exponent.
 */
export function parseQuantity(input: string | number): Quantity {
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) throw new QuantityError(`quantity must be a finite number: ${input}`);
    return { nano: parseQuantityString(String(input)).nano, format: 'DecimalSI' };
  }
  if (typeof input !== 'string') throw new QuantityError(`quantity must be a string or number, got ${typeof input}`);
  let quantity = parsedQuantities.get(input);
  if (quantity === undefined) {
    quantity = Object.freeze(parseQuantityString(input));
    if (parsedQuantities.size >= PARSED_QUANTITIES) parsedQuantities.clear();
    parsedQuantities.set(input, quantity);
  }
  return quantity;
}

/**
 * Quantities parsed lately, by spelling (frozen): pods repeat a few spellings ('10m', '16Mi'), and every
 * create and update validates each of them (~1 % of the server's CPU while it schedules a Deployment).
 * Spellings that do not parse are not kept; they throw each time.
 */
const parsedQuantities = new Map<string, Quantity>();
const PARSED_QUANTITIES = 512;

export function isValidQuantity(input: string): boolean {
  try {
    parseQuantity(input);
    return true;
  } catch (err) {
    if (err instanceof QuantityError) return false;
    throw err;
  }
}

/** Returns the number of times `factor` divides `value` (capped), and the remainder after dividing them out. */
function removeFactors(value: bigint, factor: bigint, maxTimes: number): { rest: bigint; times: number } {
  let rest = value;
  let times = 0;
  while (times < maxTimes && rest !== 0n && rest % factor === 0n) {
    rest /= factor;
    times++;
  }
  return { rest, times };
}

/**
 * Decimal canonical form: the largest exponent that is a multiple of three and leaves an integer
 * mantissa. DecimalSI is capped at E (10^18); DecimalExponent may go higher ("1e21").
 */
function formatDecimal(nano: bigint, format: 'DecimalSI' | 'DecimalExponent'): string {
  const maxTimes = format === 'DecimalSI' ? 27 : Number.MAX_SAFE_INTEGER;
  const { rest, times } = removeFactors(nano, 10n, maxTimes);
  let exponent = times - 9;
  let mantissa = rest;
  const adjust = ((exponent % 3) + 3) % 3;
  mantissa *= pow10(adjust);
  exponent -= adjust;
  if (format === 'DecimalExponent') {
    return exponent === 0 ? mantissa.toString() : `${mantissa}e${exponent}`;
  }
  const suffix = DECIMAL_SUFFIX_BY_EXPONENT.get(exponent);
  if (suffix === undefined) throw new QuantityError(`no decimal suffix for exponent ${exponent}`);
  return mantissa.toString() + suffix;
}

/** Binary canonical form: the largest power of 1024 (up to Ei) that divides the whole-unit value. */
function formatBinary(nano: bigint): string {
  const units = nano / NANO_PER_UNIT;
  const { rest, times } = removeFactors(units, 1024n, 6);
  return times === 0 ? rest.toString() : rest.toString() + (BINARY_SUFFIX_BY_POWER.get(times) ?? '');
}

/**
 * The canonical string Kubernetes prints for a quantity. A binary quantity smaller than 1024 in
 * magnitude, or with a fractional part, is printed in decimal so that no precision is lost.
 */
export function formatQuantity(quantity: Quantity): string {
  const { nano, format } = quantity;
  if (nano === 0n) return '0';
  if (format === 'BinarySI') {
    const small = nano > -1024n * NANO_PER_UNIT && nano < 1024n * NANO_PER_UNIT;
    const whole = nano % NANO_PER_UNIT === 0n;
    return small || !whole ? formatDecimal(nano, 'DecimalSI') : formatBinary(nano);
  }
  return formatDecimal(nano, format);
}

/** Kubernetes canonical form of a quantity: "1000m" → "1", "0.5" → "500m", "1024Ki" → "1Mi". */
export function canonicalQuantity(input: string | number): string {
  return formatQuantity(parseQuantity(input));
}

/** Exact milli-units, rounded up toward +infinity (Quantity.MilliValue). */
export function quantityToMilliBigInt(input: string | number): bigint {
  return divideCeil(parseQuantity(input).nano, NANO_PER_MILLI);
}

/** Exact whole units, rounded up toward +infinity (Quantity.Value). */
export function quantityToBigInt(input: string | number): bigint {
  return divideCeil(parseQuantity(input).nano, NANO_PER_UNIT);
}

/** Milli-units rounded up, e.g. CPU: "500m" → 500, "1.5" → 1500, "1" → 1000. */
export function quantityToMilli(input: string | number): number {
  return Number(quantityToMilliBigInt(input));
}

/** Whole units rounded up, e.g. memory: "128Mi" → 134217728, "1G" → 1e9, "1k" → 1000. */
export function quantityToNumber(input: string | number): number {
  return Number(quantityToBigInt(input));
}

export function compareQuantities(a: string | number, b: string | number): -1 | 0 | 1 {
  const x = parseQuantity(a).nano;
  const y = parseQuantity(b).nano;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The format a sum or difference keeps: the left operand's, unless it is zero (as Quantity.Add does). */
function combinedFormat(left: Quantity, right: Quantity): QuantityFormat {
  return left.nano === 0n ? right.format : left.format;
}

export function addQuantities(a: string | number, b: string | number): string {
  const x = parseQuantity(a);
  const y = parseQuantity(b);
  return formatQuantity({ nano: x.nano + y.nano, format: combinedFormat(x, y) });
}

export function subtractQuantities(a: string | number, b: string | number): string {
  const x = parseQuantity(a);
  const y = parseQuantity(b);
  return formatQuantity({ nano: x.nano - y.nano, format: combinedFormat(x, y) });
}

/** Prints a milli-unit count (e.g. CPU) canonically: 250 → "250m", 2000 → "2". */
export function formatMilli(milli: number): string {
  if (!Number.isFinite(milli)) throw new QuantityError(`milli value must be finite: ${milli}`);
  const nano = divideAwayFromZero(parseQuantityString(String(milli)).nano, 1000n);
  return formatQuantity({ nano, format: 'DecimalSI' });
}

/**
 * Prints a byte count in binary form: 134217728 → "128Mi", 1572864 → "1536Ki", 1500 → "1500".
 * Counts not divisible by 1024 (including those under 1024, which Kubernetes would print as e.g.
 * "1k") stay plain integers, which is what people expect for bytes; fractions round up to whole bytes.
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) throw new QuantityError(`byte count must be finite: ${bytes}`);
  const whole = divideCeil(parseQuantityString(String(bytes)).nano, NANO_PER_UNIT);
  return whole === 0n ? '0' : formatBinary(whole * NANO_PER_UNIT);
}
