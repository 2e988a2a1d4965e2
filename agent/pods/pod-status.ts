/**
 * Pod status the way kubelet writes it: phase, the four conditions, podIP(s), hostIP and the
 * container statuses. Pure: computed from the spec, the previous status (for condition times and
 * startTime) and the worker's view of each container.
 */
import type { Condition } from '../../api/meta.js';
import type { Container, ContainerState, ContainerStateTerminated, ContainerStatus, Pod, PodPhase, PodStatus } from '../../api/types.js';
import { quantityToMilli } from '../../api/quantity.js';

export interface ContainerView {
  name: string;
  image: string;
  imageID: string;
  /** Attempts so far minus one (the restart count). */
  restartCount: number;
  containerID?: string | undefined;
  running?: { startedAt: string } | undefined;
  terminated?: ContainerStateTerminated | undefined;
  waiting?: { reason: string; message?: string | undefined } | undefined;
  lastTermination?: ContainerStateTerminated | undefined;
  ready: boolean;
  started: boolean;
}

export interface PodView {
  podIp?: string | undefined;
  hostIp: string;
  init: ContainerView[];
  app: ContainerView[];
  /** Terminal phase decided by the worker (Succeeded/Failed), if any. */
  terminal?: 'Succeeded' | 'Failed' | undefined;
  /** True when every init container has succeeded. */
  initialized: boolean;
  message?: string | undefined;
  reason?: string | undefined;
  /** Conditions of the agent's own beyond kubelet's (the device allocation record). */
  extraConditions?: Condition[] | undefined;
}

function stateOf(v: ContainerView): ContainerState {
  if (v.running) return { running: { startedAt: v.running.startedAt } };
  if (v.waiting) return { waiting: v.waiting.message ? { reason: v.waiting.reason, message: v.waiting.message } : { reason: v.waiting.reason } };
  if (v.terminated) return { terminated: v.terminated };
  return { waiting: { reason: 'ContainerCreating' } };
}

function statusOf(v: ContainerView): ContainerStatus {
  const s: ContainerStatus = {
    name: v.name,
    state: stateOf(v),
    lastState: v.lastTermination ? { terminated: v.lastTermination } : {},
    ready: v.ready,
    restartCount: v.restartCount,
    image: v.image,
    imageID: v.imageID,
    started: v.started,
  };
  if (v.containerID) s.containerID = v.containerID;
  return s;
}

/** Guaranteed when every container has equal cpu and memory requests and limits, BestEffort with none. */
export function qosClass(containers: readonly Container[]): string {
  let any = false;
  let guaranteed = true;
  for (const c of containers) {
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    for (const r of ['cpu', 'memory']) {
      const q = req[r] ?? lim[r];
      if (q !== undefined) any = true;
      if (lim[r] === undefined || quantityToMilli(lim[r]) !== quantityToMilli(q ?? '0')) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

function condition(type: string, ok: boolean, previous: readonly Condition[] | undefined, now: string, reason?: string, message?: string): Condition {
  const before = previous?.find((c) => c.type === type);
  const status = ok ? 'True' : 'False';
  const c: Condition = { type, status, lastProbeTime: null, lastTransitionTime: before && before.status === status && before.lastTransitionTime ? before.lastTransitionTime : now };
  if (!ok && reason) c.reason = reason;
  if (!ok && message) c.message = message;
  return c;
}

export function computePhase(pod: Pod, view: PodView): PodPhase {
  if (view.terminal) return view.terminal;
  if (!view.initialized) return 'Pending';
  const anyStarted = view.app.some((c) => c.running || c.terminated || c.restartCount > 0);
  return anyStarted && view.app.every((c) => c.running || c.terminated || c.restartCount > 0 || c.waiting?.reason === 'CrashLoopBackOff') ? 'Running' : 'Pending';
}

export function buildPodStatus(pod: Pod, view: PodView, now: string): PodStatus {
  const prev = pod.status;
  const phase = computePhase(pod, view);
  const notReady = view.app.filter((c) => !c.ready).map((c) => c.name);
  const containersReady = notReady.length === 0 && phase === 'Running';
  const readyMsg = notReady.length > 0 ? `containers with unready status: [${notReady.join(' ')}]` : undefined;
  const pendingInit = view.init.filter((c) => !(c.terminated && c.terminated.exitCode === 0)).map((c) => c.name);
  const conditions: Condition[] = [
    condition('PodReadyToStartContainers', view.podIp !== undefined, prev?.conditions, now),
    condition('Initialized', view.initialized, prev?.conditions, now, 'ContainersNotInitialized', `containers with incomplete status: [${pendingInit.join(' ')}]`),
    condition('Ready', containersReady, prev?.conditions, now, phase === 'Succeeded' || phase === 'Failed' ? 'PodCompleted' : 'ContainersNotReady', phase === 'Succeeded' || phase === 'Failed' ? undefined : readyMsg),
    condition('ContainersReady', containersReady, prev?.conditions, now, phase === 'Succeeded' || phase === 'Failed' ? 'PodCompleted' : 'ContainersNotReady', phase === 'Succeeded' || phase === 'Failed' ? undefined : readyMsg),
    condition('PodScheduled', true, prev?.conditions, now),
    ...(view.extraConditions ?? []),
  ];
  const status: PodStatus = {
    phase,
    conditions,
    hostIP: view.hostIp,
    startTime: prev?.startTime ?? now,
    containerStatuses: view.app.map(statusOf),
    qosClass: qosClass([...pod.spec.containers, ...(pod.spec.initContainers ?? [])]),
  };
  (status as Record<string, unknown>)['hostIPs'] = [{ ip: view.hostIp }];
  if (view.podIp) {
    status.podIP = view.podIp;
    status.podIPs = [{ ip: view.podIp }];
  }
  if (view.init.length > 0) status.initContainerStatuses = view.init.map(statusOf);
  if (view.message) status.message = view.message;
  if (view.reason) status.reason = view.reason;
  // kubelet marks the pods it evicts, so controllers (a Job's podFailurePolicy) and `kubectl describe` can tell.
  if (view.reason === 'Evicted') {
    const since = prev?.conditions?.find((c) => c.type === 'DisruptionTarget' && c.status === 'True')?.lastTransitionTime ?? now;
    conditions.push({ type: 'DisruptionTarget', status: 'True', lastTransitionTime: since, reason: 'TerminationByKubelet', ...(view.message ? { message: view.message } : {}) });
  }
  return status;
}

/** Status without the times that change on every computation: equal means no write is needed. */
export function statusFingerprint(status: PodStatus): string {
  return JSON.stringify({ ...status, conditions: (status.conditions ?? []).map(({ lastTransitionTime: _t, ...c }) => c) });
}
