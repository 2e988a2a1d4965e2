/** IPv4 CIDR arithmetic for pod networks (pure). */

export interface Ipv4Cidr {
  /** Network address as a 32-bit unsigned number. */
  base: number;
  prefix: number;
}

export function ipToNumber(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`invalid IPv4 address ${ip}`);
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export function numberToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseCidr(cidr: string): Ipv4Cidr {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr.trim());
  if (!m) throw new Error(`invalid IPv4 CIDR ${cidr}`);
  const prefix = Number(m[2]);
  if (prefix < 0 || prefix > 32) throw new Error(`invalid prefix length in ${cidr}`);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { base: (ipToNumber(m[1]!) & mask) >>> 0, prefix };
}

export function cidrSize(c: Ipv4Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function cidrContains(c: Ipv4Cidr, ip: string): boolean {
  const n = ipToNumber(ip);
  return n >= c.base && n < c.base + cidrSize(c);
}

export function formatCidr(c: Ipv4Cidr): string {
  return `${numberToIp(c.base)}/${c.prefix}`;
}

/** The bridge's own address: the first host address of the pod CIDR. */
export function gatewayOf(podCidr: string): string {
  return numberToIp(parseCidr(podCidr).base + 1);
}

/** Pod addresses: every host address but the network, the gateway and broadcast. */
export function podAddresses(podCidr: string): string[] {
  const c = parseCidr(podCidr);
  const out: string[] = [];
  for (let i = 2; i < cidrSize(c) - 1; i++) out.push(numberToIp(c.base + i));
  return out;
}

/**
 * The index-th subnet of `size` prefix inside `parent` (10.42.0.0/16, 24, 3 → 10.42.3.0/24);
 * undefined when the parent has no such subnet.
 */
export function subnetAt(parent: string, size: number, index: number): string | undefined {
  const p = parseCidr(parent);
  if (size < p.prefix || size > 32) return undefined;
  const count = 2 ** (size - p.prefix);
  if (index < 0 || index >= count) return undefined;
  return formatCidr({ base: (p.base + index * 2 ** (32 - size)) >>> 0, prefix: size });
}
