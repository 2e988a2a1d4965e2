/**
 * A copy of a plain JSON-like value that equals `JSON.parse(JSON.stringify(value))`, made without the
 * text in between: the in-process requests of the server's own controllers hand their bodies and
 * answers over this way. Anything whose JSON form is not plain (a `toJSON` method, a Date, a class
 * instance, a non-finite number, a BigInt, a `"__proto__"` key, nesting past `maxDepth`) or whose
 * JSON text could exceed `maxBytes` makes it answer undefined: the caller then takes the text path,
 * which gives those cases their usual meaning (and their usual errors).
 */

export interface JsonCopyLimits {
  /** Deepest nesting accepted (objects and arrays, the outermost at 1). */
  maxDepth: number;
  /** Largest JSON text (UTF-8 bytes) the copy may stand for; a bound from above is checked. */
  maxBytes: number;
}

/** Thrown inside the walk when the value is not plain JSON; caught in jsonCopy. */
const NOT_PLAIN: unique symbol = Symbol('not plain JSON');

class Walk {
  /** An upper bound of the JSON text's length in UTF-8 bytes so far. */
  bytes = 0;
  constructor(private readonly limits: JsonCopyLimits) {}

  /** A string's JSON text takes at most 6 bytes per UTF-16 unit (`\u001f`), plus the quotes. */
  private count(n: number): void {
    this.bytes += n;
    if (this.bytes > this.limits.maxBytes) throw NOT_PLAIN;
  }

  value(v: unknown, depth: number): unknown {
    switch (typeof v) {
      case 'string':
        this.count(v.length * 6 + 2);
        return v;
      case 'number':
        if (!Number.isFinite(v)) throw NOT_PLAIN;
        this.count(24);
        return v === 0 ? 0 : v; // -0 is written as 0
      case 'boolean':
        this.count(5);
        return v;
      case 'object':
        if (v === null) {
          this.count(4);
          return null;
        }
        if (depth > this.limits.maxDepth) throw NOT_PLAIN;
        if (Array.isArray(v)) return this.array(v, depth);
        return this.object(v as Record<string, unknown>, depth);
      default:
        throw NOT_PLAIN; // undefined, functions and symbols are handled by the containers
    }
  }

  private array(a: unknown[], depth: number): unknown[] {
    if (Object.getPrototypeOf(a) !== Array.prototype || typeof (a as { toJSON?: unknown }).toJSON === 'function') throw NOT_PLAIN;
    const out = new Array<unknown>(a.length);
    this.count(2 + a.length);
    for (let i = 0; i < a.length; i++) {
      const item = a[i];
      // JSON writes what it cannot represent inside an array (and holes) as null.
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') {
        this.count(4);
        out[i] = null;
      } else {
        out[i] = this.value(item, depth + 1);
      }
    }
    return out;
  }

  private object(o: Record<string, unknown>, depth: number): Record<string, unknown> {
    const proto = Object.getPrototypeOf(o) as unknown;
    if ((proto !== Object.prototype && proto !== null) || typeof o['toJSON'] === 'function') throw NOT_PLAIN;
    const out: Record<string, unknown> = {};
    this.count(2);
    for (const key of Object.keys(o)) {
      const item = o[key];
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
      if (key === '__proto__') throw NOT_PLAIN; // JSON.parse makes it an own property; an assignment would not
      this.count(key.length * 6 + 4);
      out[key] = this.value(item, depth + 1);
    }
    return out;
  }
}

/** `JSON.parse(JSON.stringify(value))` for plain JSON data, else undefined (see the module comment). */
export function jsonCopy(value: unknown, limits: JsonCopyLimits): unknown {
  if (value === null || typeof value !== 'object') return undefined;
  try {
    return new Walk(limits).value(value, 1);
  } catch (err) {
    if (err === NOT_PLAIN) return undefined;
    throw err;
  }
}
