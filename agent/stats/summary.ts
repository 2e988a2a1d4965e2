/**
 * The node's resource usage in the shape of kubelet's Summary API (`GET /stats/summary`, the subset
 * metrics-server reads): the node's and every running container's cumulative CPU time, CPU rate
 * (nanocores, since this provider's previous reading of the same cgroup) and memory working set.
 * The server collects it periodically for `metrics.k8s.io` (kubectl top). Readings are taken when
 * asked, so an idle agent spends nothing on them.
 */
import type { Pod } from '../../api/types.js';
import type { CgroupReader, UsageReading } from './cgroup-reader.js';
import { isoString } from '../../api/iso-time.js';

export interface CpuStats { time: string; usageNanoCores?: number; usageCoreNanoSeconds: number }
export interface MemoryStats { time: string; workingSetBytes: number; usageBytes: number; availableBytes?: number }
export interface ContainerStats { name: string; cpu: CpuStats; memory: MemoryStats }
export interface PodStats {
  podRef: { name: string; namespace: string; uid: string };
  containers: ContainerStats[];
  cpu: CpuStats;
  memory: MemoryStats;
}
export interface Summary {
  node: { nodeName: string; cpu: CpuStats; memory: MemoryStats };
  pods: PodStats[];
}

export interface SummarySources {
  nodeName: string;
  reader: CgroupReader;
  /** A container id → its cgroup path. */
  cgroupOf: (containerId: string) => string;
  /** Pods with running containers. */
  running: () => { pod: Pod; containers: { name: string; id: string }[] }[];
}

export class SummaryProvider {
  /** The previous CPU reading of each cgroup (by container id, 'node' for the node), for rates. */
  private previous = new Map<string, { atNs: bigint; cpuNanoseconds: number }>();

  constructor(private readonly o: SummarySources) {}

  async summary(): Promise<Summary> {
    const seen = new Map<string, { atNs: bigint; cpuNanoseconds: number }>();
    const time = isoString();
    const cpu = (key: string, r: UsageReading, atNs: bigint): CpuStats => {
      const before = this.previous.get(key);
      seen.set(key, { atNs, cpuNanoseconds: r.cpuNanoseconds });
      const out: CpuStats = { time, usageCoreNanoSeconds: r.cpuNanoseconds };
      const elapsed = before ? Number(atNs - before.atNs) : 0;
      if (before && elapsed > 0 && r.cpuNanoseconds >= before.cpuNanoseconds) {
        out.usageNanoCores = Math.round(((r.cpuNanoseconds - before.cpuNanoseconds) / elapsed) * 1e9);
      }
      return out;
    };
    const memory = (r: UsageReading): MemoryStats => ({ time, workingSetBytes: r.memoryWorkingSetBytes, usageBytes: r.memoryUsageBytes });

    const node = await this.o.reader.node();
    const nodeAt = process.hrtime.bigint();
    const pods: PodStats[] = [];
    for (const { pod, containers } of this.o.running()) {
      const readings = await Promise.all(containers.map(async (c) => {
        const r = await this.o.reader.container(this.o.cgroupOf(c.id));
        return { c, r, atNs: process.hrtime.bigint() };
      }));
      const stats: ContainerStats[] = [];
      const total: UsageReading = { cpuNanoseconds: 0, memoryUsageBytes: 0, memoryWorkingSetBytes: 0 };
      let podRate: number | undefined = 0;
      for (const { c, r, atNs } of readings) {
        if (!r) continue;
        const s: ContainerStats = { name: c.name, cpu: cpu(c.id, r, atNs), memory: memory(r) };
        stats.push(s);
        total.cpuNanoseconds += r.cpuNanoseconds;
        total.memoryUsageBytes += r.memoryUsageBytes;
        total.memoryWorkingSetBytes += r.memoryWorkingSetBytes;
        podRate = podRate === undefined || s.cpu.usageNanoCores === undefined ? undefined : podRate + s.cpu.usageNanoCores;
      }
      if (stats.length === 0) continue;
      pods.push({
        podRef: { name: pod.metadata.name ?? '', namespace: pod.metadata.namespace ?? 'default', uid: pod.metadata.uid ?? '' },
        containers: stats,
        cpu: { time, usageCoreNanoSeconds: total.cpuNanoseconds, ...(podRate !== undefined ? { usageNanoCores: podRate } : {}) },
        memory: memory(total),
      });
    }
    const nodeCpu = cpu('node', node, nodeAt);
    // Containers not seen this time are gone: their readings go with them.
    this.previous = seen;
    return {
      node: { nodeName: this.o.nodeName, cpu: nodeCpu, memory: { ...memory(node), availableBytes: node.memoryAvailableBytes } },
      pods,
    };
  }
}
