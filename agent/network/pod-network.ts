/**
 * The node's pod network: a bridge `cni0` holding the gateway address of the node's pod CIDR, and per
 * pod a network namespace (under /run/netns, named with this node's prefix) joined to the bridge by a
 * veth pair with hairpin on, an address from the IPAM and a default route via the bridge.
 * Forwarding and bridge-nf-call-iptables are switched on (services need both).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { log } from '../../api/log.js';
import { gatewayOf, parseCidr } from './cidr.js';
import { ip, ipBatch, sysctl } from './ip.js';
import type { Ipam } from './ipam.js';

export const BRIDGE = 'cni0';
export const NETNS_DIR = '/run/netns';

export interface PodNetworkInfo {
  netns: string;
  netnsPath: string;
  ip: string;
}

/** Host-side veth name of a pod: 15 characters at most, stable for the pod. */
export function vethName(podUid: string): string {
  return `vc${createHash('sha1').update(podUid).digest('hex').slice(0, 12)}`;
}

export class PodNetwork {
  private podCidr: string | undefined;

  constructor(private readonly netnsPrefix: string, private readonly ipam: Ipam) {}

  netnsName(podUid: string): string {
    return `${this.netnsPrefix}${podUid}`;
  }

  netnsPath(podUid: string): string {
    return `${NETNS_DIR}/${this.netnsName(podUid)}`;
  }

  get cidr(): string | undefined {
    return this.podCidr;
  }

  /** Idempotent: the bridge with the gateway address of podCidr, forwarding and bridge netfilter. */
  async setupNode(podCidr: string): Promise<void> {
    const problems = await sysctl({ 'net.ipv4.ip_forward': '1', 'net.bridge.bridge-nf-call-iptables': '1' }, ['net.bridge.bridge-nf-call-iptables']);
    for (const p of problems) log.warn('network', 'bridge netfilter is unavailable (load br_netfilter): same-node service traffic may fail', { error: p });
    const prefix = parseCidr(podCidr).prefix;
    const want = `${gatewayOf(podCidr)}/${prefix}`;
    const links = JSON.parse((await ip(['-j', 'addr', 'show', 'dev', BRIDGE], { allowFailure: /does not exist/ })) || '[]') as { addr_info?: { family?: string; local?: string; prefixlen?: number }[] }[];
    const lines: string[] = [];
    if (links.length === 0) lines.push(`link add ${BRIDGE} type bridge`);
    const have = (links[0]?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
    for (const a of have) if (a !== want) lines.push(`addr del ${a} dev ${BRIDGE}`);
    if (!have.includes(want)) lines.push(`addr add ${want} dev ${BRIDGE}`);
    lines.push(`link set ${BRIDGE} up`);
    await ipBatch(lines);
    this.ipam.setCidr(podCidr);
    this.podCidr = podCidr;
  }

  /** The pod's netns with its address; reuses what exists (agent restart), builds what is missing. */
  async ensurePod(podUid: string): Promise<PodNetworkInfo> {
    const r = await this.reservePod(podUid);
    await r.ready;
    return r.info;
  }

  /**
   * The pod's address and netns path at once (an IPAM file), with the netns itself built in the
   * background: `ready` settles when it is usable. A pod start overlaps it with preparing the
   * container (image mount, spec) and waits for it only right before the task starts.
   */
  async reservePod(podUid: string): Promise<{ info: PodNetworkInfo; ready: Promise<void> }> {
    if (!this.podCidr) throw new Error('the node has no pod CIDR yet');
    const podCidr = this.podCidr;
    const netns = this.netnsName(podUid);
    const netnsPath = this.netnsPath(podUid);
    const address = await this.ipam.allocate(podUid);
    const info = { netns, netnsPath, ip: address };
    const ready = (async () => {
      if (existsSync(netnsPath) && (await this.podIp(podUid)) === address) return;
      await this.buildPodNetns(podUid, netns, address, podCidr);
    })();
    ready.catch(() => undefined); // observed by the caller; never an unhandled rejection
    return { info, ready };
  }

  private async buildPodNetns(podUid: string, netns: string, address: string, podCidr: string): Promise<void> {
    const netnsPath = this.netnsPath(podUid);
    if (existsSync(netnsPath)) await ip(['netns', 'del', netns], { allowFailure: /No such file/ });
    const veth = vethName(podUid);
    const prefix = parseCidr(podCidr).prefix;
    await ip(['netns', 'add', netns]);
    try {
      await ipBatch([
        `link add ${veth} type veth peer name eth0 netns ${netns}`,
        `link set ${veth} master ${BRIDGE}`,
        `link set ${veth} type bridge_slave hairpin on`,
        `link set ${veth} up`,
      ]);
      await ipBatch([
        'link set lo up',
        `addr add ${address}/${prefix} dev eth0`,
        'link set eth0 up',
        `route add default via ${gatewayOf(podCidr)}`,
      ], { netns });
    } catch (err) {
      await ip(['netns', 'del', netns], { allowFailure: /.*/ });
      throw err;
    }
  }

  /** The IPv4 address on eth0 of the pod's netns, if the netns exists. */
  async podIp(podUid: string): Promise<string | undefined> {
    if (!existsSync(this.netnsPath(podUid))) return undefined;
    const out = await ip(['-n', this.netnsName(podUid), '-j', '-4', 'addr', 'show', 'dev', 'eth0'], { allowFailure: /.*/ });
    const links = JSON.parse(out || '[]') as { addr_info?: { local?: string }[] }[];
    return links[0]?.addr_info?.[0]?.local;
  }

  /** Deletes the netns (which takes the veth pair with it) and frees the address. */
  async removePod(podUid: string): Promise<void> {
    if (existsSync(this.netnsPath(podUid))) await ip(['netns', 'del', this.netnsName(podUid)], { allowFailure: /No such file/ });
    await this.ipam.release(podUid);
  }

  /** Pod UIDs that have a netns of this node (to find leftovers). */
  listPodUids(): string[] {
    if (!existsSync(NETNS_DIR)) return [];
    return readdirSync(NETNS_DIR).filter((n) => n.startsWith(this.netnsPrefix)).map((n) => n.slice(this.netnsPrefix.length));
  }
}
