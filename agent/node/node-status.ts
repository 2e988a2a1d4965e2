/**
 * The Node object this agent publishes: labels, addresses, capacity, nodeInfo and conditions, built
 * from agent/hardware plus what only the agent knows (is containerd reachable, is the pod network
 * up). `statusFingerprint` drops the times, so the status is only written when something changed.
 */
import type { Condition } from '../../api/meta.js';
import type { NodeStatus } from '../../api/types.js';
import { hostConditions, nodeLabelsFrom, nodeStatusFrom, readHardware, readHostSignals } from '../hardware/index.js';
import { isoString } from '../../api/iso-time.js';

export interface AgentSignals {
  /** containerd's version ("containerd://1.6.20") or why it cannot be reached. */
  runtime: { ok: true; version: string } | { ok: false; error: string };
  /** True once the pod CIDR is set up on the bridge. */
  networkReady: boolean;
  networkMessage?: string;
  /** Set once the snapshotter check ran: whether containers' filesystems can be mounted here. */
  snapshotter?: { ok: true } | { ok: false; message: string };
}

export interface NodeStatusInput {
  nodeName: string;
  nodeIp: string;
  dataDir: string;
  kubeletPort: number;
  maxPods: number;
  corralVersion: string;
  reserved: { cpu?: string; memory?: string };
}

/** True when containerd's snapshotter cannot mount container filesystems on this node (agent/runtime/snapshotter-check.ts). */
export const SNAPSHOTTER_CONDITION = 'SnapshotterUnusable';

function cond(type: string, ok: boolean, reason: string, message: string): Condition {
  return { type, status: ok ? 'True' : 'False', reason, message };
}

/** Labels and status of the Node; `previous` keeps condition times for unchanged conditions. */
export async function buildNodeStatus(input: NodeStatusInput, signals: AgentSignals, previous: readonly Condition[] | undefined): Promise<{ labels: Record<string, string>; status: NodeStatus }> {
  const hw = await readHardware({ dataDir: input.dataDir });
  const host = await readHostSignals({ dataDir: input.dataDir });
  const now = isoString().replace(/\.\d{3}Z$/, 'Z');
  const base = nodeStatusFrom(hw, {
    reserved: input.reserved,
    maxPods: input.maxPods,
    nodeIP: input.nodeIp,
    hostname: input.nodeName,
    runtimeVersion: signals.runtime.ok ? signals.runtime.version : 'containerd://unknown',
    corralVersion: input.corralVersion,
  });
  const snapshotterBroken = signals.snapshotter?.ok === false ? signals.snapshotter.message : undefined;
  const ready = signals.runtime.ok && signals.networkReady && host.missingBinaries.length === 0 && snapshotterBroken === undefined;
  const readyMessage = !signals.runtime.ok
    ? `container runtime is down: ${signals.runtime.error}`
    : snapshotterBroken !== undefined
      ? `container runtime cannot mount container filesystems: ${snapshotterBroken}`
      : !signals.networkReady
      ? `pod network is not ready: ${signals.networkMessage ?? 'waiting for a pod CIDR'}`
      : host.missingBinaries.length > 0
        ? `missing binaries: ${host.missingBinaries.join(', ')}`
        : 'kubelet is posting ready status';
  const own: Condition[] = [
    cond('Ready', ready, ready ? 'KubeletReady' : !signals.runtime.ok ? 'ContainerRuntimeUnreachable' : 'KubeletNotReady', readyMessage),
    cond('NetworkUnavailable', !signals.networkReady, signals.networkReady ? 'RouteCreated' : 'NoRouteCreated',
      signals.networkReady ? 'corral agent set up the pod network' : (signals.networkMessage ?? 'waiting for a pod CIDR')),
  ];
  if (signals.snapshotter) {
    own.push(cond(SNAPSHOTTER_CONDITION, snapshotterBroken !== undefined, snapshotterBroken !== undefined ? 'SnapshotMountFailed' : 'SnapshotterWorks',
      snapshotterBroken ?? 'containerd\'s snapshotter mounts container filesystems on this node'));
  }
  const hostConds = hostConditions(host, { now, previous });
  const conditions = [...hostConds, ...keepTimes(own, previous, now)];
  return {
    labels: nodeLabelsFrom(hw, input.nodeName),
    status: {
      ...base,
      conditions,
      daemonEndpoints: { kubeletEndpoint: { Port: input.kubeletPort } },
    },
  };
}

function keepTimes(list: Condition[], previous: readonly Condition[] | undefined, now: string): Condition[] {
  return list.map((c) => {
    const before = previous?.find((p) => p.type === c.type);
    if (before && before.status === c.status && before.reason === c.reason && before.message === c.message) {
      return { ...c, lastHeartbeatTime: before.lastHeartbeatTime ?? now, lastTransitionTime: before.lastTransitionTime ?? now };
    }
    const transition = before && before.status === c.status ? (before.lastTransitionTime ?? now) : now;
    return { ...c, lastHeartbeatTime: now, lastTransitionTime: transition };
  });
}

/** The status without times: equal fingerprints mean nothing worth a write changed. */
export function statusFingerprint(labels: Record<string, string>, status: NodeStatus): string {
  const conditions = (status.conditions ?? []).map(({ lastHeartbeatTime: _h, lastTransitionTime: _t, ...rest }) => rest);
  return JSON.stringify({ labels, status: { ...status, conditions } });
}
