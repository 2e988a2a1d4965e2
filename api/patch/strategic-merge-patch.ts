/**
 * Strategic merge patch, the default patch type of `kubectl patch`, `edit`, `set`, `rollout restart`
 * and `cordon`. Like a JSON merge patch, but lists that have a merge key (containers by name, ...)
 * merge element by element, and the patch may carry directives:
 *
 *   "$patch": "replace" | "delete"          on a map: take it literally / remove it
 *   {"$patch": "delete", <key>: v}          in a keyed list: remove the element(s) with that key
 *   {"$patch": "replace"}                   in a list: the rest of the patch list replaces the list
 *   "$retainKeys": [...]                    drop every key of the live map not listed, then merge
 *   "$setElementOrder/<field>": [...]       order of the merged list
 *   "$deleteFromPrimitiveList/<field>": [...] values to remove from a scalar set (finalizers)
 *
 * Directives never appear in the result. Which lists merge, and by which key, comes from
 * merge-keys.ts. A `metadata.resourceVersion` in the patch is copied into the result like any field;
 * treating it as a precondition is the API server's job.
 */
import { PatchError } from './errors.js';
import { cloneJson, hasOwn, isJsonObject, jsonEqual, setOwn, type JsonObject } from './json-value.js';
import { listStrategy, type ListStrategy } from './merge-keys.js';

const PATCH_DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ELEMENT_ORDER = '$setElementOrder/';
const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList/';

/** Returned by mergeMap when a `$patch: delete` asks for the map itself to go. */
const DELETED = Symbol('deleted');

function isDirectiveKey(key: string): boolean {
  return key === PATCH_DIRECTIVE || key === RETAIN_KEYS
    || key.startsWith(SET_ELEMENT_ORDER) || key.startsWith(DELETE_FROM_PRIMITIVE_LIST);
}

function where(path: readonly string[]): string {
  return path.length === 0 ? 'the patch root' : JSON.stringify(path.join('.'));
}

/**
 * A copy of a patch value with every directive removed, for parts of a patch that are taken
 * literally (a replaced map or list): directive keys and null members are dropped, list elements
 * carrying `$patch` are dropped, and maps marked `$patch: delete` disappear.
 */
export function stripPatchDirectives(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.filter((item) => !(isJsonObject(item) && hasOwn(item, PATCH_DIRECTIVE))).map(stripPatchDirectives);
  }
  if (!isJsonObject(value)) return value;
  const out: JsonObject = {};
  for (const [key, item] of Object.entries(value)) {
    if (isDirectiveKey(key) || item === null) continue;
    if (isJsonObject(item) && item[PATCH_DIRECTIVE] === 'delete') continue;
    setOwn(out, key, stripPatchDirectives(item));
  }
  return out;
}

function requireList(value: unknown, what: string, path: readonly string[]): unknown[] {
  if (!Array.isArray(value)) throw new PatchError(`invalid strategic merge patch at ${where(path)}: ${what} must be a list`);
  return value;
}

/** Applies `$retainKeys`: the live map keeps only the listed keys (the patch may only set listed keys). */
function applyRetainKeys(original: JsonObject, patch: JsonObject, path: readonly string[]): void {
  const retained = requireList(patch[RETAIN_KEYS], '$retainKeys', path);
  if (!retained.every((key): key is string => typeof key === 'string')) {
    throw new PatchError(`invalid strategic merge patch at ${where(path)}: $retainKeys must be a list of strings`);
  }
  for (const [key, value] of Object.entries(patch)) {
    if (!isDirectiveKey(key) && value !== null && !retained.includes(key)) {
      throw new PatchError(`invalid strategic merge patch at ${where(path)}: key ${JSON.stringify(key)} is set but not listed in $retainKeys`);
    }
  }
  for (const key of Object.keys(original)) {
    if (!retained.includes(key)) delete original[key];
  }
}

/** Applies every `$deleteFromPrimitiveList/<field>` of the patch to `original`. */
function applyDeleteFromPrimitiveLists(original: JsonObject, patch: JsonObject, path: readonly string[]): void {
  for (const [key, value] of Object.entries(patch)) {
    if (!key.startsWith(DELETE_FROM_PRIMITIVE_LIST)) continue;
    const field = key.slice(DELETE_FROM_PRIMITIVE_LIST.length);
    const doomed = requireList(value, key, path);
    const current = hasOwn(original, field) ? original[field] : undefined;
    if (Array.isArray(current)) {
      setOwn(original, field, current.filter((item) => !doomed.some((d) => jsonEqual(d, item))));
    }
  }
}

/**
 * Merges `patch` into `original`, which the caller owns: it is modified and returned (or DELETED).
 */
function mergeMap(original: JsonObject, patch: JsonObject, path: readonly string[]): JsonObject | typeof DELETED {
  const directive = patch[PATCH_DIRECTIVE];
  if (directive === 'replace') return stripPatchDirectives(patch) as JsonObject;
  if (directive === 'delete') return DELETED;
  if (directive !== undefined && directive !== 'merge') {
    throw new PatchError(`invalid strategic merge patch at ${where(path)}: unknown $patch directive ${JSON.stringify(directive)}`);
  }

  if (hasOwn(patch, RETAIN_KEYS)) applyRetainKeys(original, patch, path);
  applyDeleteFromPrimitiveLists(original, patch, path);

  // Lists as the server had them, before merging, for $setElementOrder's tie-breaking.
  const serverLists = new Map<string, unknown[]>();
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(SET_ELEMENT_ORDER)) continue;
    const field = key.slice(SET_ELEMENT_ORDER.length);
    const current = hasOwn(original, field) ? original[field] : undefined;
    serverLists.set(field, Array.isArray(current) ? [...current] : []);
  }

  for (const [key, value] of Object.entries(patch)) {
    if (isDirectiveKey(key)) continue;
    if (value === null) {
      delete original[key];
      continue;
    }
    const childPath = [...path, key];
    const current = hasOwn(original, key) ? original[key] : undefined;
    if (isJsonObject(value)) {
      const merged = mergeMap(isJsonObject(current) ? current : {}, value, childPath);
      if (merged === DELETED) delete original[key];
      else setOwn(original, key, merged);
    } else if (Array.isArray(value)) {
      setOwn(original, key, mergeList(Array.isArray(current) ? current : [], value, childPath));
    } else {
      setOwn(original, key, value);
    }
  }

  for (const [field, serverList] of serverLists) {
    const order = requireList(patch[SET_ELEMENT_ORDER + field], SET_ELEMENT_ORDER + field, path);
    const current = hasOwn(original, field) ? original[field] : undefined;
    if (Array.isArray(current)) setOwn(original, field, applyElementOrder(current, order, serverList, listStrategy([...path, field]), [...path, field]));
  }
  return original;
}

/** Merges a patch list into `original` (owned by the caller) according to the field's strategy. */
function mergeList(original: unknown[], patch: unknown[], path: readonly string[]): unknown[] {
  const strategy = listStrategy(path);
  if (strategy.kind === 'replace') return stripPatchDirectives(patch) as unknown[];

  const directives = patch.filter((item): item is JsonObject => isJsonObject(item) && hasOwn(item, PATCH_DIRECTIVE));
  for (const item of directives) {
    const kind = item[PATCH_DIRECTIVE];
    if (kind !== 'replace' && kind !== 'delete') {
      throw new PatchError(`invalid strategic merge patch at ${where(path)}: unsupported $patch ${JSON.stringify(kind)} in a list`);
    }
  }
  if (directives.some((item) => item[PATCH_DIRECTIVE] === 'replace')) {
    return stripPatchDirectives(patch) as unknown[];
  }
  const additions = patch.filter((item) => !(isJsonObject(item) && hasOwn(item, PATCH_DIRECTIVE)));

  if (strategy.kind === 'set') {
    if (directives.length > 0 || additions.some((item) => isJsonObject(item) || Array.isArray(item))) {
      throw new PatchError(`invalid strategic merge patch at ${where(path)}: this list holds scalar values`);
    }
    const result: unknown[] = [];
    for (const item of [...original, ...additions]) {
      if (!result.some((kept) => jsonEqual(kept, item))) result.push(item);
    }
    return result;
  }

  const { mergeKey } = strategy;
  const sameKey = (item: unknown, key: unknown): boolean => isJsonObject(item) && hasOwn(item, mergeKey) && jsonEqual(item[mergeKey], key);
  let result = [...original];
  for (const item of directives) {
    if (!hasOwn(item, mergeKey)) {
      throw new PatchError(`invalid strategic merge patch at ${where(path)}: $patch: delete element does not contain merge key ${JSON.stringify(mergeKey)}`);
    }
    result = result.filter((existing) => !sameKey(existing, item[mergeKey]));
  }
  for (const item of additions) {
    if (!isJsonObject(item)) {
      throw new PatchError(`invalid strategic merge patch at ${where(path)}: list elements must be objects with merge key ${JSON.stringify(mergeKey)}`);
    }
    if (!hasOwn(item, mergeKey)) {
      throw new PatchError(`invalid strategic merge patch at ${where(path)}: element does not contain merge key ${JSON.stringify(mergeKey)}`);
    }
    const index = result.findIndex((existing) => sameKey(existing, item[mergeKey]));
    const existing = index >= 0 ? result[index] : undefined;
    const merged = mergeMap(isJsonObject(existing) ? existing : {}, item, path);
    if (index >= 0) {
      if (merged === DELETED) result.splice(index, 1);
      else result[index] = merged;
    } else if (merged !== DELETED) {
      result.push(merged);
    }
  }
  return result;
}

/**
 * `$setElementOrder`: items named in `order` come in that order; items the patch did not mention
 * (server-only) keep their place relative to them as far as the server's list allows.
 */
function applyElementOrder(
  merged: unknown[], order: unknown[], serverList: unknown[], strategy: ListStrategy, path: readonly string[],
): unknown[] {
  if (strategy.kind === 'replace') return merged;
  const identity = (item: unknown): unknown => {
    if (strategy.kind === 'set') return item;
    return isJsonObject(item) ? item[strategy.mergeKey] : undefined;
  };
  const orderKeys = order.map((entry) => {
    if (strategy.kind === 'merge' && !(isJsonObject(entry) && hasOwn(entry, strategy.mergeKey))) {
      throw new PatchError(`invalid strategic merge patch at ${where(path)}: $setElementOrder entries must contain merge key ${JSON.stringify(strategy.mergeKey)}`);
    }
    return identity(entry);
  });
  const indexIn = (keys: unknown[], key: unknown): number => keys.findIndex((k) => jsonEqual(k, key));
  const orderIndex = (item: unknown): number => indexIn(orderKeys, identity(item));
  const serverKeys = serverList.map(identity);
  const serverIndex = (item: unknown): number => indexIn(serverKeys, identity(item));

  const ordered = merged.filter((item) => orderIndex(item) >= 0).sort((a, b) => orderIndex(a) - orderIndex(b));
  const serverOnly = merged.filter((item) => orderIndex(item) < 0);
  const result: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < ordered.length || j < serverOnly.length) {
    if (i >= ordered.length) result.push(serverOnly[j++]);
    else if (j >= serverOnly.length) result.push(ordered[i++]);
    else {
      const a = serverIndex(ordered[i]);
      const b = serverIndex(serverOnly[j]);
      // Only when both sat in the server's list can their relative order be known; else server-only first.
      if (a >= 0 && b >= 0 && a < b) result.push(ordered[i++]);
      else result.push(serverOnly[j++]);
    }
  }
  return result;
}

/** Applies a strategic merge patch and returns a new object; `target` and `patch` are not modified. */
export function applyStrategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isJsonObject(patch)) throw new PatchError('strategic merge patch must be a JSON object');
  const base = isJsonObject(target) ? cloneJson(target) : {};
  const result = mergeMap(base, patch, []);
  return result === DELETED ? {} : result;
}
