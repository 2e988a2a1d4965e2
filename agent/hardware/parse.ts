/**
 * Pure parsers and decisions over /proc, /sys and command output, kept free of I/O so every rule
 * (architecture naming, label sanitising, cgroup and throttling decoding) is unit-tested with sample text.
 */

/** /proc/meminfo values in KiB ("MemTotal:  24684092 kB" → MemTotal: 24684092). */
export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w[\w()]*):\s+(\d+)(?:\s+kB)?\s*$/.exec(line.trim());
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** /etc/os-release KEY=value lines, with shell-style quotes removed. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let value = m[2]!;
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) {
      value = value.slice(1, -1).replace(/\\(["'$`\\])/g, '$1');
    }
    out[m[1]!] = value;
  }
  return out;
}

export interface ArchitectureInfo {
  /** Go/Kubernetes name of the userland architecture: amd64, arm64, arm, 386, ... */
  architecture: string;
  userlandBits: 32 | 64;
  kernelBits: 32 | 64;
}

const DPKG_TO_GO: Record<string, string> = {
  amd64: 'amd64', arm64: 'arm64', armhf: 'arm', armel: 'arm', i386: '386', riscv64: 'riscv64',
  ppc64el: 'ppc64le', s390x: 's390x', mips64el: 'mips64le',
};
const NODE_TO_GO: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', riscv64: 'riscv64', ppc64: 'ppc64le', s390x: 's390x' };
const SIXTY_FOUR_BIT = new Set(['amd64', 'arm64', 'riscv64', 'ppc64le', 's390x', 'mips64le']);

/**
 * The node's architecture is its userland's (that is what containerd and the images run as), not the
 * kernel's: a Raspberry Pi with an armhf userland on an aarch64 kernel is `arm`, and `uname -m` says
 * aarch64. Userland from `dpkg --print-architecture` when there is dpkg, else from Node's own build
 * (process.arch); bits from `getconf LONG_BIT`; kernel bits from `uname -m` (os.machine()).
 */
export function architectureFrom(input: { dpkgArch?: string | undefined; processArch: string; longBit?: string | undefined; machine: string }): ArchitectureInfo {
  const fromDpkg = input.dpkgArch ? DPKG_TO_GO[input.dpkgArch.trim()] : undefined;
  const architecture = fromDpkg ?? NODE_TO_GO[input.processArch] ?? input.processArch;
  const longBit = Number(input.longBit?.trim());
  const userlandBits: 32 | 64 = longBit === 32 || longBit === 64 ? longBit : SIXTY_FOUR_BIT.has(architecture) ? 64 : 32;
  const kernelBits: 32 | 64 = /64|s390x/.test(input.machine) ? 64 : 32;
  return { architecture, userlandBits, kernelBits };
}

/**
 * A valid label value: at most 63 characters of [A-Za-z0-9._-], starting and ending alphanumeric.
 * "Raspberry Pi 4 Model B Rev 1.4" → "Raspberry-Pi-4-Model-B-Rev-1.4"; "Intel(R) Core(TM) i5" → "Intel-R-Core-TM-i5".
 */
export function sanitizeLabelValue(value: string): string {
  let s = value.replace(/\u0000/g, '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/-{2,}/g, '-');
  s = s.replace(/^[^A-Za-z0-9]+/, '').slice(0, 63).replace(/[^A-Za-z0-9]+$/, '');
  return s;
}

/**
 * Whether the memory cgroup controller is usable. cgroup v2 (unified): listed in
 * /sys/fs/cgroup/cgroup.controllers. v1/hybrid: the `enabled` column of /proc/cgroups.
 */
export function memoryCgroupEnabled(input: { cgroupV2Controllers?: string | undefined; procCgroups?: string | undefined }): boolean {
  if (input.cgroupV2Controllers !== undefined) return input.cgroupV2Controllers.split(/\s+/).includes('memory');
  for (const line of (input.procCgroups ?? '').split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols[0] === 'memory') return cols[3] === '1';
  }
  return false;
}

export interface ThrottleState {
  raw: number;
  underVoltageNow: boolean;
  frequencyCappedNow: boolean;
  throttledNow: boolean;
  softTempLimitNow: boolean;
  underVoltageOccurred: boolean;
  frequencyCappedOccurred: boolean;
  throttledOccurred: boolean;
  softTempLimitOccurred: boolean;
}

/** Decodes `vcgencmd get_throttled` ("throttled=0x50005"); undefined if the text is not that. */
export function decodeThrottled(text: string): ThrottleState | undefined {
  const m = /throttled=(0x[0-9a-fA-F]+|\d+)/.exec(text);
  if (!m) return undefined;
  const raw = Number(m[1]);
  const bit = (n: number): boolean => (raw & (1 << n)) !== 0;
  return {
    raw,
    underVoltageNow: bit(0),
    frequencyCappedNow: bit(1),
    throttledNow: bit(2),
    softTempLimitNow: bit(3),
    underVoltageOccurred: bit(16),
    frequencyCappedOccurred: bit(17),
    throttledOccurred: bit(18),
    softTempLimitOccurred: bit(19),
  };
}

/** /proc/loadavg's 4th field "running/total" → total scheduling entities (threads). */
export function parseLoadavgThreads(text: string): number | undefined {
  const m = /\s\d+\/(\d+)\s/.exec(` ${text} `);
  return m ? Number(m[1]) : undefined;
}
