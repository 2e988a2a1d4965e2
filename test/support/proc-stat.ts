/** Readings of another process from /proc, for benchmarks. */
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time (user + system, all threads) a process used so far, in ms. Per-operation CPU is the
 * figure that moves least with the load of a shared machine: throughput falls when other work takes
 * the CPUs, the CPU one operation costs much less.
 */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * (1000 / 100);
}

/**
 * Where a process's RSS is, from its smaps: the node executable's own pages (file-backed, shared with
 * every Node.js process on the host), anonymous memory (V8's heap, compiled code, malloc) and other files.
 */
export function smapsParts(smaps: string): string {
  const parts = { binary: 0, anonymous: 0, files: 0 };
  let kind: keyof typeof parts = 'anonymous';
  for (const line of smaps.split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping) kind = mapping[1] === process.execPath ? 'binary' : mapping[1]!.startsWith('/') ? 'files' : 'anonymous';
    const r = /^Rss:\s+(\d+)/.exec(line);
    if (r) parts[kind] += Number(r[1]) / 1024;
  }
  return `node binary ${parts.binary.toFixed(1)} + anonymous ${parts.anonymous.toFixed(1)} + other files ${parts.files.toFixed(1)}`;
}

/** CPU time (ms) per thread of a process, keyed by "name/tid" (threads that exited meanwhile are gone). */
export function threadCpuMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      out.set(`${name}/${tid}`, (Number(fields[11]) + Number(fields[12])) * (1000 / 100));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** Per-thread CPU used between two threadCpuMs readings, largest first, as "name ms" pairs. */
export function threadCpuDelta(before: Map<string, number>, after: Map<string, number>): string {
  const rows: [string, number][] = [];
  for (const [k, v] of after) rows.push([k, v - (before.get(k) ?? 0)]);
  return rows.filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ');
}
