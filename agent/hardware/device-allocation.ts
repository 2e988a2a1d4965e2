/**
 * Device leases, derived from pods (pure). A pod that asks for `devices.corral.io/<name>` in its
 * limits is given whole units of that resource when its first container starts; the choice is written
 * into the pod's status as the condition `devices.corral.io/allocated` (its message is the allocation
 * as JSON) before any container runs. Who holds what is therefore read back from the pods bound to the
 * node — never from the agent's memory — so a lease ends exactly when its pod ends (Succeeded, Failed
 * or deleted), even if the agent was down meanwhile, and a restarted agent sees every lease.
 *
 * Allocatable per resource: its healthy units times the pods each may take, minus the units that pods
 * hold through another resource (the same adapter under two names); the scheduler then subtracts what
 * pods of this resource request, as it does for any extended resource.
 */
import type { Condition } from '../../api/meta.js';
import type { Container, Pod } from '../../api/types.js';
import { quantityToNumber } from '../../api/quantity.js';
import { DEVICE_RESOURCE_PREFIX } from './device-config.js';
import type { DeviceResource, DeviceUnit } from './device-resources.js';

export const DEVICES_CONDITION = 'devices.corral.io/allocated';
export const DEVICES_ALLOCATED_REASON = 'DevicesAllocated';
/** kubelet's reason for a pod it cannot admit (the device manager's words follow it). */
export const ADMISSION_ERROR_REASON = 'UnexpectedAdmissionError';

/** resource name → the units given to the pod. */
export type DeviceAllocation = Record<string, DeviceUnit[]>;

export interface DeviceHolder {
  podUid: string;
  allocation: DeviceAllocation;
}

function containerDeviceRequests(c: Container): Map<string, number> {
  const out = new Map<string, number>();
  const merged = { ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) };
  for (const [name, q] of Object.entries(merged)) {
    if (!name.startsWith(DEVICE_RESOURCE_PREFIX) || q === undefined) continue;
    let n = 0;
    try {
      n = quantityToNumber(String(q));
    } catch { /* validation rejects it upstream */ }
    if (n > 0) out.set(name, Math.ceil(n));
  }
  return out;
}

/** The device units a pod needs: summed over app containers, at least the largest init container's. */
export function podDeviceRequests(pod: Pod): Map<string, number> {
  const total = new Map<string, number>();
  for (const c of pod.spec.containers ?? []) for (const [n, v] of containerDeviceRequests(c)) total.set(n, (total.get(n) ?? 0) + v);
  for (const c of pod.spec.initContainers ?? []) for (const [n, v] of containerDeviceRequests(c)) total.set(n, Math.max(total.get(n) ?? 0, v));
  return total;
}

/** The container paths a container gets: every unit of the resources it asks for. */
export function containerDevicePaths(c: Container, allocation: DeviceAllocation | undefined): string[] {
  if (!allocation) return [];
  const paths: string[] = [];
  for (const name of containerDeviceRequests(c).keys()) {
    for (const u of allocation[name] ?? []) for (const p of u.paths) if (!paths.includes(p)) paths.push(p);
  }
  return paths;
}

/** The allocation recorded in a pod's status, if any (a malformed record counts as none). */
export function recordedAllocation(pod: Pod): DeviceAllocation | undefined {
  const c = pod.status?.conditions?.find((x) => x.type === DEVICES_CONDITION);
  if (!c?.message) return undefined;
  try {
    const parsed = JSON.parse(c.message) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    const out: DeviceAllocation = {};
    for (const [name, units] of Object.entries(parsed as Record<string, unknown>)) {
      if (!Array.isArray(units)) return undefined;
      out[name] = units.filter((u): u is DeviceUnit => typeof u?.id === 'string' && Array.isArray(u?.paths)).map((u) => ({ id: u.id, paths: u.paths.filter((p) => typeof p === 'string') }));
    }
    return out;
  } catch {
    return undefined;
  }
}

/** The status condition that records an allocation (its time kept while it is unchanged). */
export function allocationCondition(allocation: DeviceAllocation, previous: readonly Condition[] | undefined, now: string): Condition {
  const message = JSON.stringify(allocation);
  const before = previous?.find((c) => c.type === DEVICES_CONDITION);
  return {
    type: DEVICES_CONDITION, status: 'True', reason: DEVICES_ALLOCATED_REASON, message,
    lastProbeTime: null, lastTransitionTime: before?.message === message && before.lastTransitionTime ? before.lastTransitionTime : now,
  };
}

/** Whether a pod still holds its devices: until it ends (phase Succeeded/Failed) or is gone. */
export function holdsDevices(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed';
}

/** unit id → the resources through which pods hold it, and how many pods per resource. */
function usage(holders: readonly DeviceHolder[], exceptPod?: string): Map<string, Map<string, number>> {
  const used = new Map<string, Map<string, number>>();
  for (const h of holders) {
    if (h.podUid === exceptPod) continue;
    for (const [resource, units] of Object.entries(h.allocation)) {
      for (const u of units) {
        let byResource = used.get(u.id);
        if (!byResource) used.set(u.id, (byResource = new Map()));
        byResource.set(resource, (byResource.get(resource) ?? 0) + 1);
      }
    }
  }
  return used;
}

function freeSlots(resource: DeviceResource, unitId: string, used: Map<string, Map<string, number>>): number {
  const byResource = used.get(unitId);
  if (!byResource) return resource.count;
  for (const r of byResource.keys()) if (r !== resource.name) return 0;
  return Math.max(0, resource.count - (byResource.get(resource.name) ?? 0));
}

/** What the Node publishes as allocatable for each resource, given who holds what. */
export function allocatableCounts(resources: readonly DeviceResource[], holders: readonly DeviceHolder[]): Record<string, number> {
  const used = usage(holders);
  const out: Record<string, number> = {};
  for (const r of resources) {
    let n = 0;
    for (const u of r.units) {
      const byResource = used.get(u.id);
      const elsewhere = byResource !== undefined && [...byResource.keys()].some((x) => x !== r.name);
      if (!elsewhere) n += r.count;
    }
    out[r.name] = n;
  }
  return out;
}

export type AllocationResult = { allocation: DeviceAllocation } | { error: string };

/**
 * Picks units for a pod: for each resource it asks for, distinct units with a free slot that no pod
 * holds through another resource, least shared first. All or nothing.
 */
export function allocateDevices(podUid: string, requests: ReadonlyMap<string, number>, resources: readonly DeviceResource[], holders: readonly DeviceHolder[]): AllocationResult {
  const used = usage(holders, podUid);
  const allocation: DeviceAllocation = {};
  for (const name of [...requests.keys()].sort()) {
    const want = requests.get(name)!;
    const resource = resources.find((r) => r.name === name);
    const candidates = (resource?.units ?? [])
      .map((u) => ({ u, free: resource ? freeSlots(resource, u.id, used) : 0 }))
      .filter((c) => c.free > 0)
      .sort((a, b) => b.free - a.free);
    if (candidates.length < want) {
      return { error: `Allocate failed due to requested number of devices unavailable for ${name}. Requested: ${want}, Available: ${candidates.length}, which is unexpected` };
    }
    const chosen = candidates.slice(0, want).map((c) => ({ id: c.u.id, paths: [...c.u.paths] }));
    allocation[name] = chosen;
    // Units taken here are held through this resource for the rest of the pod's requests.
    for (const u of chosen) {
      let byResource = used.get(u.id);
      if (!byResource) used.set(u.id, (byResource = new Map()));
      byResource.set(name, (byResource.get(name) ?? 0) + 1);
    }
  }
  return { allocation };
}

/** Units of an allocation that are no longer attached: resource name → missing unit ids. */
export function missingUnits(allocation: DeviceAllocation, resources: readonly DeviceResource[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [name, units] of Object.entries(allocation)) {
    const present = new Set(resources.find((r) => r.name === name)?.units.map((u) => u.id) ?? []);
    const gone = units.filter((u) => !present.has(u.id)).map((u) => u.id);
    if (gone.length > 0) out.set(name, gone);
  }
  return out;
}
