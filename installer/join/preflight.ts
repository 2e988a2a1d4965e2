/**
 * Preflight verdicts: pure judgements over the probe's facts (and what the server knows), each failure
 * with the fix a person can apply. A `fail` stops the join of that host before anything is changed.
 */
import type { ProbeFacts } from './probe.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  id: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

/** What the server side knows, for the checks that compare a host with the cluster. */
export interface ClusterView {
  /** The Node that already has this host's name, if any. */
  existingNode?: { name: string; internalIp?: string; ready: boolean; passwordSha256?: string };
  /** The server's clock (seconds since the epoch) when the probe ran. */
  localNow: number;
  /** Name the node will register under (default: the host's hostname). */
  nodeName: string;
}

export interface PreflightOptions {
  sudo: boolean;
  installDeps: boolean;
}

/** Userland architectures corral ships for (Node.js ≥ 20 exists for these), as Node.js names them. */
const USERLAND_TO_NODE: Record<string, string> = { amd64: 'x64', arm64: 'arm64', armhf: 'arm' };
const MIN_NODE_MAJOR = 20;
const MIN_DISK_KB = 1024 * 1024;
const WARN_DISK_KB = 3 * 1024 * 1024;
const MAX_SKEW_S = 30;
const WARN_SKEW_S = 3;

const ok = (id: string, detail: string): CheckResult => ({ id, status: 'ok', detail });
const warn = (id: string, detail: string, fix?: string): CheckResult => ({ id, status: 'warn', detail, ...(fix ? { fix } : {}) });
const fail = (id: string, detail: string, fix: string): CheckResult => ({ id, status: 'fail', detail, fix });

/**
 * The userland architecture (what binaries must be built for), which is not `uname -m`: a Raspberry Pi
 * with a 64-bit kernel and 32-bit Raspberry Pi OS reports aarch64 but runs armhf programs.
 */
export function userlandArch(f: ProbeFacts): string | undefined {
  if (f['dpkg_arch']) return f['dpkg_arch'];
  const m = f['uname_m'];
  const bits = f['long_bit'];
  if (m === 'x86_64') return bits === '32' ? 'i386' : 'amd64';
  if (m === 'aarch64' || m === 'arm64') return bits === '32' ? 'armhf' : 'arm64';
  if (m?.startsWith('armv7') || m?.startsWith('armv8l')) return 'armhf';
  if (m?.startsWith('armv6')) return 'armel';
  return m || undefined;
}

function isRaspberryPi(f: ProbeFacts): boolean {
  return /raspberry pi/i.test(f['board'] ?? '') || f['os_id'] === 'raspbian' || (f['cmdline_file'] ?? '') !== '';
}

function isDebianLike(f: ProbeFacts): boolean {
  return ['debian', 'raspbian', 'ubuntu'].includes(f['os_id'] ?? '') || /debian|ubuntu/.test(f['os_like'] ?? '');
}

function checkPrivileges(f: ProbeFacts, o: PreflightOptions): CheckResult {
  if (f['uid'] === '0') return ok('privileges', 'connected as root');
  if (!o.sudo) return fail('privileges', `connected as uid ${f['uid'] ?? '?'}, and installing needs root`, 're-run with --sudo, or connect as root@host');
  if (f['has_sudo'] !== '1') return fail('privileges', 'sudo is not installed', 'install sudo on the host (apt-get install sudo) or connect as root@host');
  if (f['sudo_nopasswd'] !== '1') {
    return fail('privileges', 'sudo needs a password on this host, and corral join runs non-interactively',
      'allow it without a password for this user (echo "USER ALL=(ALL) NOPASSWD:ALL" > /etc/sudoers.d/corral, as root) or connect as root@host');
  }
  return ok('privileges', 'sudo without a password');
}

function checkOs(f: ProbeFacts): CheckResult {
  if (f['kernel'] !== 'Linux') return fail('os', `kernel is ${f['kernel'] || 'unknown'}`, 'corral nodes must run Linux (Debian, Raspberry Pi OS or Ubuntu)');
  const name = f['os_name'] || f['os_id'] || 'unknown Linux';
  if (isDebianLike(f)) return ok('os', name);
  return warn('os', `${name} is untested`, 'Debian 12+, Raspberry Pi OS or Ubuntu 22.04+ are supported; --install-deps needs apt-get');
}

function checkArch(f: ProbeFacts): CheckResult {
  const arch = userlandArch(f);
  const nodeArch = arch ? USERLAND_TO_NODE[arch] : undefined;
  if (!arch || !nodeArch) {
    return fail('arch', `userland architecture ${arch ?? 'unknown'} (kernel ${f['uname_m'] ?? '?'})`,
      'corral needs a 64-bit x86 (amd64), arm64 or 32-bit armhf (ARMv7) userland; a Raspberry Pi Zero/1 (armv6) is not supported');
  }
  const mixed = (f['uname_m'] === 'aarch64' && arch === 'armhf') ? ' (32-bit userland on a 64-bit kernel: using 32-bit binaries)' : '';
  if (f['node_arch'] && f['node_arch'] !== nodeArch) {
    return fail('arch', `userland is ${arch}, but the installed Node.js is built for ${f['node_arch']}${mixed}`,
      `install the ${arch} Node.js package (apt-get install nodejs:${arch})`);
  }
  return ok('arch', `${arch}${mixed}`);
}

export function nodeMajor(version: string | undefined): number | undefined {
  const m = /^v?(\d+)\./.exec(version ?? '');
  return m ? Number(m[1]) : undefined;
}

function checkNode(f: ProbeFacts, o: PreflightOptions): CheckResult {
  const major = nodeMajor(f['node_version']);
  if (major !== undefined && major >= MIN_NODE_MAJOR) return ok('nodejs', `Node.js ${f['node_version']}`);
  const have = major === undefined ? 'Node.js is not installed' : `Node.js ${f['node_version']} is too old`;
  if (o.installDeps && f['has_apt-get'] === '1') return warn('nodejs', `${have}; will install it with apt-get (--install-deps)`);
  return fail('nodejs', `${have} (corral's agent needs Node.js ≥ ${MIN_NODE_MAJOR})`,
    f['has_apt-get'] === '1'
      ? 're-run with --install-deps (apt-get install nodejs; Debian 12 ships 18, so use Debian 13, Ubuntu 24.04 or a Node.js 20+ package source)'
      : `install Node.js ≥ ${MIN_NODE_MAJOR} on the host`);
}

/** Debian packages providing each required program. */
const REQUIRED: [string, string][] = [['containerd', 'containerd'], ['ctr', 'containerd'], ['runc', 'runc'], ['iptables', 'iptables'], ['iptables-restore', 'iptables'], ['ip', 'iproute2']];

/** Packages `--install-deps` would install on this host. */
export function missingPackages(f: ProbeFacts): string[] {
  const pkgs = new Set<string>();
  for (const [bin, pkg] of REQUIRED) if (f[`has_${bin}`] !== '1') pkgs.add(pkg);
  const major = nodeMajor(f['node_version']);
  if (major === undefined || major < MIN_NODE_MAJOR) pkgs.add('nodejs');
  return [...pkgs];
}

function checkRuntime(f: ProbeFacts, o: PreflightOptions): CheckResult {
  const missing = REQUIRED.filter(([bin]) => f[`has_${bin}`] !== '1');
  if (missing.length === 0) return ok('runtime', 'containerd, ctr, runc, iptables, ip present');
  const bins = missing.map(([b]) => b).join(', ');
  const pkgs = [...new Set(missing.map(([, p]) => p))].join(' ');
  if (o.installDeps && f['has_apt-get'] === '1') return warn('runtime', `missing ${bins}; will install ${pkgs} (--install-deps)`);
  return fail('runtime', `missing ${bins}`, `apt-get install ${pkgs} on the host, or re-run with --install-deps`);
}

function checkMemoryCgroup(f: ProbeFacts): CheckResult {
  const v2 = f['cgroup2'];
  const enabled = v2 ? v2.split(/\s+/).includes('memory') : f['cgroup_memory'] === '1';
  if (enabled) return ok('cgroups', `memory cgroup enabled (cgroup ${v2 ? 'v2' : 'v1'})`);
  if (isRaspberryPi(f)) {
    const file = f['cmdline_file'] || '/boot/firmware/cmdline.txt';
    return fail('cgroups', 'the memory cgroup is disabled (Raspberry Pi OS default), so memory limits cannot work',
      `append " cgroup_memory=1 cgroup_enable=memory" to the single line of ${file} and reboot`);
  }
  return fail('cgroups', 'the memory cgroup is disabled', 'add cgroup_enable=memory to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub and reboot');
}

/** The backend `iptables` uses on the host: `nft`, `legacy` or undefined. */
export function iptablesBackend(f: ProbeFacts): 'nft' | 'legacy' | undefined {
  const v = f['iptables_version'] ?? '';
  if (v.includes('nf_tables')) return 'nft';
  if (v.includes('legacy') || /^iptables v1\.[0-6]\./.test(v)) return 'legacy';
  return undefined;
}

function checkIptables(f: ProbeFacts): CheckResult {
  if (f['has_iptables'] !== '1') return ok('iptables-backend', 'not checked (iptables missing)');
  const backend = iptablesBackend(f);
  if (!backend) return warn('iptables-backend', `cannot tell the backend from "${f['iptables_version'] ?? ''}"`);
  const other = backend === 'nft' ? Number(f['iptables_legacy_rules'] || 0) : Number(f['iptables_nft_rules'] || 0);
  if (other > 0) {
    const otherName = backend === 'nft' ? 'legacy' : 'nft';
    return warn('iptables-backend', `${backend} (corral uses it), but ${other} rules exist in the ${otherName} backend: both rule sets are active`,
      `remove the ${otherName} rules or switch with update-alternatives --set iptables /usr/sbin/iptables-${otherName}`);
  }
  return ok('iptables-backend', backend);
}

function checkDisk(f: ProbeFacts): CheckResult {
  const kb = Number(f['disk_free_kb']);
  if (!Number.isFinite(kb) || f['disk_free_kb'] === '') return warn('disk', 'cannot read free disk space of /var/lib');
  const gib = (kb / 1024 / 1024).toFixed(1);
  if (kb < MIN_DISK_KB) return fail('disk', `${gib} GiB free in /var/lib`, 'free at least 1 GiB (images and container logs live in /var/lib)');
  if (kb < WARN_DISK_KB) return warn('disk', `only ${gib} GiB free in /var/lib`);
  return ok('disk', `${gib} GiB free`);
}

function checkClock(f: ProbeFacts, c: ClusterView): CheckResult {
  const remote = Number(f['now']);
  if (!Number.isFinite(remote) || f['now'] === '') return warn('clock', 'cannot read the host clock');
  const skew = remote - c.localNow;
  const text = `${skew >= 0 ? '+' : ''}${skew} s vs the server`;
  const fix = 'enable time sync on the host (apt-get install systemd-timesyncd, or timedatectl set-ntp true)';
  if (Math.abs(skew) > MAX_SKEW_S) return fail('clock', `clock is off by ${text} (certificates and leases need agreeing clocks)`, fix);
  if (Math.abs(skew) > WARN_SKEW_S) return warn('clock', `clock is off by ${text}`, fix);
  return ok('clock', `in sync (${text})`);
}

/**
 * A Node with this name that is not this host (different identity secret, still Ready at another
 * address) would be taken over: refuse. The same secret, or a stale NotReady Node (reinstall, new IP),
 * is this host's own identity and is reclaimed.
 */
function checkNodeName(f: ProbeFacts, c: ClusterView, address: string): CheckResult {
  const n = c.existingNode;
  if (!n) return ok('node-name', `${c.nodeName} is free`);
  const mine = f['node_password_sha256'];
  if (mine && n.passwordSha256 === mine) return ok('node-name', `${c.nodeName} is this host (re-join, upgrade in place)`);
  const sameAddress = n.internalIp !== undefined && (n.internalIp === f['node_ip'] || n.internalIp === address);
  if (!n.ready) return ok('node-name', `${c.nodeName} exists but is NotReady: taking it over (re-join after reinstall or a new IP)`);
  if (sameAddress) return ok('node-name', `${c.nodeName} exists at this host's address: taking it over`);
  return fail('node-name', `node name ${c.nodeName} is already used by a Ready node at ${n.internalIp ?? 'another address'}`,
    `join with --node-name OTHER, or remove the other node first (corral uninstall ${n.internalIp ?? n.name})`);
}

export function preflight(f: ProbeFacts, c: ClusterView, o: PreflightOptions, address: string): CheckResult[] {
  return [
    checkPrivileges(f, o), checkOs(f), checkArch(f), checkNode(f, o), checkRuntime(f, o), checkMemoryCgroup(f),
    checkIptables(f), checkDisk(f), checkClock(f, c), checkNodeName(f, c, address),
  ];
}

export const hasFailure = (checks: readonly CheckResult[]): boolean => checks.some((c) => c.status === 'fail');
