/**
 * The cluster's resource usage, in memory only (never the store, never the disk): the newest reading
 * of each node and of each pod on it, for metrics.k8s.io (kubectl top), and for each node a ring
 * buffer of the last hour's CPU and memory for the status page's charts. Fed by usage-scraper.ts.
 */

export interface Usage { cpuNanoCores: number; memoryBytes: number }

export interface NodeSample extends Usage {
  /** When it was read (ms since the epoch) and over how long the CPU rate was measured. */
  at: number;
  windowSeconds: number;
}

export interface PodSample {
  namespace: string;
  name: string;
  uid: string;
  at: number;
  windowSeconds: number;
  containers: { name: string; usage: Usage }[];
}

/** One point of a node's history: [ms since the epoch, CPU cores, memory bytes]. */
export type HistoryPoint = [number, number, number];

/** A fixed number of the newest points, oldest first. */
export class RingBuffer<T> {
  private readonly items: T[] = [];
  private start = 0;

  constructor(readonly capacity: number) {}

  push(item: T): void {
    if (this.items.length < this.capacity) {
      this.items.push(item);
      return;
    }
    this.items[this.start] = item;
    this.start = (this.start + 1) % this.capacity;
  }

  toArray(): T[] {
    return [...this.items.slice(this.start), ...this.items.slice(0, this.start)];
  }
}

export class UsageStore {
  private readonly nodeSamples = new Map<string, NodeSample>();
  private readonly podSamples = new Map<string, PodSample[]>();
  private readonly history = new Map<string, RingBuffer<HistoryPoint>>();

  /** `historyPoints`: how many readings a node's history keeps (an hour's worth). */
  constructor(private readonly historyPoints: number) {}

  record(nodeName: string, node: NodeSample, pods: PodSample[]): void {
    this.nodeSamples.set(nodeName, node);
    this.podSamples.set(nodeName, pods);
    let h = this.history.get(nodeName);
    if (!h) this.history.set(nodeName, (h = new RingBuffer(this.historyPoints)));
    h.push([node.at, node.cpuNanoCores / 1e9, node.memoryBytes]);
  }

  /** A node that is gone or stopped answering: its current readings go (its history stays until it is deleted). */
  forgetCurrent(nodeName: string): void {
    this.nodeSamples.delete(nodeName);
    this.podSamples.delete(nodeName);
  }

  forget(nodeName: string): void {
    this.forgetCurrent(nodeName);
    this.history.delete(nodeName);
  }

  nodeNames(): string[] {
    return [...new Set([...this.nodeSamples.keys(), ...this.history.keys()])];
  }

  node(name: string): NodeSample | undefined {
    return this.nodeSamples.get(name);
  }

  pods(): PodSample[] {
    return [...this.podSamples.values()].flat();
  }

  /** Every node's points of the last hour, oldest first. */
  histories(): Record<string, HistoryPoint[]> {
    return Object.fromEntries([...this.history].map(([name, h]) => [name, h.toArray()]));
  }
}
