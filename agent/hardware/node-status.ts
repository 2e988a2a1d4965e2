/**
 * HardwareInfo → the Node's capacity, allocatable, nodeInfo, addresses and labels, in the units and
 * spellings kubelet uses (memory in Ki, cpu in cores or millicores), so kubectl and the scheduler read
 * them as they would a kubelet's.
 */
import type { NodeStatus } from '../../api/types.js';
import { formatMilli, quantityToMilli, quantityToNumber } from '../../api/quantity.js';
import type { HardwareInfo } from './read.js';
import { sanitizeLabelValue } from './parse.js';

export const DEFAULT_MAX_PODS = 110;
/** Kubernetes version corral's API speaks; reported as the kubelet version with corral's own after "+". */
export const KUBERNETES_VERSION = 'v1.32.0';

export const LABEL_BOARD = 'corral.dev/board';
export const LABEL_CPU = 'corral.dev/cpu';
export const LABEL_USERLAND_BITS = 'corral.dev/userland-bits';
export const LABEL_KERNEL_BITS = 'corral.dev/kernel-bits';

export interface NodeStatusOptions {
  /** Held back from pods for the OS and corral itself, e.g. { cpu: '250m', memory: '256Mi' }. */
  reserved: { cpu?: string | undefined; memory?: string | undefined };
  maxPods?: number | undefined;
  nodeIP: string;
  hostname: string;
  /** e.g. "containerd://1.6.20" (ContainerdRuntime.version()). */
  runtimeVersion: string;
  corralVersion: string;
}

/** "v1.32.0+corral.0.1.0" (semver build metadata, like k3s's "+k3s1"). */
export function kubeletVersion(corralVersion: string): string {
  const build = corralVersion.replace(/^v/, '').replace(/[^0-9A-Za-z.-]/g, '-');
  return `${KUBERNETES_VERSION}+corral.${build}`;
}

export function nodeStatusFrom(hw: HardwareInfo, opts: NodeStatusOptions): Pick<NodeStatus, 'capacity' | 'allocatable' | 'nodeInfo' | 'addresses'> {
  const pods = String(opts.maxPods ?? DEFAULT_MAX_PODS);
  const capacity: Record<string, string> = {
    cpu: String(hw.cpuCount),
    memory: `${hw.memTotalKiB}Ki`,
    pods,
  };
  const reservedCpuMilli = opts.reserved.cpu ? quantityToMilli(opts.reserved.cpu) : 0;
  const reservedMemBytes = opts.reserved.memory ? quantityToNumber(opts.reserved.memory) : 0;
  const allocatable: Record<string, string> = {
    cpu: formatMilli(Math.max(0, hw.cpuCount * 1000 - reservedCpuMilli)),
    memory: `${Math.max(0, Math.floor((hw.memTotalKiB * 1024 - reservedMemBytes) / 1024))}Ki`,
    pods,
  };
  if (hw.storage) {
    const storage = `${Math.floor(hw.storage.totalBytes / 1024)}Ki`;
    capacity['ephemeral-storage'] = storage;
    allocatable['ephemeral-storage'] = storage;
  }
  const version = kubeletVersion(opts.corralVersion);
  return {
    capacity,
    allocatable,
    nodeInfo: {
      machineID: hw.machineID,
      systemUUID: hw.systemUUID,
      bootID: hw.bootID,
      kernelVersion: hw.kernelVersion,
      osImage: hw.osImage,
      containerRuntimeVersion: opts.runtimeVersion,
      kubeletVersion: version,
      kubeProxyVersion: version,
      operatingSystem: hw.operatingSystem,
      architecture: hw.architecture,
    },
    addresses: [
      { type: 'InternalIP', address: opts.nodeIP },
      { type: 'Hostname', address: opts.hostname },
    ],
  };
}

/** The `kubernetes.io/hostname` label value of a node name (lower case, sanitised). */
export function hostnameLabelValue(nodeName: string): string {
  return sanitizeLabelValue(nodeName.toLowerCase());
}

/** Standard node labels plus corral's hardware labels (omitted when unknown or empty after sanitising). */
export function nodeLabelsFrom(hw: HardwareInfo, hostname: string): Record<string, string> {
  const labels: Record<string, string> = {
    'kubernetes.io/arch': hw.architecture,
    'kubernetes.io/os': hw.operatingSystem,
    'kubernetes.io/hostname': hostnameLabelValue(hostname),
  };
  const board = hw.board ? sanitizeLabelValue(hw.board) : '';
  if (board) labels[LABEL_BOARD] = board;
  const cpu = hw.cpuBrand ? sanitizeLabelValue(hw.cpuBrand) : '';
  if (cpu) labels[LABEL_CPU] = cpu;
  if (hw.userlandBits !== hw.kernelBits) {
    labels[LABEL_USERLAND_BITS] = String(hw.userlandBits);
    labels[LABEL_KERNEL_BITS] = String(hw.kernelBits);
  }
  return labels;
}
