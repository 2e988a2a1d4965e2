/**
 * Field tables for apps/v1 Deployment and batch/v1 Job and CronJob
 * (k8s.io/api/{apps,batch}/v1/generated.proto).
 */
import { KEEP, LIST, field, message } from './protobuf-schema.js';
import { LABEL_SELECTOR, OBJECT_META, OBJECT_REFERENCE } from './protobuf-meta.js';
import { POD_TEMPLATE_SPEC } from './protobuf-core.js';

const DEPLOYMENT_STRATEGY = message('DeploymentStrategy', {
  1: field('type', 'string'),
  2: field('rollingUpdate', message('RollingUpdateDeployment', {
    1: field('maxUnavailable', 'intOrString'),
    2: field('maxSurge', 'intOrString'),
  })),
});

const DEPLOYMENT_CONDITION = message('DeploymentCondition', {
  1: field('type', 'string', KEEP),
  2: field('status', 'string', KEEP),
  4: field('reason', 'string'),
  5: field('message', 'string'),
  6: field('lastUpdateTime', 'time'),
  7: field('lastTransitionTime', 'time'),
});

export const DEPLOYMENT = message('Deployment', {
  1: field('metadata', OBJECT_META),
  2: field('spec', message('DeploymentSpec', {
    1: field('replicas', 'int32', KEEP),
    2: field('selector', LABEL_SELECTOR),
    3: field('template', POD_TEMPLATE_SPEC),
    4: field('strategy', DEPLOYMENT_STRATEGY),
    5: field('minReadySeconds', 'int32'),
    6: field('revisionHistoryLimit', 'int32', KEEP),
    7: field('paused', 'bool'),
    9: field('progressDeadlineSeconds', 'int32', KEEP),
  })),
  3: field('status', message('DeploymentStatus', {
    1: field('observedGeneration', 'int64'),
    2: field('replicas', 'int32'),
    3: field('updatedReplicas', 'int32'),
    4: field('availableReplicas', 'int32'),
    5: field('unavailableReplicas', 'int32'),
    6: field('conditions', DEPLOYMENT_CONDITION, LIST),
    7: field('readyReplicas', 'int32'),
    8: field('collisionCount', 'int32', KEEP),
  })),
});

const JOB_SPEC = message('JobSpec', {
  1: field('parallelism', 'int32', KEEP),
  2: field('completions', 'int32', KEEP),
  3: field('activeDeadlineSeconds', 'int64', KEEP),
  4: field('selector', LABEL_SELECTOR),
  5: field('manualSelector', 'bool', KEEP),
  6: field('template', POD_TEMPLATE_SPEC),
  7: field('backoffLimit', 'int32', KEEP),
  8: field('ttlSecondsAfterFinished', 'int32', KEEP),
  9: field('completionMode', 'string', KEEP),
  10: field('suspend', 'bool', KEEP),
  12: field('backoffLimitPerIndex', 'int32', KEEP),
  13: field('maxFailedIndexes', 'int32', KEEP),
  14: field('podReplacementPolicy', 'string', KEEP),
  15: field('managedBy', 'string', KEEP),
});

const JOB_CONDITION = message('JobCondition', {
  1: field('type', 'string', KEEP),
  2: field('status', 'string', KEEP),
  3: field('lastProbeTime', 'time'),
  4: field('lastTransitionTime', 'time'),
  5: field('reason', 'string'),
  6: field('message', 'string'),
});

export const JOB = message('Job', {
  1: field('metadata', OBJECT_META),
  2: field('spec', JOB_SPEC),
  3: field('status', message('JobStatus', {
    1: field('conditions', JOB_CONDITION, LIST),
    2: field('startTime', 'time'),
    3: field('completionTime', 'time'),
    4: field('active', 'int32'),
    5: field('succeeded', 'int32'),
    6: field('failed', 'int32'),
    7: field('completedIndexes', 'string'),
  })),
});

export const CRON_JOB = message('CronJob', {
  1: field('metadata', OBJECT_META),
  2: field('spec', message('CronJobSpec', {
    1: field('schedule', 'string', KEEP),
    2: field('startingDeadlineSeconds', 'int64', KEEP),
    3: field('concurrencyPolicy', 'string'),
    4: field('suspend', 'bool', KEEP),
    5: field('jobTemplate', message('JobTemplateSpec', {
      1: field('metadata', OBJECT_META),
      2: field('spec', JOB_SPEC),
    })),
    6: field('successfulJobsHistoryLimit', 'int32', KEEP),
    7: field('failedJobsHistoryLimit', 'int32', KEEP),
    8: field('timeZone', 'string', KEEP),
  })),
  3: field('status', message('CronJobStatus', {
    1: field('active', OBJECT_REFERENCE, LIST),
    4: field('lastScheduleTime', 'time'),
    5: field('lastSuccessfulTime', 'time'),
  })),
});
