/**
 * A LoadBalancer pool address on the node's LAN interface, so the kernel answers ARP for it.
 *
 * The address is added as a /32 with a label (`<iface>:lb`) that marks it as corral's, and with a
 * lifetime (`valid_lft`) equal to the lease: the holder refreshes it at every renewal, so if the agent
 * dies the kernel itself removes the address when the lease runs out — the node stops answering at the
 * moment another node may take over. Gratuitous ARP (iputils `arping -U`) tells the LAN's caches the
 * new MAC on takeover. arp_ignore=1 / arp_announce=2 on the interface keep the node from answering
 * ARP for addresses configured elsewhere on it or using them as ARP sources.
 */
import { runCommand } from '../../api/run-command.js';
import { ip, sysctl } from './ip.js';

/** The interface that carries the node's own address (the LAN); throws when none does. */
export async function interfaceWithAddress(nodeIp: string): Promise<string> {
  const links = JSON.parse((await ip(['-j', '-4', 'addr', 'show'])) || '[]') as { ifname?: string; addr_info?: { local?: string }[] }[];
  const link = links.find((l) => (l.addr_info ?? []).some((a) => a.local === nodeIp));
  if (!link?.ifname) throw new Error(`no interface holds the node IP ${nodeIp}`);
  return link.ifname;
}

/** The address label marking corral's LB addresses (undefined when the interface name is too long for one). */
export function lbAddressLabel(iface: string): string | undefined {
  const label = `${iface}:lb`;
  return label.length <= 15 ? label : undefined;
}

/** The /32 addresses corral added to the interface (by their label). */
export async function listLbAddresses(iface: string): Promise<string[]> {
  const label = lbAddressLabel(iface);
  if (!label) return [];
  const links = JSON.parse((await ip(['-j', '-4', 'addr', 'show', 'dev', iface])) || '[]') as { addr_info?: { local?: string; prefixlen?: number; label?: string }[] }[];
  return links.flatMap((l) => l.addr_info ?? []).filter((a) => a.label === label && a.prefixlen === 32 && a.local).map((a) => a.local!);
}

/** Adds the address, or refreshes its lifetime when it is there (`ip addr replace`). */
export async function holdAddress(iface: string, address: string, lifetimeSeconds: number): Promise<void> {
  const label = lbAddressLabel(iface);
  const lft = String(Math.max(1, Math.round(lifetimeSeconds)));
  await ip(['addr', 'replace', `${address}/32`, 'dev', iface, ...(label ? ['label', label] : []), 'valid_lft', lft, 'preferred_lft', lft]);
}

/** Removes the address; one already gone is fine. */
export async function dropAddress(iface: string, address: string): Promise<void> {
  await ip(['addr', 'del', `${address}/32`, 'dev', iface], { allowFailure: /Cannot assign requested address|No such|not found/i });
}

/** Makes the interface answer ARP only for its own addresses and announce with the best source. */
export async function setArpSysctls(iface: string): Promise<string[]> {
  const keys = { [`net.ipv4.conf.${iface}.arp_ignore`]: '1', [`net.ipv4.conf.${iface}.arp_announce`]: '2' };
  return sysctl(keys, Object.keys(keys));
}

/**
 * Gratuitous ARP for a held address (iputils arping: unsolicited mode, two announcements one second
 * apart). Returns an error message, or undefined when it was sent.
 */
export async function sendGratuitousArp(iface: string, address: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const r = await runCommand('arping', ['-q', '-U', '-c', '2', '-I', iface, address], { timeoutMs: 5_000, signal });
    return r.code === 0 ? undefined : r.stderr.trim() || `arping exited ${String(r.code ?? r.signal)}`;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'arping is not installed (Debian package iputils-arping)' : (err as Error).message;
  }
}

/** Uninstall: removes every LB address corral added, on any interface. Returns how many. */
export async function removeAllLbAddresses(): Promise<number> {
  const links = JSON.parse((await ip(['-j', '-4', 'addr', 'show'])) || '[]') as { ifname?: string; addr_info?: { local?: string; prefixlen?: number; label?: string }[] }[];
  let removed = 0;
  for (const l of links) {
    if (!l.ifname) continue;
    for (const a of l.addr_info ?? []) {
      if (a.label !== lbAddressLabel(l.ifname) || a.prefixlen !== 32 || !a.local) continue;
      await dropAddress(l.ifname, a.local);
      removed++;
    }
  }
  return removed;
}
