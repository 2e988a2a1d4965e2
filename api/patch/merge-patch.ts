/**
 * JSON merge patch (RFC 7386), used by `kubectl label`, `annotate`, `scale` and `patch --type=merge`.
 * Objects merge recursively, `null` deletes a member, anything else (arrays included) replaces.
 */
import { PatchError } from './errors.js';
import { cloneJson, hasOwn, isJsonObject, setOwn, type JsonObject } from './json-value.js';

/** Merges `patch` into `target`, which the caller owns (it is modified and returned). */
function mergeInto(target: unknown, patch: unknown): unknown {
  if (!isJsonObject(patch)) return cloneJson(patch);
  const result: JsonObject = isJsonObject(target) ? target : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else setOwn(result, key, mergeInto(hasOwn(result, key) ? result[key] : undefined, value));
  }
  return result;
}

/** Returns the patched document as a new value sharing nothing with `target` or `patch`. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (patch === undefined) throw new PatchError('merge patch body is missing');
  return mergeInto(cloneJson(target), patch);
}

/** Like applyMergePatch, for a `target` the caller owns and gives up: patched in place, not copied first. */
export function applyMergePatchInPlace(target: unknown, patch: unknown): unknown {
  if (patch === undefined) throw new PatchError('merge patch body is missing');
  return mergeInto(target, patch);
}
