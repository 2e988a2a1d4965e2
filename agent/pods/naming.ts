/**
 * Names of what the agent creates for a pod: containerd ids, labels (how an agent finds its
 * containers again after a restart), and file locations. Pure.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';

export const LABEL_NODE = 'corral.node';
export const LABEL_POD_UID = 'corral.pod-uid';
export const LABEL_POD_NAME = 'corral.pod-name';
export const LABEL_POD_NAMESPACE = 'corral.pod-namespace';
export const LABEL_CONTAINER = 'corral.container';
export const LABEL_ATTEMPT = 'corral.attempt';
export const LABEL_INIT = 'corral.init';

/**
 * A containerd id for attempt N of one container of a pod: short (ctr limits ids to 76 characters),
 * unique per pod, container and attempt, and readable enough to find in `ctr tasks ls`.
 */
export function containerId(podUid: string, containerName: string, attempt: number): string {
  const safe = containerName.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 30) || 'c';
  const hash = createHash('sha1').update(`${podUid}/${containerName}`).digest('hex').slice(0, 6);
  return `${podUid.replace(/-/g, '').slice(0, 16)}-${safe}-${hash}-${attempt}`;
}

export function containerLabels(o: { node: string; podUid: string; podName: string; namespace: string; container: string; attempt: number; init: boolean }): Record<string, string> {
  return {
    [LABEL_NODE]: o.node,
    [LABEL_POD_UID]: o.podUid,
    [LABEL_POD_NAME]: o.podName,
    [LABEL_POD_NAMESPACE]: o.namespace,
    [LABEL_CONTAINER]: o.container,
    [LABEL_ATTEMPT]: String(o.attempt),
    [LABEL_INIT]: o.init ? 'true' : 'false',
  };
}

/** `<logs>/<namespace>_<pod>_<uid>/<container>/<attempt>.log`, like kubelet's /var/log/pods layout. */
export function logPath(logsDir: string, p: { namespace: string; podName: string; podUid: string }, container: string, attempt: number): string {
  return join(podLogDir(logsDir, p), container, `${attempt}.log`);
}

export function podLogDir(logsDir: string, p: { namespace: string; podName: string; podUid: string }): string {
  return join(logsDir, `${p.namespace}_${p.podName}_${p.podUid}`);
}

/** The id Kubernetes shows for a container. */
export function runtimeContainerId(id: string): string {
  return `containerd://${id}`;
}
