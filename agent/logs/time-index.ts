/**
 * When was each log line written? containerd's file log (`ctr run --log-uri file://…`) stores the
 * raw bytes only, and a per-line timestamping step would need a long-lived process per container
 * (ctr's `binary://` log driver), too costly on a Pi. So the agent keeps a time index beside every
 * log file instead: `<log>.idx`, one line `<byteSize> <unixMillis>` appended whenever it sees the
 * file has grown (sampled every second by the LogKeeper). A log line ending at byte offset E was
 * written no later than the first sample whose size is ≥ E, and after the sample before it, so its
 * time is known to within one sampling period: what `sinceSeconds`, `sinceTime` and `timestamps`
 * use. Lines written after the last sample get the file's modification time (exact for the newest
 * line). Pure functions here; the LogKeeper does the I/O.
 */

export interface IndexEntry {
  /** File size in bytes when the sample was taken. */
  size: number;
  /** Unix time of the sample, ms. */
  at: number;
}

export interface TimedLine {
  /** The line with its newline (the last line of a file may lack one). */
  text: string;
  /** Upper bound of when it was written, ms. */
  at: number;
}

export function indexPath(logFile: string): string {
  return `${logFile}.idx`;
}

export function formatIndexEntry(e: IndexEntry): string {
  return `${e.size} ${e.at}\n`;
}

/** Parses an index file; malformed lines (a torn write) are skipped. Sorted by size. */
export function parseIndex(text: string): IndexEntry[] {
  const out: IndexEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+) (\d+)$/.exec(line.trim());
    if (m) out.push({ size: Number(m[1]), at: Number(m[2]) });
  }
  return out.sort((a, b) => a.size - b.size || a.at - b.at);
}

/**
 * Splits a log file's content into lines and gives each the time of the first index sample that
 * covers its end; lines past the last sample get `fallbackAt` (the file's mtime).
 */
export function timeLines(content: Buffer, index: readonly IndexEntry[], fallbackAt: number): TimedLine[] {
  const lines: TimedLine[] = [];
  let start = 0;
  let k = 0;
  while (start < content.length) {
    const nl = content.indexOf(0x0a, start);
    const end = nl < 0 ? content.length : nl + 1;
    while (k < index.length && index[k]!.size < end) k++;
    lines.push({ text: content.subarray(start, end).toString('utf8'), at: k < index.length ? index[k]!.at : fallbackAt });
    start = end;
  }
  return lines;
}

/** Lines written at or after `sinceMs` (kubelet's sinceSeconds / sinceTime). */
export function linesSince(lines: readonly TimedLine[], sinceMs: number | undefined): TimedLine[] {
  if (sinceMs === undefined) return [...lines];
  return lines.filter((l) => l.at >= sinceMs);
}

/**
 * The cut-off of a logs request: `sinceTime` (RFC 3339) or `sinceSeconds` before `now`; undefined
 * when neither is given. Throws on a malformed value (the caller answers 400).
 */
export function sinceCutoff(q: { sinceSeconds?: string | null | undefined; sinceTime?: string | null | undefined }, now: number): number | undefined {
  if (q.sinceTime) {
    const t = Date.parse(q.sinceTime);
    if (Number.isNaN(t)) throw new Error(`invalid sinceTime "${q.sinceTime}": use RFC 3339`);
    return t;
  }
  if (q.sinceSeconds !== undefined && q.sinceSeconds !== null && q.sinceSeconds !== '') {
    const s = Number(q.sinceSeconds);
    if (!Number.isInteger(s) || s <= 0) throw new Error(`invalid sinceSeconds "${q.sinceSeconds}": must be a positive integer`);
    return now - s * 1000;
  }
  return undefined;
}
