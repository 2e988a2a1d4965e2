/**
 * Collects every node's resource usage from its agent (`/stats/summary` on the kubelet port,
 * through the same pinned, authenticated connection as `kubectl logs`) every `intervalMs`, as
 * metrics-server scrapes kubelets, into the in-memory UsageStore. A node's CPU rate needs two
 * readings, so usage appears one interval after a node does. A node that does not answer keeps its
 * last reading for three intervals, then has none (kubectl top leaves it out, as upstream).
 */
import { log } from '../../api/log.js';
import { sleep } from '../../api/async-util.js';
import { resourceForKind } from '../../api/resources.js';
import type { Node } from '../../api/types.js';
import type { Registry } from '../apiserver/registry.js';
import type { PodSample, UsageStore } from './usage-store.js';

export interface UsageScraperOptions {
  registry: Registry;
  /** GETs a path from a node's agent (AgentPodConnector.get). */
  fetch: (nodeName: string, path: string, timeoutMs: number) => Promise<string>;
  store: UsageStore;
  intervalMs: number;
  signal: AbortSignal;
}

interface CpuStats { usageNanoCores?: number }
interface MemoryStats { workingSetBytes?: number }
interface SummaryJson {
  node?: { cpu?: CpuStats; memory?: MemoryStats };
  pods?: { podRef?: { name?: string; namespace?: string; uid?: string }; cpu?: CpuStats; containers?: { name?: string; cpu?: CpuStats; memory?: MemoryStats }[] }[];
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** The pods of a summary whose every container has a CPU rate (the first reading of a container has none). */
export function podSamples(summary: SummaryJson, at: number, windowSeconds: number): PodSample[] {
  const out: PodSample[] = [];
  for (const p of summary.pods ?? []) {
    const ref = p.podRef;
    if (!ref?.name || !ref.namespace || !ref.uid) continue;
    const containers = (p.containers ?? []).map((c) => ({ name: c.name ?? '', cpu: c.cpu?.usageNanoCores, memory: c.memory?.workingSetBytes }));
    if (containers.length === 0 || !containers.every((c) => c.name && isCount(c.cpu) && isCount(c.memory))) continue;
    out.push({
      namespace: ref.namespace, name: ref.name, uid: ref.uid, at, windowSeconds,
      containers: containers.map((c) => ({ name: c.name, usage: { cpuNanoCores: c.cpu!, memoryBytes: c.memory! } })),
    });
  }
  return out;
}


export class UsageScraper {
  private readonly lastRead = new Map<string, number>();

  constructor(private readonly o: UsageScraperOptions) {}

  start(): void {
    void (async () => {
      while (!this.o.signal.aborted) {
        await this.scrapeAll().catch((err: unknown) => log.warn('metrics', 'cannot collect resource usage', { error: (err as Error).message }));
        await sleep(this.o.intervalMs, { signal: this.o.signal });
      }
    })();
  }

  async scrapeAll(): Promise<void> {
    const nodes = (await this.o.registry.list(resourceForKind('Node')!, undefined)).items as Node[];
    const names = new Set(nodes.map((n) => n.metadata.name ?? ''));
    for (const gone of this.o.store.nodeNames()) {
      if (!names.has(gone)) {
        this.o.store.forget(gone);
        this.lastRead.delete(gone);
      }
    }
    // As metrics-server: every node with an agent endpoint, Ready or not (a NotReady node's agent may well answer).
    await Promise.all(nodes.filter((n) => n.status?.daemonEndpoints?.kubeletEndpoint?.Port).map((n) => this.scrape(n.metadata.name ?? '')));
    const stale = Date.now() - 3 * this.o.intervalMs;
    for (const [name, at] of this.lastRead) if (at < stale) this.o.store.forgetCurrent(name);
  }

  private async scrape(nodeName: string): Promise<void> {
    let summary: SummaryJson;
    try {
      summary = JSON.parse(await this.o.fetch(nodeName, '/stats/summary', Math.min(10_000, this.o.intervalMs))) as SummaryJson;
    } catch (err) {
      log.debug('metrics', 'cannot read a node\'s resource usage', { node: nodeName, error: (err as Error).message });
      return;
    }
    const at = Date.now();
    const previous = this.lastRead.get(nodeName);
    const cpu = summary.node?.cpu?.usageNanoCores;
    const memory = summary.node?.memory?.workingSetBytes;
    this.lastRead.set(nodeName, at);
    if (previous === undefined || !isCount(cpu) || !isCount(memory)) return;
    const windowSeconds = Math.max(1, Math.round((at - previous) / 1000));
    this.o.store.record(nodeName, { at, windowSeconds, cpuNanoCores: cpu, memoryBytes: memory }, podSamples(summary, at, windowSeconds));
  }
}
