/**
 * `<pods>/<uid>/state.json`: what of a pod's containers must survive an agent restart (attempt
 * numbers, start times, last terminations, the crash back-off). Written atomically (temp file and
 * rename), only when a container starts or exits.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerStateTerminated } from '../../api/types.js';
import type { BackoffState } from './backoff.js';

export interface PersistedContainer {
  attempt: number;
  /** The attempt's container exists (created at least once). */
  created: boolean;
  startedAt?: string | undefined;
  terminated?: ContainerStateTerminated | undefined;
  lastTermination?: ContainerStateTerminated | undefined;
  backoff?: BackoffState | undefined;
  restartAt?: number | undefined;
  imageID?: string | undefined;
}

export function stateFilePath(podDir: string): string {
  return join(podDir, 'state.json');
}

/** The saved containers of a pod; empty on its first sync (no file yet) or if the file is unreadable. */
export async function readPodState(podDir: string): Promise<Record<string, PersistedContainer>> {
  try {
    return (JSON.parse(await readFile(stateFilePath(podDir), 'utf8')) as { containers: Record<string, PersistedContainer> }).containers;
  } catch {
    return {};
  }
}

/** Keeps only the persisted fields of each record (the rest is rebuilt from containerd on restart). */
export async function writePodState(podDir: string, records: Iterable<[string, PersistedContainer]>): Promise<void> {
  const containers: Record<string, PersistedContainer> = {};
  for (const [name, r] of records) {
    containers[name] = { attempt: r.attempt, created: r.created, startedAt: r.startedAt, terminated: r.terminated, lastTermination: r.lastTermination, backoff: r.backoff, restartAt: r.restartAt, imageID: r.imageID };
  }
  const file = stateFilePath(podDir);
  await mkdir(podDir, { recursive: true });
  await writeFile(`${file}.tmp`, JSON.stringify({ containers }));
  await rename(`${file}.tmp`, file);
}
