/**
 * The served JSON of a stored object without serialising it again: the stored text (which encode()
 * writes without resourceVersion) with the revision spliced into its metadata. Lists use it per
 * stored value; watch frames per shared decoded object, which the registry links to its stored value
 * here (a pod event's frame was a JSON.stringify of the decoded pod, ~3 % of the server's CPU when its
 * controllers and scheduler write at full speed).
 */
import type { KeyValue } from '../store/store.js';

/**
 * Only apiVersion and kind, plain strings, may precede metadata, so the match is the top-level one;
 * a text that does not start the way encode() writes it takes the caller's slow path.
 */
const STORED_METADATA = /^\{(?:"apiVersion":"[^"\\]*",)?(?:"kind":"[^"\\]*",)?"metadata":\{/;

/** The stored JSON of an object with its resourceVersion spliced into its metadata, or undefined. */
export function storedJsonWithRevision(kv: KeyValue): string | undefined {
  const m = STORED_METADATA.exec(kv.value);
  // A stored object with a resourceVersion key anywhere (an Event's involvedObject) takes the slow path.
  if (!m || kv.value.includes('"resourceVersion"')) return undefined;
  const at = m[0].length;
  const rv = `"resourceVersion":${JSON.stringify(String(kv.modRevision))}`;
  return `${kv.value.slice(0, at)}${rv}${kv.value[at] === '}' ? '' : ','}${kv.value.slice(at)}`;
}

/** Decoded (shared, never mutated) objects and the stored values they were parsed from. */
const sources = new WeakMap<object, KeyValue>();

/** Records that `obj` is `JSON.parse(kv.value)` with kv's revision as its resourceVersion, unchanged. */
export function decodedFrom(obj: object, kv: KeyValue): void {
  sources.set(obj, kv);
}

/** The JSON of a shared decoded object, from its stored text; undefined for any other object. */
export function servedJsonOf(obj: object): string | undefined {
  const kv = sources.get(obj);
  return kv === undefined ? undefined : storedJsonWithRevision(kv);
}
