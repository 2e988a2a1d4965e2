/**
 * The pod sync loop of the node: watches the pods bound to it (fieldSelector spec.nodeName), keeps
 * one PodWorker per pod, routes containerd exit events to the worker that owns the container,
 * resyncs every pod periodically (level-triggered: a missed event costs at most one period), and
 * removes containers, netns and files of pods that no longer exist.
 *
 * Edge autonomy: each pod's spec is cached in `<pods>/<uid>/pod.json`, so an agent that restarts
 * while the server is unreachable still knows its pods and keeps restarting their containers.
 * Nothing is removed as a leftover until the server has answered one full list.
 */
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { log } from '../../api/log.js';
import type { Pod } from '../../api/types.js';
import { isRuntimeError } from '../runtime/index.js';
import { LABEL_NODE, LABEL_POD_UID } from './naming.js';
import { PodWorker, type PodContext } from './pod-worker.js';
import { podDir, removePodDir } from './volumes.js';
import { Backoff, sleep } from '../../api/async-util.js';

export interface PodManagerOptions {
  /** Seconds between full resyncs of every pod. */
  resyncSeconds?: number;
  /** The air-gap image directory, scanned at start and every 10 s. */
  airGapDir?: string;
}

export class PodManager {
  private readonly workers = new Map<string, PodWorker>();
  private readonly owners = new Map<string, PodWorker>();
  private listed = false;
  private readonly ctx: PodContext;

  constructor(ctx: Omit<PodContext, 'track'>, private readonly signal: AbortSignal, private readonly opts: PodManagerOptions = {}) {
    this.ctx = {
      ...ctx,
      track: (id, worker) => {
        if (worker) this.owners.set(id, worker);
        else this.owners.delete(id);
      },
    };
  }

  /** Number of pods this node runs (or is cleaning up). */
  get size(): number {
    return this.workers.size;
  }

  /** The worker of a pod by namespace and name (logs, exec). */
  find(namespace: string, name: string): PodWorker | undefined {
    for (const w of this.workers.values()) {
      const m = w.current?.metadata;
      if (m?.namespace === namespace && m.name === name) return w;
    }
    return undefined;
  }

  async start(): Promise<void> {
    await this.loadCachedPods();
    if (this.opts.airGapDir) {
      await mkdir(this.opts.airGapDir, { recursive: true }).catch(() => undefined);
      await this.ctx.images.importAirGap(this.opts.airGapDir).catch(() => undefined);
    }
    void this.watchPods();
    void this.watchEvents();
    void this.resyncLoop();
  }

  /** Stops every worker's probes and timers; containers keep running (an agent restart adopts them). */
  stop(): void {
    for (const w of this.workers.values()) w.detach();
  }

  private cacheFile(uid: string): string {
    return join(podDir(this.ctx.podsDir, uid), 'pod.json');
  }

  private async loadCachedPods(): Promise<void> {
    const uids = await readdir(this.ctx.podsDir).catch(() => [] as string[]);
    for (const uid of uids) {
      try {
        const pod = JSON.parse(await readFile(this.cacheFile(uid), 'utf8')) as Pod;
        if (pod.metadata.uid === uid && pod.spec.nodeName === this.ctx.cfg.nodeName) this.upsert(pod);
      } catch { /* no cached spec: handled as a leftover after the first list */ }
    }
    if (this.workers.size > 0) log.info('agent', 'resumed pods from the local cache', { pods: this.workers.size });
  }

  /** What identifies the desired state of a pod: spec, labels, annotations, deletion. */
  private static desiredKey(pod: Pod): string {
    const m = pod.metadata;
    return JSON.stringify([pod.spec, m.labels, m.annotations, m.deletionTimestamp]);
  }

  private async cachePod(pod: Pod, previous: Pod | undefined): Promise<void> {
    if (previous && PodManager.desiredKey(previous) === PodManager.desiredKey(pod)) return;
    const uid = pod.metadata.uid!;
    const file = this.cacheFile(uid);
    const { managedFields: _m, ...metadata } = pod.metadata;
    await mkdir(podDir(this.ctx.podsDir, uid), { recursive: true });
    await writeFile(`${file}.tmp`, JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata, spec: pod.spec }));
    await rename(`${file}.tmp`, file);
  }

  private upsert(pod: Pod): void {
    const uid = pod.metadata.uid;
    if (!uid || pod.spec.nodeName !== this.ctx.cfg.nodeName) return;
    const w = this.workers.get(uid);
    const previous = w?.current;
    if (w) w.update(pod);
    else {
      const worker = new PodWorker(this.ctx, pod, (done) => {
        if (this.workers.get(done.uid) === done) this.workers.delete(done.uid);
      });
      this.workers.set(uid, worker);
      worker.kick();
    }
    if (!pod.metadata.deletionTimestamp) {
      void this.cachePod(pod, previous).catch((err: unknown) => log.warn('agent', 'cannot cache the pod spec', { pod: pod.metadata.name, error: (err as Error).message }));
    }
  }

  private async watchPods(): Promise<void> {
    const fieldSelector = `spec.nodeName=${this.ctx.cfg.nodeName}`;
    try {
      for await (const ev of this.ctx.client.watch<Pod>('Pod', undefined, { fieldSelector, signal: this.signal })) {
        if (ev.type === 'RESYNC') {
          const seen = new Set(ev.items.map((p) => p.metadata.uid!));
          for (const [uid, w] of this.workers) if (!seen.has(uid)) w.markGone();
          for (const p of ev.items) this.upsert(p);
          if (!this.listed) {
            this.listed = true;
            void this.removeLeftovers().catch((err: unknown) => log.warn('agent', 'leftover clean-up failed', { error: (err as Error).message }));
          }
        } else if (ev.type === 'DELETED') {
          this.workers.get(ev.object.metadata.uid!)?.markGone();
        } else {
          this.upsert(ev.object);
        }
      }
    } catch (err) {
      if (!this.signal.aborted) log.error('agent', 'pod watch ended', { error: (err as Error).message });
    }
  }

  /** Container exits arrive as containerd events; the owner re-syncs at once. */
  private async watchEvents(): Promise<void> {
    const backoff = new Backoff({ initialMs: 500, maxMs: 10_000 });
    while (!this.signal.aborted) {
      let delayMs: number;
      try {
        await this.ctx.runtime.watchEvents((e) => {
          if (e.topic !== '/tasks/exit') return;
          const id = e.body['container_id'];
          if (typeof id !== 'string') return;
          this.ctx.tasks.invalidate();
          this.owners.get(id)?.kick();
        }, { signal: this.signal });
        backoff.reset();
        delayMs = backoff.policy.initialMs;
      } catch (err) {
        if (this.signal.aborted) return;
        if (!isRuntimeError(err, 'Unreachable')) log.warn('agent', 'containerd event stream ended', { error: (err as Error).message });
        delayMs = backoff.next();
      }
      await sleep(delayMs, { signal: this.signal });
    }
  }

  private async resyncLoop(): Promise<void> {
    let n = 0;
    while (!this.signal.aborted) {
      await sleep((this.opts.resyncSeconds ?? 5) * 1000, { signal: this.signal });
      if (this.signal.aborted) return;
      this.ctx.tasks.invalidate();
      for (const w of this.workers.values()) w.kick();
      if (this.opts.airGapDir && ++n % 2 === 0) await this.ctx.images.importAirGap(this.opts.airGapDir).catch(() => undefined);
    }
  }

  /** Containers, pod netns and pod directories of this node whose pod is not known (any more). */
  async removeLeftovers(): Promise<number> {
    let removed = 0;
    const known = new Set(this.workers.keys());
    const containers = await this.ctx.runtime.listContainers({ labels: { [LABEL_NODE]: this.ctx.cfg.nodeName } });
    for (const c of containers) {
      const uid = c.labels[LABEL_POD_UID];
      if (!uid || known.has(uid)) continue;
      await this.ctx.runtime.remove(c.id).catch((err: unknown) => log.warn('agent', 'cannot remove leftover container', { id: c.id, error: (err as Error).message }));
      removed++;
    }
    for (const uid of this.ctx.network.listPodUids()) {
      if (known.has(uid)) continue;
      await this.ctx.network.removePod(uid).catch(() => undefined);
      removed++;
    }
    for (const uid of await readdir(this.ctx.podsDir).catch(() => [] as string[])) {
      if (known.has(uid)) continue;
      await removePodDir(this.ctx.podsDir, uid);
    }
    const logDirs = await readdir(this.ctx.logsDir).catch(() => [] as string[]);
    for (const d of logDirs) {
      const uid = d.slice(d.lastIndexOf('_') + 1);
      if (!known.has(uid)) await rm(join(this.ctx.logsDir, d), { recursive: true, force: true });
    }
    if (removed > 0) log.info('agent', 'removed leftovers of pods that no longer exist', { count: removed });
    return removed;
  }
}

