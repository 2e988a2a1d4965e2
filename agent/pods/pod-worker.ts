/**
 * One pod on this node, reconciled level-triggered: every `sync()` reads what runs (the shared task
 * snapshot) and drives it toward the pod spec — network, volumes, init containers in order, then the
 * app containers, restarts per restartPolicy with CrashLoopBackOff, probes, status — or, once the pod
 * is being deleted, graceful termination and clean-up. The pod manager's work queue calls `sync()`
 * (never two at once for one pod); the worker asks for later looks through the queue (`enqueueAfter`),
 * and a failed sync is retried with the queue's back-off. Each step records kubelet's Events.
 *
 * The pure Pod-to-container translation is in container-spec.ts; what survives an agent restart is in
 * the pod state file (pod-state-file.ts).
 *
 * Why this file is long: one pod's state machine (network, init and app containers, restarts with
 * back-off, probes, status, termination) works on one map of container records; split by step, that
 * state would be passed through every call. The pure translation (container-spec.ts), the state file
 * (pod-state-file.ts), the status (pod-status.ts) and the Events (pod-events.ts) are apart.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ApiClient } from '../../api/client/client.js';
import { RUNC_HANDLER, type RuntimeClass } from '../../api/scheduling-types.js';
import { log } from '../../api/log.js';
import { rfc3339 } from '../../api/meta.js';
import { isConflict, isNotFound } from '../../api/status.js';
import type { Container, Pod, PodStatus } from '../../api/types.js';
import type { AgentConfig } from '../config.js';
import type { PodNetwork, PodNetworkInfo } from '../network/pod-network.js';
import { isRuntimeError, type ContainerdRuntime, type ContainerSpec, type TaskInfo } from '../runtime/index.js';
import { nextBackoff } from './backoff.js';
import { containerSpecFor, podRef } from './container-spec.js';
import { buildEnv, type EnvSources } from './env.js';
import { ImageError, type ImageManager } from './images.js';
import { containerId, logPath, podLogDir, runtimeContainerId } from './naming.js';
import type { PodEvents } from './pod-events.js';
import { readPodState, writePodState, type PersistedContainer } from './pod-state-file.js';
import { buildPodStatus, statusFingerprint, type ContainerView } from './pod-status.js';
import { ContainerProber } from './probes.js';
import type { TaskCache } from './task-cache.js';
import { podDir, prepareVolumes, removePodDir, type VolumeSources } from './volumes.js';
import { writePodDnsFiles } from './pod-dns-files.js';
import { refreshProjectedTokens } from './projected-volume.js';
import { DEADLINE_EXCEEDED_MESSAGE, DEADLINE_EXCEEDED_REASON, emptyDirOverLimit, hasDiskEmptyDirLimit, msUntilDeadline, type PodLimitBreach } from './pod-limits.js';
import { ADMISSION_ERROR_REASON, allocationCondition, containerDevicePaths, type AllocationResult, type DeviceAllocation } from '../hardware/device-allocation.js';
import { hostPath } from '../hardware/device-inventory.js';

/** The node's device leases as the pod worker uses them (agent/hardware/device-manager.ts). */
export interface PodDevices {
  /** The pod's devices (recorded, handed out, or newly chosen); undefined when it asks for none. */
  allocate(pod: Pod): AllocationResult | undefined;
  /** The pod will not run (any more): an allocation not yet recorded is forgotten. */
  release(uid: string): void;
  /** Where device nodes are on the host (/dev, or a test's fake tree). */
  devRoot: string;
}

export { DEADLINE_EXCEEDED_MESSAGE, DEADLINE_EXCEEDED_REASON } from './pod-limits.js';

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
  events: PodEvents;
  /** Device leases; without it a pod asking for devices.corral.io/* resources runs without them. */
  devices?: PodDevices | undefined;
  /** Tells the manager which pod a containerd id belongs to (exit events are routed by id). */
  track(id: string, worker: PodWorker | undefined): void;
  /** Asks for a sync of this pod now, after a delay, or after the queue's back-off (a retry). */
  enqueue(uid: string): void;
  enqueueAfter(uid: string, ms: number): void;
  retry(uid: string): void;
  /** A pod's containers all run for the first time, this long after the agent first saw it (kubelet_pod_start_duration_seconds). */
  podStarted?: ((seconds: number) => void) | undefined;
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
  /** The log file of an attempt, kept: the log keeper asks for the running ones every second. */
  logFile?: { attempt: number; path: string } | undefined;
}

type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

/** A pod's resourceVersion as a number (corral's are store revisions); -1 when it has none. */
function revisionOf(pod: Pod): number {
  const rv = Number(pod.metadata.resourceVersion);
  return Number.isSafeInteger(rv) ? rv : -1;
}

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
  private terminalReason: string | undefined;
  /** The devices this pod was given (recorded in its status before any container starts). */
  private deviceAllocation: DeviceAllocation | undefined;
  private admitted = false;
  /** When the next projected service-account token is due for renewal (Date.now(); 0: look at the next sync). */
  private tokensDueAt = 0;
  /** When the disk emptyDirs were last measured (Date.now()). */
  private storageCheckedAt = 0;
  private lastWritten: string | undefined;
  private loaded = false;
  /** The Killing events of a deletion were recorded (terminate may run more than once). */
  private stopRecorded = false;
  /** Set once everything of the pod is removed; the manager then forgets the worker. */
  finished = false;
  /** When this agent first saw the pod (performance.now()), for the start latency. */
  private readonly seenAt = performance.now();
  /** The start latency was reported (once per pod this agent started). */
  private startReported = false;

  constructor(private readonly ctx: PodContext, pod: Pod) {
    this.uid = pod.metadata.uid!;
    this.pod = pod;
  }

  get current(): Pod | undefined {
    return this.pod;
  }

  /**
   * The newest version of the pod (the next sync acts on it). A version older than the one held (the
   * informer's event of an earlier status write, arriving after this worker's later write was
   * answered) is ignored: computing the status from it would rewrite the older status, whose event
   * would then undo the newer one, back and forth without end.
   */
  update(pod: Pod): void {
    if (this.pod && revisionOf(pod) < revisionOf(this.pod)) return;
    this.pod = pod;
  }

  /** The pod no longer exists in the API: the next sync stops and removes its containers. */
  markGone(): void {
    this.gone = true;
  }

  /** Asks the manager's queue for a sync of this pod. */
  kick(): void {
    if (!this.finished) this.ctx.enqueue(this.uid);
  }

  private kickAfter(ms: number): void {
    if (!this.finished) this.ctx.enqueueAfter(this.uid, ms);
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

  /** The containers running now with their containerd ids (resource usage reads their cgroups). */
  runningContainers(): { name: string; id: string }[] {
    return [...this.records.values()].filter((r) => r.running).map((r) => ({ name: r.name, id: containerId(this.uid, r.name, r.attempt) }));
  }

  /** A container this worker holds running has no live task in `tasks` (its exit event was missed). */
  missedExit(tasks: ReadonlyMap<string, TaskInfo>): boolean {
    for (const r of this.records.values()) {
      if (!r.running) continue;
      const task = tasks.get(containerId(this.uid, r.name, r.attempt));
      if (!task || task.status === 'STOPPED') return true;
    }
    return false;
  }

  /** The log files the running containers write now (the log keeper samples and rotates them). */
  liveLogFiles(): string[] {
    const pod = this.pod;
    if (!pod) return [];
    const out: string[] = [];
    for (const r of this.records.values()) {
      if (!r.running) continue;
      if (r.logFile?.attempt !== r.attempt) r.logFile = { attempt: r.attempt, path: logPath(this.ctx.logsDir, this.podRef(pod), r.name, r.attempt) };
      out.push(r.logFile.path);
    }
    return out;
  }

  /** The container's spec in the pod (attach reads its stdin, stdinOnce and tty). */
  containerSpec(name: string): Container | undefined {
    return [...(this.pod?.spec.containers ?? []), ...(this.pod?.spec.initContainers ?? [])].find((c) => c.name === name);
  }

  /** The pod's network namespace once it is built and while a container runs in it (for port-forward). */
  portForwardNetns(): string | undefined {
    return this.net && this.runningContainers().length > 0 ? this.net.netnsPath : undefined;
  }

  isRunning(name: string): boolean {
    return this.records.get(name)?.running === true;
  }

  private podRef(pod: Pod): { namespace: string; podName: string; podUid: string } {
    return podRef(pod);
  }

  private get dir(): string {
    return podDir(this.ctx.podsDir, this.uid);
  }

  private get restartPolicy(): RestartPolicy {
    return this.pod?.spec.restartPolicy ?? 'Always';
  }

  // ------------------------------------------------------------------ state file

  private async loadState(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    const saved: Record<string, PersistedContainer> = await readPodState(this.dir);
    const pod = this.pod!;
    // A terminal phase is final (an agent restart must not start an evicted or timed-out pod again):
    // from the API's status, or from this node's own record when the server has not got it yet.
    const recorded = readTerminalRecord(this.dir);
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') {
      this.terminal = phase;
      this.terminalMessage = pod.status?.message;
      this.terminalReason = pod.status?.reason;
    } else if (recorded) {
      this.terminal = recorded.phase;
      this.terminalMessage = recorded.message;
      this.terminalReason = recorded.reason;
    }
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
    await writePodState(this.dir, this.records);
  }

  // ------------------------------------------------------------------ the sync

  /** One level-triggered pass over the pod (the manager's reconcile); throws to be retried with back-off. */
  async sync(): Promise<void> {
    if (this.finished) return;
    const pod = this.pod;
    if (!pod) return;
    if (this.gone || pod.metadata.deletionTimestamp) {
      await this.terminate(pod);
      return;
    }
    await this.loadState();
    await this.observeExits();
    if (!this.terminal) await this.enforceLimits(pod);
    if (!this.terminal && !this.admitted) await this.admit(pod);
    if (this.terminal) {
      this.ctx.devices?.release(this.uid);
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
        this.ctx.retry(this.uid);
      });
      await this.writePodFiles(pod);
      await images;
    }
    // Projected service-account tokens are renewed before they expire (80 % of their life); their
    // state files are read only once one is due.
    if (Date.now() >= this.tokensDueAt) {
      const tokens = await refreshProjectedTokens(pod, join(podDir(this.ctx.podsDir, this.uid), 'volumes'), this.ctx.volumeSources.serviceAccountToken)
        .catch((err: unknown) => log.warn('agent', 'cannot refresh a service-account token, will retry', { pod: this.describe(), error: (err as Error).message }));
      this.tokensDueAt = tokens?.nextAt ?? 0;
      if (tokens?.nextAt !== undefined && tokens.nextAt !== Infinity) this.kickAfter(Math.min(tokens.nextAt - Date.now() + 10, 600_000));
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

  /**
   * Device admission: the pod's devices are chosen (or read back from its status) and recorded in
   * its status before any container starts, so the lease outlives an agent crash. No free unit
   * although the scheduler placed it here fails the pod as kubelet does (UnexpectedAdmissionError).
   */
  private async admit(pod: Pod): Promise<void> {
    const result = this.ctx.devices?.allocate(pod);
    if (result && 'error' in result) {
      this.ctx.events.admissionFailed(pod, result.error);
      this.finish('Failed', result.error, ADMISSION_ERROR_REASON);
      return;
    }
    if (result) {
      this.deviceAllocation = result.allocation;
      await this.writeStatus(pod);
    }
    this.admitted = true;
  }

  /** activeDeadlineSeconds and disk emptyDir sizeLimits (pod-limits.ts): past one, the pod is stopped and Failed. */
  private async enforceLimits(pod: Pod): Promise<void> {
    const left = msUntilDeadline(pod, Date.now(), Date.now() - (performance.now() - this.seenAt));
    let breach: PodLimitBreach | undefined;
    if (left !== undefined && left <= 0) breach = { reason: DEADLINE_EXCEEDED_REASON, message: DEADLINE_EXCEEDED_MESSAGE };
    else if (left !== undefined) this.kickAfter(left + 10);
    if (!breach && hasDiskEmptyDirLimit(pod)) {
      const everyMs = this.ctx.cfg.evictionMonitoringSeconds * 1000;
      const dueIn = this.storageCheckedAt + everyMs - Date.now();
      if (dueIn <= 0) {
        this.storageCheckedAt = Date.now();
        breach = await emptyDirOverLimit(pod, (name) => join(this.dir, 'volumes', name));
      }
      if (!breach) this.kickAfter(Math.max(dueIn, everyMs));
    }
    if (breach) await this.failPod(pod, breach);
  }

  /** Stops every running container (with the pod's grace period) and ends the pod Failed, as kubelet does. */
  private async failPod(pod: Pod, breach: PodLimitBreach): Promise<void> {
    log.info('agent', 'stopping pod', { pod: this.describe(), reason: breach.reason, message: breach.message });
    if (breach.reason === 'Evicted') this.ctx.events.evicted(pod, breach.message);
    else this.ctx.events.deadlineExceeded(pod);
    const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
    await Promise.all([...this.records.values()].filter((r) => r.running).map(async (rec) => {
      const id = containerId(this.uid, rec.name, rec.attempt);
      this.ctx.events.killing(pod, rec.name);
      await this.ctx.runtime.stop(id, { gracePeriodMs: grace * 1000 }).catch(() => undefined); // already gone: recordExit reads what is left
      this.ctx.tasks.invalidate();
      await this.recordExit(rec, id);
    }));
    this.finish('Failed', breach.message, breach.reason);
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

  private finish(phase: 'Succeeded' | 'Failed', message?: string, reason?: string): void {
    this.terminal = phase;
    this.terminalMessage = message;
    this.terminalReason = reason;
    for (const r of this.records.values()) {
      r.prober?.stop();
      r.prober = undefined;
      r.ready = false;
    }
    log.info('agent', `pod ${phase.toLowerCase()}`, { pod: this.describe() });
    // Kept on disk too: an agent restarted before the server has the new phase (or while it is away)
    // starts from the cached spec and must not run a finished pod's containers again.
    try {
      mkdirSync(this.dir, { recursive: true });
      writeFileSync(join(this.dir, TERMINAL_FILE), JSON.stringify({ phase, message, reason }), { mode: 0o600 });
    } catch (err) {
      log.warn('agent', 'cannot record the pod\'s final phase on disk', { pod: this.describe(), error: (err as Error).message });
    }
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
    const kind = rec.unhealthy?.startsWith('Startup') ? 'startup' : 'liveness';
    this.ctx.events.killing(pod, rec.name, `Container ${rec.name} failed ${kind} probe, will be restarted`);
    await this.ctx.runtime.stop(id, { gracePeriodMs: grace * 1000 });
    this.ctx.tasks.invalidate();
    await this.recordExit(rec, id);
  }

  /** Starts the next attempt now, or waits out the back-off (CrashLoopBackOff, ImagePullBackOff). */
  private async startIfDue(pod: Pod, c: Container, rec: ContainerRecord): Promise<void> {
    const wait = (rec.restartAt ?? 0) - Date.now();
    if ((rec.created || rec.waiting) && wait > 0) {
      if (rec.terminated) {
        const first = rec.waiting?.reason !== 'CrashLoopBackOff';
        rec.waiting = { reason: 'CrashLoopBackOff', message: `back-off ${Math.ceil(wait / 1000)}s restarting failed container=${c.name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${this.uid})` };
        if (first) this.ctx.events.crashBackOff(pod, c.name);
      } else if (rec.waiting?.reason === 'ErrImagePull') {
        // The last pull's error stays in the message: it says why (401, not found, unreachable).
        rec.waiting = { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image ?? ''}": ErrImagePull: ${rec.waiting.message ?? ''}` };
        this.ctx.events.imageBackOff(pod, c.name, c.image ?? '');
      }
      this.kickAfter(wait + 10);
      return;
    }
    await this.startContainer(pod, c, rec);
  }

  private async startContainer(pod: Pod, c: Container, rec: ContainerRecord): Promise<void> {
    const attempt = rec.created ? rec.attempt + 1 : rec.attempt;
    const oldId = rec.created ? containerId(this.uid, c.name, rec.attempt) : undefined;
    const t0 = performance.now();
    const image = c.image ?? '';
    const noSandbox = await this.runtimeHandlerError(pod);
    if (noSandbox) {
      this.ctx.events.sandboxFailed(pod, noSandbox);
      this.startFailed(rec, 'ContainerCreating', noSandbox);
      return;
    }
    try {
      const got = await this.ctx.images.ensure(pod, c, { onPulling: () => this.ctx.events.pulling(pod, c.name, image) });
      if (got.outcome === 'pulled') this.ctx.events.pulled(pod, c.name, image, got.ms);
      else if (!rec.created) this.ctx.events.alreadyPresent(pod, c.name, image);
    } catch (err) {
      const reason = err instanceof ImageError ? err.reason : 'ErrImagePull';
      this.ctx.events.imageFailed(pod, c.name, reason, (err as Error).message);
      this.startFailed(rec, reason, (err as Error).message);
      return;
    }
    const net = this.net!;
    let spec: ContainerSpec;
    try {
      this.volumes ??= await prepareVolumes(pod, this.ctx.podsDir, this.ctx.volumeSources);
      const env = await buildEnv(pod, c, net.ip, this.ctx.cfg.nodeIp, this.ctx.envSources);
      spec = containerSpecFor({
        pod, container: c, attempt, env, volumes: this.volumes, netnsPath: net.netnsPath,
        nodeName: this.ctx.cfg.nodeName, podDir: this.dir, logsDir: this.ctx.logsDir,
        devices: containerDevicePaths(c, this.deviceAllocation).map((path) => ({ path, hostPath: hostPath(path, this.ctx.devices?.devRoot) })),
      });
    } catch (err) {
      this.ctx.events.failed(pod, c.name, (err as Error).message);
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
      this.ctx.events.failed(pod, c.name, rec.terminated.message ?? 'StartError');
      await this.saveState();
      this.kickAfter(b.delayMs + 10);
      return;
    }
    const ranMs = performance.now() - t0;
    this.ctx.events.created(pod, c.name);
    this.ctx.events.started(pod, c.name);
    this.ctx.tasks.invalidate();
    rec.running = true;
    rec.waiting = undefined;
    rec.startedAt = rfc3339();
    if (!rec.imageID) rec.imageID = await this.imageIdOf(c.image ?? '');
    await this.saveState();
    if (!rec.init) this.startProbes(pod, c, rec, spec.id);
    else rec.started = true;
    log.debug('agent', 'container started', { pod: this.describe(), container: c.name, attempt, startMs: Math.round(ranMs), sinceSeenMs: Math.round(performance.now() - this.seenAt) });
    if (!this.startReported && !rec.init && pod.spec.containers.every((x) => this.records.get(x.name)?.running)) {
      this.startReported = true;
      this.ctx.podStarted?.((performance.now() - this.seenAt) / 1000);
    }
  }

  /** Why the pod's RuntimeClass cannot run here: containerd's runc is this node's only handler. */
  private async runtimeHandlerError(pod: Pod): Promise<string | undefined> {
    const name = pod.spec.runtimeClassName;
    if (!name) return undefined;
    const rc = await this.ctx.client.tryGet<RuntimeClass>('RuntimeClass', undefined, name);
    if (!rc) return `rpc error: code = Unknown desc = failed to get sandbox runtime handler: RuntimeClass "${name}" not found`;
    if (rc.handler !== RUNC_HANDLER) return `rpc error: code = Unknown desc = failed to get sandbox runtime: no runtime for "${rc.handler}" is configured`;
    return undefined;
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
    const kindName = { liveness: 'Liveness', readiness: 'Readiness', startup: 'Startup' } as const;
    const prober = new ContainerProber({ containerId: id, netnsPath: this.net!.netnsPath, podIp: this.net!.ip, container: c }, this.ctx.runtime, this.ctx.cfg.nodeBinary, {
      onProbeFailed: (kind, message) => {
        if (rec.prober === prober) this.ctx.events.unhealthy(this.pod ?? pod, c.name, kindName[kind], message);
      },
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

  /** The pod's own files its containers mount (container-spec.ts's POD_FILES): /etc/hosts and /etc/resolv.conf. */
  private async writePodFiles(pod: Pod): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const cfg = this.ctx.cfg;
    const warnings = await writePodDnsFiles({
      dir: this.dir, pod, podIp: this.net!.ip, settings: { clusterDns: cfg.clusterDns, clusterDomain: cfg.clusterDomain }, resolvConfPath: cfg.resolvConf,
    });
    for (const w of warnings) {
      log.warn('agent', 'pod DNS configuration cut to the limits', { pod: this.describe(), warning: w });
      this.ctx.events.dnsConfigForming(pod, w);
    }
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
    const now = rfc3339();
    const extraConditions = this.deviceAllocation ? [allocationCondition(this.deviceAllocation, pod.status?.conditions, now)] : undefined;
    const status = buildPodStatus(pod, {
      podIp: this.net?.ip ?? pod.status?.podIP, hostIp: this.ctx.cfg.nodeIp, init, app, terminal: this.terminal, initialized,
      message: this.terminalMessage, reason: this.terminalReason, extraConditions,
    }, now);
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
      if (this.pod && this.pod.metadata.uid === updated.metadata.uid) {
        const metadata = updated.metadata.resourceVersion !== undefined ? { ...this.pod.metadata, resourceVersion: updated.metadata.resourceVersion } : this.pod.metadata;
        this.pod = { ...this.pod, metadata, status: updated.status ?? status };
      }
    } catch (err) {
      if (isNotFound(err)) return;
      // Server unreachable: the pod keeps running; the queue retries the sync (and the status) with back-off.
      throw new Error(`cannot write the pod status: ${(err as Error).message}`, { cause: err });
    }
  }

  // ------------------------------------------------------------------ termination

  private async terminate(pod: Pod): Promise<void> {
    await this.loadState().catch(() => undefined);
    this.ctx.devices?.release(this.uid);
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
    if (!this.gone && !this.stopRecorded) {
      this.stopRecorded = true;
      for (const r of this.records.values()) if (r.running) this.ctx.events.killing(pod, r.name);
    }
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
        // Server unreachable: everything local is gone; the queue retries the API delete.
        if (!(isNotFound(err) || isConflict(err))) throw err;
      }
    }
    this.finished = true;
    log.info('agent', 'pod removed', { pod: this.describe() });
  }

  /** Stops probes (agent shutdown); containers keep running. */
  detach(): void {
    for (const r of this.records.values()) r.prober?.stop();
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

const TERMINAL_FILE = 'terminal.json';

/** The final phase this node recorded for the pod in its directory, if any. */
function readTerminalRecord(dir: string): { phase: 'Succeeded' | 'Failed'; message?: string; reason?: string } | undefined {
  try {
    const r = JSON.parse(readFileSync(join(dir, TERMINAL_FILE), 'utf8')) as { phase?: string; message?: string; reason?: string };
    return r.phase === 'Succeeded' || r.phase === 'Failed' ? { phase: r.phase, ...(r.message ? { message: r.message } : {}), ...(r.reason ? { reason: r.reason } : {}) } : undefined;
  } catch {
    return undefined;
  }
}

function fingerprintOf(status: PodStatus | undefined): string {
  return status ? statusFingerprint(status) : '';
}
