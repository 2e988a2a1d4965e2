/**
 * Containers and tasks through ctr 1.6.
 *
 * How a container is made (ctr 1.6 has no --hostname/--user, so the driver owns the OCI spec):
 *   1. `ctr images mount --rw IMAGE <state>/<id>/rootfs` unpacks if needed, prepares a writable
 *      snapshot keyed by that path (under a 24 h lease) and mounts it;
 *   2. the spec is written to <state>/<id>/config.json (spec.ts);
 *   3. `ctr containers create --config config.json --label ... ID` creates the container, and
 *      containerd's Tasks API creates and starts its task with its output appended to LOG
 *      (log-stdio.ts says why not ctr's `--log-uri`). One label,
 *      `containerd.io/gc.ref.snapshot.overlayfs=<rootfs>`, makes the container (a GC root) hold the
 *      snapshot, so the mount's lease is dropped right away and the snapshot lives exactly as long
 *      as the container.
 * Removal reverses it: task delete, container delete, `ctr images unmount --rm`, state dir.
 *
 * Exit codes of detached tasks: `ctr task delete` reports a non-zero code only as a warning on stderr
 * ("task X exit with non-zero exit code N"); no warning means 0. `ctr events` carries exit_status too.
 *
 * Why this file is long: the container lifecycle through ctr (mount, spec, run, stop, delete,
 * remove): each step undoes or depends on the ones before. Exec (exec.ts), the event stream
 * (task-events.ts) and the spec's host inputs (spec-inputs.ts) are apart.
 */
import { spawn } from 'node:child_process';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ctr, type CallOptions, type CtrOptions } from './ctr.js';
import { RuntimeError, isRuntimeError } from './errors.js';
import { ImageService, normalizeImageRef } from './images.js';
import { runCommand } from '../../api/run-command.js';
import { sleep } from '../../api/async-util.js';
import { startExec, type ExecOptions, type ExecSession } from './exec.js';
import { buildSpec, mergeEnv, resolveArgs, type BindMount } from './spec.js';
import { deviceNode, hostCapabilities, resolveImageUser } from './spec-inputs.js';
import { watchTaskEvents, type TaskEvent } from './task-events.js';
import { TasksClient } from './tasks-grpc.js';
import { logStdio } from './log-stdio.js';

export interface ContainerSpec {
  /** containerd id: [A-Za-z0-9] runs joined by . _ -, at most 76 characters. */
  id: string;
  image: string;
  /** Kubernetes `command`: replaces the image entrypoint. */
  command?: string[] | undefined;
  /** Kubernetes `args`: replaces the image cmd. */
  args?: string[] | undefined;
  env?: Record<string, string> | [string, string][] | undefined;
  workingDir?: string | undefined;
  /** The pod name; also written to /etc/hostname inside the container. */
  hostname?: string | undefined;
  /** runAsUser/runAsGroup; default the image's USER, else root. */
  user?: { uid: number; gid?: number | undefined; additionalGids?: number[] | undefined } | undefined;
  privileged?: boolean | undefined;
  capAdd?: string[] | undefined;
  capDrop?: string[] | undefined;
  /**
   * Device nodes to expose: a path (the same inside and out, e.g. /dev/i2c-1), or a container path
   * with the host file it is made from (a device tree under another root, as the lab's fake /dev).
   */
  devices?: (string | { path: string; hostPath: string })[] | undefined;
  mounts?: BindMount[] | undefined;
  /** The pod's network namespace, e.g. /run/netns/cni-1234. */
  netnsPath?: string | undefined;
  memoryLimitBytes?: number | undefined;
  cpus?: number | undefined;
  cpuShares?: number | undefined;
  readOnlyRootfs?: boolean | undefined;
  /** Labels to find the container again after an agent restart (e.g. corral.pod-uid). */
  labels?: Record<string, string> | undefined;
  /** stdout and stderr of the task go to this file. */
  logPath: string;
  /**
   * Kubernetes `stdin` / `tty`: the task reads stdin from a FIFO in the container's state dir
   * (stdinPath), which the shim holds open, and with a tty runs on a pty whose output, like a plain
   * task's, goes to the log file.
   */
  stdio?: { stdin: boolean; tty: boolean } | undefined;
}

export type TaskStatus = 'RUNNING' | 'STOPPED' | 'CREATED' | 'PAUSED' | 'PAUSING' | 'UNKNOWN';

export interface TaskInfo {
  id: string;
  pid: number;
  status: TaskStatus;
}

export interface ContainerInfo {
  id: string;
  labels: Record<string, string>;
  /** The log file of its task (from the driver's own label). */
  logPath?: string | undefined;
  /** The image the container was made from (from the driver's own label). */
  image?: string | undefined;
}

export interface ContainerdRuntimeOptions extends CtrOptions {
  /** Per-container files (rootfs mount point, config.json, hostname). */
  stateDir: string;
  /** Parent cgroup of all containers (default /corral). */
  cgroupParent?: string;
  /** Snapshotter of the image mounts (default overlayfs, containerd's default). */
  snapshotter?: string;
}

/** Labels the driver sets on every container for its own bookkeeping. */
export const LABEL_ROOTFS = 'corral.rootfs';
export const LABEL_LOG_PATH = 'corral.log-path';
export const LABEL_IMAGE = 'corral.image';

const ID_PATTERN = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;

export class ContainerdRuntime {
  readonly ctr: Ctr;
  readonly images: ImageService;
  readonly stateDir: string;
  readonly cgroupParent: string;
  readonly snapshotter: string;
  readonly tasks: TasksClient;

  constructor(opts: ContainerdRuntimeOptions) {
    this.ctr = new Ctr(opts);
    this.tasks = new TasksClient(this.ctr.address, this.ctr.namespace, opts.onCall);
    this.images = new ImageService(this.ctr);
    this.stateDir = opts.stateDir;
    this.cgroupParent = (opts.cgroupParent ?? '/corral').replace(/\/+$/, '');
    this.snapshotter = opts.snapshotter ?? 'overlayfs';
  }

  /** "containerd://1.6.20~ds1" as the Node's containerRuntimeVersion; Unreachable when containerd is down. */
  async version(opts: CallOptions = {}): Promise<string> {
    const version = await this.tasks.version({ timeoutMs: 5_000, ...opts });
    if (!version) throw new RuntimeError('Failed', 'containerd answered its version without one', 'version');
    return `containerd://${version}`;
  }

  containerDir(id: string): string {
    return join(this.stateDir, id);
  }

  /** The FIFO a container with `stdin: true` reads its stdin from (see ContainerSpec.stdio). */
  stdinPath(id: string): string {
    return join(this.containerDir(id), 'stdin');
  }

  cgroupsPath(id: string): string {
    return `${this.cgroupParent}/${id}`;
  }

  /**
   * Creates the container and starts its task detached; the task's output goes to spec.logPath.
   * `beforeStart` (e.g. the pod netns being built) is awaited after the rootfs is mounted and the
   * spec written, right before ctr creates the task: the two overlap.
   */
  async run(spec: ContainerSpec, opts: CallOptions & { beforeStart?: Promise<void> | undefined } = {}): Promise<void> {
    await this.create(spec, opts, true);
  }

  /** Creates the container without starting it (start it with startTask). */
  async createOnly(spec: ContainerSpec, opts: CallOptions = {}): Promise<void> {
    await this.create(spec, opts, false);
  }

  private async create(spec: ContainerSpec, opts: CallOptions & { beforeStart?: Promise<void> | undefined }, start: boolean): Promise<void> {
    if (!ID_PATTERN.test(spec.id) || spec.id.length > 76) {
      throw new RuntimeError('InvalidArgument', `invalid container id ${JSON.stringify(spec.id)}`, 'run');
    }
    const image = normalizeImageRef(spec.image);
    const imageConfig = await this.images.config(image, opts);
    const dir = this.containerDir(spec.id);
    const rootfs = join(dir, 'rootfs');
    if (await pathExists(dir)) {
      // Refuse before touching the rootfs: mounting again would stack a second mount on it.
      const existing = await this.inspect(spec.id, opts).catch((err: unknown) => {
        if (isRuntimeError(err, 'NotFound')) return undefined;
        throw err;
      });
      if (existing) throw new RuntimeError('AlreadyExists', `container ${spec.id} already exists`, 'run');
      // Left over from a create that died half-way (agent killed): clear it.
      await this.ctr.call(['images', 'unmount', '--rm', rootfs], opts).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
    await mkdir(rootfs, { recursive: true });
    await mkdir(join(spec.logPath, '..'), { recursive: true });
    let mounted = false;
    let created = false;
    try {
      await this.ctr.call(['images', 'mount', '--rw', image, rootfs], { timeoutMs: 120_000, ...opts, signal: opts.signal });
      mounted = true;
      const mounts: BindMount[] = [...(spec.mounts ?? [])];
      if (spec.hostname) {
        const hostnameFile = join(dir, 'hostname');
        await writeFile(hostnameFile, `${spec.hostname}\n`);
        if (!mounts.some((m) => m.destination === '/etc/hostname')) mounts.push({ source: hostnameFile, destination: '/etc/hostname' });
      }
      const user = spec.user
        ? { uid: spec.user.uid, gid: spec.user.gid ?? spec.user.uid, additionalGids: spec.user.additionalGids }
        : await resolveImageUser(imageConfig.user, rootfs);
      const devices = await Promise.all((spec.devices ?? []).map((d) => (typeof d === 'string' ? deviceNode(d) : deviceNode(d.hostPath, d.path))));
      const args = resolveArgs(imageConfig, spec.command, spec.args);
      if (args.length === 0) throw new RuntimeError('InvalidArgument', `container ${spec.id}: no command and the image has no entrypoint or cmd`, 'run');
      const ociSpec = buildSpec({
        rootfs,
        hostCapabilities: await hostCapabilities(),
        readOnlyRootfs: spec.readOnlyRootfs,
        args,
        env: mergeEnv(imageConfig.env, spec.env),
        cwd: spec.workingDir || imageConfig.workingDir || '/',
        hostname: spec.hostname,
        user,
        privileged: spec.privileged,
        capAdd: spec.capAdd,
        capDrop: spec.capDrop,
        devices,
        mounts,
        netnsPath: spec.netnsPath,
        memoryLimitBytes: spec.memoryLimitBytes,
        cpus: spec.cpus,
        cpuShares: spec.cpuShares,
        cgroupsPath: this.cgroupsPath(spec.id),
        terminal: spec.stdio?.tty,
      });
      const configPath = join(dir, 'config.json');
      await writeFile(configPath, JSON.stringify(ociSpec));
      const labels: Record<string, string> = {
        ...spec.labels,
        [LABEL_ROOTFS]: rootfs,
        [LABEL_LOG_PATH]: spec.logPath,
        [LABEL_IMAGE]: image,
        [`containerd.io/gc.ref.snapshot.${this.snapshotter}`]: rootfs,
      };
      const labelArgs = Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
      await opts.beforeStart;
      created = true; // ctr may fail after creating the container: clean up either way
      await this.ctr.call(['containers', 'create', '--config', configPath, ...labelArgs, spec.id], opts);
      if (start && spec.stdio) await this.startInteractiveTask(spec.id, spec.logPath, spec.stdio, opts);
      else if (start) await this.startLoggedTask(spec.id, spec.logPath, '', opts);
      // The container now references the snapshot; the mount's 24 h lease is no longer needed. Dropped
      // off the start path (nothing waits for it); if it fails, the lease expires by itself.
      void this.ctr.call(['leases', 'rm', rootfs]).catch(() => undefined);
    } catch (err) {
      if (!(err instanceof RuntimeError && err.code === 'AlreadyExists')) {
        if (created) await this.removeContainerRecord(spec.id).catch(() => undefined);
        if (mounted) await this.ctr.call(['images', 'unmount', '--rm', rootfs]).catch(() => undefined);
        await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      }
      throw err;
    }
  }

  /** Starts a new task in an existing container (first start, or an in-place restart after deleteTask). */
  async startTask(id: string, opts: CallOptions & { logPath?: string | undefined } = {}): Promise<void> {
    const logPath = opts.logPath ?? (await this.inspect(id, opts)).logPath;
    if (logPath) await this.startLoggedTask(id, logPath, '', opts);
    else await this.ctr.call(['tasks', 'start', '-d', '--null-io', id], opts);
  }

  /** Creates and starts the task of an existing container without a terminal, its output appended to `logPath`. */
  private async startLoggedTask(id: string, logPath: string, stdin: string, opts: CallOptions): Promise<void> {
    await this.tasks.createAndStart(id, { stdin, ...(await logStdio(logPath)), terminal: false }, opts.timeoutMs ?? this.ctr.timeoutMs);
  }

  /**
   * Starts the task of a `stdin`/`tty` container through containerd's API (ctr cannot combine a
   * stdin FIFO with a log file): the shim reads stdin from the FIFO and appends output to the log.
   * The shim, not the agent, holds both, so they outlive an agent restart.
   */
  private async startInteractiveTask(id: string, logPath: string, stdio: { stdin: boolean; tty: boolean }, opts: CallOptions): Promise<void> {
    const stdin = stdio.stdin ? this.stdinPath(id) : '';
    if (stdin) {
      const made = await runCommand('mkfifo', ['-m', '600', stdin], { timeoutMs: 5_000 });
      if (made.code !== 0) throw new RuntimeError('Failed', `cannot make the stdin FIFO of ${id}: ${made.stderr.trim()}`, 'task create');
    }
    if (!stdio.tty) {
      await this.startLoggedTask(id, logPath, stdin, opts);
      return;
    }
    const timeoutMs = opts.timeoutMs ?? this.ctr.timeoutMs;
    // containerd 1.6 copies a console only to a FIFO: a detached `cat` appends it to the log (O_APPEND,
    // as the log rotation's copy-then-truncate needs) and, like the shim, outlives an agent restart.
    // It ends by itself when the task exits and the shim closes the FIFO.
    const out = join(this.containerDir(id), 'console');
    const made = await runCommand('mkfifo', ['-m', '600', out], { timeoutMs: 5_000 });
    if (made.code !== 0) throw new RuntimeError('Failed', `cannot make the console FIFO of ${id}: ${made.stderr.trim()}`, 'task create');
    const copier = spawn('sh', ['-c', 'exec cat < "$0" >> "$1"', out, logPath], { detached: true, stdio: 'ignore' });
    copier.unref();
    try {
      await this.tasks.createAndStart(id, { stdin, stdout: out, stderr: '', terminal: true }, timeoutMs);
    } catch (err) {
      copier.kill('SIGKILL');
      throw err;
    }
  }

  /** Every task with its pid and status, through containerd's API (no ctr process: the pod resync asks every few seconds). */
  async listTasks(opts: CallOptions = {}): Promise<TaskInfo[]> {
    return this.tasks.list(opts);
  }

  async task(id: string, opts: CallOptions = {}): Promise<TaskInfo | undefined> {
    return (await this.listTasks(opts)).find((t) => t.id === id);
  }

  /**
   * Containers, optionally only those carrying all the given labels (ctr filter
   * `labels."k"==v`), with their labels: the way to find a pod's containers after an agent restart.
   */
  async listContainers(filter: { labels?: Record<string, string> } = {}, opts: CallOptions = {}): Promise<ContainerInfo[]> {
    const filters = Object.entries(filter.labels ?? {}).map(([k, v]) => `labels.${JSON.stringify(k)}==${/^[A-Za-z0-9._-]+$/.test(v) ? v : JSON.stringify(v)}`);
    // Several filters given separately are OR-ed by containerd; joined with "," they are AND-ed.
    const args = ['containers', 'ls', '-q'];
    if (filters.length > 0) args.push(filters.join(','));
    const { stdout } = await this.ctr.call(args, opts);
    const ids = stdout.split('\n').map((l) => l.trim()).filter(Boolean);
    const infos: ContainerInfo[] = [];
    for (const id of ids) {
      try {
        infos.push(await this.inspect(id, opts));
      } catch (err) {
        if (!isRuntimeError(err, 'NotFound')) throw err; // removed meanwhile
      }
    }
    return infos;
  }

  async inspect(id: string, opts: CallOptions = {}): Promise<ContainerInfo> {
    const { stdout } = await this.ctr.call(['containers', 'info', id], opts);
    let info: { ID?: string; Labels?: Record<string, string> | null };
    try {
      info = JSON.parse(stdout) as typeof info;
    } catch (err) {
      throw new RuntimeError('Failed', `ctr containers info ${id}: output is not JSON`, 'containers info', { cause: err });
    }
    const labels = info.Labels ?? {};
    return { id: info.ID ?? id, labels, logPath: labels[LABEL_LOG_PATH], image: labels[LABEL_IMAGE] };
  }

  /** Sends a signal to the task's init process (all processes with `all`). */
  async kill(id: string, signal: NodeJS.Signals | 'SIGKILL' | 'SIGTERM', opts: CallOptions & { all?: boolean } = {}): Promise<void> {
    const args = ['tasks', 'kill', '--signal', signal];
    if (opts.all) args.push('--all');
    await this.ctr.call([...args, id], opts);
  }

  /**
   * Graceful stop: SIGTERM, wait up to the grace period for the task to stop, then SIGKILL (whole
   * container) and wait again. Resolves once the task is stopped or gone; the task itself stays so
   * that deleteTask can read its exit code.
   */
  async stop(id: string, opts: { gracePeriodMs: number; signal?: AbortSignal | undefined; pollMs?: number }): Promise<{ killed: boolean }> {
    const call = { signal: opts.signal };
    const initial = await this.task(id, call);
    if (!initial || initial.status === 'STOPPED') return { killed: false };
    if (initial.status === 'CREATED') {
      // Never started: nothing to signal gracefully.
      await this.kill(id, 'SIGKILL', call).catch(ignoreNotFound);
      await this.waitStopped(id, 10_000, opts.pollMs, opts.signal);
      return { killed: true };
    }
    await this.kill(id, 'SIGTERM', call).catch(ignoreNotFound);
    if (await this.waitStopped(id, opts.gracePeriodMs, opts.pollMs, opts.signal)) return { killed: false };
    await this.kill(id, 'SIGKILL', { ...call, all: true }).catch(ignoreNotFound);
    if (!(await this.waitStopped(id, 10_000, opts.pollMs, opts.signal))) {
      throw new RuntimeError('Timeout', `task ${id} did not stop after SIGKILL`, 'tasks kill');
    }
    return { killed: true };
  }

  /** Polls until the task is STOPPED or gone; false when the time ran out. */
  private async waitStopped(id: string, timeoutMs: number, pollMs = 100, signal?: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const t = await this.task(id, { signal });
      if (!t || t.status === 'STOPPED') return true;
      if (Date.now() >= deadline) return false;
      await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())), { signal });
      if (signal?.aborted) throw new RuntimeError('Aborted', 'aborted');
    }
  }

  /**
   * Deletes a stopped task and returns its exit code (from ctr's warning; none means 0). Undefined
   * when there was no task. A running task gives FailedPrecondition unless `force` (which kills it).
   */
  async deleteTask(id: string, opts: CallOptions & { force?: boolean } = {}): Promise<{ exitCode: number } | undefined> {
    const args = ['tasks', 'delete'];
    if (opts.force) args.push('--force');
    try {
      const { stderr } = await this.ctr.call([...args, id], opts);
      return { exitCode: parseDeleteExitCode(stderr) };
    } catch (err) {
      if (isRuntimeError(err, 'NotFound')) return undefined;
      throw err;
    }
  }

  /**
   * Runs a process in the container with its stdio piped through ctr (what `kubectl exec` relays).
   * Without a tty, stdout and stderr stay separate (exec.ts).
   */
  exec(id: string, opts: ExecOptions): ExecSession {
    return startExec(this.ctr, id, opts);
  }

  /**
   * Removes everything of a container: its task (killed if still running), the container record,
   * the rootfs mount + snapshot and the state dir. Idempotent; returns the task's exit code if
   * there was a task.
   */
  async remove(id: string, opts: CallOptions = {}): Promise<{ exitCode: number } | undefined> {
    let exit: { exitCode: number } | undefined;
    const t = await this.task(id, opts);
    if (t && t.status !== 'STOPPED') {
      await this.kill(id, 'SIGKILL', { ...opts, all: true }).catch(ignoreNotFound);
      await this.waitStopped(id, 10_000, 50, opts.signal);
    }
    if (t) exit = await this.deleteTask(id, { ...opts, force: true });
    let rootfs = join(this.containerDir(id), 'rootfs');
    try {
      rootfs = (await this.inspect(id, opts)).labels[LABEL_ROOTFS] ?? rootfs;
    } catch (err) {
      if (!isRuntimeError(err, 'NotFound')) throw err;
    }
    await this.removeContainerRecord(id, opts);
    if (await pathExists(rootfs)) {
      await this.ctr.call(['images', 'unmount', '--rm', rootfs], opts).catch((err: unknown) => {
        if (!isRuntimeError(err, 'NotFound')) throw err;
      });
    }
    await rm(this.containerDir(id), { recursive: true, force: true });
    return exit;
  }

  private async removeContainerRecord(id: string, opts: CallOptions = {}): Promise<void> {
    await this.ctr.call(['containers', 'delete', id], opts).catch(ignoreNotFound);
  }

  /**
   * Streams containerd events of this namespace (`ctr events`) until the signal fires or ctr exits
   * (task-events.ts). Resolves when the stream ends.
   */
  watchEvents(onEvent: (e: TaskEvent) => void, opts: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    return watchTaskEvents(this.ctr, onEvent, opts);
  }
}

/** `ctr tasks delete` prints `task X exit with non-zero exit code N` for failures and nothing for 0. */
export function parseDeleteExitCode(stderr: string): number {
  const m = /exit with non-zero exit code (\d+)/.exec(stderr);
  return m ? Number(m[1]) : 0;
}

function ignoreNotFound(err: unknown): void {
  if (!isRuntimeError(err, 'NotFound')) throw err;
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
