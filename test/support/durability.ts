/**
 * The durability check of the kill -9 tests: given every write a store or API acknowledged, and what
 * is there after the faults, names each acknowledged write that was lost. A created object must
 * exist as that creation (same create revision, or same uid through the API); for every key, the
 * newest acknowledged write must be there or have been overwritten by a later one, never rolled back.
 */

export interface AcknowledgedWrite {
  kind: 'create' | 'update';
  key: string;
  /** The revision the write was acknowledged at (mod revision, or resourceVersion). */
  revision: number;
  value: string;
  /** What identifies the creation: the create revision in a store, the uid through the API. */
  identity?: string;
}

export interface StoredValue { revision: number; value: string; identity?: string }

/** Every acknowledged write missing from `read`'s view, described; empty when nothing was lost. */
export async function lostWrites(acks: readonly AcknowledgedWrite[], read: (key: string) => Promise<StoredValue | undefined>): Promise<string[]> {
  const lost: string[] = [];
  const newest = new Map<string, AcknowledgedWrite>();
  for (const ack of acks) {
    const seen = newest.get(ack.key);
    if (seen === undefined || seen.revision < ack.revision) newest.set(ack.key, ack);
  }
  const stored = new Map<string, StoredValue | undefined>();
  for (const key of newest.keys()) stored.set(key, await read(key));
  for (const ack of acks) {
    if (ack.kind !== 'create') continue;
    const now = stored.get(ack.key);
    if (!now) lost.push(`create of ${ack.key} at ${ack.revision}: missing`);
    else if (ack.identity !== undefined && now.identity !== ack.identity) lost.push(`create of ${ack.key} at ${ack.revision}: now ${now.identity}, acknowledged ${ack.identity}`);
  }
  for (const ack of newest.values()) {
    const now = stored.get(ack.key);
    if (!now) {
      // Missing creations are reported above; a key only ever updated is reported here.
      if (!acks.some((a) => a.kind === 'create' && a.key === ack.key)) lost.push(`update of ${ack.key} at ${ack.revision}: missing`);
      continue;
    }
    // A write may have committed after its acknowledgement could be recorded; never an older one.
    if (now.revision < ack.revision) lost.push(`${ack.key}: at ${now.revision}, acknowledged ${ack.revision}`);
    else if (now.revision === ack.revision && now.value !== ack.value) lost.push(`${ack.key} at ${ack.revision}: value ${now.value}, acknowledged ${ack.value}`);
  }
  return lost;
}
