/**
 * The limits kubelet holds a running pod to, apart from its containers' own:
 *
 * - `activeDeadlineSeconds`: counted from the pod's startTime; past it the pod is stopped and Failed
 *   with reason DeadlineExceeded (what a Job's or a HIL run's time limit rests on).
 * - a disk-backed `emptyDir`'s `sizeLimit`: kubelet's eviction manager evicts a pod whose emptyDir
 *   holds more than its limit (reason Evicted). A `medium: Memory` emptyDir needs no check: it is a
 *   tmpfs of that size, so the kernel refuses the write instead.
 *
 * Usage is counted as `du` counts it: allocated blocks, each inode once (hard links), without
 * following symlinks or crossing into mounts below the volume. The walk is bounded so a volume with
 * millions of files costs a bounded amount of work per check (it then counts what it saw).
 */
import { lstat, opendir } from 'node:fs/promises';
import { join } from 'node:path';
import { quantityToNumber } from '../../api/quantity.js';
import type { Pod } from '../../api/types.js';

/** Entries looked at per volume and check. */
const MAX_ENTRIES_PER_WALK = 200_000;

export interface PodLimitBreach {
  reason: 'DeadlineExceeded' | 'Evicted';
  message: string;
}

/** kubelet's reason and message for a pod stopped by its spec.activeDeadlineSeconds. */
export const DEADLINE_EXCEEDED_REASON = 'DeadlineExceeded';
export const DEADLINE_EXCEEDED_MESSAGE = 'Pod was active on the node longer than the specified deadline';

/** Milliseconds left before the pod's active deadline (negative: past it); undefined without one. */
export function msUntilDeadline(pod: Pod, nowMs: number, fallbackStartMs: number): number | undefined {
  const seconds = pod.spec.activeDeadlineSeconds;
  if (seconds === undefined || seconds === null) return undefined;
  const started = pod.status?.startTime ? Date.parse(pod.status.startTime) : NaN;
  const startMs = Number.isFinite(started) ? started : fallbackStartMs;
  return startMs + seconds * 1000 - nowMs;
}

/** Bytes allocated under `dir` (du semantics); 0 when it does not exist. */
export async function diskUsageBytes(dir: string, maxEntries = MAX_ENTRIES_PER_WALK): Promise<number> {
  const top = await lstat(dir).catch(() => undefined);
  if (!top) return 0;
  const seen = new Set<string>();
  let total = top.blocks * 512;
  let budget = maxEntries;
  const walk = async (path: string): Promise<void> => {
    const entries = await opendir(path).catch(() => undefined);
    if (!entries) return;
    for await (const entry of entries) {
      if (--budget < 0) return;
      const child = join(path, entry.name);
      const st = await lstat(child).catch(() => undefined);
      if (!st) continue; // removed while we looked
      const inode = `${st.dev}:${st.ino}`;
      if (st.nlink > 1) {
        if (seen.has(inode)) continue;
        seen.add(inode);
      }
      total += st.blocks * 512;
      if (st.isDirectory() && st.dev === top.dev) await walk(child);
    }
  };
  await walk(dir);
  return total;
}

/** The first disk emptyDir of the pod holding more than its sizeLimit, as kubelet words the eviction. */
export async function emptyDirOverLimit(pod: Pod, volumeDir: (name: string) => string): Promise<PodLimitBreach | undefined> {
  for (const v of pod.spec.volumes ?? []) {
    const limit = v.emptyDir?.sizeLimit;
    if (!limit || v.emptyDir?.medium === 'Memory') continue;
    const used = await diskUsageBytes(volumeDir(v.name));
    if (used > quantityToNumber(limit)) {
      return { reason: 'Evicted', message: `Usage of EmptyDir volume "${v.name}" exceeds the limit "${limit}". ` };
    }
  }
  return undefined;
}

/** Whether the pod has anything for the periodic local-storage check to look at. */
export function hasDiskEmptyDirLimit(pod: Pod): boolean {
  return (pod.spec.volumes ?? []).some((v) => v.emptyDir?.sizeLimit && v.emptyDir.medium !== 'Memory');
}
