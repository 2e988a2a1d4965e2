/**
 * What `corral join` learns about a host before changing anything: one POSIX sh script run over SSH
 * that prints `key=value` lines, and its parser. Everything the preflight judges comes from here, so the
 * verdicts can be tested against sample outputs of real machines.
 */

/** Paths corral owns on a node. The lab's per-node views cover exactly these directories. */
export const NODE_PATHS = {
  libDir: '/usr/local/lib/corral',
  bundle: '/usr/local/lib/corral/corral-agent.cjs',
  /** The bundle's name before it was CommonJS: removed once an agent of the new one has started. */
  legacyBundle: '/usr/local/lib/corral/corral-agent.mjs',
  configDir: '/etc/corral',
  config: '/etc/corral/agent.json',
  token: '/etc/corral/node-token',
  caFile: '/etc/corral/server-ca.crt',
  /** The node's identity secret; kept across re-joins and reinstalls of the agent. */
  nodePassword: '/etc/corral/node-password',
  dataDir: '/var/lib/corral',
  runDir: '/var/lib/corral/run',
  logFile: '/var/lib/corral/agent.log',
} as const;

/**
 * The probe script. `$1` is the login's $SSH_CONNECTION (`client-ip client-port server-ip server-port`):
 * the address the installer connects from, which is the server's address as this host sees it when
 * `corral join` runs on the server machine; node_ip is this host's source address towards it.
 */
export const PROBE_SCRIPT = `
p() { printf '%s=%s\\n' "$1" "$2"; }
has() { command -v "$1" >/dev/null 2>&1 && p "has_$1" 1 || p "has_$1" 0; }
p kernel "$(uname -s)"
p uname_m "$(uname -m)"
p long_bit "$(getconf LONG_BIT 2>/dev/null)"
p dpkg_arch "$(dpkg --print-architecture 2>/dev/null)"
if [ -r /etc/os-release ]; then . /etc/os-release; p os_id "$ID"; p os_like "$ID_LIKE"; p os_version "$VERSION_ID"; p os_name "$PRETTY_NAME"; fi
p board "$( (tr -d '\\000' < /proc/device-tree/model || cat /sys/class/dmi/id/product_name) 2>/dev/null | head -n 1)"
p node_version "$(node --version 2>/dev/null)"
p node_arch "$(node -p process.arch 2>/dev/null)"
p node_path "$(command -v node 2>/dev/null)"
for b in containerd ctr runc iptables iptables-restore ip apt-get systemctl sudo sha256sum setsid; do has "$b"; done
p iptables_version "$(iptables -V 2>/dev/null)"
p iptables_legacy_rules "$(iptables-legacy-save 2>/dev/null | grep -c '^-A')"
p iptables_nft_rules "$(iptables-nft-save 2>/dev/null | grep -c '^-A')"
p cgroup2 "$([ -f /sys/fs/cgroup/cgroup.controllers ] && cat /sys/fs/cgroup/cgroup.controllers)"
p cgroup_memory "$(awk '$1 == "memory" { print $4 }' /proc/cgroups 2>/dev/null)"
p cmdline "$(cat /proc/cmdline 2>/dev/null)"
p cmdline_file "$(for f in /boot/firmware/cmdline.txt /boot/cmdline.txt; do [ -f "$f" ] && { echo "$f"; break; }; done)"
p disk_free_kb "$(df -Pk ${NODE_PATHS.dataDir} 2>/dev/null | awk 'NR == 2 { print $4 }')"
p mem_total_kb "$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
p hostname "$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)"
p uid "$(id -u)"
p sudo_nopasswd "$(sudo -n true 2>/dev/null && echo 1 || echo 0)"
p systemd "$([ -d /run/systemd/system ] && echo 1 || echo 0)"
p ssh_client "\${1%% *}"
p ssh_server "$(echo "$1" | cut -d' ' -f3)"
p node_ip "$(ip -4 -o route get "\${1%% *}" 2>/dev/null | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p')"
p installed_sha256 "$(sha256sum ${NODE_PATHS.bundle} 2>/dev/null | cut -d' ' -f1)"
p node_password_sha256 "$(sha256sum ${NODE_PATHS.nodePassword} 2>/dev/null | cut -d' ' -f1)"
p now "$(date +%s)"
`;

export type ProbeFacts = Record<string, string>;

export function parseProbeOutput(text: string): ProbeFacts {
  const facts: ProbeFacts = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    facts[line.slice(0, eq)] = line.slice(eq + 1).trim();
  }
  return facts;
}
