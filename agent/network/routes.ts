/**
 * host-gw routing: every other node's pod CIDR via that node's InternalIP, plus a route for the
 * service range so the node itself can open connections to ClusterIPs (they are DNAT-ed in OUTPUT).
 * Every route corral writes carries its own routing protocol number, so the agent finds, changes and
 * removes exactly its own routes and never anybody else's.
 */
import { ip } from './ip.js';
import { BRIDGE } from './pod-network.js';

/** The `proto` of corral's routes (an unassigned number in /etc/iproute2/rt_protos). */
export const ROUTE_PROTO = '193';

export interface PeerRoute {
  /** The other node's pod CIDR. */
  cidr: string;
  /** The other node's InternalIP. */
  via: string;
}

export interface RouteSyncResult { added: number; removed: number }

interface IpRoute { dst?: string; gateway?: string; dev?: string }

export async function listCorralRoutes(): Promise<IpRoute[]> {
  return JSON.parse((await ip(['-j', '-4', 'route', 'show', 'proto', ROUTE_PROTO])) || '[]') as IpRoute[];
}

/** Makes corral's routes exactly `peers` plus the service-range route. */
export async function syncRoutes(peers: readonly PeerRoute[], serviceCidr: string): Promise<RouteSyncResult> {
  const existing = await listCorralRoutes();
  const want = new Map<string, string>();
  for (const p of peers) want.set(p.cidr, `via ${p.via}`);
  want.set(serviceCidr, `dev ${BRIDGE}`);
  const have = new Map(existing.map((r) => [r.dst ?? '', r.gateway ? `via ${r.gateway}` : `dev ${r.dev ?? ''}`]));
  let added = 0;
  let removed = 0;
  for (const [dst, how] of have) {
    if (want.get(dst) === how) continue;
    if (!want.has(dst)) {
      await ip(['route', 'del', dst, 'proto', ROUTE_PROTO], { allowFailure: /No such process/ });
      removed++;
    }
  }
  for (const [dst, how] of want) {
    if (have.get(dst) === how) continue;
    await ip(['route', 'replace', dst, ...how.split(' '), 'proto', ROUTE_PROTO]);
    added++;
  }
  return { added, removed };
}

/** Uninstall: removes every route corral added. */
export async function removeCorralRoutes(): Promise<void> {
  for (const r of await listCorralRoutes()) {
    if (r.dst) await ip(['route', 'del', r.dst, 'proto', ROUTE_PROTO], { allowFailure: /No such process/ });
  }
}
