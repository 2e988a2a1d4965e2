/**
 * The address the API server tells in-cluster clients to use (the `kubernetes` Service's endpoint),
 * chosen as upstream's --advertise-address default: the explicit setting, else a specific
 * --bind-address, else the IPv4 address of the interface holding the default route (read from
 * /proc/net/route and os.networkInterfaces(), no child process). Loopback is the last resort: it
 * reaches the server only from its own node.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

const UNSPECIFIED = new Set(['0.0.0.0', '::', '']);

/** The interface of the IPv4 default route, from /proc/net/route's text. */
export function defaultRouteInterface(procNetRoute: string): string | undefined {
  for (const line of procNetRoute.split('\n').slice(1)) {
    const [iface, destination, , , , , , mask] = line.trim().split(/\s+/);
    if (iface && destination === '00000000' && mask === '00000000') return iface;
  }
  return undefined;
}

export function advertiseAddress(o: { advertiseAddress?: string | undefined; nodeIp?: string | undefined; bindAddress: string }): string {
  if (o.advertiseAddress) return o.advertiseAddress;
  if (o.nodeIp) return o.nodeIp;
  if (!UNSPECIFIED.has(o.bindAddress)) return o.bindAddress;
  let iface: string | undefined;
  try {
    iface = defaultRouteInterface(readFileSync('/proc/net/route', 'utf8'));
  } catch {
    iface = undefined;
  }
  const all = networkInterfaces();
  const candidates = iface ? [iface] : Object.keys(all).filter((n) => n !== 'cni0' && !n.startsWith('veth'));
  for (const name of candidates) {
    const v4 = (all[name] ?? []).find((a) => a.family === 'IPv4' && !a.internal);
    if (v4) return v4.address;
  }
  return '127.0.0.1';
}
