/**
 * The pod sync loop of the node, on the controller kit (api/machinery): a shared informer of the pods
 * bound to this node (fieldSelector spec.nodeName, indexed by uid) and a work queue of pod uids.
 * Handlers only enqueue; `reconcile(uid)` is level-triggered — it reads the informer (or the cached
 * spec while the server is away) and the shared task snapshot and lets the pod's PodWorker drive the
 * containers toward the spec. containerd exit events, probe results and a periodic resync only enqueue;
 * every retry goes through the queue's back-off. Pods that no longer exist are stopped, and their
 * containers, netns and files removed.
 *
 * Edge autonomy: each pod's spec is cached in `<pods>/<uid>/pod.json`, so an agent that restarts
 * while the server is unreachable still knows its pods and keeps restarting their containers.
 * Nothing is removed as a leftover until the server has answered one full list.
 */
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Backoff, sleep } from '../../api/async-util.js';
import { log } from '../../api/log.js';
import { Controller } from '../../api/machinery/controller.js';
import type { Informer, InformerFactory } from '../../api/machinery/informer.js';
import { ItemExponentialRateLimiter, MaxOfRateLimiter, BucketRateLimiter } from '../../api/machinery/rate-limiter.js';
import type { Pod } from '../../api/types.js';
import { isRuntimeError } from '../runtime/index.js';
import { LABEL_NODE, LABEL_POD_UID } from './naming.js';
import { PodWorker, type PodContext } from './pod-worker.js';
import { podDir, removePodDir } from './volumes.js';

export interface PodManagerOptions {
  /** Seconds between looks at containerd's task list for exits the event stream missed (default 5). */
  resyncSeconds?: number;
  /** Seconds between full resyncs of every pod (default 60, kubelet's syncFrequency). */
  fullResyncSeconds?: number;
  /** Pods reconciled at the same time (default: the node's maxPods, so a long pull or a graceful stop never holds up another pod, as kubelet's per-pod workers). */
  workers?: number;
}

const BY_UID = 'uid';

export class PodManager {
  private readonly workers = new Map<string, PodWorker>();
  private readonly owners = new Map<string, PodWorker>();
  private leftoversRemoved = false;
  private readonly ctx: PodContext;
  private readonly pods: Informer<Pod>;
  private readonly controller: Controller;

  constructor(
    ctx: Omit<PodContext, 'track' | 'enqueue' | 'enqueueAfter' | 'retry'>,
    informers: InformerFactory,
    private readonly signal: AbortSignal,
    private readonly opts: PodManagerOptions = {},
  ) {
    this.controller = new Controller({
      name: 'pod-sync',
      workers: opts.workers ?? ctx.cfg.maxPods,
      // A failed pod sync (server away, netns not ready) comes back after 0.5 s doubling to 30 s.
      rateLimiter: new MaxOfRateLimiter(new ItemExponentialRateLimiter({ initialMs: 500, maxMs: 30_000 }), new BucketRateLimiter(10, 100)),
      reconcile: (uid) => this.reconcile(uid),
    });
    const queue = this.controller.queue;
    this.ctx = {
      ...ctx,
      track: (id, worker) => {
        if (worker) this.owners.set(id, worker);
        else this.owners.delete(id);
      },
      enqueue: (uid) => queue.add(uid),
      enqueueAfter: (uid, ms) => queue.addAfter(uid, ms),
      retry: (uid) => queue.addRateLimited(uid),
    };
    this.pods = informers.forKind<Pod>('Pod', { fieldSelector: `spec.nodeName=${ctx.cfg.nodeName}` });
    this.pods.addIndexer(BY_UID, (p) => (p.metadata.uid ? [p.metadata.uid] : []));
  }

  /** Number of pods this node runs (or is cleaning up). */
  get size(): number {
    return this.workers.size;
  }

  /** Pods with running containers, and those containers' containerd ids (resource usage). */
  running(): { pod: Pod; containers: { name: string; id: string }[] }[] {
    const out: { pod: Pod; containers: { name: string; id: string }[] }[] = [];
    for (const w of this.workers.values()) {
      const containers = w.runningContainers();
      if (w.current && containers.length > 0) out.push({ pod: w.current, containers });
    }
    return out;
  }

  /** The log files of every running container of this node. */
  liveLogFiles(): string[] {
    const out: string[] = [];
    for (const w of this.workers.values()) out.push(...w.liveLogFiles());
    return out;
  }

  /** The worker of a pod by namespace and name (logs, exec). */
  find(namespace: string, name: string): PodWorker | undefined {
    for (const w of this.workers.values()) {
      const m = w.current?.metadata;
      if (m?.namespace === namespace && m.name === name) return w;
    }
    return undefined;
  }

  /** Resumes cached pods, then runs the loop (the pod informer starts with the agent's factory). */
  async start(): Promise<void> {
    await this.loadCachedPods();
    const enqueue = (p: Pod): void => { if (p.metadata.uid) this.controller.enqueue(p.metadata.uid); };
    this.pods.addHandlers({
      onAdd: enqueue,
      onUpdate: (old, pod) => { enqueue(old); if (old.metadata.uid !== pod.metadata.uid) enqueue(pod); },
      onDelete: enqueue,
    });
    void this.controller.run(this.signal);
    void this.pods.waitForSync().then(() => this.removeLeftoversOnce());
    void this.watchEvents();
    void this.resyncLoop();
  }

  /** Stops every worker's probes; containers keep running (an agent restart adopts them). */
  stop(): void {
    for (const w of this.workers.values()) w.detach();
  }

  /** Level-triggered: whatever happened, make this pod's containers match what is known of it now. */
  private async reconcile(uid: string): Promise<void> {
    const pod = this.pods.byIndex(BY_UID, uid)[0];
    let worker = this.workers.get(uid);
    if (pod && pod.spec.nodeName === this.ctx.cfg.nodeName) {
      const previous = worker?.current;
      if (worker) worker.update(pod);
      else this.workers.set(uid, (worker = new PodWorker(this.ctx, pod)));
      if (!pod.metadata.deletionTimestamp) {
        await this.cachePod(pod, previous).catch((err: unknown) => log.warn('agent', 'cannot cache the pod spec', { pod: pod.metadata.name, error: (err as Error).message }));
      }
    } else if (worker && this.pods.hasSynced()) {
      // Not in the server's answer (deleted, or moved): stop and remove it.
      worker.markGone();
    }
    if (!worker) return;
    await worker.sync();
    if (worker.finished && this.workers.get(uid) === worker) this.workers.delete(uid);
  }

  private cacheFile(uid: string): string {
    return join(podDir(this.ctx.podsDir, uid), 'pod.json');
  }

  private async loadCachedPods(): Promise<void> {
    const uids = await readdir(this.ctx.podsDir).catch(() => [] as string[]);
    for (const uid of uids) {
      try {
        const pod = JSON.parse(await readFile(this.cacheFile(uid), 'utf8')) as Pod;
        if (pod.metadata.uid !== uid || pod.spec.nodeName !== this.ctx.cfg.nodeName) continue;
        this.workers.set(uid, new PodWorker(this.ctx, pod));
        this.controller.enqueue(uid);
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
    // The same version (every periodic resync of an unchanged pod) needs no comparison at all.
    if (previous && (previous === pod || (previous.metadata.resourceVersion !== undefined && previous.metadata.resourceVersion === pod.metadata.resourceVersion))) return;
    if (previous && PodManager.desiredKey(previous) === PodManager.desiredKey(pod)) return;
    const uid = pod.metadata.uid!;
    const file = this.cacheFile(uid);
    const { managedFields: _m, ...metadata } = pod.metadata;
    await mkdir(podDir(this.ctx.podsDir, uid), { recursive: true });
    await writeFile(`${file}.tmp`, JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata, spec: pod.spec }));
    await rename(`${file}.tmp`, file);
  }

  private async removeLeftoversOnce(): Promise<void> {
    if (this.leftoversRemoved || this.signal.aborted) return;
    this.leftoversRemoved = true;
    // Cached pods the server does not know any more are stopped through their workers first.
    for (const uid of this.workers.keys()) this.controller.enqueue(uid);
    await this.removeLeftovers().catch((err: unknown) => log.warn('agent', 'leftover clean-up failed', { error: (err as Error).message }));
  }

  /** Container exits arrive as containerd events; they only enqueue the owning pod. */
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

  /**
   * Level-triggered safety net. Every `resyncSeconds` one task list (containerd's API, no process)
   * is compared with what each worker believes runs, and only the pods with a container whose task
   * stopped or vanished are synced (an exit the event stream missed costs one period, as kubelet's
   * PLEG relist); every `fullResyncSeconds` every pod is synced. Everything else a pod waits for (a
   * restart back-off, a deadline, a probe, a token renewal) is already queued by its worker.
   */
  private async resyncLoop(): Promise<void> {
    const everyMs = (this.opts.resyncSeconds ?? 5) * 1000;
    const fullEveryMs = (this.opts.fullResyncSeconds ?? 60) * 1000;
    let lastFull = Date.now();
    while (!this.signal.aborted) {
      await sleep(everyMs, { signal: this.signal });
      if (this.signal.aborted) return;
      this.ctx.tasks.invalidate();
      const full = Date.now() - lastFull >= fullEveryMs;
      // containerd unreachable: every pod's sync reports it (and retries with back-off).
      const tasks = full ? undefined : await this.ctx.tasks.get().catch(() => undefined);
      if (!tasks) lastFull = Date.now();
      for (const [uid, worker] of this.workers) {
        if (!tasks || worker.missedExit(tasks)) this.controller.enqueue(uid);
      }
    }
  }

  /** Containers, pod netns and pod directories of this node whose pod is not known (any more). */
  async removeLeftovers(): Promise<number> {
    let removed = 0;
    // Asked live at each decision, never from a snapshot taken before the awaits below: a pod bound
    // meanwhile (a node back from the dead gets its waiting pods at once) has a worker, and its new
    // netns and volume directories are not leftovers.
    const known = { has: (uid: string): boolean => this.workers.has(uid) };
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

