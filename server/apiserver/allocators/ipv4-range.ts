/** IPv4 CIDR arithmetic for the service range: address ↔ offset inside the CIDR. */

export function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255 || (p.length > 1 && p.startsWith('0'))) return undefined;
    n = n * 256 + v;
  }
  return n;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * The usable addresses of a CIDR as offsets 0..size-1: the network address and (for ranges
 * larger than /31) the broadcast address are excluded, as Kubernetes does. Offset 0 is the first
 * usable address (10.43.0.1 in 10.43.0.0/16), which belongs to the `kubernetes` service.
 */
export class IPv4Range {
  readonly base: number;
  readonly size: number;
  private readonly first: number;

  constructor(readonly cidr: string) {
    const m = /^(\S+)\/(\d{1,2})$/.exec(cidr.trim());
    const addr = m ? parseIPv4(m[1]!) : undefined;
    const bits = m ? Number(m[2]) : NaN;
    if (addr === undefined || !(bits >= 8 && bits <= 30)) throw new Error(`invalid service CIDR "${cidr}" (expected an IPv4 range between /8 and /30)`);
    const hostBits = 32 - bits;
    this.base = (addr >>> hostBits) * 2 ** hostBits;
    this.first = this.base + 1;
    this.size = 2 ** hostBits - 2;
  }

  /** Offset of an address, or undefined when it is not a usable address of the range. */
  offsetOf(ip: string): number | undefined {
    const n = parseIPv4(ip);
    if (n === undefined) return undefined;
    const off = n - this.first;
    return off >= 0 && off < this.size ? off : undefined;
  }

  addressAt(offset: number): string {
    return formatIPv4(this.first + offset);
  }
}
