/**
 * One pod on this node, reconciled level-triggered: every `sync()` reads what runs (the shared task
 * snapshot) and drives it toward the pod spec — network, volumes, init containers in order, then the
 * app containers, restarts per restartPolicy with CrashLoopBackOff, probes, status — or, once the pod
 * is being deleted, graceful termination and clean-up. Syncs of one pod never overlap; a kick while
 * a sync runs schedules exactly one more.
 *
 * What must survive an agent restart (attempt numbers, start times, last terminations) is kept in
 * `<pods>/<uid>/state.json`, written only when a container starts or exits.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ApiClient } from '../../api/client/client.js';
import { log } from '../../api/log.js';
import { rfc3339 } from '../../api/meta.js';
import { quantityToMilli, quantityToNumber } from '../../api/quantity.js';
import { isConflict, isNotFound } from '../../api/status.js';
import type { Container, ContainerStateTerminated, Pod, PodStatus } from '../../api/types.js';
import type { AgentConfig } from '../config.js';
import type { PodNetwork, PodNetworkInfo } from '../network/pod-network.js';
import { isRuntimeError, normalizeImageRef, type ContainerdRuntime, type ContainerSpec, type TaskInfo } from '../runtime/index.js';
import { nextBackoff, type BackoffState } from './backoff.js';
import { buildEnv, type EnvSources } from './env.js';
import { ImageError, type ImageManager } from './images.js';
import { containerId, containerLabels, logPath, podLogDir, runtimeContainerId } from './naming.js';
import { buildPodStatus, statusFingerprint, type ContainerView } from './pod-status.js';
import { ContainerProber } from './probes.js';
import type { TaskCache } from './task-cache.js';
import { containerMounts, podDir, prepareVolumes, removePodDir, type VolumeSources } from './volumes.js';
import { POD_HOSTS, POD_RESOLV_CONF, writePodDnsFiles } from './pod-dns-files.js';

export interface PodContext {
  cfg: AgentConfig;
  client: ApiClient;
  runtime: ContainerdRuntime;
  tasks: TaskCache;
  network: PodNetwork;
  images: ImageManager;
  envSources: EnvSources;
  volumeSources: VolumeSources;
  podsDir: string;
  logsDir: string;
  /** Tells the manager which pod a containerd id belongs to (exit events are routed by id). */
  track(id: string, worker: PodWorker | undefined): void;
}

/** Devices to expose, from the pod annotation `corral.dev/devices: /dev/i2c-1,/dev/gpiomem`. */
export const ANNOTATION_DEVICES = 'corral.dev/devices';

interface PersistedContainer {
  attempt: number;
  /** The attempt's container exists (created at least once). */
  created: boolean;
  startedAt?: string | undefined;
  terminated?: ContainerStateTerminated | undefined;
  lastTermination?: ContainerStateTerminated | undefined;
  backoff?: BackoffState | undefined;
  restartAt?: number | undefined;
  imageID?: string | undefined;
}

interface ContainerRecord extends PersistedContainer {
  name: string;
  init: boolean;
  running: boolean;
  waiting?: { reason: string; message?: string | undefined } | undefined;
  ready: boolean;
  started: boolean;
  prober?: ContainerProber | undefined;
  /** Set by a failed liveness/startup probe: kill and restart the container. */
  unhealthy?: string | undefined;
}

type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

export class PodWorker {
  readonly uid: string;
  private pod: Pod | undefined;
  /** The pod was removed from the API (or never reached it again): clean up without an API delete. */
  private gone = false;
  private readonly records = new Map<string, ContainerRecord>();
  private net: PodNetworkInfo | undefined;
  /** Settles once the pod's netns is usable (built in the background on the first sync). */
  private netReady: Promise<void> | undefined;
  private volumes: Map<string, string> | undefined;
  private terminal: 'Succeeded' | 'Failed' | undefined;
  private terminalMessage: string | undefined;
  private lastWritten: string | undefined;
  private loaded = false;
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  /** Set once everything of the pod is removed; the manager then forgets the worker. */
  finished = false;
  /** When this agent first saw the pod (performance.now()), for the start-latency log. */
  private readonly seenAt = performance.now();

  constructor(private readonly ctx: PodContext, pod: Pod, private readonly onFinished: (w: PodWorker) => void) {
    this.uid = pod.metadata.uid!;
    this.pod = pod;
  }

  get current(): Pod | undefined {
    return this.pod;
  }

  update(pod: Pod): void {
    this.pod = pod;
    this.kick();
  }

  /** The pod no longer exists in the API: stop and remove its containers. */
  markGone(): void {
    this.gone = true;
    this.kick();
  }

  /** Runs a sync now, or right after the one in progress. */
  kick(): void {
    if (this.finished) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.sync();
        } catch (err) {
          log.warn('agent', 'pod sync failed, will retry', { pod: this.describe(), error: (err as Error).message });
          this.kickAfter(2_000);
        }
      } while (this.again && !this.finished);
    })().finally(() => { this.running = undefined; });
  }

  private kickAfter(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.timer = undefined; this.kick(); }, ms);
    this.timer.unref?.();
  }

  describe(): string {
    const m = this.pod?.metadata;
    return m ? `${m.namespace}/${m.name}` : this.uid;
  }

  /** The container's current containerd id and log file (for logs and exec). */
  containerFiles(name: string, previous = false): { id: string; log: string } | undefined {
    const rec = this.records.get(name);
    const pod = this.pod;
    if (!rec || !pod) return undefined;
    const attempt = previous ? rec.attempt - 1 : rec.attempt;
    if (attempt < 0 || (!previous && !rec.created)) return undefined;
    return { id: containerId(this.uid, name, attempt), log: logPath(this.ctx.logsDir, this.podRef(pod), name, attempt) };
  }

  isRunning(name: string): boolean {
    return this.records.get(name)?.running === true;
  }

  private podRef(pod: Pod): { namespace: string; podName: string; podUid: string } {
    return { namespace: pod.metadata.namespace ?? 'default', podName: pod.metadata.name!, podUid: this.uid };
  }

  private get restartPolicy(): RestartPolicy {
    return this.pod?.spec.restartPolicy ?? 'Always';
  }

  // ------------------------------------------------------------------ state file

  private stateFile(): string {
    return join(podDir(this.ctx.podsDir, this.uid), 'state.json');
  }

  private async loadState(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    let saved: Record<string, PersistedContainer> = {};
    try {
      saved = (JSON.parse(await readFile(this.stateFile(), 'utf8')) as { containers: Record<string, PersistedContainer> }).containers;
    } catch { /* first sync of this pod */ }
    const pod = this.pod!;
    // A pod seen for the first time has nothing to adopt: no `ctr tasks ls` on its start path.
    const tasks = Object.values(saved).some((p) => p.created) ? await this.ctx.tasks.get() : new Map<string, TaskInfo>();
    for (const [c, init] of [...(pod.spec.initContainers ?? []).map((x) => [x, true] as const), ...pod.spec.containers.map((x) => [x, false] as const)]) {
      const p = saved[c.name];
      const rec: ContainerRecord = { name: c.name, init, attempt: 0, created: false, running: false, ready: false, started: false, ...p };
      if (rec.created) {
        const id = containerId(this.uid, c.name, rec.attempt);
        this.ctx.track(id, this);
        const task = tasks.get(id);
        // Adopted after an agent restart: a running task keeps running, untouched. A task that
        // stopped while the agent was away (or a start the agent did not finish recording) is
        // treated as running so the next sync records its exit.
        if ((task && task.status === 'RUNNING') || !rec.terminated) {
          rec.running = true;
          rec.terminated = undefined;
          rec.started = true;
          rec.ready = !c.readinessProbe;
        }
      }
      this.records.set(c.name, rec);
    }
  }

  private async saveState(): Promise<void> {
    const containers: Record<string, PersistedContainer> = {};
    for (const [name, r] of this.records) {
      containers[name] = { attempt: r.attempt, created: r.created, startedAt: r.startedAt, terminated: r.terminated, lastTermination: r.lastTermination, backoff: r.backoff, restartAt: r.restartAt, imageID: r.imageID };
    }
    const file = this.stateFile();
    await mkdir(join(file, '..'), { recursive: true });
    await writeFile(`${file}.tmp`, JSON.stringify({ containers }));
    await rename(`${file}.tmp`, file);
  }

  // ------------------------------------------------------------------ the sync

  private async sync(): Promise<void> {
    const pod = this.pod;
    if (!pod) return;
    if (this.gone || pod.metadata.deletionTimestamp) {
      await this.terminate(pod);
      return;
    }
    await this.loadState();
    await this.observeExits();
    if (this.terminal) {
      await this.writeStatus(pod);
      return;
    }
    if (!this.net) {
      // Look up the images while the pod's netns is made (each is a process or two); the starts
      // below then find the answers cached. Errors surface again in startContainer.
      const images = Promise.all([...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c) => this.ctx.images.present(c).catch(() => false)));
      // The address is known at once; the netns is built while the first container is prepared.
      const r = await this.ctx.network.reservePod(this.uid);
      this.net = r.info;
      this.netReady = r.ready;
      r.ready.catch((err: unknown) => {
        if (this.netReady !== r.ready) return;
        log.warn('agent', 'cannot set up the pod network, will retry', { pod: this.describe(), error: (err as Error).message });
        this.net = undefined;
        this.netReady = undefined;
        this.kickAfter(2_000);
      });
      await this.writeHosts(pod);
      await images;
    }
    // Containers adopted after an agent restart get their probes back.
    for (const c of pod.spec.containers) {
      const rec = this.records.get(c.name)!;
      if (rec.running && !rec.prober) this.startProbes(pod, c, rec, containerId(this.uid, c.name, rec.attempt));
    }
    let blocked = false;
    for (const c of pod.spec.initContainers ?? []) {
      const rec = this.records.get(c.name)!;
      if (rec.terminated?.exitCode === 0 && !rec.running) continue;
      blocked = true;
      if (rec.running) break;
      if (rec.terminated && this.restartPolicy === 'Never') {
        this.finish('Failed', `init container ${c.name} failed with exit code ${rec.terminated.exitCode}`);
        break;
      }
      await this.startIfDue(pod, c, rec);
      break;
    }
    if (!blocked && !this.terminal) {
      for (const c of pod.spec.containers) {
        const rec = this.records.get(c.name)!;
        if (rec.running && rec.unhealthy) await this.killUnhealthy(pod, rec);
        if (rec.running) continue;
        if (!rec.created || this.shouldRestart(rec)) await this.startIfDue(pod, c, rec);
      }
      this.checkCompletion(pod);
    }
    await this.writeStatus(pod);
  }

  private shouldRestart(rec: ContainerRecord): boolean {
    if (rec.waiting && !rec.terminated) return true; // failed to start: retry
    if (!rec.terminated) return false;
    const policy = this.restartPolicy;
    return policy === 'Always' || (policy === 'OnFailure' && rec.terminated.exitCode !== 0);
  }

  /** Succeeded/Failed once no app container runs or will be restarted. */
  private checkCompletion(pod: Pod): void {
    const recs = pod.spec.containers.map((c) => this.records.get(c.name)!);
    if (recs.some((r) => r.running || !r.created || this.shouldRestart(r))) return;
    const failed = recs.some((r) => (r.terminated?.exitCode ?? 0) !== 0);
    this.finish(failed ? 'Failed' : 'Succeeded');
  }

  private finish(phase: 'Succeeded' | 'Failed', message?: string): void {
    this.terminal = phase;
    this.terminalMessage = message;
    for (const r of this.records.values()) {
      r.prober?.stop();
      r.prober = undefined;
      r.ready = false;
    }
    log.info('agent', `pod ${phase.toLowerCase()}`, { pod: this.describe() });
  }

  /** Notices containers whose task has stopped; records their exit and the back-off for a restart. */
  private async observeExits(): Promise<void> {
    const running = [...this.records.values()].filter((r) => r.running);
    if (running.length === 0) return;
    const tasks = await this.ctx.tasks.get();
    for (const rec of running) {
      const id = containerId(this.uid, rec.name, rec.attempt);
      const task = tasks.get(id);
      if (task && task.status !== 'STOPPED') continue;
      await this.recordExit(rec, id);
    }
  }

  private async recordExit(rec: ContainerRecord, id: string): Promise<void> {
    let exitCode = 137;
    try {
      const r = await this.ctx.runtime.deleteTask(id);
      if (r) exitCode = r.exitCode;
    } catch (err) {
      if (!isRuntimeError(err, 'NotFound')) throw err;
    }
    const finishedAt = rfc3339();
    rec.running = false;
    rec.ready = false;
    rec.prober?.stop();
    rec.prober = undefined;
    const reason = rec.unhealthy ? 'Error' : exitCode === 0 ? 'Completed' : exitCode === 137 ? 'Error' : 'Error';
    rec.terminated = { exitCode, reason, startedAt: rec.startedAt ?? finishedAt, finishedAt, containerID: runtimeContainerId(id) };
    if (rec.unhealthy) rec.terminated.message = rec.unhealthy;
    rec.unhealthy = undefined;
    const ranFor = rec.startedAt ? Date.now() - Date.parse(rec.startedAt) : 0;
    const b = nextBackoff(rec.backoff, ranFor, this.ctx.cfg.crashBackoffInitialMs, this.ctx.cfg.crashBackoffMaxMs);
    rec.backoff = b.state;
    rec.restartAt = Date.now() + b.delayMs;
    log.info('agent', 'container exited', { pod: this.describe(), container: rec.name, exitCode, restartInMs: b.delayMs });
    await this.saveState();
  }

  private async killUnhealthy(pod: Pod, rec: ContainerRecord): Promise<void> {
    const id = containerId(this.uid, rec.name, rec.attempt);
    const c = pod.spec.containers.find((x) => x.name === rec.name);
    const grace = c?.livenessProbe?.terminationGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
    log.info('agent', 'killing unhealthy container', { pod: this.describe(), container: rec.name, reason: rec.unhealthy });
    await this.ctx.runtime.stop(id, { gracePeriodMs: grace * 1000 });
    this.ctx.tasks.invalidate();
    await this.recordExit(rec, id);
  }

  /** Starts the next attempt now, or waits out the back-off (CrashLoopBackOff). */
  private async startIfDue(pod: Pod, c: Container, rec: ContainerRecord): Promise<void> {
    const wait = (rec.restartAt ?? 0) - Date.now();
    if (rec.created && wait > 0) {
      if (rec.terminated) rec.waiting = { reason: 'CrashLoopBackOff', message: `back-off ${Math.ceil(wait / 1000)}s restarting failed container=${c.name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${this.uid})` };
      this.kickAfter(wait + 10);
      return;
    }
    await this.startContainer(pod, c, rec);
  }

  private async startContainer(pod: Pod, c: Container, rec: ContainerRecord): Promise<void> {
    const attempt = rec.created ? rec.attempt + 1 : rec.attempt;
    const oldId = rec.created ? containerId(this.uid, c.name, rec.attempt) : undefined;
    const t0 = performance.now();
    try {
      await this.ctx.images.ensure(pod, c);
    } catch (err) {
      const reason = err instanceof ImageError ? err.reason : 'ErrImagePull';
      this.startFailed(rec, rec.waiting?.reason === reason || rec.waiting?.reason === 'ImagePullBackOff' ? (reason === 'ErrImagePull' ? 'ImagePullBackOff' : reason) : reason, (err as Error).message);
      return;
    }
    const net = this.net!;
    let spec: ContainerSpec;
    try {
      this.volumes ??= await prepareVolumes(pod, this.ctx.podsDir, this.ctx.volumeSources);
      const env = await buildEnv(pod, c, net.ip, this.ctx.cfg.nodeIp, this.ctx.envSources);
      spec = this.containerSpec(pod, c, attempt, env);
    } catch (err) {
      this.startFailed(rec, 'CreateContainerConfigError', (err as Error).message);
      return;
    }
    if (oldId) {
      // The previous attempt's container goes; its log file stays for `kubectl logs --previous`.
      await this.ctx.runtime.remove(oldId).catch((err: unknown) => log.warn('agent', 'cannot remove the previous container', { id: oldId, error: (err as Error).message }));
      this.ctx.track(oldId, undefined);
      rec.lastTermination = rec.terminated;
      // Like kubelet, only the current and the previous attempt keep logs: a crash-looping
      // container must not fill the SD card one attempt at a time.
      if (attempt >= 2) await removeLogFiles(logPath(this.ctx.logsDir, this.podRef(pod), c.name, attempt - 2));
    }
    // A container of this attempt may exist from a start interrupted by an agent restart. The driver
    // makes its state dir before the container and removes it after, so without the dir there is
    // nothing to clear (three ctr calls saved on every start).
    if (existsSync(this.ctx.runtime.containerDir(spec.id))) await this.ctx.runtime.remove(spec.id).catch(() => undefined);
    rec.attempt = attempt;
    rec.created = true;
    rec.terminated = undefined;
    rec.started = false;
    rec.ready = false;
    this.ctx.track(spec.id, this);
    try {
      await mkdir(join(spec.logPath, '..'), { recursive: true });
      await rm(spec.logPath, { force: true });
      await rm(`${spec.logPath}.idx`, { force: true });
      await this.ctx.runtime.run(spec, { beforeStart: this.netReady });
    } catch (err) {
      // runc could not start the process (bad command, missing binary): like kubelet, a terminated
      // attempt with exit code 128 that goes through the restart back-off.
      const now = rfc3339();
      rec.terminated = { exitCode: 128, reason: 'StartError', message: (err as Error).message.slice(0, 500), startedAt: now, finishedAt: now, containerID: runtimeContainerId(spec.id) };
      const b = nextBackoff(rec.backoff, 0, this.ctx.cfg.crashBackoffInitialMs, this.ctx.cfg.crashBackoffMaxMs);
      rec.backoff = b.state;
      rec.restartAt = Date.now() + b.delayMs;
      rec.waiting = undefined;
      await this.saveState();
      this.kickAfter(b.delayMs + 10);
      return;
    }
    const ranMs = performance.now() - t0;
    this.ctx.tasks.invalidate();
    rec.running = true;
    rec.waiting = undefined;
    rec.startedAt = rfc3339();
    if (!rec.imageID) rec.imageID = await this.imageIdOf(c.image ?? '');
    await this.saveState();
    if (!rec.init) this.startProbes(pod, c, rec, spec.id);
    else rec.started = true;
    log.debug('agent', 'container started', { pod: this.describe(), container: c.name, attempt, startMs: Math.round(ranMs), sinceSeenMs: Math.round(performance.now() - this.seenAt) });
  }

  private startFailed(rec: ContainerRecord, reason: string, message: string): void {
    rec.waiting = { reason, message };
    const b = nextBackoff(rec.backoff, 0, this.ctx.cfg.crashBackoffInitialMs, this.ctx.cfg.crashBackoffMaxMs);
    rec.backoff = b.state;
    rec.restartAt = Date.now() + Math.max(b.delayMs, 1_000);
    log.warn('agent', 'cannot start container', { pod: this.describe(), container: rec.name, reason, message });
    this.kickAfter(Math.max(b.delayMs, 1_000));
  }

  private async imageIdOf(image: string): Promise<string> {
    try {
      const s = await this.ctx.runtime.images.get(image);
      if (s) return `${s.ref.replace(/:[^:/]+$/, '')}@${s.digest}`;
    } catch { /* best effort */ }
    return '';
  }

  private startProbes(pod: Pod, c: Container, rec: ContainerRecord, id: string): void {
    rec.prober?.stop();
    const prober = new ContainerProber({ containerId: id, netnsPath: this.net!.netnsPath, podIp: this.net!.ip, container: c }, this.ctx.runtime, this.ctx.cfg.nodeBinary, {
      onStarted: () => {
        if (rec.prober !== prober) return;
        rec.started = true;
        this.kick();
      },
      onReady: (ready) => {
        if (rec.prober !== prober || rec.ready === ready) return;
        rec.ready = ready;
        this.kick();
      },
      onUnhealthy: (_kind, message) => {
        if (rec.prober !== prober) return;
        rec.unhealthy = message;
        this.kick();
      },
    });
    rec.prober = prober;
    prober.start();
  }

  private containerSpec(pod: Pod, c: Container, attempt: number, env: [string, string][]): ContainerSpec {
    const sc = c.securityContext ?? {};
    const psc = pod.spec.securityContext ?? {};
    const runAsUser = sc.runAsUser ?? psc.runAsUser;
    const runAsGroup = sc.runAsGroup ?? psc.runAsGroup;
    const limits = c.resources?.limits ?? {};
    const requests = c.resources?.requests ?? {};
    const mounts = containerMounts(c, this.volumes!);
    const dir = podDir(this.ctx.podsDir, this.uid);
    if (!mounts.some((m) => m.destination === '/etc/hosts')) mounts.push({ source: join(dir, POD_HOSTS), destination: '/etc/hosts' });
    if (!mounts.some((m) => m.destination === '/etc/resolv.conf')) mounts.push({ source: join(dir, POD_RESOLV_CONF), destination: '/etc/resolv.conf' });
    const devices = (pod.metadata.annotations?.[ANNOTATION_DEVICES] ?? '').split(',').map((d) => d.trim()).filter(Boolean);
    const isInit = (pod.spec.initContainers ?? []).some((x) => x.name === c.name);
    const id = containerId(this.uid, c.name, attempt);
    return {
      id,
      image: normalizeImageRef(c.image ?? ''),
      command: c.command,
      args: c.args,
      env,
      workingDir: c.workingDir,
      hostname: pod.spec.hostname ?? pod.metadata.name,
      user: runAsUser !== undefined ? { uid: runAsUser, gid: runAsGroup ?? 0, additionalGids: psc.fsGroup !== undefined ? [psc.fsGroup] : undefined } : undefined,
      privileged: sc.privileged,
      capAdd: sc.capabilities?.add,
      capDrop: sc.capabilities?.drop,
      devices,
      mounts,
      netnsPath: this.net!.netnsPath,
      memoryLimitBytes: limits['memory'] ? quantityToNumber(limits['memory']) : undefined,
      cpus: limits['cpu'] ? quantityToMilli(limits['cpu']) / 1000 : undefined,
      cpuShares: requests['cpu'] ?? limits['cpu'] ? Math.floor((quantityToMilli(requests['cpu'] ?? limits['cpu']!) * 1024) / 1000) : undefined,
      readOnlyRootfs: sc.readOnlyRootFilesystem,
      labels: containerLabels({ node: this.ctx.cfg.nodeName, podUid: this.uid, podName: pod.metadata.name!, namespace: pod.metadata.namespace ?? 'default', container: c.name, attempt, init: isInit }),
      logPath: logPath(this.ctx.logsDir, this.podRef(pod), c.name, attempt),
    };
  }

  /** /etc/hosts and /etc/resolv.conf of the pod's containers (kubelet manages them too). */
  private async writeHosts(pod: Pod): Promise<void> {
    const dir = podDir(this.ctx.podsDir, this.uid);
    await mkdir(dir, { recursive: true });
    const cfg = this.ctx.cfg;
    const warnings = await writePodDnsFiles({
      dir, pod, podIp: this.net!.ip, settings: { clusterDns: cfg.clusterDns, clusterDomain: cfg.clusterDomain }, resolvConfPath: cfg.resolvConf,
    });
    for (const w of warnings) log.warn('agent', 'pod DNS configuration cut to the limits', { pod: this.describe(), warning: w });
  }

  // ------------------------------------------------------------------ status

  private views(pod: Pod): { init: ContainerView[]; app: ContainerView[] } {
    const view = (c: Container): ContainerView => {
      const r = this.records.get(c.name)!;
      const id = r.created ? containerId(this.uid, c.name, r.attempt) : undefined;
      return {
        name: c.name,
        image: c.image ?? '',
        imageID: r.imageID ?? '',
        restartCount: r.attempt,
        containerID: id ? runtimeContainerId(id) : undefined,
        running: r.running ? { startedAt: r.startedAt ?? rfc3339() } : undefined,
        terminated: r.running ? undefined : r.terminated,
        waiting: r.running ? undefined : r.waiting,
        lastTermination: r.lastTermination,
        ready: r.running && r.ready && r.started,
        started: r.running && r.started,
      };
    };
    return { init: (pod.spec.initContainers ?? []).map(view), app: pod.spec.containers.map(view) };
  }

  private async writeStatus(pod: Pod): Promise<void> {
    const { init, app } = this.views(pod);
    const initialized = init.every((v) => v.terminated?.exitCode === 0);
    const status = buildPodStatus(pod, { podIp: this.net?.ip ?? pod.status?.podIP, hostIp: this.ctx.cfg.nodeIp, init, app, terminal: this.terminal, initialized, message: this.terminalMessage }, rfc3339());
    const fp = statusFingerprint(status);
    if (fp === this.lastWritten) return;
    // A new worker (agent restart) finding the status it would write already there: no write.
    if (this.lastWritten === undefined && fp === fingerprintOf(pod.status)) {
      this.lastWritten = fp;
      return;
    }
    try {
      const updated = await this.ctx.client.patchStatus<Pod>('Pod', pod.metadata.namespace, pod.metadata.name!, { status });
      this.lastWritten = fp;
      if (this.pod && this.pod.metadata.uid === updated.metadata.uid) this.pod = { ...this.pod, status: updated.status ?? status };
    } catch (err) {
      if (isNotFound(err)) return;
      // Server unreachable: the pod keeps running; the status catches up when it is back.
      log.debug('agent', 'cannot write pod status, will retry', { pod: this.describe(), error: (err as Error).message });
      this.kickAfter(2_000);
    }
  }

  // ------------------------------------------------------------------ termination

  private async terminate(pod: Pod): Promise<void> {
    await this.loadState().catch(() => undefined);
    // A netns still being built would otherwise appear after removePod below.
    await this.netReady?.catch(() => undefined);
    const graceSeconds = pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
    for (const r of this.records.values()) {
      r.prober?.stop();
      r.prober = undefined;
    }
    // Every container of the pod the runtime knows, including earlier attempts and unknown leftovers.
    const ids = new Set<string>();
    for (const r of this.records.values()) if (r.created) ids.add(containerId(this.uid, r.name, r.attempt));
    for (const info of await this.ctx.runtime.listContainers({ labels: { 'corral.pod-uid': this.uid } })) ids.add(info.id);
    await Promise.all([...ids].map(async (id) => {
      await this.ctx.runtime.stop(id, { gracePeriodMs: graceSeconds * 1000 }).catch(() => undefined);
      await this.ctx.runtime.remove(id);
      this.ctx.track(id, undefined);
    }));
    this.ctx.tasks.invalidate();
    await this.ctx.network.removePod(this.uid);
    await removePodDir(this.ctx.podsDir, this.uid);
    await rm(podLogDir(this.ctx.logsDir, this.podRef(pod)), { recursive: true, force: true });
    if (!this.gone) {
      try {
        await this.ctx.client.delete('Pod', pod.metadata.namespace, pod.metadata.name!, { gracePeriodSeconds: 0, preconditions: { uid: this.uid } });
      } catch (err) {
        if (!(isNotFound(err) || isConflict(err))) {
          // Server unreachable: everything local is gone; the API delete is retried.
          this.kickAfter(2_000);
          throw err;
        }
      }
    }
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    log.info('agent', 'pod removed', { pod: this.describe() });
    this.onFinished(this);
  }

  /** Stops probes and timers (agent shutdown); containers keep running. */
  detach(): void {
    for (const r of this.records.values()) r.prober?.stop();
    if (this.timer) clearTimeout(this.timer);
    this.finished = true;
  }
}

/** A container log file with its rotated copies and time indexes. */
async function removeLogFiles(file: string): Promise<void> {
  const dir = join(file, '..');
  const base = file.slice(dir.length + 1);
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => n === base || n.startsWith(`${base}.`)).map((n) => rm(join(dir, n), { force: true })));
}

function fingerprintOf(status: PodStatus | undefined): string {
  return status ? statusFingerprint(status) : '';
}
