/**
 * The pod row of `kubectl get pods`: READY, the one-word STATUS kubectl users read (Running,
 * ContainerCreating, CrashLoopBackOff, Completed, Init:0/1, Terminating, ...), RESTARTS with
 * "(5m ago)" and the wide columns. Follows upstream printPod's order of precedence.
 */
import type { Condition } from '../../api/meta.js';
import type { Container, ContainerStatus, Pod } from '../../api/types.js';
import { formatAge, humanDuration, parseTime } from './table-format.js';
import type { TableRowCondition } from './table-types.js';

/** A sidecar: an init container with restartPolicy Always keeps running beside the app containers. */
function isRestartableInit(container: Container | undefined): boolean {
  return (container as (Container & { restartPolicy?: string }) | undefined)?.restartPolicy === 'Always';
}

function lastTerminationFinishedAt(status: ContainerStatus): number | undefined {
  return parseTime(status.lastState?.terminated?.finishedAt);
}

function conditionIsTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return (conditions ?? []).some((c) => c.type === type && c.status === 'True');
}

export interface PodRow {
  cells: unknown[];
  conditions?: TableRowCondition[];
}

export function printPod(pod: Pod, now: Date): PodRow {
  const spec = pod.spec ?? { containers: [] };
  const status = pod.status ?? {};
  const initContainers = spec.initContainers ?? [];
  let totalContainers = (spec.containers ?? []).length;
  let readyContainers = 0;
  let restarts = 0;
  let sidecarRestarts = 0;
  let lastRestart: number | undefined;
  let lastSidecarRestart: number | undefined;
  const later = (a: number | undefined, b: number | undefined): number | undefined =>
    b === undefined ? a : a === undefined || b > a ? b : a;

  let reason: string = status.phase ?? '';
  if (status.reason) reason = status.reason;
  if ((status.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.reason === 'SchedulingGated')) {
    reason = 'SchedulingGated';
  }

  const initByName = new Map(initContainers.map((c) => [c.name, c]));
  for (const c of initContainers) if (isRestartableInit(c)) totalContainers++;

  let initializing = false;
  const initStatuses = status.initContainerStatuses ?? [];
  for (let i = 0; i < initStatuses.length; i++) {
    const cs = initStatuses[i]!;
    restarts += cs.restartCount ?? 0;
    lastRestart = later(lastRestart, lastTerminationFinishedAt(cs));
    const sidecar = isRestartableInit(initByName.get(cs.name));
    if (sidecar) {
      sidecarRestarts += cs.restartCount ?? 0;
      lastSidecarRestart = later(lastSidecarRestart, lastTerminationFinishedAt(cs));
    }
    const terminated = cs.state?.terminated;
    const waiting = cs.state?.waiting;
    if (terminated !== undefined && terminated.exitCode === 0) continue;
    if (sidecar && cs.started === true) {
      if (cs.ready) readyContainers++;
      continue;
    }
    if (terminated !== undefined) {
      if (!terminated.reason) {
        reason = terminated.signal ? `Init:Signal:${terminated.signal}` : `Init:ExitCode:${terminated.exitCode}`;
      } else {
        reason = `Init:${terminated.reason}`;
      }
    } else if (waiting?.reason && waiting.reason !== 'PodInitializing') {
      reason = `Init:${waiting.reason}`;
    } else {
      reason = `Init:${i}/${initContainers.length}`;
    }
    initializing = true;
    break;
  }

  if (!initializing || conditionIsTrue(status.conditions, 'Initialized')) {
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    let hasRunning = false;
    const statuses = status.containerStatuses ?? [];
    // Walked from the last container to the first, so the first container's state wins, as upstream.
    for (let i = statuses.length - 1; i >= 0; i--) {
      const cs = statuses[i]!;
      restarts += cs.restartCount ?? 0;
      lastRestart = later(lastRestart, lastTerminationFinishedAt(cs));
      const { waiting, terminated, running } = cs.state ?? {};
      if (waiting?.reason) {
        reason = waiting.reason;
      } else if (terminated?.reason) {
        reason = terminated.reason;
      } else if (terminated !== undefined) {
        reason = terminated.signal ? `Signal:${terminated.signal}` : `ExitCode:${terminated.exitCode}`;
      } else if (cs.ready && running !== undefined) {
        hasRunning = true;
        readyContainers++;
      }
    }
    // A pod whose other containers completed still shows Running while one keeps running.
    if (reason === 'Completed' && hasRunning) {
      reason = conditionIsTrue(status.conditions, 'Ready') ? 'Running' : 'NotReady';
    }
  }

  const deleting = pod.metadata.deletionTimestamp !== undefined;
  if (deleting && status.reason === 'NodeLost') {
    reason = 'Unknown';
  } else if (deleting && status.phase !== 'Succeeded' && status.phase !== 'Failed') {
    reason = 'Terminating';
  }

  let restartsCell = String(restarts);
  if (restarts !== 0 && lastRestart !== undefined) {
    restartsCell = `${restarts} (${humanDuration(now.getTime() - lastRestart)} ago)`;
  }

  // Upstream reads podIPs[0]; podIP is the fallback for a status written with the singular field only.
  const podIP = status.podIPs?.[0]?.ip || status.podIP || '<none>';
  const readinessGates = (spec as { readinessGates?: { conditionType: string }[] }).readinessGates ?? [];
  let gatesCell = '<none>';
  if (readinessGates.length > 0) {
    const passed = readinessGates.filter((g) => status.conditions?.find((c) => c.type === g.conditionType)?.status === 'True').length;
    gatesCell = `${passed}/${readinessGates.length}`;
  }

  const row: PodRow = {
    cells: [
      pod.metadata.name ?? '',
      `${readyContainers}/${totalContainers}`,
      reason,
      restartsCell,
      formatAge(pod.metadata.creationTimestamp, now),
      podIP,
      spec.nodeName || '<none>',
      status.nominatedNodeName || '<none>',
      gatesCell,
    ],
  };
  if (status.phase === 'Succeeded') {
    row.conditions = [{ type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' }];
  } else if (status.phase === 'Failed') {
    row.conditions = [{ type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' }];
  }
  return row;
}
