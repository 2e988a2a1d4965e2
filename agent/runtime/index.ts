/** The containerd CLI driver of the agent: images, containers, tasks, exec and events through `ctr`. */
export { Ctr, DEFAULT_CONTAINERD_ADDRESS, DEFAULT_CONTAINERD_NAMESPACE } from './ctr.js';
export type { CtrOptions, CallOptions } from './ctr.js';
export { RuntimeError, isRuntimeError } from './errors.js';
export type { RuntimeErrorCode } from './errors.js';
export { ImageService, normalizeImageRef, goArch } from './images.js';
export type { ImageSummary, ImageConfig, PullOptions } from './images.js';
export { ContainerdRuntime, LABEL_IMAGE, LABEL_LOG_PATH, LABEL_ROOTFS } from './containers.js';
export type { ContainerSpec, ContainerInfo, TaskInfo, TaskStatus, ContainerdRuntimeOptions } from './containers.js';
export type { ExecOptions, ExecSession } from './exec.js';
export type { TaskEvent } from './task-events.js';
export type { BindMount } from './spec.js';
