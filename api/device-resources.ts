/**
 * The extended resources corral's agents publish for attached devices (`devices.corral.io/<name>`),
 * shared by the agent (inventory, leases) and the scheduler (devices are queued for in creation order).
 */
import type { Pod } from './types.js';

export const DEVICE_RESOURCE_PREFIX = 'devices.corral.io/';

/** Whether any container of the pod asks for a device resource (in its limits or requests). */
export function requestsDevices(pod: Pod): boolean {
  for (const c of [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])]) {
    for (const name of [...Object.keys(c.resources?.limits ?? {}), ...Object.keys(c.resources?.requests ?? {})]) {
      if (name.startsWith(DEVICE_RESOURCE_PREFIX)) return true;
    }
  }
  return false;
}
