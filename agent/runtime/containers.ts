/**
 * Containers and tasks through ctr 1.6.
 *
 * How a container is made (ctr 1.6 has no --hostname/--user, so the driver owns the OCI spec):
 *   1. `ctr images mount --rw IMAGE <state>/<id>/rootfs` unpacks if needed, prepares a writable
 *      snapshot keyed by that path (under a 24 h lease) and mounts it;
 *   2. the spec is written to <state>/<id>/config.json (spec.ts);
 *   3. `ctr run -d --config config.json --log-uri file://LOG --label ... ID` creates the container and
 *      starts its task. One label, `containerd.io/gc.ref.snapshot.overlayfs=<rootfs>`, makes the
 *      container (a GC root) hold the snapshot, so the mount's lease is dropped right away and the
 *      snapshot lives exactly as long as the container.
 * Removal reverses it: task delete, container delete, `ctr images unmount --rm`, state dir.
 *
 * Exit codes of detached tasks: `ctr task delete` reports a non-zero code only as a warning on stderr
 * ("task X exit with non-zero exit code N"); no warning means 0. `ctr events` carries exit_status too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ctr, type CallOptions, type CtrOptions } from './ctr.js';
import { RuntimeError, isRuntimeError } from './errors.js';
import { ImageService, normalizeImageRef } from './images.js';
import { runCommand } from './run-command.js';
import { buildSpec, capabilitiesFromMask, mergeEnv, resolveArgs, type BindMount, type DeviceNode } from './spec.js';
import { sleep } from '../../api/async-util.js';

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
  /** Host device paths to expose, e.g. /dev/i2c-1. */
  devices?: string[] | undefined;
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

export interface TaskEvent {
  /** e.g. /tasks/exit, /tasks/start, /containers/delete */
  topic: string;
  namespace: string;
  /** Parsed event body: container_id, pid, exit_status, exited_at, ... */
  body: Record<string, unknown>;
  timestamp: string;
}

export interface ExecOptions {
  execId: string;
  args: string[];
  /** Allocate a terminal (through util-linux `script`, since ctr needs a console on its stdin). */
  tty?: boolean | undefined;
  /** Terminal size the tty starts with (kubectl sends it first). */
  size?: { cols: number; rows: number } | undefined;
  user?: string | undefined;
  cwd?: string | undefined;
  signal?: AbortSignal | undefined;
}

export interface ExecSession {
  /** stdin/stdout/stderr are the exec'd process's, relayed by ctr. The exit code is ctr's. */
  process: ChildProcess;
  /** Kills the process inside the container (killing ctr alone would leave it running). */
  kill(): Promise<void>;
  /**
   * Sets the terminal size of a tty session (kubectl's resize channel); a no-op without a tty.
   * ctr relays its own console's size to the container's pty whenever it gets SIGWINCH, so the size
   * is set on the pty `script` gave ctr (`stty -F`), which makes the kernel send ctr that signal.
   */
  resize(cols: number, rows: number): Promise<void>;
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

  constructor(opts: ContainerdRuntimeOptions) {
    this.ctr = new Ctr(opts);
    this.images = new ImageService(this.ctr);
    this.stateDir = opts.stateDir;
    this.cgroupParent = (opts.cgroupParent ?? '/corral').replace(/\/+$/, '');
    this.snapshotter = opts.snapshotter ?? 'overlayfs';
  }

  /** "containerd://1.6.20~ds1" as the Node's containerRuntimeVersion; Unreachable when containerd is down. */
  async version(opts: CallOptions = {}): Promise<string> {
    const { stdout } = await this.ctr.call(['version'], { timeoutMs: 5_000, ...opts });
    const server = stdout.slice(stdout.indexOf('Server:'));
    const m = /Version:\s+(\S+)/.exec(server);
    if (!m) throw new RuntimeError('Failed', `cannot read the server version from ctr version: ${stdout.trim()}`, 'version');
    return `containerd://${m[1]}`;
  }

  containerDir(id: string): string {
    return join(this.stateDir, id);
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
      const devices = await Promise.all((spec.devices ?? []).map((p) => deviceNode(p)));
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
      if (start) {
        created = true; // ctr run may fail after creating the container: clean up either way
        await this.ctr.call(['run', '-d', '--config', configPath, '--log-uri', fileUri(spec.logPath), ...labelArgs, spec.id], opts);
      } else {
        created = true;
        await this.ctr.call(['containers', 'create', '--config', configPath, ...labelArgs, spec.id], opts);
      }
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
    const args = ['tasks', 'start', '-d'];
    if (logPath) args.push('--log-uri', fileUri(logPath));
    else args.push('--null-io');
    await this.ctr.call([...args, id], opts);
  }

  async listTasks(opts: CallOptions = {}): Promise<TaskInfo[]> {
    const { stdout } = await this.ctr.call(['tasks', 'ls'], opts);
    return parseTaskList(stdout);
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
      await delay(Math.min(pollMs, Math.max(1, deadline - Date.now())), signal);
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
   * Without a tty, stdout and stderr stay separate.
   */
  exec(id: string, opts: ExecOptions): ExecSession {
    const ctrArgs = [...this.ctr.baseArgs(), 'tasks', 'exec', '--exec-id', opts.execId];
    if (opts.tty) ctrArgs.push('--tty');
    if (opts.user) ctrArgs.push('--user', opts.user);
    if (opts.cwd) ctrArgs.push('--cwd', opts.cwd);
    ctrArgs.push(id, ...opts.args);
    const child = opts.tty
      ? // `script` gives ctr the console it insists on; that outer pty is made raw so it neither echoes
        // nor rewrites line endings a second time (the container's own pty already does).
        spawn('script', ['--quiet', '--return', '--flush', '--command', `stty raw -echo${sttySize(opts.size)} 2>/dev/null; exec ${[this.ctr.ctrPath, ...ctrArgs].map(shellQuote).join(' ')}`, '/dev/null'], { stdio: 'pipe' })
      : spawn(this.ctr.ctrPath, ctrArgs, { stdio: 'pipe' });
    const kill = async (): Promise<void> => {
      await this.ctr.call(['tasks', 'kill', '--exec-id', opts.execId, '--signal', 'SIGKILL', id], { timeoutMs: 10_000 }).catch(ignoreNotFound);
      child.kill('SIGKILL');
    };
    let ctrTty: Promise<string | undefined> | undefined;
    const resize = async (cols: number, rows: number): Promise<void> => {
      if (!opts.tty || child.pid === undefined || !(cols > 0) || !(rows > 0)) return;
      ctrTty ??= findCtrTty(child.pid, this.ctr.ctrPath);
      const tty = await ctrTty;
      if (!tty) {
        ctrTty = undefined; // not started yet: look again next time
        return;
      }
      await runCommand('stty', ['-F', tty, 'rows', String(Math.floor(rows)), 'cols', String(Math.floor(cols))], { timeoutMs: 5_000 });
    };
    if (opts.signal) {
      const onAbort = (): void => { void kill().catch(() => undefined); };
      if (opts.signal.aborted) onAbort();
      else {
        opts.signal.addEventListener('abort', onAbort, { once: true });
        child.on('close', () => opts.signal!.removeEventListener('abort', onAbort));
      }
    }
    return { process: child, kill, resize };
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
   * (containerd restarted: the caller resubscribes and relists). Resolves when the stream ends.
   */
  watchEvents(onEvent: (e: TaskEvent) => void, opts: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ctr.checkSocket().then(() => {
        const child = spawn(this.ctr.ctrPath, [...this.ctr.baseArgs(), 'events'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let buffered = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => {
          buffered += chunk.toString('utf8');
          let nl: number;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            const event = parseEventLine(buffered.slice(0, nl));
            buffered = buffered.slice(nl + 1);
            if (event && event.namespace === this.ctr.namespace) onEvent(event);
          }
        });
        child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
        const onAbort = (): void => { child.kill('SIGKILL'); };
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        child.on('error', reject);
        child.on('close', (code) => {
          opts.signal?.removeEventListener('abort', onAbort);
          if (opts.signal?.aborted || code === 0) resolve();
          else reject(new RuntimeError(stderr ? (/dial/.test(stderr) ? 'Unreachable' : 'Failed') : 'Failed', `ctr events ended: ${stderr.trim() || `exit ${code}`}`, 'events'));
        });
      }, reject);
    });
  }
}

/**
 * The pty ctr runs on inside a `script` session started as `rootPid`: ctr is a descendant (script
 * forks a shell that execs ctr); its stdin is the pty. Waits up to 3 s for ctr to appear.
 */
async function findCtrTty(rootPid: number, ctrPath: string): Promise<string | undefined> {
  const name = ctrPath.slice(ctrPath.lastIndexOf('/') + 1).slice(0, 15);
  for (let i = 0; i < 60; i++) {
    const pid = await findDescendant(rootPid, name);
    if (pid !== undefined) {
      const tty = await readlink(`/proc/${pid}/fd/0`).catch(() => undefined);
      if (tty?.startsWith('/dev/pts/')) return tty;
    }
    await sleep(50);
  }
  return undefined;
}

/** A descendant of `rootPid` whose command name is `comm`, from /proc/<pid>/stat parent links. */
async function findDescendant(rootPid: number, comm: string): Promise<number | undefined> {
  const procs: { pid: number; ppid: number; comm: string }[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const m = /^(\d+) \((.*)\) \S (\d+)/.exec(stat);
    if (m) procs.push({ pid: Number(m[1]), comm: m[2]!, ppid: Number(m[3]) });
  }
  const tree = new Set([rootPid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) {
      if (!tree.has(p.pid) && tree.has(p.ppid)) {
        tree.add(p.pid);
        grew = true;
      }
    }
  }
  return procs.find((p) => p.comm === comm && tree.has(p.pid) && p.pid !== rootPid)?.pid;
}

/** Parses `ctr tasks ls` (TASK PID STATUS). */
export function parseTaskList(stdout: string): TaskInfo[] {
  const tasks: TaskInfo[] = [];
  for (const line of stdout.split('\n').slice(1)) {
    const [id, pid, status] = line.trim().split(/\s+/);
    if (!id || !pid || !status) continue;
    tasks.push({ id, pid: Number(pid), status: status as TaskStatus });
  }
  return tasks;
}

/** `ctr tasks delete` prints `task X exit with non-zero exit code N` for failures and nothing for 0. */
export function parseDeleteExitCode(stderr: string): number {
  const m = /exit with non-zero exit code (\d+)/.exec(stderr);
  return m ? Number(m[1]) : 0;
}

/** Parses one `ctr events` line: "<date> <time> <zone> <zone name> <namespace> <topic> <json>". */
export function parseEventLine(line: string): TaskEvent | undefined {
  const m = /^(\S+ \S+ \S+ \S+) (\S+) (\/\S+) (.*)$/.exec(line.trim());
  if (!m) return undefined;
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(m[4]!) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  return { timestamp: m[1]!, namespace: m[2]!, topic: m[3]!, body };
}

/** Resolves an image USER ("1000", "1000:50", "app", "app:staff") against the rootfs' passwd/group files. */
export async function resolveImageUser(user: string, rootfs: string): Promise<{ uid: number; gid: number }> {
  if (!user) return { uid: 0, gid: 0 };
  const [u = '', g] = user.split(':');
  const passwd = await readFile(join(rootfs, 'etc/passwd'), 'utf8').catch(() => '');
  const group = await readFile(join(rootfs, 'etc/group'), 'utf8').catch(() => '');
  let uid: number;
  let gid: number | undefined;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    const entry = passwd.split('\n').map((l) => l.split(':')).find((f) => f[2] === u);
    if (entry?.[3] !== undefined) gid = Number(entry[3]);
  } else {
    const entry = passwd.split('\n').map((l) => l.split(':')).find((f) => f[0] === u);
    if (!entry || entry[2] === undefined) throw new RuntimeError('InvalidArgument', `image user ${u} is not in the image's /etc/passwd`, 'run');
    uid = Number(entry[2]);
    gid = entry[3] === undefined ? undefined : Number(entry[3]);
  }
  if (g !== undefined && g !== '') {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const entry = group.split('\n').map((l) => l.split(':')).find((f) => f[0] === g);
      if (!entry || entry[2] === undefined) throw new RuntimeError('InvalidArgument', `image group ${g} is not in the image's /etc/group`, 'run');
      gid = Number(entry[2]);
    }
  }
  return { uid, gid: gid ?? 0 };
}

let hostCaps: Promise<string[] | undefined> | undefined;

/**
 * The capability bounding set of this process, which containerd and runc share on a normal install
 * (a container cannot be given more); undefined if it cannot be read.
 */
export function hostCapabilities(): Promise<string[] | undefined> {
  hostCaps ??= readFile('/proc/self/status', 'utf8').then(
    (text) => {
      const m = /^CapBnd:\s+([0-9a-f]+)$/m.exec(text);
      return m ? capabilitiesFromMask(m[1]!) : undefined;
    },
    () => undefined,
  );
  return hostCaps;
}

/** Reads a host device node's type and numbers for the spec. */
export async function deviceNode(path: string): Promise<DeviceNode> {
  let st;
  try {
    st = await stat(path, { bigint: true });
  } catch (err) {
    throw new RuntimeError('InvalidArgument', `device ${path} does not exist`, 'run', { cause: err });
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice()) throw new RuntimeError('InvalidArgument', `${path} is not a device node`, 'run');
  const rdev = st.rdev;
  // glibc's gnu_dev_major/minor encoding.
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return {
    path,
    type: st.isCharacterDevice() ? 'c' : 'b',
    major,
    minor,
    fileMode: Number(st.mode & 0o777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
}

function fileUri(path: string): string {
  return `file://${path}`;
}

function sttySize(size: { cols: number; rows: number } | undefined): string {
  if (!size || !Number.isInteger(size.cols) || !Number.isInteger(size.rows) || size.cols <= 0 || size.rows <= 0) return '';
  return ` rows ${size.rows} cols ${size.cols}`;
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
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

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(new RuntimeError('Aborted', 'aborted')); return; }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = (): void => { clearTimeout(timer); reject(new RuntimeError('Aborted', 'aborted')); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
