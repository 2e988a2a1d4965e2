/**
 * CPU and memory of a container's cgroup and of the node, as kubelet's cAdvisor reads them:
 * cumulative CPU time in nanoseconds, and the memory working set (usage minus inactive page cache,
 * what the OOM killer weighs and `kubectl top` shows). cgroup v2 (`cpu.stat` usage_usec,
 * `memory.current`, `memory.stat` inactive_file) and v1 (`cpuacct.usage`, `memory.usage_in_bytes`,
 * `memory.stat` total_inactive_file), so Raspberry Pi OS releases on either work. The node comes
 * from `/proc/stat` and `/proc/meminfo`. A cgroup that is gone reads as undefined, never an error.
 * The files are read synchronously: they are the kernel's, generated on read in microseconds, while a
 * promise-based read is four thread-pool round trips each (a summary of 30 pods reads ~100 files).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTextIfPresent } from '../kernel-files.js';

export interface UsageReading {
  /** Cumulative CPU time used, nanoseconds. */
  cpuNanoseconds: number;
  /** Memory in use, bytes (with page cache). */
  memoryUsageBytes: number;
  /** Usage minus inactive file cache, bytes. */
  memoryWorkingSetBytes: number;
}

export interface NodeReading extends UsageReading {
  memoryAvailableBytes: number;
}

/** `key value` lines (cpu.stat, memory.stat, /proc/meminfo with its `kB`) → numbers. */
export function parseKeyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+):?\s+(\d+)/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/**
 * The number after `key` in such a file (undefined when absent): one search instead of parsing every
 * line, since memory.stat has some forty lines and each container's is read at every scrape.
 */
export function keyValue(text: string, key: string): number | undefined {
  let at = text.startsWith(`${key} `) || text.startsWith(`${key}:`) ? 0 : -1;
  for (const sep of [' ', ':']) {
    if (at >= 0) break;
    const i = text.indexOf(`\n${key}${sep}`);
    if (i >= 0) at = i + 1;
  }
  if (at < 0) return undefined;
  const m = /^\w+:?\s+(\d+)/.exec(text.slice(at, at + key.length + 32));
  return m ? Number(m[1]) : undefined;
}

/** The busy time of all CPUs from /proc/stat's first line, in nanoseconds (USER_HZ is 100 on Linux). */
export function parseProcStatCpu(text: string, userHz = 100): number {
  const fields = (text.split('\n')[0] ?? '').trim().split(/\s+/);
  if (fields[0] !== 'cpu') throw new Error('/proc/stat does not start with the cpu line');
  // user nice system idle iowait irq softirq steal: everything but idle and iowait is busy.
  const n = fields.slice(1, 9).map(Number);
  const busy = (n[0] ?? 0) + (n[1] ?? 0) + (n[2] ?? 0) + (n[5] ?? 0) + (n[6] ?? 0) + (n[7] ?? 0);
  return Math.round((busy * 1e9) / userHz);
}


export class CgroupReader {
  readonly version: 1 | 2;

  constructor(private readonly root = '/sys/fs/cgroup', private readonly proc = '/proc') {
    this.version = existsSync(join(root, 'cgroup.controllers')) ? 2 : 1;
  }

  /** A container's cgroup (its OCI cgroupsPath, e.g. `/corral/node-a/<id>`), or undefined once gone. */
  async container(cgroupsPath: string): Promise<UsageReading | undefined> {
    if (this.version === 2) {
      const dir = join(this.root, cgroupsPath);
      const [cpu, current, stat] = [readTextIfPresent(join(dir, 'cpu.stat')), readTextIfPresent(join(dir, 'memory.current')), readTextIfPresent(join(dir, 'memory.stat'))];
      if (cpu === undefined || current === undefined) return undefined;
      const usage = Number(current.trim());
      const inactive = keyValue(stat ?? '', 'inactive_file') ?? 0;
      return { cpuNanoseconds: (keyValue(cpu, 'usage_usec') ?? 0) * 1000, memoryUsageBytes: usage, memoryWorkingSetBytes: Math.max(0, usage - inactive) };
    }
    const [cpu, usage, stat] = [
      readTextIfPresent(join(this.root, 'cpuacct', cgroupsPath, 'cpuacct.usage')),
      readTextIfPresent(join(this.root, 'memory', cgroupsPath, 'memory.usage_in_bytes')),
      readTextIfPresent(join(this.root, 'memory', cgroupsPath, 'memory.stat')),
    ];
    if (cpu === undefined || usage === undefined) return undefined;
    const bytes = Number(usage.trim());
    const inactive = keyValue(stat ?? '', 'total_inactive_file') ?? 0;
    return { cpuNanoseconds: Number(cpu.trim()), memoryUsageBytes: bytes, memoryWorkingSetBytes: Math.max(0, bytes - inactive) };
  }

  /** The whole node: busy CPU time of all CPUs, and memory in use as MemTotal − MemAvailable. */
  async node(): Promise<NodeReading> {
    const [stat, meminfo] = [readFileSync(join(this.proc, 'stat'), 'utf8'), readFileSync(join(this.proc, 'meminfo'), 'utf8')];
    const mem = parseKeyValues(meminfo);
    const total = (mem.get('MemTotal') ?? 0) * 1024;
    const available = (mem.get('MemAvailable') ?? 0) * 1024;
    const used = Math.max(0, total - available);
    return { cpuNanoseconds: parseProcStatCpu(stat), memoryUsageBytes: used, memoryWorkingSetBytes: used, memoryAvailableBytes: available };
  }
}
