/** What the machine is (capacity, nodeInfo, labels) and how it is doing (host conditions). */
export { readHardware, readStorage } from './read.js';
export type { HardwareInfo, StorageInfo, ReadHardwareOptions } from './read.js';
export { nodeStatusFrom, nodeLabelsFrom, hostnameLabelValue, kubeletVersion, DEFAULT_MAX_PODS, KUBERNETES_VERSION, LABEL_BOARD, LABEL_CPU, LABEL_USERLAND_BITS, LABEL_KERNEL_BITS } from './node-status.js';
export type { NodeStatusOptions } from './node-status.js';
export {
  hostConditions, readHostSignals, findInPath, missingFromPath, CGROUP_MEMORY_FIX, REQUIRED_BINARIES,
  CONDITION_CGROUP_MEMORY_DISABLED, CONDITION_RUNTIME_BINARIES_MISSING, CONDITION_UNDER_VOLTAGE, CONDITION_THROTTLED,
} from './conditions.js';
export type { HostSignals } from './conditions.js';
export { architectureFrom, sanitizeLabelValue, memoryCgroupEnabled, decodeThrottled, parseMeminfo, parseOsRelease } from './parse.js';
export type { ArchitectureInfo, ThrottleState } from './parse.js';
