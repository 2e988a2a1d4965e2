/**
 * Spec validation of the workload kinds (apps/v1 Deployment, ReplicaSet, DaemonSet; core/v1
 * ReplicationController; batch/v1 Job and CronJob): selectors against template labels, replica
 * counts, rollout strategies, job and cron settings, and the fields that are immutable on update.
 *
 * Why this file is long: upstream's validation rules of every workload kind (one function per kind,
 * as upstream's apps and batch validation), sharing the same field-path helpers.
 */
import type { KubeObject, LabelSelector } from '../meta.js';
import type { StatusCause } from '../status.js';
import { deepEqual } from '../object-util.js';
import {
  asArray, asString, bare, child, eachInvalid, forbidden, goLabelSelector, goStringMap, GoText, index, invalid, isRecord,
  nonNegative, notSupported, positive, required,
} from './field.js';
import { isDNS1123Subdomain, isValidPercent, validateLabels } from './names.js';
import { validatePersistentVolumeClaimSpec } from './storage.js';
import { templateLabels, validatePodTemplate } from './podspec.js';
import type { PodSpecOptions } from './podspec.js';
import { isEmptySelector, selectorMatches, validateLabelSelector } from './selector.js';
import { cronScheduleError, timeZoneError } from './cron.js';

type Obj = Record<string, unknown>;

const SELECTOR_MISMATCH = '`selector` does not match template `labels`';
const IMMUTABLE = 'field is immutable';

function specOf(obj: KubeObject | undefined): Obj {
  return obj && isRecord(obj['spec']) ? obj['spec'] : {};
}

/** Pods of ReplicaSets, Deployments, DaemonSets and RCs run forever: restartPolicy must be Always. */
const alwaysRestart = (kindLabel: string): PodSpecOptions => ({
  restartPolicy: (value, path) => (value === undefined || value === 'Always' ? [] : [notSupported(path, value ?? '', ['Always'])]),
  forbidActiveDeadline: `activeDeadlineSeconds in ${kindLabel} is not Supported`,
});

/** Job pods must end: OnFailure or Never, with no default (the familiar "Required value" error). */
const jobRestart: PodSpecOptions = {
  restartPolicy: (value, path) =>
    value === 'OnFailure' || value === 'Never' ? [] : [required(path, 'valid values: "OnFailure", "Never"')],
};

// ------------------------------------------------------------------------------------ int-or-percent

function intOrPercentValue(value: unknown): { n: number; percent: boolean } | undefined {
  if (typeof value === 'number') return { n: value, percent: false };
  if (typeof value === 'string' && /^[0-9]+%$/.test(value)) return { n: Number(value.slice(0, -1)), percent: true };
  return undefined;
}

/** ValidatePositiveIntOrPercent: a non-negative int or a "N%" string. */
function validateIntOrPercent(value: unknown, path: string): StatusCause[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return eachInvalid(path, bare(value), isValidPercent(value));
  if (typeof value === 'number') return nonNegative(path, value);
  return [invalid(path, String(value), "must be an integer or percentage (e.g '5%')")];
}

function notMoreThan100Percent(value: unknown, path: string): StatusCause[] {
  const v = intOrPercentValue(value);
  return v && v.percent && v.n > 100 ? [invalid(path, bare(String(value)), 'must not be greater than 100%')] : [];
}

function isZero(value: unknown): boolean {
  return intOrPercentValue(value)?.n === 0;
}

// ------------------------------------------------------------------------------------ selectors

/**
 * The apps/v1 selector rules: required, well-formed, not empty, and matching the template labels.
 */
function validateAppsSelector(spec: Obj, kindLabel: string): StatusCause[] {
  const out: StatusCause[] = [];
  const sel = spec['selector'];
  if (sel === undefined || sel === null) {
    out.push(required('spec.selector'));
    return out;
  }
  out.push(...validateLabelSelector(sel, 'spec.selector'));
  if (!isRecord(sel)) return out;
  const selector = sel as LabelSelector;
  if (isEmptySelector(selector)) {
    out.push(invalid('spec.selector', goLabelSelector(selector), `empty selector is invalid for ${kindLabel}`));
    return out;
  }
  const labels = templateLabels(spec['template']);
  if (!selectorMatches(selector, labels)) {
    out.push(invalid('spec.template.metadata.labels', goStringMap(labels), SELECTOR_MISMATCH));
  }
  return out;
}

function selectorImmutable(spec: Obj, old: KubeObject | undefined): StatusCause[] {
  if (!old) return [];
  const before = specOf(old)['selector'];
  const after = spec['selector'];
  if (deepEqual(before, after)) return [];
  return [invalid('spec.selector', goLabelSelector(isRecord(after) ? (after as LabelSelector) : undefined), IMMUTABLE)];
}

// ------------------------------------------------------------------------------------ apps/v1

export function validateDeployment(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const spec = specOf(obj);
  const out: StatusCause[] = [];
  out.push(...nonNegative('spec.replicas', spec['replicas']));
  out.push(...validateAppsSelector(spec, 'deployment'));
  out.push(...validatePodTemplate(spec['template'], 'spec.template', alwaysRestart('ReplicaSet')));

  const strategy = isRecord(spec['strategy']) ? spec['strategy'] : {};
  const type = strategy['type'];
  const rolling = strategy['rollingUpdate'];
  if (type === 'Recreate') {
    if (rolling !== undefined && rolling !== null) {
      out.push(forbidden('spec.strategy.rollingUpdate', "may not be specified when strategy `type` is 'Recreate'"));
    }
  } else if (type === 'RollingUpdate') {
    if (isRecord(rolling)) {
      const path = 'spec.strategy.rollingUpdate';
      out.push(...validateIntOrPercent(rolling['maxUnavailable'], child(path, 'maxUnavailable')));
      out.push(...validateIntOrPercent(rolling['maxSurge'], child(path, 'maxSurge')));
      if (isZero(rolling['maxUnavailable']) && isZero(rolling['maxSurge'])) {
        out.push(invalid(child(path, 'maxUnavailable'), bare(String(rolling['maxUnavailable'])), 'may not be 0 when `maxSurge` is 0'));
      }
      out.push(...notMoreThan100Percent(rolling['maxUnavailable'], child(path, 'maxUnavailable')));
    } else if (rolling !== undefined && rolling !== null) {
      out.push(invalid('spec.strategy.rollingUpdate', String(rolling), 'must be an object'));
    }
  } else if (type !== undefined) {
    out.push(notSupported('spec.strategy.type', type, ['Recreate', 'RollingUpdate']));
  }

  out.push(...nonNegative('spec.minReadySeconds', spec['minReadySeconds']));
  out.push(...nonNegative('spec.revisionHistoryLimit', spec['revisionHistoryLimit']));
  const deadline = spec['progressDeadlineSeconds'];
  if (deadline !== undefined && deadline !== null) {
    out.push(...nonNegative('spec.progressDeadlineSeconds', deadline));
    const minReady = typeof spec['minReadySeconds'] === 'number' ? spec['minReadySeconds'] : 0;
    if (typeof deadline === 'number' && deadline <= minReady) {
      out.push(invalid('spec.progressDeadlineSeconds', deadline, 'must be greater than minReadySeconds'));
    }
  }
  out.push(...selectorImmutable(spec, old));
  return out;
}

export function validateReplicaSet(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const spec = specOf(obj);
  return [
    ...nonNegative('spec.replicas', spec['replicas']),
    ...nonNegative('spec.minReadySeconds', spec['minReadySeconds']),
    ...validateAppsSelector(spec, 'replicaset'),
    ...validatePodTemplate(spec['template'], 'spec.template', alwaysRestart('ReplicaSet')),
    ...selectorImmutable(spec, old),
  ];
}

export function validateDaemonSet(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const spec = specOf(obj);
  const out: StatusCause[] = [];
  out.push(...validateAppsSelector(spec, 'daemonset'));
  out.push(...validatePodTemplate(spec['template'], 'spec.template', alwaysRestart('DaemonSet')));
  out.push(...nonNegative('spec.minReadySeconds', spec['minReadySeconds']));
  out.push(...nonNegative('spec.revisionHistoryLimit', spec['revisionHistoryLimit']));

  const strategy = isRecord(spec['updateStrategy']) ? spec['updateStrategy'] : {};
  const type = strategy['type'];
  const path = 'spec.updateStrategy';
  if (type === 'RollingUpdate') {
    const rolling = strategy['rollingUpdate'];
    if (!isRecord(rolling)) {
      out.push(required(child(path, 'rollingUpdate')));
    } else {
      const rPath = child(path, 'rollingUpdate');
      out.push(...validateIntOrPercent(rolling['maxUnavailable'], child(rPath, 'maxUnavailable')));
      out.push(...validateIntOrPercent(rolling['maxSurge'], child(rPath, 'maxSurge')));
      out.push(...notMoreThan100Percent(rolling['maxUnavailable'], child(rPath, 'maxUnavailable')));
      out.push(...notMoreThan100Percent(rolling['maxSurge'], child(rPath, 'maxSurge')));
      const hasUnavailable = !isZero(rolling['maxUnavailable']) && rolling['maxUnavailable'] !== undefined;
      const hasSurge = !isZero(rolling['maxSurge']) && rolling['maxSurge'] !== undefined;
      if (hasUnavailable && hasSurge) {
        out.push(invalid(child(rPath, 'maxSurge'), bare(String(rolling['maxSurge'])), 'may not be set when maxUnavailable is non-zero'));
      } else if (!hasUnavailable && !hasSurge) {
        out.push(required(child(rPath, 'maxUnavailable'), 'cannot be 0 when maxSurge is 0'));
      }
    }
  } else if (type !== undefined && type !== 'OnDelete') {
    out.push(notSupported(child(path, 'type'), type, ['RollingUpdate', 'OnDelete']));
  }
  out.push(...selectorImmutable(spec, old));
  return out;
}

const STATEFUL_SET_MUTABLE = ['replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds'];

export function validateStatefulSet(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const spec = specOf(obj);
  const out: StatusCause[] = [];
  out.push(...nonNegative('spec.replicas', spec['replicas']));
  out.push(...nonNegative('spec.minReadySeconds', spec['minReadySeconds']));
  out.push(...nonNegative('spec.revisionHistoryLimit', spec['revisionHistoryLimit']));
  if (isRecord(spec['ordinals'])) out.push(...nonNegative('spec.ordinals.start', spec['ordinals']['start']));
  out.push(...validateAppsSelector(spec, 'statefulset'));
  const claimTemplateNames = asArray(spec['volumeClaimTemplates'])
    .map((t) => (isRecord(t) && isRecord(t['metadata']) ? asString(t['metadata']['name']) : '')).filter((n) => n !== '');
  out.push(...validatePodTemplate(spec['template'], 'spec.template', { ...alwaysRestart('StatefulSet'), extraVolumeNames: claimTemplateNames }));

  const policy = spec['podManagementPolicy'];
  if (policy === undefined || policy === null || policy === '') out.push(required('spec.podManagementPolicy'));
  else if (policy !== 'OrderedReady' && policy !== 'Parallel') out.push(notSupported('spec.podManagementPolicy', policy, ['OrderedReady', 'Parallel']));

  const strategy = isRecord(spec['updateStrategy']) ? spec['updateStrategy'] : {};
  const type = strategy['type'];
  const rolling = strategy['rollingUpdate'];
  const path = 'spec.updateStrategy';
  if (type === undefined || type === null || type === '') {
    out.push(required(path));
  } else if (type === 'OnDelete') {
    if (rolling !== undefined && rolling !== null) out.push(invalid(child(path, 'rollingUpdate'), new GoText('&apps.RollingUpdateStatefulSetStrategy{...}'), "only allowed for updateStrategy 'RollingUpdate'"));
  } else if (type === 'RollingUpdate') {
    if (isRecord(rolling)) {
      const rPath = child(path, 'rollingUpdate');
      out.push(...nonNegative(child(rPath, 'partition'), rolling['partition']));
      const max = rolling['maxUnavailable'];
      if (max !== undefined && max !== null) {
        out.push(...validateIntOrPercent(max, child(rPath, 'maxUnavailable')));
        if (isZero(max)) out.push(invalid(child(rPath, 'maxUnavailable'), bare(String(max)), 'must be greater than 0'));
        out.push(...notMoreThan100Percent(max, child(rPath, 'maxUnavailable')));
      }
    }
  } else {
    out.push(notSupported(child(path, 'type'), type, ['OnDelete', 'RollingUpdate']));
  }

  const retention = spec['persistentVolumeClaimRetentionPolicy'];
  if (isRecord(retention)) {
    for (const field of ['whenDeleted', 'whenScaled']) {
      const v = retention[field];
      if (v !== undefined && v !== 'Retain' && v !== 'Delete') out.push(notSupported(child('spec.persistentVolumeClaimRetentionPolicy', field), v, ['Retain', 'Delete']));
    }
  }
  asArray(spec['volumeClaimTemplates']).forEach((t, i) => {
    const at = index('spec.volumeClaimTemplates', i);
    if (!isRecord(t)) return;
    const meta = isRecord(t['metadata']) ? t['metadata'] : {};
    const name = asString(meta['name']);
    if (name === '') out.push(required(child(at, 'metadata', 'name')));
    else out.push(...eachInvalid(child(at, 'metadata', 'name'), name, isDNS1123Subdomain(name)));
    out.push(...validatePersistentVolumeClaimSpec(isRecord(t['spec']) ? t['spec'] : {}, child(at, 'spec')));
  });

  if (old) {
    const before = specOf(old);
    const frozen = (s: Obj): Obj => Object.fromEntries(Object.entries(s).filter(([k]) => !STATEFUL_SET_MUTABLE.includes(k)));
    if (!deepEqual(frozen(before), frozen(spec))) {
      out.push(forbidden('spec', "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"));
    }
  }
  return out;
}

export function validateControllerRevision(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  if (obj['data'] === undefined || obj['data'] === null) out.push(required('data', 'data is mandatory'));
  out.push(...nonNegative('revision', obj['revision']));
  if (old && !deepEqual(old['data'], obj['data'])) out.push(invalid('data', new GoText('runtime.RawExtension{...}'), IMMUTABLE));
  return out;
}

// ------------------------------------------------------------------------------------ core/v1 RC

export function validateReplicationController(obj: KubeObject): StatusCause[] {
  const spec = specOf(obj);
  const out: StatusCause[] = [];
  out.push(...nonNegative('spec.replicas', spec['replicas']));
  out.push(...nonNegative('spec.minReadySeconds', spec['minReadySeconds']));
  const selector = isRecord(spec['selector']) ? (spec['selector'] as Record<string, string>) : undefined;
  if (selector === undefined || Object.keys(selector).length === 0) {
    out.push(required('spec.selector'));
  } else {
    out.push(...validateLabels(selector, 'spec.selector'));
  }
  const template = spec['template'];
  if (template === undefined || template === null) {
    out.push(required('spec.template'));
    return out;
  }
  const labels = templateLabels(template) ?? {};
  if (selector && Object.keys(selector).length > 0 && !Object.entries(selector).every(([k, v]) => labels[k] === v)) {
    out.push(invalid('spec.template.metadata.labels', goStringMap(templateLabels(template)), '`selector` does not match template `labels`'));
  }
  out.push(...validatePodTemplate(template, 'spec.template', alwaysRestart('ReplicationController')));
  return out;
}

// ------------------------------------------------------------------------------------ batch/v1

/** The JobSpec rules shared by Jobs and CronJob job templates. */
function validateJobSpecCommon(spec: Obj, path: string): StatusCause[] {
  const out: StatusCause[] = [];
  out.push(...nonNegative(child(path, 'parallelism'), spec['parallelism']));
  out.push(...nonNegative(child(path, 'completions'), spec['completions']));
  out.push(...nonNegative(child(path, 'backoffLimit'), spec['backoffLimit']));
  out.push(...nonNegative(child(path, 'ttlSecondsAfterFinished'), spec['ttlSecondsAfterFinished']));
  out.push(...positive(child(path, 'activeDeadlineSeconds'), spec['activeDeadlineSeconds']));
  const mode = spec['completionMode'];
  if (mode !== undefined && mode !== null) {
    if (mode !== 'NonIndexed' && mode !== 'Indexed') {
      out.push(notSupported(child(path, 'completionMode'), mode, ['NonIndexed', 'Indexed']));
    } else if (mode === 'Indexed' && (spec['completions'] === undefined || spec['completions'] === null)) {
      out.push(required(child(path, 'completions'), 'when completion mode is Indexed'));
    }
  }
  out.push(...validatePodTemplate(spec['template'], child(path, 'template'), jobRestart));
  return out;
}

/**
 * The part of a Job's pod template that may not change. A Job that is suspended and never started
 * may still have its scheduling directives and template labels/annotations changed (Kubernetes ≥ 1.27).
 */
function jobTemplateView(spec: Obj, old: KubeObject): unknown {
  const template = spec['template'];
  const oldStatus = isRecord(old['status']) ? old['status'] : {};
  const mutable = specOf(old)['suspend'] === true && (oldStatus['startTime'] === undefined || oldStatus['startTime'] === null);
  if (!mutable || !isRecord(template)) return template;
  const podSpec = isRecord(template['spec']) ? { ...template['spec'] } : {};
  for (const f of ['nodeSelector', 'tolerations', 'affinity', 'schedulingGates']) delete podSpec[f];
  return { spec: podSpec };
}

export function validateJob(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const spec = specOf(obj);
  const out = validateJobSpecCommon(spec, 'spec');
  const sel = spec['selector'];
  const manual = spec['manualSelector'] === true;
  if (manual && (sel === undefined || sel === null)) {
    out.push(required('spec.selector'));
  } else if (sel !== undefined && sel !== null) {
    out.push(...validateLabelSelector(sel, 'spec.selector'));
    if (isRecord(sel)) {
      const labels = templateLabels(spec['template']);
      if (!selectorMatches(sel as LabelSelector, labels)) {
        out.push(invalid('spec.template.metadata.labels', goStringMap(labels), SELECTOR_MISMATCH));
      }
    }
  }
  if (Object.keys(templateLabels(spec['template']) ?? {}).length === 0 && manual) {
    out.push(required('spec.template.metadata.labels'));
  }
  if (old) {
    const before = specOf(old);
    if (!deepEqual(before['selector'], spec['selector'])) {
      out.push(invalid('spec.selector', goLabelSelector(isRecord(sel) ? (sel as LabelSelector) : undefined), IMMUTABLE));
    }
    if (!deepEqual(before['completions'], spec['completions'])) {
      out.push(invalid('spec.completions', spec['completions'] ?? null, IMMUTABLE));
    }
    if (!deepEqual(jobTemplateView(before, old), jobTemplateView(spec, old))) {
      out.push(invalid('spec.template', spec['template'] ?? null, IMMUTABLE));
    }
  }
  return out;
}

export function validateCronJob(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const spec = specOf(obj);
  const out: StatusCause[] = [];
  const schedule = spec['schedule'];
  if (schedule === undefined || schedule === null || schedule === '') {
    out.push(required('spec.schedule'));
  } else if (typeof schedule !== 'string') {
    out.push(invalid('spec.schedule', String(schedule), 'must be a string'));
  } else {
    const err = cronScheduleError(schedule);
    if (err !== undefined) out.push(invalid('spec.schedule', schedule, err));
    const hadTZ = old ? asString(specOf(old)['schedule']).includes('TZ') : false;
    if (schedule.includes('TZ')) {
      if (!hadTZ) out.push(invalid('spec.schedule', schedule, 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead'));
      else if (spec['timeZone'] !== undefined && spec['timeZone'] !== null) {
        out.push(invalid('spec.schedule', schedule, 'cannot use both timeZone field and TZ or CRON_TZ in schedule'));
      }
    }
  }
  const tz = spec['timeZone'];
  if (tz !== undefined && tz !== null && (!old || !deepEqual(specOf(old)['timeZone'], tz))) {
    const err = typeof tz === 'string' ? timeZoneError(tz) : 'must be a string';
    if (err !== undefined) out.push(invalid('spec.timeZone', String(tz), err));
  }
  out.push(...nonNegative('spec.startingDeadlineSeconds', spec['startingDeadlineSeconds']));
  const policy = spec['concurrencyPolicy'];
  if (policy === '') out.push(required('spec.concurrencyPolicy'));
  else if (policy !== undefined && policy !== 'Allow' && policy !== 'Forbid' && policy !== 'Replace') {
    out.push(notSupported('spec.concurrencyPolicy', policy, ['Allow', 'Forbid', 'Replace']));
  }
  out.push(...nonNegative('spec.successfulJobsHistoryLimit', spec['successfulJobsHistoryLimit']));
  out.push(...nonNegative('spec.failedJobsHistoryLimit', spec['failedJobsHistoryLimit']));

  const jobTemplate = spec['jobTemplate'];
  if (!isRecord(jobTemplate)) {
    out.push(required('spec.jobTemplate'));
    return out;
  }
  const jtMeta = isRecord(jobTemplate['metadata']) ? jobTemplate['metadata'] : {};
  out.push(...validateLabels(jtMeta['labels'] as Record<string, string> | undefined, 'spec.jobTemplate.metadata.labels'));
  const jobSpec = isRecord(jobTemplate['spec']) ? jobTemplate['spec'] : undefined;
  if (!jobSpec) {
    out.push(required('spec.jobTemplate.spec'));
    return out;
  }
  out.push(...validateJobSpecCommon(jobSpec, 'spec.jobTemplate.spec'));
  if (jobSpec['selector'] !== undefined && jobSpec['selector'] !== null) {
    out.push(invalid('spec.jobTemplate.spec.selector', goLabelSelector(jobSpec['selector'] as LabelSelector), '`selector` will be auto-generated'));
  }
  if (jobSpec['manualSelector'] === true) {
    out.push(notSupported('spec.jobTemplate.spec.manualSelector', true, ['nil', 'false']));
  }
  return out;
}
