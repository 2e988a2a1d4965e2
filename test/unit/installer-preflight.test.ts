/** Preflight verdicts from probe outputs of real kinds of hosts (a Debian PC, Raspberry Pis). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { iptablesBackend, missingPackages, preflight, userlandArch, type CheckResult, type ClusterView } from '../../installer/join/preflight.js';
import { parseProbeOutput } from '../../installer/join/probe.js';

const DEBIAN_PC = `kernel=Linux
uname_m=x86_64
long_bit=64
dpkg_arch=amd64
os_id=debian
os_like=
os_version=12
os_name=Debian GNU/Linux 12 (bookworm)
board=OptiPlex 7050
node_version=v20.20.2
node_arch=x64
node_path=/usr/bin/node
has_containerd=1
has_ctr=1
has_runc=1
has_iptables=1
has_iptables-restore=1
has_ip=1
has_apt-get=1
has_sudo=1
iptables_version=iptables v1.8.9 (nf_tables)
iptables_legacy_rules=0
iptables_nft_rules=4
cgroup2=cpuset cpu io memory hugetlb pids rdma misc
cgroup_memory=1
cmdline=BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet
cmdline_file=
disk_free_kb=52428800
hostname=pc-1
uid=0
sudo_nopasswd=1
systemd=1
ssh_client=192.168.1.10
node_ip=192.168.1.21
installed_sha256=
node_password_sha256=
now=1764120000
`;

// Raspberry Pi 4 with 32-bit Raspberry Pi OS on the 64-bit kernel, default cmdline (memory cgroup off),
// no Node.js, logged in as pi.
const PI_ARMHF = `kernel=Linux
uname_m=aarch64
long_bit=32
dpkg_arch=armhf
os_id=raspbian
os_like=debian
os_version=12
os_name=Raspbian GNU/Linux 12 (bookworm)
board=Raspberry Pi 4 Model B Rev 1.4
node_version=
node_arch=
has_containerd=0
has_ctr=0
has_runc=0
has_iptables=1
has_iptables-restore=1
has_ip=1
has_apt-get=1
has_sudo=1
iptables_version=iptables v1.8.9 (legacy)
iptables_legacy_rules=0
iptables_nft_rules=0
cgroup2=cpuset cpu io pids
cgroup_memory=0
cmdline=console=serial0,115200 console=tty1 root=PARTUUID=1234-02 rootfstype=ext4 fsck.repair=yes rootwait
cmdline_file=/boot/firmware/cmdline.txt
disk_free_kb=800000
hostname=pi-2
uid=1000
sudo_nopasswd=0
systemd=1
node_ip=192.168.1.22
now=1764120100
`;

const cluster = (over: Partial<ClusterView> = {}): ClusterView => ({ localNow: 1764120000, nodeName: 'pc-1', ...over });
const byId = (checks: CheckResult[]): Record<string, CheckResult> => Object.fromEntries(checks.map((c) => [c.id, c]));

test('a healthy Debian PC passes every check', () => {
  const checks = preflight(parseProbeOutput(DEBIAN_PC), cluster(), { sudo: false, installDeps: false }, '192.168.1.21');
  assert.equal(checks.filter((c) => c.status !== 'ok'), []);
  const c = byId(checks);
  assert.is(c['arch']!.detail, 'amd64');
  assert.is(c['iptables-backend']!.detail, 'nft');
  assert.match(c['cgroups']!.detail, 'cgroup v2');
});

test('Raspberry Pi with armhf userland on an aarch64 kernel: every failure has its fix', () => {
  const f = parseProbeOutput(PI_ARMHF);
  assert.is(userlandArch(f), 'armhf');
  const c = byId(preflight(f, cluster({ nodeName: 'pi-2', localNow: 1764120000 }), { sudo: true, installDeps: false }, 'pi-2'));
  assert.is(c['arch']!.status, 'ok');
  assert.match(c['arch']!.detail, '32-bit userland on a 64-bit kernel');
  assert.is(c['privileges']!.status, 'fail');
  assert.match(c['privileges']!.detail, 'sudo needs a password');
  assert.match(c['privileges']!.fix!, 'NOPASSWD');
  assert.is(c['nodejs']!.status, 'fail');
  assert.match(c['nodejs']!.fix!, '--install-deps');
  assert.is(c['runtime']!.status, 'fail');
  assert.match(c['runtime']!.fix!, 'apt-get install containerd runc');
  assert.is(c['cgroups']!.status, 'fail');
  assert.match(c['cgroups']!.fix!, 'cgroup_memory=1 cgroup_enable=memory');
  assert.match(c['cgroups']!.fix!, '/boot/firmware/cmdline.txt');
  assert.is(c['disk']!.status, 'fail');
  assert.is(c['clock']!.status, 'fail'); // +100 s
  assert.match(c['clock']!.detail, '+100 s');
  assert.is(c['iptables-backend']!.detail, 'legacy');
});

test('--install-deps turns missing packages into planned installs', () => {
  const f = parseProbeOutput(PI_ARMHF);
  const c = byId(preflight(f, cluster({ nodeName: 'pi-2', localNow: 1764120100 }), { sudo: true, installDeps: true }, 'pi-2'));
  assert.is(c['nodejs']!.status, 'warn');
  assert.is(c['runtime']!.status, 'warn');
  assert.is(c['clock']!.status, 'ok');
  assert.equal(missingPackages(f).sort(), ['containerd', 'nodejs', 'runc']);
});

test('kernel and userland disagreements: uname -m alone would lie', () => {
  assert.is(userlandArch({ uname_m: 'aarch64', long_bit: '32' }), 'armhf');
  assert.is(userlandArch({ uname_m: 'aarch64', long_bit: '64' }), 'arm64');
  assert.is(userlandArch({ uname_m: 'armv7l' }), 'armhf');
  const armv6 = byId(preflight({ kernel: 'Linux', uname_m: 'armv6l', uid: '0' }, cluster(), { sudo: false, installDeps: false }, 'x'));
  assert.is(armv6['arch']!.status, 'fail');
  const wrongNode = byId(preflight({ ...parseProbeOutput(DEBIAN_PC), dpkg_arch: 'arm64', node_arch: 'x64' }, cluster(), { sudo: false, installDeps: false }, 'x'));
  assert.is(wrongNode['arch']!.status, 'fail');
  assert.match(wrongNode['arch']!.fix!, 'nodejs:arm64');
});

test('non-root without --sudo, and Node.js 18', () => {
  const f = { ...parseProbeOutput(DEBIAN_PC), uid: '1000', node_version: 'v18.19.0' };
  const c = byId(preflight(f, cluster(), { sudo: false, installDeps: false }, 'x'));
  assert.is(c['privileges']!.status, 'fail');
  assert.match(c['privileges']!.fix!, '--sudo');
  assert.is(c['nodejs']!.status, 'fail');
  assert.match(c['nodejs']!.detail, 'v18.19.0 is too old');
});

test('iptables: backend detection and rules in both backends', () => {
  assert.is(iptablesBackend({ iptables_version: 'iptables v1.8.7 (nf_tables)' }), 'nft');
  assert.is(iptablesBackend({ iptables_version: 'iptables v1.8.7 (legacy)' }), 'legacy');
  assert.is(iptablesBackend({ iptables_version: 'iptables v1.6.1' }), 'legacy');
  const c = byId(preflight({ ...parseProbeOutput(DEBIAN_PC), iptables_legacy_rules: '12' }, cluster(), { sudo: false, installDeps: false }, 'x'));
  assert.is(c['iptables-backend']!.status, 'warn');
  assert.match(c['iptables-backend']!.detail, '12 rules exist in the legacy backend');
});

test('memory cgroup off on a PC: the GRUB fix', () => {
  const c = byId(preflight({ ...parseProbeOutput(DEBIAN_PC), cgroup2: '', cgroup_memory: '0' }, cluster(), { sudo: false, installDeps: false }, 'x'));
  assert.is(c['cgroups']!.status, 'fail');
  assert.match(c['cgroups']!.fix!, 'GRUB_CMDLINE_LINUX');
});

test('node name: free, own identity, stale Node, same address, and a name used by another Ready node', () => {
  const f = { ...parseProbeOutput(DEBIAN_PC), node_password_sha256: 'aa'.repeat(32) };
  const check = (existingNode: ClusterView['existingNode'], facts = f): CheckResult =>
    byId(preflight(facts, cluster({ ...(existingNode ? { existingNode } : {}) }), { sudo: false, installDeps: false }, '192.168.1.21'))['node-name']!;
  assert.is(check(undefined).status, 'ok');
  assert.match(check({ name: 'pc-1', ready: true, internalIp: '192.168.1.99', passwordSha256: 'aa'.repeat(32) }).detail, 're-join');
  assert.match(check({ name: 'pc-1', ready: false, internalIp: '192.168.1.99' }).detail, 'NotReady');
  assert.is(check({ name: 'pc-1', ready: true, internalIp: '192.168.1.21' }).status, 'ok');
  const taken = check({ name: 'pc-1', ready: true, internalIp: '192.168.1.99', passwordSha256: 'bb'.repeat(32) });
  assert.is(taken.status, 'fail');
  assert.match(taken.detail, 'already used by a Ready node at 192.168.1.99');
  assert.match(taken.fix!, '--node-name');
});

test.run();
