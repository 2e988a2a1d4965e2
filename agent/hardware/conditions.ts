/**
 * Host conditions of the Node: kubelet's pressure conditions with kubelet's default hard eviction
 * thresholds, plus corral's own conditions for what makes an edge box unable to run pods (memory cgroup
 * disabled, containerd/runc/iptables missing, a Raspberry Pi short of power or throttling).
 *
 * hostConditions is pure and keeps lastTransitionTime and lastHeartbeatTime from the previous list while
 * a condition's status and reason stay the same, so an unchanged machine yields an identical list and
 * the agent can skip the Node status write (the Lease is the heartbeat; SD cards thank us).
 */
import { accessSync, constants, statSync, statfsSync } from 'node:fs';
import { readTextIfPresent } from '../kernel-files.js';
import { delimiter, join } from 'node:path';
import type { Condition } from '../../api/meta.js';
import { runCommand } from '../../api/run-command.js';
import { decodeThrottled, memoryCgroupEnabled, parseLoadavgThreads, parseMeminfo, type ThrottleState } from './parse.js';

/** kubelet's default eviction-hard memory.available. */
export const MEMORY_AVAILABLE_MIN_BYTES = 100 * 1024 * 1024;
/** kubelet's default eviction-hard nodefs.available. */
export const NODEFS_AVAILABLE_MIN_FRACTION = 0.1;
/** PIDPressure when fewer than this fraction of pid_max is free. */
export const PID_AVAILABLE_MIN_FRACTION = 0.1;

export const CONDITION_CGROUP_MEMORY_DISABLED = 'CgroupMemoryDisabled';
export const CONDITION_RUNTIME_BINARIES_MISSING = 'RuntimeBinariesMissing';
export const CONDITION_UNDER_VOLTAGE = 'UnderVoltage';
export const CONDITION_THROTTLED = 'Throttled';

export const CGROUP_MEMORY_FIX = 'add cgroup_enable=memory cgroup_memory=1 to /boot/firmware/cmdline.txt (or /boot/cmdline.txt) and reboot';

/** The binaries a node needs to run pods and services. */
export const REQUIRED_BINARIES = ['containerd', 'ctr', 'runc', 'iptables'] as const;

export interface HostSignals {
  memAvailableBytes: number;
  nodefs: { availableBytes: number; totalBytes: number } | undefined;
  pids: { inUse: number; max: number } | undefined;
  memoryCgroupEnabled: boolean;
  missingBinaries: string[];
  /** Only on platforms with `vcgencmd` (Raspberry Pi). */
  throttle: ThrottleState | undefined;
}

function condition(type: string, status: boolean, reason: string, message: string): Condition {
  return { type, status: status ? 'True' : 'False', reason, message };
}

function mib(bytes: number): string {
  return `${Math.round(bytes / (1024 * 1024))}Mi`;
}

export function hostConditions(signals: HostSignals, opts: { now: string; previous?: readonly Condition[] | undefined }): Condition[] {
  const list: Condition[] = [];
  const memLow = signals.memAvailableBytes < MEMORY_AVAILABLE_MIN_BYTES;
  list.push(condition('MemoryPressure', memLow,
    memLow ? 'KubeletHasInsufficientMemory' : 'KubeletHasSufficientMemory',
    memLow ? `memory.available ${mib(signals.memAvailableBytes)} is below 100Mi` : 'kubelet has sufficient memory available'));

  const fs = signals.nodefs;
  const diskLow = fs !== undefined && fs.totalBytes > 0 && fs.availableBytes / fs.totalBytes < NODEFS_AVAILABLE_MIN_FRACTION;
  list.push(condition('DiskPressure', diskLow,
    diskLow ? 'KubeletHasDiskPressure' : 'KubeletHasNoDiskPressure',
    diskLow ? `nodefs.available ${((fs!.availableBytes / fs!.totalBytes) * 100).toFixed(1)}% is below 10%` : 'kubelet has no disk pressure'));

  const p = signals.pids;
  const pidLow = p !== undefined && p.max > 0 && (p.max - p.inUse) / p.max < PID_AVAILABLE_MIN_FRACTION;
  list.push(condition('PIDPressure', pidLow,
    pidLow ? 'KubeletHasInsufficientPID' : 'KubeletHasSufficientPID',
    pidLow ? `only ${p!.max - p!.inUse} of ${p!.max} process ids are free` : 'kubelet has sufficient PID available'));

  list.push(condition(CONDITION_CGROUP_MEMORY_DISABLED, !signals.memoryCgroupEnabled,
    signals.memoryCgroupEnabled ? 'MemoryCgroupEnabled' : 'MemoryCgroupDisabled',
    signals.memoryCgroupEnabled
      ? 'the memory cgroup controller is enabled'
      : `the memory cgroup controller is disabled, so memory limits cannot be enforced: ${CGROUP_MEMORY_FIX}`));

  const missing = signals.missingBinaries;
  list.push(condition(CONDITION_RUNTIME_BINARIES_MISSING, missing.length > 0,
    missing.length > 0 ? 'BinariesMissing' : 'BinariesPresent',
    missing.length > 0
      ? `not found in PATH: ${missing.join(', ')} (install the Debian packages containerd, runc and iptables)`
      : `${REQUIRED_BINARIES.join(', ')} are installed`));

  const t = signals.throttle;
  if (t) {
    const hex = `0x${t.raw.toString(16)}`;
    list.push(condition(CONDITION_UNDER_VOLTAGE, t.underVoltageNow,
      t.underVoltageNow ? 'UnderVoltageDetected' : t.underVoltageOccurred ? 'UnderVoltageOccurred' : 'PowerSupplyOK',
      t.underVoltageNow
        ? `the power supply is too weak now (vcgencmd get_throttled=${hex}); use the official power supply and a short cable`
        : t.underVoltageOccurred
          ? `under-voltage occurred since boot but not now (get_throttled=${hex})`
          : 'no under-voltage since boot'));
    const throttledNow = t.throttledNow || t.frequencyCappedNow || t.softTempLimitNow;
    const what = [t.throttledNow && 'throttled', t.frequencyCappedNow && 'ARM frequency capped', t.softTempLimitNow && 'soft temperature limit active']
      .filter(Boolean).join(', ');
    list.push(condition(CONDITION_THROTTLED, throttledNow,
      throttledNow ? 'CPUThrottled' : (t.throttledOccurred || t.frequencyCappedOccurred) ? 'ThrottlingOccurred' : 'NotThrottled',
      throttledNow
        ? `the CPU is ${what} (get_throttled=${hex}): check cooling and power`
        : (t.throttledOccurred || t.frequencyCappedOccurred || t.softTempLimitOccurred)
          ? `throttling occurred since boot but not now (get_throttled=${hex})`
          : 'no throttling since boot'));
  }

  // Keep times while a condition's status and reason are unchanged.
  return list.map((c) => {
    const before = opts.previous?.find((p) => p.type === c.type);
    if (before && before.status === c.status && before.reason === c.reason && before.message === c.message) {
      return { ...c, lastHeartbeatTime: before.lastHeartbeatTime ?? opts.now, lastTransitionTime: before.lastTransitionTime ?? opts.now };
    }
    const transition = before && before.status === c.status ? (before.lastTransitionTime ?? opts.now) : opts.now;
    return { ...c, lastHeartbeatTime: opts.now, lastTransitionTime: transition };
  });
}

/*
 * The reads here are synchronous (kernel-files.ts): /proc, statfs and a few stats answer in
 * microseconds, and the status check runs every 10 s for ever.
 */

/** An executable regular file (a missing one costs no Error). */
function isExecutableFile(p: string): boolean {
  if (!statSync(p, { throwIfNoEntry: false })?.isFile()) return false;
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Looks a command up in PATH (plus the sbin dirs a non-login PATH may lack), like `command -v`. */
export async function findInPath(name: string, pathEnv: string = process.env['PATH'] ?? ''): Promise<string | undefined> {
  return findInPathSync(name, pathEnv);
}

function findInPathSync(name: string, pathEnv: string): string | undefined {
  const dirs = [...pathEnv.split(delimiter).filter(Boolean), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  for (const dir of new Set(dirs)) {
    const p = join(dir, name);
    if (isExecutableFile(p)) return p;
  }
  return undefined;
}

/** Where each binary was found last: checked first, so a present one costs one stat. */
const foundAt = new Map<string, string>();

/** The names not found in PATH; one found before is looked for again only once it is gone from there. */
export function missingFromPath(names: readonly string[], pathEnv: string = process.env['PATH'] ?? ''): string[] {
  return names.filter((name) => {
    const known = foundAt.get(name);
    if (known !== undefined && isExecutableFile(known)) return false;
    const p = findInPathSync(name, pathEnv);
    if (p === undefined) foundAt.delete(name);
    else foundAt.set(name, p);
    return p === undefined;
  });
}

let cgroupCache: boolean | undefined;
let vcgencmdPath: string | undefined | null;

/**
 * Reads the signals: /proc/meminfo, statfs of the data dir, /proc/loadavg + pid_max, the cgroup
 * controllers (once: a kernel command-line setting), PATH lookups, and `vcgencmd get_throttled` when
 * present. File reads and one short process at most: cheap enough for every status check.
 */
export async function readHostSignals(opts: { dataDir: string }): Promise<HostSignals> {
  const [meminfo, loadavg, pidMax] = [readTextIfPresent('/proc/meminfo'), readTextIfPresent('/proc/loadavg'), readTextIfPresent('/proc/sys/kernel/pid_max')];
  const mem = parseMeminfo(meminfo ?? '');
  let nodefs: HostSignals['nodefs'];
  try {
    const fs = statfsSync(opts.dataDir);
    nodefs = { availableBytes: fs.bavail * fs.bsize, totalBytes: fs.blocks * fs.bsize };
  } catch {
    nodefs = undefined;
  }
  const inUse = parseLoadavgThreads(loadavg ?? '');
  const max = Number(pidMax?.trim());
  if (cgroupCache === undefined) {
    const v2 = readTextIfPresent('/sys/fs/cgroup/cgroup.controllers');
    cgroupCache = memoryCgroupEnabled({ cgroupV2Controllers: v2, procCgroups: readTextIfPresent('/proc/cgroups') });
  }
  const missingBinaries = missingFromPath(REQUIRED_BINARIES);
  if (vcgencmdPath === undefined) vcgencmdPath = findInPathSync('vcgencmd', process.env['PATH'] ?? '') ?? null;
  let throttle: ThrottleState | undefined;
  if (vcgencmdPath) {
    const r = await runCommand(vcgencmdPath, ['get_throttled'], { timeoutMs: 2_000 }).catch(() => undefined);
    if (r?.code === 0) throttle = decodeThrottled(r.stdout);
  }
  return {
    memAvailableBytes: (mem['MemAvailable'] ?? mem['MemFree'] ?? 0) * 1024,
    nodefs,
    pids: inUse !== undefined && Number.isFinite(max) && max > 0 ? { inUse, max } : undefined,
    memoryCgroupEnabled: cgroupCache,
    missingBinaries,
    throttle,
  };
}
