/**
 * Pod garbage collection, as upstream's podgc controller:
 * - pods bound to a node that no longer exists (checked live, after a short quarantine so a node
 *   that is just registering is not mistaken for a gone one) are force-deleted: no kubelet will
 *   ever confirm their end;
 * - terminating pods that were never bound are force-deleted;
 * - finished pods (Succeeded/Failed) beyond a threshold are deleted oldest first, so a busy CronJob
 *   cannot fill an SD card with history its owner forgot to trim.
 * Runs on a timer (these are slow, cluster-wide sweeps, not per-object reactions).
 */
import { log } from '../../api/log.js';
import { isConflict, isNotFound } from '../../api/status.js';
import type { Node, Pod } from '../../api/types.js';
import type { ControllerContext } from './context.js';
import { objectKeyOf, type Informer } from '../../api/machinery/informer.js';
import { sleep } from '../../api/async-util.js';
import { compareStrings } from '../../api/object-util.js';

export interface PodGcOptions {
  intervalMs?: number;
  /** A node must be missing this long before its pods are removed (upstream: 40 s). */
  quarantineMs?: number;
  /** Finished pods kept cluster-wide (upstream default 12,500; an edge server keeps fewer). */
  terminatedPodThreshold?: number;
}

class PodGarbageCollector {
  private readonly missingSince = new Map<string, number>();
  private readonly intervalMs: number;
  private readonly quarantineMs: number;
  private readonly threshold: number;

  constructor(private readonly ctx: ControllerContext, private readonly pods: Informer<Pod>, private readonly nodes: Informer<Node>, o: PodGcOptions) {
    this.intervalMs = o.intervalMs ?? 20_000;
    this.quarantineMs = o.quarantineMs ?? 40_000;
    this.threshold = o.terminatedPodThreshold ?? 1000;
  }

  start(): void {
    void (async () => {
      await Promise.all([this.pods.waitForSync(), this.nodes.waitForSync()]);
      while (!this.ctx.signal.aborted) {
        await this.sweep().catch((err: unknown) => log.warn('pod-gc', 'sweep failed', { error: String(err) }));
        await sleep(this.intervalMs, { signal: this.ctx.signal, unref: true });
      }
    })();
  }

  private async forceDelete(pod: Pod, why: string): Promise<void> {
    try {
      await this.ctx.client.delete('Pod', pod.metadata.namespace, pod.metadata.name!, { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid! } });
      log.info('pod-gc', why, { pod: objectKeyOf(pod), node: pod.spec.nodeName });
    } catch (err) {
      if (!(isNotFound(err) || isConflict(err))) throw err;
    }
  }

  async sweep(): Promise<void> {
    const nowMs = Date.now();
    const known = new Set(this.nodes.list().map((n) => n.metadata.name!));
    const pods = this.pods.list();
    const missing = new Set<string>();
    for (const pod of pods) {
      const node = pod.spec.nodeName;
      if (!node) {
        if (pod.metadata.deletionTimestamp) await this.forceDelete(pod, 'deleted unscheduled terminating pod');
        continue;
      }
      if (!known.has(node)) missing.add(node);
    }
    for (const name of [...this.missingSince.keys()]) if (!missing.has(name)) this.missingSince.delete(name);
    for (const name of missing) {
      const since = this.missingSince.get(name) ?? nowMs;
      this.missingSince.set(name, since);
      if (nowMs - since < this.quarantineMs) continue;
      if (await this.ctx.client.tryGet('Node', undefined, name)) continue; // the cache was behind
      for (const pod of pods) if (pod.spec.nodeName === name) await this.forceDelete(pod, 'deleted pod of a node that no longer exists');
      this.missingSince.delete(name);
    }
    const finished = pods
      .filter((p) => (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') && !p.metadata.deletionTimestamp)
      .sort((a, b) => compareStrings(a.metadata.creationTimestamp ?? '', b.metadata.creationTimestamp ?? ''));
    for (const pod of finished.slice(0, Math.max(0, finished.length - this.threshold))) {
      await this.forceDelete(pod, 'deleted finished pod beyond the terminated-pod threshold');
    }
  }
}

export function startPodGarbageCollector(ctx: ControllerContext, o: PodGcOptions = {}): void {
  new PodGarbageCollector(ctx, ctx.informers.forKind<Pod>('Pod'), ctx.informers.forKind<Node>('Node'), o).start();
}
