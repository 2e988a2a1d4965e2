/**
 * The LoadBalancer address pool (`--lb-pool`): IPv4 ranges (`192.168.1.240-192.168.1.250`) and CIDRs
 * (`192.168.1.240/28`), comma separated. Pure: parsing with clear errors, membership, and the lowest
 * free address, so the controller stays a loop over cached objects.
 */

export interface AddressRange {
  /** First and last address, as unsigned 32-bit numbers (inclusive). */
  first: number;
  last: number;
}

export interface LbPool {
  ranges: AddressRange[];
  /** The text it was parsed from, for messages. */
  text: string;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The address as an unsigned 32-bit number, or undefined when it is not a dotted IPv4 address. */
export function ipv4ToNumber(ip: string): number | undefined {
  const m = IPV4.exec(ip.trim());
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export function numberToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function parseEntry(entry: string): AddressRange {
  const slash = entry.indexOf('/');
  if (slash >= 0) {
    const base = ipv4ToNumber(entry.slice(0, slash));
    const prefixText = entry.slice(slash + 1);
    const prefix = Number(prefixText);
    if (base === undefined || !/^\d{1,2}$/.test(prefixText) || prefix > 32) throw new Error(`invalid --lb-pool entry "${entry}": expected an IPv4 CIDR such as 192.168.1.240/28`);
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    if (((base & mask) >>> 0) !== base) throw new Error(`invalid --lb-pool entry "${entry}": host bits are set (did you mean ${numberToIpv4((base & mask) >>> 0)}/${prefix}?)`);
    const last = (base | (~mask >>> 0)) >>> 0;
    // A subnet's network and broadcast addresses are never handed out (a /31 and /32 have none).
    return prefix >= 31 ? { first: base, last } : { first: base + 1, last: last - 1 };
  }
  const dash = entry.indexOf('-');
  if (dash >= 0) {
    const first = ipv4ToNumber(entry.slice(0, dash));
    const last = ipv4ToNumber(entry.slice(dash + 1));
    if (first === undefined || last === undefined) throw new Error(`invalid --lb-pool entry "${entry}": expected a range such as 192.168.1.240-192.168.1.250`);
    if (last < first) throw new Error(`invalid --lb-pool entry "${entry}": the range ends before it starts`);
    return { first, last };
  }
  const one = ipv4ToNumber(entry);
  if (one === undefined) throw new Error(`invalid --lb-pool entry "${entry}": expected an IPv4 range, CIDR or address`);
  return { first: one, last: one };
}

/** Parses `--lb-pool`; throws an error naming the bad entry, or the overlapping ones. */
export function parseLbPool(text: string): LbPool {
  const entries = text.split(',').map((e) => e.trim()).filter((e) => e !== '');
  if (entries.length === 0) throw new Error('--lb-pool is empty: give IPv4 ranges or CIDRs, e.g. 192.168.1.240-192.168.1.250');
  const ranges = entries.map(parseEntry).sort((a, b) => a.first - b.first);
  for (let i = 1; i < ranges.length; i++) {
    const prev = ranges[i - 1]!;
    const cur = ranges[i]!;
    if (cur.first <= prev.last) throw new Error(`--lb-pool entries overlap at ${numberToIpv4(cur.first)}`);
  }
  return { ranges, text: entries.join(',') };
}

export function poolContains(pool: LbPool, ip: string): boolean {
  const n = ipv4ToNumber(ip);
  return n !== undefined && pool.ranges.some((r) => n >= r.first && n <= r.last);
}

/** The lowest address of the pool not in `used`, or undefined when the pool is exhausted. */
export function firstFreeAddress(pool: LbPool, used: ReadonlySet<string>): string | undefined {
  for (const r of pool.ranges) {
    for (let n = r.first; n <= r.last; n++) {
      const ip = numberToIpv4(n);
      if (!used.has(ip)) return ip;
    }
  }
  return undefined;
}
