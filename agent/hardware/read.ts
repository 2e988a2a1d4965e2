/**
 * What this machine is: cores, memory, the data dir's filesystem, architecture (userland, not `uname -m`),
 * OS, kernel, ids, board and CPU model. Read once and cached: everything here is static for a boot but
 * the filesystem size. Only cheap systeminformation calls are used (cpu(), system(): a few file reads and
 * at most one short-lived helper each, once) — never networkInterfaces() or anything that walks devices —
 * and they run in a helper process, so the library (~11 MiB resident) never stays in the agent.
 */
import { availableParallelism, machine, release } from 'node:os';
import { readFile, statfs, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { log } from '../../api/log.js';
import { runHelper } from '../helper-process/run-helper.js';
import type { SystemFacts } from './system-facts.js';
import { runCommand } from '../../api/run-command.js';
import { architectureFrom, parseMeminfo, parseOsRelease } from './parse.js';

export interface StorageInfo {
  /** The directory measured (the data dir, or its nearest existing parent). */
  path: string;
  totalBytes: number;
  availableBytes: number;
}

export interface HardwareInfo {
  /** Logical CPUs this process may run on (= `nproc`). */
  cpuCount: number;
  /** MemTotal from /proc/meminfo, KiB. */
  memTotalKiB: number;
  storage: StorageInfo | undefined;
  /** Go name of the userland architecture (amd64, arm64, arm). */
  architecture: string;
  userlandBits: 32 | 64;
  kernelBits: 32 | 64;
  /** `uname -m`, for information only. */
  kernelMachine: string;
  kernelVersion: string;
  osImage: string;
  operatingSystem: 'linux';
  machineID: string;
  bootID: string;
  systemUUID: string;
  /** e.g. "Raspberry Pi 4 Model B Rev 1.4" (device tree) or the DMI product name on x86. */
  board: string | undefined;
  /** e.g. "Intel Xeon Processor", "Cortex-A72". */
  cpuBrand: string | undefined;
}

export interface ReadHardwareOptions {
  /** The agent's data dir; ephemeral-storage is its filesystem. Default /var/lib/corral. */
  dataDir?: string;
  /** Re-read after this long (default 5 min); the static parts are read once per process regardless. */
  maxAgeMs?: number;
}

type StaticInfo = Omit<HardwareInfo, 'storage'>;

let staticInfo: Promise<StaticInfo> | undefined;
const storageCache = new Map<string, { at: number; value: StorageInfo | undefined }>();

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function commandOutput(file: string, args: string[]): Promise<string | undefined> {
  try {
    const r = await runCommand(file, args, { timeoutMs: 3_000 });
    return r.code === 0 ? r.stdout.trim() : undefined;
  } catch {
    return undefined;
  }
}

/** Device-tree strings end in NUL. */
function cleanDt(text: string | undefined): string | undefined {
  const s = text?.replace(/\u0000/g, '').trim();
  return s ? s : undefined;
}

async function readStatic(): Promise<StaticInfo> {
  const [meminfo, osRelease, machineId, bootId, dpkgArch, longBit, dtModel, dtModel2, dmiProduct, dmiUuid] = await Promise.all([
    readText('/proc/meminfo'),
    readText('/etc/os-release').then((t) => t ?? readText('/usr/lib/os-release')),
    readText('/etc/machine-id'),
    readText('/proc/sys/kernel/random/boot_id'),
    commandOutput('dpkg', ['--print-architecture']),
    commandOutput('getconf', ['LONG_BIT']),
    readText('/proc/device-tree/model'),
    readText('/sys/firmware/devicetree/base/model'),
    readText('/sys/class/dmi/id/product_name'),
    readText('/sys/class/dmi/id/product_uuid'),
  ]);
  const arch = architectureFrom({ dpkgArch, processArch: process.arch, longBit, machine: machine() });
  const facts = await runHelper<SystemFacts>('system-facts', null).catch((err: unknown): SystemFacts => {
    log.warn('hardware', 'no CPU and system model readings', { error: (err as Error).message });
    return {};
  });
  const brand = [facts.cpuManufacturer, facts.cpuBrand].filter((s): s is string => !!s && s.trim() !== '').join(' ').trim();
  const board = cleanDt(dtModel) ?? cleanDt(dtModel2) ?? cleanDt(dmiProduct) ?? (facts.systemModel?.trim() || undefined);
  const machineID = (machineId ?? '').trim();
  return {
    cpuCount: availableParallelism(),
    memTotalKiB: parseMeminfo(meminfo ?? '')['MemTotal'] ?? 0,
    ...arch,
    kernelMachine: machine(),
    kernelVersion: release(),
    osImage: parseOsRelease(osRelease ?? '')['PRETTY_NAME'] ?? 'Linux',
    operatingSystem: 'linux',
    machineID,
    bootID: (bootId ?? '').trim(),
    systemUUID: (dmiUuid ?? '').trim() || facts.systemUuid?.trim() || machineID,
    board,
    cpuBrand: brand || undefined,
  };
}

/** Filesystem of dir (or of its nearest existing parent, before the data dir is created). */
export async function readStorage(dir: string): Promise<StorageInfo | undefined> {
  let path = dir;
  for (;;) {
    try {
      await stat(path);
      break;
    } catch {
      const parent = dirname(path);
      if (parent === path) return undefined;
      path = parent;
    }
  }
  const fs = await statfs(path);
  return { path, totalBytes: fs.blocks * fs.bsize, availableBytes: fs.bavail * fs.bsize };
}

export async function readHardware(opts: ReadHardwareOptions = {}): Promise<HardwareInfo> {
  const dataDir = opts.dataDir ?? '/var/lib/corral';
  const maxAgeMs = opts.maxAgeMs ?? 5 * 60_000;
  staticInfo ??= readStatic().catch((err: unknown) => {
    staticInfo = undefined;
    throw err;
  });
  const cached = storageCache.get(dataDir);
  let storage: StorageInfo | undefined;
  if (cached && Date.now() - cached.at < maxAgeMs) storage = cached.value;
  else {
    storage = await readStorage(dataDir).catch(() => undefined);
    storageCache.set(dataDir, { at: Date.now(), value: storage });
  }
  return { ...(await staticInfo), storage };
}
