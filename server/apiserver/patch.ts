/** PATCH bodies by Content-Type: strategic merge, JSON merge (RFC 7386), JSON patch (RFC 6902), apply. */
import type { KubeObject } from '../../api/meta.js';
import type { ResourceInfo } from '../../api/resources.js';
import { errors, StatusError } from '../../api/status.js';
import { applyJsonPatch } from '../../api/patch/json-patch.js';
import { applyMergePatch, applyMergePatchInPlace } from '../../api/patch/merge-patch.js';
import { applyStrategicMergePatch } from '../../api/patch/strategic-merge-patch.js';
import { PatchError } from '../../api/patch/errors.js';
import { assertNestingDepth, parseYamlQuietly } from './body.js';

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

export function patchTypeOf(media: string): PatchType {
  switch (media) {
    case 'application/json-patch+json': return 'json';
    case 'application/merge-patch+json': return 'merge';
    case 'application/strategic-merge-patch+json': return 'strategic';
    case 'application/apply-patch+yaml': return 'apply';
    default:
      throw errors.unsupportedMediaType(media || '(none)');
  }
}

/** Custom resources have no patch strategies: upstream answers a strategic merge patch with 415. */
export function refuseStrategicForCustom(type: PatchType, info: ResourceInfo): PatchType {
  if (type !== 'strategic' || !info.custom) return type;
  throw new StatusError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml');
}

function parsePatchBody(type: PatchType, raw: Uint8Array): unknown {
  const text = Buffer.from(raw).toString('utf8');
  let patch: unknown;
  try {
    patch = type === 'apply' ? parseYamlQuietly(text) : JSON.parse(text);
  } catch (err) {
    throw errors.badRequest(`error decoding patch: ${(err as Error).message}`);
  }
  assertNestingDepth(patch, 'patch');
  if (type === 'json' && Array.isArray(patch) && patch.length > MAX_JSON_PATCH_OPERATIONS) {
    throw errors.tooLarge(`The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${patch.length}`);
  }
  return patch;
}

/** Upstream's cap on the operations of one JSON patch (kubernetes#74000): each may copy the object. */
export const MAX_JSON_PATCH_OPERATIONS = 10_000;

/**
 * Returns the patched copy of `current`; malformed patches and failed operations are 400s. `owned`:
 * the caller's private copy, which a merge patch may change in place instead of copying it again (a
 * read-modify-write already hands the mutation a clone).
 */
export function applyPatch(type: PatchType, current: KubeObject, raw: Uint8Array, info: ResourceInfo, owned = false): KubeObject {
  const patch = parsePatchBody(type, raw);
  let result: unknown;
  try {
    switch (type) {
      case 'json':
        result = applyJsonPatch(current, patch);
        break;
      case 'merge':
      case 'apply':
        result = owned ? applyMergePatchInPlace(current, patch) : applyMergePatch(current, patch);
        break;
      case 'strategic':
        result = applyStrategicMergePatch(current, patch);
        break;
    }
  } catch (err) {
    if (err instanceof PatchError) throw errors.badRequest(err.message);
    throw err;
  }
  if (result === null || typeof result !== 'object' || Array.isArray(result)) {
    throw errors.badRequest(`the patch made the ${info.kind} something other than an object`);
  }
  const obj = result as KubeObject;
  if (!obj.metadata || typeof obj.metadata !== 'object') obj.metadata = {};
  return obj;
}

/** A configuration the merge cannot use (a malformed `$` directive in it) is the client's error: 400. */
export function applyOrRefuse(apply: () => KubeObject): KubeObject {
  try {
    return apply();
  } catch (err) {
    if (err instanceof PatchError) throw errors.badRequest(err.message);
    throw err;
  }
}
