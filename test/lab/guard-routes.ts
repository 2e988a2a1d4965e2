/**
 * Guard routes: `unreachable` routes in the ROOT network namespace for every range the lab uses, so a
 * command that by mistake runs outside the lab (a client in the wrong namespace) gets "no route" instead
 * of sending the packet to the machine's default gateway. They are the first thing a lab adds and the
 * last thing it removes.
 */
import { exec, execOk } from './exec.js';

interface RouteJson { dst?: string; type?: string }

/** A parsed IPv4 CIDR: network address as a 32-bit number and prefix length. */
interface Cidr { base: number; bits: number }

function parseIpv4(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: ${ip}`);
  return parts.reduce((acc, p) => acc * 256 + p, 0);
}

export function parseCidr(cidr: string): Cidr {
  const [ip, len] = cidr.split('/');
  const bits = len === undefined ? 32 : Number(len);
  if (ip === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) throw new Error(`not an IPv4 CIDR: ${cidr}`);
  const size = 2 ** (32 - bits);
  return { base: Math.floor(parseIpv4(ip) / size) * size, bits };
}

/** True when the two ranges share at least one address. */
export function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  const bits = Math.min(x.bits, y.bits);
  const size = 2 ** (32 - bits);
  return Math.floor(x.base / size) === Math.floor(y.base / size);
}

async function mainRoutes(): Promise<RouteJson[]> {
  return JSON.parse(await execOk(['ip', '-j', '-4', 'route', 'show', 'table', 'main'])) as RouteJson[];
}

/** The destinations of the root namespace's `unreachable` routes. */
export async function listGuardRoutes(): Promise<string[]> {
  return (await mainRoutes()).filter((r) => r.type === 'unreachable' && r.dst !== undefined).map((r) => r.dst!);
}

/**
 * Which of these ranges still need a guard route. Refuses (throws) when the machine already routes part
 * of a range somewhere real: the lab would then shadow or be shadowed by a real network, and replacing
 * the route would break the machine's own connectivity.
 */
export async function missingGuardRoutes(cidrs: readonly string[]): Promise<string[]> {
  const routes = await mainRoutes();
  for (const cidr of cidrs) {
    const clash = routes.find((r) => r.dst !== undefined && r.dst !== 'default' && r.type !== 'unreachable' && cidrsOverlap(r.dst, cidr));
    if (clash) throw new Error(`lab range ${cidr} overlaps the real route ${clash.dst} of this machine; choose another range`);
  }
  const guarded = new Set(routes.filter((r) => r.type === 'unreachable').map((r) => r.dst));
  return cidrs.filter((c) => !guarded.has(c));
}

/** Adds an unreachable route for each range (callers first check with missingGuardRoutes). */
export async function addGuardRoutes(cidrs: readonly string[]): Promise<void> {
  for (const cidr of cidrs) await execOk(['ip', 'route', 'replace', 'unreachable', cidr]);
}

/** Removes the unreachable routes for these ranges; ranges without one are ignored. */
export async function removeGuardRoutes(cidrs: readonly string[]): Promise<void> {
  const present = new Set(await listGuardRoutes());
  for (const cidr of cidrs) {
    if (!present.has(cidr)) continue;
    const r = await exec(['ip', 'route', 'del', 'unreachable', cidr]);
    if (r.code !== 0) throw new Error(`cannot remove guard route ${cidr}: ${r.stderr.trim()}`);
  }
}
