/** The small in-place helpers every defaulter uses: fill a field only when it is missing. */
export type Obj = Record<string, unknown>;

export function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Returns obj[field] as an object, creating `{}` there when it is missing. */
export function ensureObj(obj: Obj, field: string): Obj {
  const current = obj[field];
  if (isObj(current)) return current;
  const created: Obj = {};
  obj[field] = created;
  return created;
}

export function setDefault(obj: Obj, field: string, value: unknown): void {
  if (obj[field] === undefined || obj[field] === null) obj[field] = value;
}

export function setDefaultString(obj: Obj, field: string, value: string): void {
  if (obj[field] === undefined || obj[field] === null || obj[field] === '') obj[field] = value;
}

export function objects(value: unknown): Obj[] {
  return Array.isArray(value) ? value.filter(isObj) : [];
}
