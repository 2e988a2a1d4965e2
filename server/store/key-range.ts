/**
 * Prefix matching as a key range, so it uses the name index and has no wildcard characters to
 * escape (a LIKE pattern would treat `_` and `%` in a key as wildcards).
 *
 * SQLite compares TEXT with memcmp over UTF-8, and UTF-8 byte order equals code point order, so
 * "every key that starts with P" is exactly `P <= key < upperBound(P)`, where upperBound is P with
 * its last code point incremented.
 */

/** The largest code point; a key starting with it sorts after every other key. */
const MAX_CODE_POINT = 0x10ffff;

export interface KeyRange {
  /** Inclusive lower bound. */
  start: string;
  /** Exclusive upper bound. */
  end: string;
}

/** The smallest string greater than every string that starts with `prefix`. */
export function prefixUpperBound(prefix: string): string {
  // Fast path (every registry key): the last code unit is a BMP code point whose successor is one too.
  const last = prefix.charCodeAt(prefix.length - 1);
  if (last < 0xd7ff || (last >= 0xe000 && last < 0xffff)) return prefix.slice(0, -1) + String.fromCharCode(last + 1);
  const codePoints = Array.from(prefix);
  while (codePoints.length > 0) {
    const last = codePoints.pop()!.codePointAt(0)!;
    let next = last + 1;
    // Skip the surrogate block: those are not valid code points on their own.
    if (next >= 0xd800 && next <= 0xdfff) next = 0xe000;
    if (next <= MAX_CODE_POINT) return codePoints.join('') + String.fromCodePoint(next);
  }
  // Empty prefix (or one made only of U+10FFFF): everything matches.
  return String.fromCodePoint(MAX_CODE_POINT).repeat(4);
}

export function prefixRange(prefix: string): KeyRange {
  return { start: prefix, end: prefixUpperBound(prefix) };
}
