/**
 * Builds the OCI runtime spec (config.json) of one container. ctr 1.6 has no flags for the hostname or
 * the user, so the driver writes the whole spec itself and hands it to `ctr run --config`; everything a
 * pod container needs (namespaces, mounts, limits, capabilities, devices) is expressed here, in one
 * pure function that is easy to read and to test.
 */

export interface BindMount {
  source: string;
  destination: string;
  readOnly?: boolean | undefined;
}

/** A host device node to expose (from `fs.stat`: char/block, major/minor). */
export interface DeviceNode {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

export interface SpecInput {
  /** Absolute path of the mounted root filesystem. */
  rootfs: string;
  readOnlyRootfs?: boolean | undefined;
  args: string[];
  env: string[];
  cwd: string;
  hostname?: string | undefined;
  user: { uid: number; gid: number; additionalGids?: number[] | undefined };
  privileged?: boolean | undefined;
  capAdd?: string[] | undefined;
  capDrop?: string[] | undefined;
  devices?: DeviceNode[] | undefined;
  mounts?: BindMount[] | undefined;
  /** Path of a network namespace to join (the pod's); omitted = a new, empty one. */
  netnsPath?: string | undefined;
  memoryLimitBytes?: number | undefined;
  /** CFS quota in cores (0.5 = half a core). */
  cpus?: number | undefined;
  cpuShares?: number | undefined;
  cgroupsPath: string;
  /**
   * Capabilities the runtime itself holds (its bounding set); a container can get no others, and
   * runc fails the start if asked to. Omitted: no filtering.
   */
  hostCapabilities?: readonly string[] | undefined;
  annotations?: Record<string, string> | undefined;
  /** The process runs on a pty (a container with `tty: true`); the shim is given the console. */
  terminal?: boolean | undefined;
}

/** The runtime's default capability set (Docker's / containerd's default list). */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Every capability up to CAP_CHECKPOINT_RESTORE (Linux 5.9), in bit order, for privileged containers and "ALL". */
export const ALL_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** Kubernetes writes capabilities without the prefix ("NET_ADMIN"); the OCI spec wants "CAP_NET_ADMIN". */
export function normalizeCapability(cap: string): string {
  const upper = cap.trim().toUpperCase();
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

/** Capability names of a /proc/<pid>/status Cap* mask ("000001fffeffffff"). */
export function capabilitiesFromMask(hexMask: string): string[] {
  const mask = BigInt(`0x${hexMask.trim()}`);
  return ALL_CAPABILITIES.filter((_, bit) => (mask & (1n << BigInt(bit))) !== 0n);
}

/** Default caps, plus capAdd, minus capDrop ("ALL" allowed in both, like Kubernetes), within the host's set. */
export function effectiveCapabilities(input: Pick<SpecInput, 'privileged' | 'capAdd' | 'capDrop' | 'hostCapabilities'>): string[] {
  const host = input.hostCapabilities;
  const caps = wantedCapabilities(input);
  return host ? caps.filter((c) => host.includes(c)) : caps;
}

function wantedCapabilities(input: Pick<SpecInput, 'privileged' | 'capAdd' | 'capDrop'>): string[] {
  if (input.privileged) return [...ALL_CAPABILITIES];
  const add = (input.capAdd ?? []).map(normalizeCapability);
  const drop = (input.capDrop ?? []).map(normalizeCapability);
  let caps = drop.includes('CAP_ALL') ? [] : DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c));
  if (add.includes('CAP_ALL')) caps = [...ALL_CAPABILITIES];
  for (const c of add) if (c !== 'CAP_ALL' && !caps.includes(c)) caps.push(c);
  return caps;
}

const MASKED_PATHS = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export function buildSpec(input: SpecInput): Record<string, unknown> {
  const privileged = input.privileged === true;
  const caps = effectiveCapabilities(input);
  const sysOptions = ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'];
  const mounts: Record<string, unknown>[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: sysOptions },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', privileged ? 'rw' : 'ro'] },
  ];
  for (const m of input.mounts ?? []) {
    mounts.push({ destination: m.destination, type: 'bind', source: m.source, options: ['rbind', 'rprivate', m.readOnly ? 'ro' : 'rw'] });
  }

  const namespaces: Record<string, string>[] = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  namespaces.push(input.netnsPath ? { type: 'network', path: input.netnsPath } : { type: 'network' });

  const devices = (input.devices ?? []).map((d) => ({
    path: d.path, type: d.type, major: d.major, minor: d.minor, fileMode: d.fileMode, uid: d.uid, gid: d.gid,
  }));
  const deviceRules: Record<string, unknown>[] = privileged
    ? [{ allow: true, access: 'rwm' }]
    : [
        { allow: false, access: 'rwm' },
        ...(input.devices ?? []).map((d) => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access: 'rwm' })),
      ];
  const resources: Record<string, unknown> = { devices: deviceRules };
  if (input.memoryLimitBytes !== undefined && input.memoryLimitBytes > 0) {
    resources['memory'] = { limit: Math.floor(input.memoryLimitBytes) };
  }
  const cpu: Record<string, number> = {};
  if (input.cpuShares !== undefined && input.cpuShares > 0) cpu['shares'] = Math.max(2, Math.floor(input.cpuShares));
  if (input.cpus !== undefined && input.cpus > 0) {
    cpu['period'] = 100_000;
    // The kernel refuses quotas below 1 ms.
    cpu['quota'] = Math.max(1_000, Math.round(input.cpus * 100_000));
  }
  if (Object.keys(cpu).length > 0) resources['cpu'] = cpu;

  const user: Record<string, unknown> = { uid: input.user.uid, gid: input.user.gid };
  if (input.user.additionalGids && input.user.additionalGids.length > 0) user['additionalGids'] = input.user.additionalGids;

  const spec: Record<string, unknown> = {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: input.terminal === true,
      user,
      args: input.args,
      env: input.env,
      cwd: input.cwd || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      // No rlimits: like CRI, containers inherit containerd's (a fixed value can exceed the host's hard limit).
      // Privileged containers may need setuid binaries to gain privileges; others must not.
      noNewPrivileges: !privileged,
    },
    root: { path: input.rootfs, readonly: input.readOnlyRootfs === true },
    mounts,
    linux: {
      resources,
      cgroupsPath: input.cgroupsPath,
      namespaces,
      devices,
      ...(privileged ? {} : { maskedPaths: MASKED_PATHS, readonlyPaths: READONLY_PATHS }),
    },
  };
  if (input.hostname) spec['hostname'] = input.hostname;
  if (input.annotations && Object.keys(input.annotations).length > 0) spec['annotations'] = input.annotations;
  return spec;
}

/**
 * Kubernetes semantics of `command` and `args` against the image: command replaces the entrypoint
 * (and drops the image's cmd), args replaces cmd.
 */
export function resolveArgs(image: { entrypoint: string[]; cmd: string[] }, command?: string[], args?: string[]): string[] {
  if (command && command.length > 0) return [...command, ...(args ?? [])];
  if (args && args.length > 0) return [...image.entrypoint, ...args];
  return [...image.entrypoint, ...image.cmd];
}

/** Image env first, container env after; a later value for the same name wins. */
export function mergeEnv(imageEnv: string[], env: Record<string, string> | [string, string][] = []): string[] {
  const merged = new Map<string, string>();
  for (const kv of imageEnv) {
    const eq = kv.indexOf('=');
    if (eq > 0) merged.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  const entries = Array.isArray(env) ? env : Object.entries(env);
  for (const [k, v] of entries) merged.set(k, v);
  if (!merged.has('PATH')) merged.set('PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  return [...merged].map(([k, v]) => `${k}=${v}`);
}
