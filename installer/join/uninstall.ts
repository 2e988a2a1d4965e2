/**
 * `corral uninstall HOST`: stop the agent, then remove everything it made — containers in containerd's
 * k8s.io namespace, pod network namespaces with the node's prefix, corral's iptables chains (in
 * whichever backends have them), the pod bridge and host-gw routes, its files and its service — and
 * delete the Node. Leaves what it did not make (containerd itself, other iptables rules) alone.
 */
import type { ApiClient } from '../../api/client/client.js';
import { serviceRemoveCommand } from '../service-files.js';
import { AGENT_SERVICE } from '../agent-service.js';
import { NODE_PATHS } from './probe.js';
import type { SshSession } from './ssh.js';

/**
 * The cleanup script. Reads the node name, netns prefix and cluster CIDR from the agent's config, so it
 * removes only this agent's pods' namespaces. Prints `node=<name>` for the caller.
 */
export function uninstallScript(): string {
  const cfg = NODE_PATHS.config;
  return `
set -u
cfgval() { sed -n "s/^ *\\"$1\\": *\\"\\([^\\"]*\\)\\".*/\\1/p" ${cfg} 2>/dev/null | head -n 1; }
node=$(cfgval nodeName); prefix=$(cfgval netnsPrefix); cidr=$(cfgval clusterCidr)
[ -n "$node" ] || node=$(hostname)
[ -n "$prefix" ] || prefix="corral-$node-"
[ -n "$cidr" ] || cidr=10.42.0.0/16
echo "node=$node"
${serviceRemoveCommand(AGENT_SERVICE, NODE_PATHS.libDir)}
if command -v ctr >/dev/null 2>&1; then
  for c in $(ctr -n k8s.io containers ls -q 2>/dev/null); do
    ctr -n k8s.io tasks kill -s SIGKILL "$c" >/dev/null 2>&1
    i=0; while ctr -n k8s.io tasks ls -q 2>/dev/null | grep -qx "$c" && [ $i -lt 20 ]; do ctr -n k8s.io tasks rm -f "$c" >/dev/null 2>&1 && break; sleep 0.2; i=$((i + 1)); done
    ctr -n k8s.io containers rm "$c" >/dev/null 2>&1
  done
fi
for n in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
  case "$n" in "$prefix"*) ip netns delete "$n" ;; esac
done
for v in "" -legacy -nft; do
  command -v "iptables$v-save" >/dev/null 2>&1 || continue
  for t in nat filter mangle; do
    rules=$("iptables$v-save" -t "$t" 2>/dev/null) || continue
    echo "$rules" | grep -q 'CORRAL-' || continue
    # Jumps from built-in chains first, then flush and delete corral's own chains.
    echo "$rules" | grep -E '^-A (PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) .*-j CORRAL-' | sed 's/^-A /-D /' |
      while read -r rule; do eval "iptables$v -t $t $rule"; done
    chains=$(echo "$rules" | sed -n 's/^:\\(CORRAL-[^ ]*\\) .*/\\1/p')
    for ch in $chains; do "iptables$v" -t "$t" -F "$ch"; done
    for ch in $chains; do "iptables$v" -t "$t" -X "$ch"; done
  done
done
# Container root filesystems the agent mounted under its data dir, deepest first.
awk -v d="${NODE_PATHS.dataDir}/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
  while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
ip link show cni0 >/dev/null 2>&1 && ip link delete cni0
base=\${cidr%%.0.0/*}
ip -4 route show 2>/dev/null | awk -v b="$base." 'index($1, b) == 1 { print $1 }' | while read -r r; do ip route delete "$r" 2>/dev/null; done
if [ -d ${NODE_PATHS.dataDir}/server ]; then
  # A server machine: remove only the agent's files, never the server's data or installation.
  rm -rf ${NODE_PATHS.bundle} ${NODE_PATHS.legacyBundle} ${NODE_PATHS.config} ${NODE_PATHS.token} ${NODE_PATHS.caFile} ${NODE_PATHS.nodePassword} ${NODE_PATHS.dataDir}/agent ${NODE_PATHS.logFile}*
else
  for d in ${NODE_PATHS.libDir} ${NODE_PATHS.configDir} ${NODE_PATHS.dataDir}; do
    # The directories may be mount points: empty them, then remove them where possible.
    [ -d "$d" ] && find "$d" -mindepth 1 -delete 2>/dev/null; rmdir "$d" 2>/dev/null
  done
fi
true
`;
}

/** Runs the cleanup on the host and deletes its Node; returns the node name. */
export async function uninstallHost(session: SshSession, api: ApiClient | undefined): Promise<string> {
  const out = await session.runOk('uninstalling', uninstallScript(), { timeoutMs: 120_000 });
  const node = /^node=(.*)$/m.exec(out)?.[1]?.trim();
  if (!node) throw new Error('uninstall script did not report the node name');
  if (api) await api.deleteIfExists('Node', undefined, node);
  return node;
}
