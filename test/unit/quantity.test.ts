import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  QuantityError, parseQuantity, isValidQuantity, quantityToMilli, quantityToNumber, compareQuantities,
  addQuantities, subtractQuantities, formatMilli, formatBytes, canonicalQuantity, formatQuantity,
} from '../../api/quantity.js';

const isQuantityError = (err: unknown): boolean => err instanceof QuantityError;

test('parses decimal SI suffixes exactly', () => {
  assert.is(parseQuantity('1n').nano, 1n);
  assert.is(parseQuantity('1u').nano, 1_000n);
  assert.is(parseQuantity('1m').nano, 1_000_000n);
  assert.is(parseQuantity('1').nano, 1_000_000_000n);
  assert.is(parseQuantity('1k').nano, 1_000_000_000_000n);
  assert.is(parseQuantity('1M').nano, 10n ** 15n);
  assert.is(parseQuantity('1G').nano, 10n ** 18n);
  assert.is(parseQuantity('1T').nano, 10n ** 21n);
  assert.is(parseQuantity('1P').nano, 10n ** 24n);
  assert.is(parseQuantity('1E').nano, 10n ** 27n);
  assert.is(parseQuantity('1.5').format, 'DecimalSI');
});

test('parses binary SI suffixes exactly', () => {
  assert.is(parseQuantity('1Ki').nano, 1024n * 10n ** 9n);
  assert.is(parseQuantity('1Mi').nano, 1024n ** 2n * 10n ** 9n);
  assert.is(parseQuantity('1Gi').nano, 1024n ** 3n * 10n ** 9n);
  assert.is(parseQuantity('1Ti').nano, 1024n ** 4n * 10n ** 9n);
  assert.is(parseQuantity('1Pi').nano, 1024n ** 5n * 10n ** 9n);
  assert.is(parseQuantity('1Ei').nano, 1024n ** 6n * 10n ** 9n);
  assert.is(parseQuantity('1.5Gi').nano, 1536n * 1024n ** 2n * 10n ** 9n);
  assert.is(parseQuantity('2Ki').format, 'BinarySI');
});

test('parses decimal exponents, signs and number forms', () => {
  assert.is(parseQuantity('1e3').nano, 1000n * 10n ** 9n);
  assert.is(parseQuantity('1.5E-2').nano, 15_000_000n);
  assert.is(parseQuantity('2e+2').nano, 200n * 10n ** 9n);
  assert.is(parseQuantity('1e3').format, 'DecimalExponent');
  assert.is(parseQuantity('-5m').nano, -5_000_000n);
  assert.is(parseQuantity('+5').nano, 5_000_000_000n);
  assert.is(parseQuantity('.5').nano, 500_000_000n);
  assert.is(parseQuantity('5.').nano, 5_000_000_000n);
  assert.is(parseQuantity('007').nano, 7_000_000_000n);
});

test('JS numbers parse without float drift', () => {
  assert.is(parseQuantity(0.1).nano, 100_000_000n);
  assert.is(parseQuantity(2).nano, 2_000_000_000n);
  assert.is(parseQuantity(1e21).nano, 10n ** 30n);
  assert.is(parseQuantity(1e21).format, 'DecimalSI');
  assert.is(addQuantities(0.1, 0.2), '300m');
  assert.throws(() => parseQuantity(Number.NaN), isQuantityError);
  assert.throws(() => parseQuantity(Infinity), isQuantityError);
});

test('sub-nano precision rounds up away from zero', () => {
  assert.is(parseQuantity('0.1n').nano, 1n);
  assert.is(parseQuantity('-0.1n').nano, -1n);
  assert.is(canonicalQuantity('0.30000000000000004'), '300000001n');
});

test('rejects malformed quantities with QuantityError', () => {
  for (const bad of ['', '1.2.3', '5 Mi', '1Qi', '1K', '.', '-', 'e3', '1e', 'abc', ' 1', '1 ', '1mm', '1ki', '1e1.5', '--1']) {
    assert.throws(() => parseQuantity(bad), isQuantityError, `expected ${JSON.stringify(bad)} to be rejected`);
    assert.is(isValidQuantity(bad), false, bad);
  }
  for (const good of ['0', '1', '100m', '1Gi', '1e3', '-1', '.5', '1E']) assert.ok(isValidQuantity(good), good);
});

test('quantityToMilli rounds up to milli-units', () => {
  assert.is(quantityToMilli('500m'), 500);
  assert.is(quantityToMilli('1.5'), 1500);
  assert.is(quantityToMilli('1'), 1000);
  assert.is(quantityToMilli('0.0001'), 1);
  assert.is(quantityToMilli('100u'), 1);
  assert.is(quantityToMilli(2), 2000);
  assert.is(quantityToMilli('-1500u'), -1);
});

test('quantityToNumber rounds up to whole units', () => {
  assert.is(quantityToNumber('128Mi'), 134217728);
  assert.is(quantityToNumber('1G'), 1e9);
  assert.is(quantityToNumber('1k'), 1000);
  assert.is(quantityToNumber('1m'), 1);
  assert.is(quantityToNumber('1.5Ki'), 1536);
  assert.is(quantityToNumber('100'), 100);
});

test('canonical form matches Kubernetes', () => {
  const cases: Array<[string | number, string]> = [
    ['1000m', '1'], ['0.5', '500m'], ['1024Ki', '1Mi'], ['1.5Gi', '1536Mi'], ['1.5', '1500m'],
    ['0.9Gi', '966367641600m'], ['0.5Ki', '512'], ['1536Ki', '1536Ki'], ['1000', '1k'], ['1500', '1500'],
    ['1e3', '1e3'], ['1.5E-2', '15e-3'], ['12e6', '12e6'], ['100e0', '100'], ['0', '0'], ['0Gi', '0'],
    ['-2048', '-2048'], ['-2Ki', '-2Ki'], ['1E', '1E'], ['1000E', '1000E'], ['5.', '5'], ['+5', '5'],
    ['1000000n', '1m'], [1e21, '1000E'], ['2048Gi', '2Ti'],
  ];
  for (const [input, expected] of cases) assert.is(canonicalQuantity(input), expected, `canonical(${String(input)})`);
});

test('compare, add and subtract are exact', () => {
  assert.is(compareQuantities('1Gi', '1G'), 1);
  assert.is(compareQuantities('1000m', '1'), 0);
  assert.is(compareQuantities('999m', 1), -1);
  assert.is(compareQuantities('1e3', '1k'), 0);
  assert.is(addQuantities('250m', '750m'), '1');
  assert.is(addQuantities('1Gi', '512Mi'), '1536Mi');
  assert.is(addQuantities('0', '1Ki'), '1Ki');
  assert.is(subtractQuantities('1Gi', '512Mi'), '512Mi');
  assert.is(subtractQuantities('1', '1500m'), '-500m');
  assert.is(subtractQuantities('2', 2), '0');
});

test('formatMilli and formatBytes print canonical forms', () => {
  assert.is(formatMilli(250), '250m');
  assert.is(formatMilli(2000), '2');
  assert.is(formatMilli(1500), '1500m');
  assert.is(formatMilli(0), '0');
  assert.is(formatBytes(134217728), '128Mi');
  assert.is(formatBytes(1536 * 1024), '1536Ki');
  assert.is(formatBytes(1024 ** 3), '1Gi');
  assert.is(formatBytes(1000), '1000');
  assert.is(formatBytes(1500), '1500');
  assert.is(formatBytes(1023), '1023');
  assert.is(formatBytes(0), '0');
  assert.is(formatBytes(1.5), '2');
  assert.is(formatBytes(-2048), '-2Ki');
  assert.throws(() => formatBytes(Number.NaN), isQuantityError);
});

test('formatQuantity keeps the format family', () => {
  assert.is(formatQuantity({ nano: 2048n * 10n ** 9n, format: 'BinarySI' }), '2Ki');
  assert.is(formatQuantity({ nano: 2000n * 10n ** 9n, format: 'DecimalSI' }), '2k');
  assert.is(formatQuantity({ nano: 2000n * 10n ** 9n, format: 'DecimalExponent' }), '2e3');
});

test('spellings parsed again give the same frozen value; bad ones throw every time, past the cache\'s size too', () => {
  const first = parseQuantity('16Mi');
  assert.ok(Object.isFrozen(first));
  assert.equal(parseQuantity('16Mi'), { nano: 16n * 1024n * 1024n * 10n ** 9n, format: 'BinarySI' });
  for (let i = 0; i < 1200; i++) assert.is(parseQuantity(`${i}m`).nano, BigInt(i) * 1_000_000n);
  for (let i = 0; i < 3; i++) {
    assert.not.ok(isValidQuantity('12Qi'));
    assert.throws(() => parseQuantity('12Qi'), isQuantityError);
  }
  assert.is(parseQuantity('16Mi').nano, first.nano);
  assert.is(canonicalQuantity('1000m'), '1');
});

test.run();
