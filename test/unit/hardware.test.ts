import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Condition } from '../../api/meta.js';
import {
  architectureFrom, decodeThrottled, memoryCgroupEnabled, parseMeminfo, parseOsRelease, sanitizeLabelValue,
} from '../../agent/hardware/parse.js';
import { nodeLabelsFrom, nodeStatusFrom } from '../../agent/hardware/node-status.js';
import { CGROUP_MEMORY_FIX, hostConditions, type HostSignals } from '../../agent/hardware/conditions.js';
import type { HardwareInfo } from '../../agent/hardware/read.js';

const MEMINFO = `MemTotal:        3885124 kB
MemFree:          123456 kB
MemAvailable:    2345678 kB
Buffers:           10240 kB
HugePages_Total:       0
`;

const PROC_CGROUPS_PI_DISABLED = `#subsys_name	hierarchy	num_cgroups	enabled
cpuset	0	1	1
cpu	0	1	1
memory	0	1	0
pids	0	1	1
`;

test('meminfo and os-release parse like the kernel and systemd write them', () => {
  const m = parseMeminfo(MEMINFO);
  assert.is(m['MemTotal'], 3885124);
  assert.is(m['MemAvailable'], 2345678);
  assert.is(m['HugePages_Total'], 0);
  const os = parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n');
  assert.is(os['PRETTY_NAME'], 'Debian GNU/Linux 12 (bookworm)');
  assert.is(os['ID'], 'debian');
  assert.is(parseOsRelease("PRETTY_NAME='Raspbian GNU/Linux 11 (bullseye)'")['PRETTY_NAME'], 'Raspbian GNU/Linux 11 (bullseye)');
});

test('architecture is the userland\'s: armhf on an aarch64 kernel is arm with 32/64 bits', () => {
  assert.equal(architectureFrom({ dpkgArch: 'armhf', processArch: 'arm', longBit: '32', machine: 'aarch64' }), { architecture: 'arm', userlandBits: 32, kernelBits: 64 });
  assert.equal(architectureFrom({ dpkgArch: 'arm64', processArch: 'arm64', longBit: '64', machine: 'aarch64' }), { architecture: 'arm64', userlandBits: 64, kernelBits: 64 });
  assert.equal(architectureFrom({ dpkgArch: 'amd64\n', processArch: 'x64', longBit: '64\n', machine: 'x86_64' }), { architecture: 'amd64', userlandBits: 64, kernelBits: 64 });
  assert.equal(architectureFrom({ dpkgArch: 'armhf', processArch: 'arm', longBit: '32', machine: 'armv7l' }), { architecture: 'arm', userlandBits: 32, kernelBits: 32 });
  // Without dpkg (another distro): Node's own build decides, never uname -m.
  assert.equal(architectureFrom({ processArch: 'arm', machine: 'aarch64' }), { architecture: 'arm', userlandBits: 32, kernelBits: 64 });
  assert.equal(architectureFrom({ processArch: 'x64', machine: 'x86_64' }).architecture, 'amd64');
});

test('label values are sanitised to 63 characters of [A-Za-z0-9._-], alphanumeric at both ends', () => {
  assert.is(sanitizeLabelValue('Raspberry Pi 4 Model B Rev 1.4\u0000'), 'Raspberry-Pi-4-Model-B-Rev-1.4');
  assert.is(sanitizeLabelValue('Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz'), 'Intel-R-Core-TM-i5-8250U-CPU-1.60GHz');
  assert.is(sanitizeLabelValue('Intel Xeon® Processor'), 'Intel-Xeon-Processor');
  assert.is(sanitizeLabelValue('  (none) '), 'none');
  const long = sanitizeLabelValue('x'.repeat(62) + ' -y');
  assert.ok(long.length <= 63 && /[A-Za-z0-9]$/.test(long), long);
  assert.is(sanitizeLabelValue('***'), '');
});

test('memory cgroup: v1 enabled column, v2 controllers list', () => {
  assert.is(memoryCgroupEnabled({ procCgroups: PROC_CGROUPS_PI_DISABLED }), false);
  assert.is(memoryCgroupEnabled({ procCgroups: PROC_CGROUPS_PI_DISABLED.replace('memory\t0\t1\t0', 'memory\t4\t19\t1') }), true);
  assert.is(memoryCgroupEnabled({ cgroupV2Controllers: 'cpuset cpu io memory hugetlb pids rdma misc\n' }), true);
  assert.is(memoryCgroupEnabled({ cgroupV2Controllers: 'cpuset cpu io pids\n', procCgroups: 'memory 0 1 1' }), false, 'v2 decides when present');
});

test('vcgencmd get_throttled bits decode', () => {
  const t = decodeThrottled('throttled=0x50005\n')!;
  assert.ok(t.underVoltageNow && t.throttledNow && t.underVoltageOccurred && t.throttledOccurred);
  assert.not.ok(t.frequencyCappedNow || t.softTempLimitNow || t.frequencyCappedOccurred);
  assert.is(decodeThrottled('throttled=0x0')!.raw, 0);
  assert.is(decodeThrottled('error'), undefined);
});

const PI: HardwareInfo = {
  cpuCount: 4, memTotalKiB: 3885124, storage: { path: '/var/lib/corral', totalBytes: 31_024_000 * 1024, availableBytes: 20_000_000 * 1024 },
  architecture: 'arm', userlandBits: 32, kernelBits: 64, kernelMachine: 'aarch64', kernelVersion: '6.1.21-v8+',
  osImage: 'Raspbian GNU/Linux 11 (bullseye)', operatingSystem: 'linux', machineID: 'm1', bootID: 'b1', systemUUID: 'u1',
  board: 'Raspberry Pi 4 Model B Rev 1.4', cpuBrand: 'ARM Cortex-A72',
};

test('capacity and allocatable in kubelet units; reserved amounts subtracted', () => {
  const s = nodeStatusFrom(PI, {
    reserved: { cpu: '500m', memory: '256Mi' }, nodeIP: '192.168.77.11', hostname: 'pi-1', runtimeVersion: 'containerd://1.6.20', corralVersion: '0.1.0',
  });
  assert.equal(s.capacity, { cpu: '4', memory: '3885124Ki', pods: '110', 'ephemeral-storage': '31024000Ki' });
  assert.equal(s.allocatable, { cpu: '3500m', memory: `${3885124 - 256 * 1024}Ki`, pods: '110', 'ephemeral-storage': '31024000Ki' });
  assert.is(s.nodeInfo!.architecture, 'arm');
  assert.is(s.nodeInfo!.containerRuntimeVersion, 'containerd://1.6.20');
  assert.is(s.nodeInfo!.kubeletVersion, 'v1.32.0+corral.0.1.0');
  assert.is(s.nodeInfo!.osImage, 'Raspbian GNU/Linux 11 (bullseye)');
  assert.equal(s.addresses, [{ type: 'InternalIP', address: '192.168.77.11' }, { type: 'Hostname', address: 'pi-1' }]);
  const whole = nodeStatusFrom(PI, { reserved: { cpu: '1' }, maxPods: 30, nodeIP: '10.0.0.1', hostname: 'h', runtimeVersion: 'x', corralVersion: 'v0.2.0' });
  assert.is(whole.allocatable!['cpu'], '3');
  assert.is(whole.allocatable!['memory'], '3885124Ki');
  assert.is(whole.capacity!['pods'], '30');
});

test('labels: standard ones, board and cpu, bitness only where userland and kernel differ', () => {
  assert.equal(nodeLabelsFrom(PI, 'Pi-1'), {
    'kubernetes.io/arch': 'arm',
    'kubernetes.io/os': 'linux',
    'kubernetes.io/hostname': 'pi-1',
    'corral.dev/board': 'Raspberry-Pi-4-Model-B-Rev-1.4',
    'corral.dev/cpu': 'ARM-Cortex-A72',
    'corral.dev/userland-bits': '32',
    'corral.dev/kernel-bits': '64',
  });
  const x86 = nodeLabelsFrom({ ...PI, architecture: 'amd64', userlandBits: 64, board: undefined, cpuBrand: 'Intel(R) Celeron(R) J4125' }, 'nuc');
  assert.not.ok('corral.dev/userland-bits' in x86);
  assert.not.ok('corral.dev/board' in x86);
  assert.is(x86['corral.dev/cpu'], 'Intel-R-Celeron-R-J4125');
});

const HEALTHY: HostSignals = {
  memAvailableBytes: 2 * 1024 ** 3, nodefs: { availableBytes: 50, totalBytes: 100 }, pids: { inUse: 300, max: 32768 },
  memoryCgroupEnabled: true, missingBinaries: [], throttle: undefined,
};
const status = (cs: Condition[], type: string): string | undefined => cs.find((c) => c.type === type)?.status;

test('pressure thresholds: memory.available<100Mi, nodefs.available<10%, pids', () => {
  const ok = hostConditions(HEALTHY, { now: 't0' });
  assert.equal(ok.map((c) => [c.type, c.status]), [
    ['MemoryPressure', 'False'], ['DiskPressure', 'False'], ['PIDPressure', 'False'], ['CgroupMemoryDisabled', 'False'], ['RuntimeBinariesMissing', 'False'],
  ]);
  const bad = hostConditions({ ...HEALTHY, memAvailableBytes: 99 * 1024 * 1024, nodefs: { availableBytes: 9, totalBytes: 100 }, pids: { inUse: 32000, max: 32768 } }, { now: 't0' });
  assert.is(status(bad, 'MemoryPressure'), 'True');
  assert.is(status(bad, 'DiskPressure'), 'True');
  assert.is(status(bad, 'PIDPressure'), 'True');
  assert.is(bad.find((c) => c.type === 'MemoryPressure')!.reason, 'KubeletHasInsufficientMemory');
  assert.is(status(hostConditions({ ...HEALTHY, memAvailableBytes: 100 * 1024 * 1024 }, { now: 't' }), 'MemoryPressure'), 'False');
});

test('disabled memory cgroup and missing binaries are explained with the fix', () => {
  const cs = hostConditions({ ...HEALTHY, memoryCgroupEnabled: false, missingBinaries: ['runc', 'iptables'] }, { now: 't0' });
  const cg = cs.find((c) => c.type === 'CgroupMemoryDisabled')!;
  assert.is(cg.status, 'True');
  assert.ok(cg.message!.includes(CGROUP_MEMORY_FIX));
  assert.ok(cg.message!.includes('add cgroup_enable=memory cgroup_memory=1 to /boot/firmware/cmdline.txt (or /boot/cmdline.txt) and reboot'));
  const bin = cs.find((c) => c.type === 'RuntimeBinariesMissing')!;
  assert.is(bin.status, 'True');
  assert.match(bin.message!, /runc, iptables/);
});

test('Raspberry Pi under-voltage and throttling conditions appear only where vcgencmd reports', () => {
  const cs = hostConditions({ ...HEALTHY, throttle: decodeThrottled('throttled=0x50005') }, { now: 't0' });
  assert.is(status(cs, 'UnderVoltage'), 'True');
  assert.is(status(cs, 'Throttled'), 'True');
  const past = hostConditions({ ...HEALTHY, throttle: decodeThrottled('throttled=0x50000') }, { now: 't0' });
  assert.is(status(past, 'UnderVoltage'), 'False');
  assert.is(past.find((c) => c.type === 'UnderVoltage')!.reason, 'UnderVoltageOccurred');
  assert.is(status(hostConditions(HEALTHY, { now: 't0' }), 'UnderVoltage'), undefined);
});

test('an unchanged machine gives an identical list (times kept), a change moves only that condition', () => {
  const first = hostConditions(HEALTHY, { now: '2026-01-01T00:00:00Z' });
  const again = hostConditions(HEALTHY, { now: '2026-01-01T00:05:00Z', previous: first });
  assert.equal(again, first, 'nothing to write');
  const changed = hostConditions({ ...HEALTHY, memAvailableBytes: 1 }, { now: '2026-01-01T00:10:00Z', previous: again });
  const mem = changed.find((c) => c.type === 'MemoryPressure')!;
  assert.is(mem.lastTransitionTime, '2026-01-01T00:10:00Z');
  assert.is(changed.find((c) => c.type === 'DiskPressure')!.lastTransitionTime, '2026-01-01T00:00:00Z');
});

test.run();
