/**
 * `corral status`: one screen of cluster health for a person at the server — nodes with readiness and
 * how much of their CPU/memory the pods request, pods that are not running, and recent Warning events.
 * Finds its kubeconfig as kubectl does (cli/kubeconfig-file.ts).
 */
import type { ApiClient } from '../api/client/client.js';
import type { Condition } from '../api/meta.js';
import type { Event, Node, Pod } from '../api/types.js';
import { formatMilli } from '../api/quantity.js';
import { nodeAllocatable, podRequests } from '../server/scheduler/resources.js';

/** Node conditions that are bad when True, as the status page names them. */
const BAD_NODE_CONDITIONS: Record<string, string> = {
  MemoryPressure: 'memory pressure',
  DiskPressure: 'disk pressure',
  PIDPressure: 'PID pressure',
  NetworkUnavailable: 'network unavailable',
  CgroupMemoryDisabled: 'memory cgroup disabled',
  RuntimeBinariesMissing: 'runtime binaries missing',
  SnapshotterUnusable: 'container filesystems cannot be mounted',
  UnderVoltage: 'under-voltage',
  Throttled: 'CPU throttled',
};

const condition = (conds: Condition[] | undefined, type: string): Condition | undefined => conds?.find((c) => c.type === type);

/** kubectl-style age: 42s, 5m, 3h, 12d. */
export function age(ts: string | undefined, now: number): string {
  if (!ts) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(ts)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** The STATUS kubectl would print for a pod. */
export function podStatusText(p: Pod): string {
  if (p.metadata.deletionTimestamp) return 'Terminating';
  for (const cs of p.status?.containerStatuses ?? []) if (cs.state?.waiting?.reason) return cs.state.waiting.reason;
  for (const cs of p.status?.containerStatuses ?? []) {
    const t = cs.state?.terminated;
    if (t?.reason && p.status?.phase !== 'Succeeded') return t.reason;
  }
  const sched = condition(p.status?.conditions, 'PodScheduled');
  if (sched?.status === 'False') return sched.reason ?? 'Pending';
  return p.status?.phase ?? 'Pending';
}

const BINARY_UNITS = ['Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'] as const;

/**
 * Bytes for a person to read: the largest binary unit the value reaches, one decimal when the value is
 * below 100 of that unit (1.2Gi, 23.5Gi, 512Mi, 900). Display only; manifests keep canonical quantities.
 */
export function humanBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '-';
  const sign = bytes < 0 ? '-' : '';
  let value = Math.abs(bytes);
  if (value < 1024) return `${sign}${Math.round(value)}`;
  let unit = -1;
  while (value >= 1024 && unit < BINARY_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  // Rounding may carry into the next unit (1023.96Mi prints as 1Gi, not 1024.0Mi).
  let text = value < 100 ? value.toFixed(1) : String(Math.round(value));
  if (Number(text) >= 1024 && unit < BINARY_UNITS.length - 1) {
    unit++;
    text = (Number(text) / 1024).toFixed(1);
  }
  return `${sign}${text.replace(/\.0$/, '')}${BINARY_UNITS[unit]}`;
}

function pct(used: number, total: number): string {
  return total > 0 ? `${Math.round((used / total) * 100)}%` : '-';
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

function clip(text: string, max: number): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

export interface StatusInput {
  nodes: Node[];
  pods: Pod[];
  events: Event[];
  now: number;
  /** Warning events newer than this many ms are shown (default one hour). */
  warningWindowMs?: number;
}

/** The screen, as text. Pure, so it is tested without a server. */
export function renderStatus(s: StatusInput): string {
  const out: string[] = [];
  const nodes = [...s.nodes].sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!));
  const ready = nodes.filter((n) => condition(n.status?.conditions, 'Ready')?.status === 'True').length;
  out.push(`NODES: ${ready}/${nodes.length} ready`);
  const problems: string[] = [];
  if (nodes.length > 0) {
    const rows = [['NAME', 'STATUS', 'ARCH', 'BOARD', 'CPU REQUESTED', 'MEMORY REQUESTED', 'PODS', 'AGE']];
    for (const n of nodes) {
      const name = n.metadata.name!;
      const readyCond = condition(n.status?.conditions, 'Ready');
      const status = readyCond?.status === 'True' ? 'Ready' : readyCond?.status === 'False' ? 'NotReady' : 'Unknown';
      const active = s.pods.filter((p) => p.spec.nodeName === name && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
      let cpu = 0;
      let mem = 0;
      for (const p of active) {
        const r = podRequests(p);
        cpu += r.milliCpu;
        mem += r.memory;
      }
      const alloc = nodeAllocatable(n);
      rows.push([
        name,
        `${status}${n.spec?.unschedulable ? ',SchedulingDisabled' : ''}`,
        n.metadata.labels?.['kubernetes.io/arch'] ?? n.status?.nodeInfo?.architecture ?? '-',
        n.metadata.labels?.['corral.dev/board'] ?? '-',
        `${formatMilli(cpu)}/${formatMilli(alloc.milliCpu)} ${pct(cpu, alloc.milliCpu)}`,
        `${humanBytes(mem)}/${humanBytes(alloc.memory)} ${pct(mem, alloc.memory)}`,
        `${active.length}/${alloc.pods}`,
        age(n.metadata.creationTimestamp, s.now),
      ]);
      if (status !== 'Ready') problems.push(`node ${name} is ${status}${readyCond?.message ? `: ${clip(readyCond.message, 120)}` : ''}`);
      for (const [type, words] of Object.entries(BAD_NODE_CONDITIONS)) {
        const c = condition(n.status?.conditions, type);
        if (c?.status === 'True') problems.push(`node ${name}: ${words}${c.message ? ` — ${clip(c.message, 160)}` : ''}`);
      }
    }
    out.push(table(rows));
  } else {
    out.push('  no nodes have registered yet');
  }

  const notRunning = s.pods
    .filter((p) => { const t = podStatusText(p); return t !== 'Running' && t !== 'Succeeded'; })
    .sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
  const unready = s.pods.filter((p) => podStatusText(p) === 'Running' && condition(p.status?.conditions, 'Ready')?.status !== 'True');
  out.push('', `PODS: ${s.pods.length} total, ${notRunning.length} not running${unready.length ? `, ${unready.length} running but not ready` : ''}`);
  if (notRunning.length + unready.length > 0) {
    const rows = [['NAMESPACE', 'NAME', 'STATUS', 'RESTARTS', 'NODE', 'AGE']];
    for (const p of [...notRunning, ...unready]) {
      const restarts = (p.status?.containerStatuses ?? []).reduce((a, c) => a + (c.restartCount ?? 0), 0);
      const text = podStatusText(p);
      rows.push([p.metadata.namespace ?? '', p.metadata.name ?? '', text === 'Running' ? 'Running (not ready)' : text, String(restarts), p.spec.nodeName ?? '<none>', age(p.metadata.creationTimestamp, s.now)]);
    }
    out.push(table(rows));
  }

  const window = s.warningWindowMs ?? 3600_000;
  const when = (e: Event): number => Date.parse(e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp ?? '') || 0;
  const warnings = s.events.filter((e) => e.type === 'Warning' && s.now - when(e) <= window).sort((a, b) => when(b) - when(a)).slice(0, 10);
  if (problems.length > 0) out.push('', `PROBLEMS: ${problems.length}`, ...problems.map((p) => `  ! ${p}`));
  out.push('', `WARNING EVENTS (last ${Math.round(window / 60_000)}m): ${warnings.length}`);
  if (warnings.length > 0) {
    const rows = [['AGE', 'OBJECT', 'REASON', 'MESSAGE']];
    for (const e of warnings) {
      const o = e.involvedObject;
      rows.push([age(new Date(when(e)).toISOString(), s.now), `${(o?.kind ?? '').toLowerCase()}/${o?.name ?? ''}`, e.reason ?? '', clip(e.message ?? '', 100) + ((e.count ?? 1) > 1 ? ` (x${e.count})` : '')]);
    }
    out.push(table(rows));
  }
  return `${out.join('\n')}\n`;
}

/** Fetches what the screen needs. */
export async function fetchStatus(client: ApiClient, now = Date.now()): Promise<StatusInput> {
  const [nodes, pods, events] = await Promise.all([
    client.listAll<Node>('Node'),
    client.listAll<Pod>('Pod'),
    client.listAll<Event>('Event'),
  ]);
  return { nodes: nodes.items, pods: pods.items, events: events.items, now };
}
