/** Readings of another process from /proc, for benchmarks. */
import { readFileSync } from 'node:fs';

/**
 * CPU time (user + system, all threads) a process used so far, in ms. Per-operation CPU is the
 * figure that moves least with the load of a shared machine: throughput falls when other work takes
 * the CPUs, the CPU one operation costs much less.
 */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * (1000 / 100);
}
