/**
 * Encoded cluster-zone answers, reused while the cluster view has not changed: a hit copies the
 * stored reply, writes the query's ID and its question section (so the client's letter case comes
 * back as sent) and skips both the zone lookup and the encoding. Any informer event bumps the view's
 * generation, which empties the cache. Only uncompressed questions whose encoded form matches the
 * reply's byte for byte (ignoring case) are cached, so a hit can never change a reply's layout.
 */
const MAX_ENTRIES = 10_000;
const HEADER = 12;

/** Length of the question section of a one-question message, or undefined when compressed or malformed. */
export function questionLength(msg: Buffer): number | undefined {
  let at = HEADER;
  while (at < msg.length) {
    const len = msg[at]!;
    if (len === 0) return at + 1 + 4 <= msg.length ? at + 1 + 4 - HEADER : undefined;
    if (len > 63) return undefined; // a pointer or a reserved label type
    at += 1 + len;
  }
  return undefined;
}

function sameIgnoringCase(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    let x = a[i]!;
    let y = b[i]!;
    if (x >= 0x41 && x <= 0x5a) x += 0x20;
    if (y >= 0x41 && y <= 0x5a) y += 0x20;
    if (x !== y) return false;
  }
  return true;
}

interface Entry { reply: Buffer; question: Buffer }

export class AnswerCache {
  private readonly entries = new Map<string, Entry>();
  private generation = -1;

  /** The reply for `key`, rewritten for this query; undefined on a miss. */
  get(key: string, query: Buffer, generation: number): Buffer | undefined {
    if (generation !== this.generation) {
      this.entries.clear();
      this.generation = generation;
      return undefined;
    }
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    const qlen = questionLength(query);
    if (qlen === undefined || qlen !== hit.question.length || !sameIgnoringCase(query.subarray(HEADER, HEADER + qlen), hit.question)) return undefined;
    const out = Buffer.from(hit.reply);
    query.copy(out, 0, 0, 2);
    query.copy(out, HEADER, HEADER, HEADER + qlen);
    return out;
  }

  /** Keeps a reply when its question section is the query's (ignoring case). */
  set(key: string, query: Buffer, reply: Buffer, generation: number): void {
    if (generation !== this.generation) {
      this.entries.clear();
      this.generation = generation;
    }
    const qlen = questionLength(query);
    if (qlen === undefined || reply.length < HEADER + qlen) return;
    const question = Buffer.from(query.subarray(HEADER, HEADER + qlen));
    if (!sameIgnoringCase(reply.subarray(HEADER, HEADER + qlen), question)) return;
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { reply: Buffer.from(reply), question });
  }
}
