/** The scheduler's pure core: snapshot, filters, scores and the per-pod decision. */
export { buildSnapshot, assume, removePod, isTerminated, topologyValue, HOSTNAME_LABEL } from './snapshot.js';
export type { ClusterSnapshot, NodeState, BoundPod, TaintInfo } from './snapshot.js';
export { schedulePod, schedulePrepared, REASON_PINNED_ELSEWHERE, REASON_AFFINITY_CONFLICT } from './schedule.js';
export type { ScheduleResult } from './schedule.js';
export { compilePod, podKey } from './pod-info.js';
export type { PodSchedulingInfo } from './pod-info.js';
export * from './filters.js';
export * from './scores.js';
export { fitErrorMessage, NO_NODES_AVAILABLE, PREEMPTION_NO_VICTIMS, PREEMPTION_NOT_HELPFUL } from './fit-error.js';
export { findPreemption } from './preemption.js';
export type { DisruptionBudget, PreemptionCandidate, PreemptionOutcome } from './preemption.js';
export { podRequests, nodeAllocatable } from './resources.js';
export type { PodRequests, NodeAllocatable } from './resources.js';
export { planPodVolumes, volumeBindingFilter, claimsToAnnotate } from './volume-binding.js';
export type { VolumeListers, VolumeNodeCheck, VolumePlan } from './volume-binding.js';
