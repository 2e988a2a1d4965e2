/**
 * The pure Pod-to-container translation: what containerd is asked to run for one container of a pod
 * (image, command, env, user, capabilities, limits, mounts, labels, log file), and the pod's own files
 * its containers mount (/etc/hosts, /etc/resolv.conf). No I/O here: the pod worker prepares the inputs
 * and writes the files (pod-dns-files.ts).
 */
import { join } from 'node:path';
import { quantityToMilli, quantityToNumber } from '../../api/quantity.js';
import type { Container, Pod } from '../../api/types.js';
import { normalizeImageRef, type ContainerSpec } from '../runtime/index.js';
import { containerId, containerLabels, logPath } from './naming.js';
import { POD_HOSTS, POD_RESOLV_CONF } from './pod-dns-files.js';
import { containerMounts } from './volumes.js';

/** Files the agent writes for each pod (pod-dns-files.ts) and mounts into its containers, by path inside the container. */
export const POD_FILES = [
  { name: POD_HOSTS, mountPath: '/etc/hosts' },
  { name: POD_RESOLV_CONF, mountPath: '/etc/resolv.conf' },
] as const;

export interface ContainerSpecInput {
  pod: Pod;
  container: Container;
  attempt: number;
  env: [string, string][];
  /** Volume name → host path, from prepareVolumes. */
  volumes: Map<string, string>;
  netnsPath: string;
  nodeName: string;
  /** `<pods>/<uid>`: where the pod's own files (POD_FILES) are. */
  podDir: string;
  logsDir: string;
  /** The device nodes allocated to this container (agent/hardware/device-allocation.ts). */
  devices?: { path: string; hostPath: string }[] | undefined;
}

/** `{namespace, podName, podUid}` of a pod, as naming.ts's paths want it. */
export function podRef(pod: Pod): { namespace: string; podName: string; podUid: string } {
  return { namespace: pod.metadata.namespace ?? 'default', podName: pod.metadata.name!, podUid: pod.metadata.uid! };
}

export function containerSpecFor(i: ContainerSpecInput): ContainerSpec {
  const { pod, container: c, attempt } = i;
  const uid = pod.metadata.uid!;
  const sc = c.securityContext ?? {};
  const psc = pod.spec.securityContext ?? {};
  const runAsUser = sc.runAsUser ?? psc.runAsUser;
  const runAsGroup = sc.runAsGroup ?? psc.runAsGroup;
  const limits = c.resources?.limits ?? {};
  const requests = c.resources?.requests ?? {};
  const mounts = containerMounts(c, i.volumes);
  // The pod's own files, unless a volume mount already covers that path.
  for (const f of POD_FILES) {
    if (!mounts.some((m) => m.destination === f.mountPath)) mounts.push({ source: join(i.podDir, f.name), destination: f.mountPath });
  }
  const isInit = (pod.spec.initContainers ?? []).some((x) => x.name === c.name);
  const cpuRequest = requests['cpu'] ?? limits['cpu'];
  return {
    id: containerId(uid, c.name, attempt),
    image: normalizeImageRef(c.image ?? ''),
    command: c.command,
    args: c.args,
    env: i.env,
    workingDir: c.workingDir,
    hostname: pod.spec.hostname ?? pod.metadata.name,
    user: runAsUser !== undefined ? { uid: runAsUser, gid: runAsGroup ?? 0, additionalGids: psc.fsGroup !== undefined ? [psc.fsGroup] : undefined } : undefined,
    privileged: sc.privileged,
    capAdd: sc.capabilities?.add,
    capDrop: sc.capabilities?.drop,
    devices: i.devices ?? [],
    mounts,
    netnsPath: i.netnsPath,
    memoryLimitBytes: limits['memory'] ? quantityToNumber(limits['memory']) : undefined,
    cpus: limits['cpu'] ? quantityToMilli(limits['cpu']) / 1000 : undefined,
    cpuShares: cpuRequest ? Math.floor((quantityToMilli(cpuRequest) * 1024) / 1000) : undefined,
    readOnlyRootfs: sc.readOnlyRootFilesystem,
    labels: containerLabels({ node: i.nodeName, podUid: uid, podName: pod.metadata.name!, namespace: pod.metadata.namespace ?? 'default', container: c.name, attempt, init: isInit }),
    logPath: logPath(i.logsDir, podRef(pod), c.name, attempt),
    ...(c.stdin || c.tty ? { stdio: { stdin: c.stdin === true, tty: c.tty === true } } : {}),
  };
}
