/**
 * CronJob: creates a Job for each scheduled time. Schedules are parsed by node-cron (five fields,
 * upstream's descriptors via api/validation/cron.ts, and `@every <duration>`); the next and the most
 * recent missed times are computed here in the CronJob's `timeZone` (default: the server's). The
 * controller never polls: it asks to be woken at the next scheduled time.
 *
 * concurrencyPolicy Allow / Forbid (skip while a Job is active; the missed time still runs when the
 * active one ends, if within startingDeadlineSeconds) / Replace (the active Jobs are deleted first);
 * suspend; startingDeadlineSeconds (only missed times inside that window are run, the latest one);
 * successful/failed history limits; status.active, lastScheduleTime, lastSuccessfulTime. Jobs are
 * named `<cronjob>-<scheduled time in unix minutes>` as upstream, which also makes creation idempotent.
 *
 * Clock: CORRAL_CRONJOB_CLOCK_SPEEDUP=N makes this controller's clock run N times faster than real
 * time from the moment it starts (tests use 60: a scheduled minute every real second). Unset in
 * production.
 */
import { parse as parseCron } from 'node-cron';
import { rfc3339 } from '../../api/meta.js';
import { deepEqual, compareStrings } from '../../api/object-util.js';
import { isAlreadyExists, isConflict, isForbidden, isNotFound } from '../../api/status.js';
import { parseGoDuration, toNodeCronExpression } from '../../api/validation/cron.js';
import type { CronJob, Job, ObjectReference } from '../../api/types.js';
import type { ControllerContext } from './context.js';
import { Controller } from '../../api/machinery/controller.js';
import { createEventRecorder, type EventRecorder } from '../../api/machinery/events.js';
import { objectKeyOf, type Informer } from '../../api/machinery/informer.js';
import { controllerOf } from './pod-control.js';

export const SCHEDULED_TIMESTAMP_ANNOTATION = 'batch.kubernetes.io/cronjob-scheduled-timestamp';
const MINUTE = 60_000;
/** Upstream warns beyond this many missed start times. */
const TOO_MANY_MISSED = 100;

// ------------------------------------------------------------------ schedules

export interface Schedule {
  /** The first scheduled time strictly after `afterMs`, or undefined if none within ~5 years. */
  next(afterMs: number): number | undefined;
}

interface WallClock { minute: number; hour: number; day: number; month: number; weekday: number }

const formatters = new Map<string, Intl.DateTimeFormat>();
const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

function wallClock(ms: number, timeZone: string | undefined): WallClock {
  const zone = timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', weekday: 'short' });
    formatters.set(zone, f);
  }
  const parts: Record<string, string> = {};
  for (const p of f.formatToParts(new Date(ms))) parts[p.type] = p.value;
  return { minute: Number(parts['minute']), hour: Number(parts['hour']) % 24, day: Number(parts['day']), month: Number(parts['month']), weekday: WEEKDAYS[parts['weekday'] ?? 'Sun'] ?? 0 };
}

/**
 * A schedule from a Kubernetes schedule string (validated by the API server already). Throws when
 * node-cron cannot read it.
 */
export function parseSchedule(schedule: string, timeZone?: string): Schedule {
  let spec = schedule.trim();
  const tz = /^(?:CRON_TZ|TZ)=(\S+)\s+/.exec(spec);
  if (tz) {
    timeZone = timeZone ?? tz[1];
    spec = spec.slice(tz[0].length);
  }
  if (spec.startsWith('@every ')) {
    const every = Math.max(1000, Math.round(parseGoDuration(spec.slice(7).trim()) / 1000) * 1000);
    return { next: (after) => Math.floor(after / 1000) * 1000 + every };
  }
  const expr = toNodeCronExpression(spec);
  if (!expr) throw new Error(`unsupported schedule "${schedule}"`);
  const fields = parseCron(expr);
  const raw = expr.split(/\s+/);
  const minutes = new Set(fields.minute);
  const hours = new Set(fields.hour);
  const months = new Set(fields.month);
  const doms = new Set(fields.dayOfMonth.map(Number));
  const dows = new Set(fields.dayOfWeek.map((d) => Number(d) % 7));
  const domStar = raw[2] === '*' || raw[2] === '?';
  const dowStar = raw[4] === '*' || raw[4] === '?';
  const dayMatches = (w: WallClock): boolean => {
    // cron: when both day fields are restricted, either may match.
    if (domStar && dowStar) return true;
    if (domStar) return dows.has(w.weekday);
    if (dowStar) return doms.has(w.day);
    return doms.has(w.day) || dows.has(w.weekday);
  };
  return {
    next(after) {
      let t = Math.floor(after / MINUTE) * MINUTE + MINUTE;
      const limit = after + 5 * 366 * 24 * 60 * MINUTE;
      while (t < limit) {
        const w = wallClock(t, timeZone);
        if (!months.has(w.month) || !dayMatches(w)) {
          t += ((23 - w.hour) * 60 + (60 - w.minute)) * MINUTE; // next day
          continue;
        }
        if (!hours.has(w.hour)) {
          t += (60 - w.minute) * MINUTE; // next hour
          continue;
        }
        if (!minutes.has(w.minute)) {
          t += MINUTE;
          continue;
        }
        return t;
      }
      return undefined;
    },
  };
}

/** The latest scheduled time in (earliest, now] and how many there were (counting stops early). */
export function mostRecentScheduleTime(s: Schedule, earliestMs: number, nowMs: number): { latest?: number; missed: number } {
  let latest: number | undefined;
  let missed = 0;
  let cursor = earliestMs;
  for (let i = 0; ; i++) {
    const t = s.next(cursor);
    if (t === undefined || t > nowMs) break;
    latest = t;
    missed++;
    cursor = t;
    if (i > 2 * TOO_MANY_MISSED) {
      // Far behind: jump close to now (two intervals back) instead of walking every time.
      const step = Math.max(1000, (s.next(t) ?? t + MINUTE) - t);
      if (nowMs - cursor > 4 * step) cursor = nowMs - 2 * step;
      i = 0;
    }
  }
  return latest === undefined ? { missed } : { latest, missed };
}

// ------------------------------------------------------------------ controller

/** This controller's notion of now (optionally sped up for tests). */
class CronClock {
  private readonly startMs = Date.now();
  constructor(readonly speedup: number) {}
  now(): number {
    return this.startMs + (Date.now() - this.startMs) * this.speedup;
  }
  /** Real milliseconds until virtual time `atMs`. */
  realDelayUntil(atMs: number): number {
    return Math.max(0, (atMs - this.now()) / this.speedup);
  }
}

function clockFromEnv(): CronClock {
  const v = Number(process.env['CORRAL_CRONJOB_CLOCK_SPEEDUP']);
  return new CronClock(Number.isFinite(v) && v >= 1 ? v : 1);
}

function jobFinished(job: Job): 'Complete' | 'Failed' | undefined {
  const c = job.status?.conditions?.find((x) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True');
  return c?.type as 'Complete' | 'Failed' | undefined;
}

function refTo(job: Job): ObjectReference {
  return { kind: 'Job', namespace: job.metadata.namespace!, name: job.metadata.name!, uid: job.metadata.uid!, apiVersion: 'batch/v1', resourceVersion: job.metadata.resourceVersion! };
}

function startedMs(job: Job): number {
  return Date.parse(job.status?.startTime ?? job.metadata.creationTimestamp ?? '') || 0;
}

class CronJobController {
  private readonly controller: Controller;
  private readonly events: EventRecorder;
  private readonly clock = clockFromEnv();

  constructor(private readonly ctx: ControllerContext, private readonly cronJobs: Informer<CronJob>, private readonly jobs: Informer<Job>) {
    this.events = createEventRecorder(ctx.client, 'cronjob-controller');
    this.controller = new Controller({ name: 'cronjob-controller', workers: 2, reconcile: (key) => this.reconcile(key) });
    const enqueue = (cj: CronJob): void => this.controller.enqueue(objectKeyOf(cj));
    cronJobs.addHandlers({ onAdd: enqueue, onUpdate: (_o, n) => enqueue(n) });
    const jobChanged = (j: Job): void => {
      const ref = controllerOf(j);
      if (ref?.kind === 'CronJob') this.controller.enqueue(`${j.metadata.namespace}/${ref.name}`);
    };
    jobs.addHandlers({ onAdd: jobChanged, onUpdate: (_o, j) => jobChanged(j), onDelete: jobChanged });
  }

  start(): void {
    void (async () => {
      await Promise.all([this.cronJobs.waitForSync(), this.jobs.waitForSync()]);
      await this.controller.run(this.ctx.signal);
    })();
  }

  private async reconcile(key: string): Promise<{ requeueAfterMs: number } | void> {
    const cj = this.cronJobs.get(key);
    if (!cj) return;
    const uid = cj.metadata.uid!;
    const ns = cj.metadata.namespace!;
    const children = this.jobs.listNamespace(ns).filter((j) => controllerOf(j)?.uid === uid);
    const active = children.filter((j) => !jobFinished(j) && !j.metadata.deletionTimestamp);
    const prev = cj.status ?? {};
    const status: NonNullable<CronJob['status']> = { ...prev };
    let lastSuccess = prev.lastSuccessfulTime ? Date.parse(prev.lastSuccessfulTime) : 0;
    for (const j of children) {
      if (jobFinished(j) === 'Complete' && j.status?.completionTime) lastSuccess = Math.max(lastSuccess, Date.parse(j.status.completionTime));
    }
    if (lastSuccess > 0) status.lastSuccessfulTime = rfc3339(new Date(lastSuccess));

    await this.trimHistory(cj, children);
    if (cj.metadata.deletionTimestamp || cj.spec.suspend) {
      status.active = active.map(refTo);
      await this.writeStatus(cj, status);
      return;
    }

    let schedule: Schedule;
    try {
      schedule = parseSchedule(cj.spec.schedule, cj.spec.timeZone);
    } catch (err) {
      this.events.record(cj, 'Warning', 'UnparseableSchedule', `unparseable schedule: ${JSON.stringify(cj.spec.schedule)} : ${(err as Error).message}`);
      return;
    }
    const now = this.clock.now();
    let earliest = Date.parse(prev.lastScheduleTime ?? cj.metadata.creationTimestamp ?? '') || now;
    const sds = cj.spec.startingDeadlineSeconds;
    if (sds !== undefined && sds !== null) earliest = Math.max(earliest, now - sds * 1000);
    const { latest, missed } = mostRecentScheduleTime(schedule, earliest, now);
    const next = schedule.next(now);
    const wake = (): { requeueAfterMs: number } | void =>
      next === undefined ? undefined : { requeueAfterMs: Math.max(50, Math.ceil(this.clock.realDelayUntil(next)) + 20) };
    if (missed > TOO_MANY_MISSED) {
      this.events.record(cj, 'Warning', 'TooManyMissedTimes', 'too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew');
    }

    if (latest === undefined) {
      status.active = active.map(refTo);
      await this.writeStatus(cj, status);
      return wake();
    }
    const name = `${cj.metadata.name}-${Math.floor(latest / MINUTE)}`;
    if (children.some((j) => j.metadata.name === name)) {
      // Already created (our status write was lost or is late).
      status.active = active.map(refTo);
      status.lastScheduleTime = rfc3339(new Date(latest));
      await this.writeStatus(cj, status);
      return wake();
    }
    const policy = cj.spec.concurrencyPolicy ?? 'Allow';
    if (policy === 'Forbid' && active.length > 0) {
      this.events.record(cj, 'Normal', 'JobAlreadyActive', 'Not starting job because prior execution is running and concurrency policy is Forbid');
      status.active = active.map(refTo);
      await this.writeStatus(cj, status);
      return wake(); // the Job's completion re-queues us too
    }
    let stillActive = active;
    if (policy === 'Replace') {
      for (const j of active) {
        await this.ctx.client.delete('Job', ns, j.metadata.name!, { propagationPolicy: 'Background', preconditions: { uid: j.metadata.uid! } })
          .catch((err: unknown) => { if (!(isNotFound(err) || isConflict(err))) throw err; });
        this.events.record(cj, 'Normal', 'SuccessfulDelete', `Deleted job ${j.metadata.name}`);
      }
      stillActive = [];
    }
    const created = await this.createJob(cj, name, latest);
    status.active = [...stillActive.map(refTo), ...(created ? [refTo(created)] : [])];
    status.lastScheduleTime = rfc3339(new Date(latest));
    await this.writeStatus(cj, status);
    return wake();
  }

  private async createJob(cj: CronJob, name: string, scheduledMs: number): Promise<Job | undefined> {
    const tmpl = cj.spec.jobTemplate;
    const job: Job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name,
        namespace: cj.metadata.namespace!,
        labels: { ...(tmpl.metadata?.labels ?? {}) },
        annotations: { ...(tmpl.metadata?.annotations ?? {}), [SCHEDULED_TIMESTAMP_ANNOTATION]: rfc3339(new Date(scheduledMs)) },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: cj.metadata.name!, uid: cj.metadata.uid!, controller: true, blockOwnerDeletion: true }],
      },
      spec: structuredClone(tmpl.spec),
    };
    try {
      const created = await this.ctx.client.create<Job>('Job', cj.metadata.namespace, job);
      this.events.record(cj, 'Normal', 'SuccessfulCreate', `Created job ${name}`);
      return created;
    } catch (err) {
      if (isAlreadyExists(err)) return this.ctx.client.tryGet<Job>('Job', cj.metadata.namespace, name);
      if (isForbidden(err)) return undefined; // namespace terminating
      this.events.record(cj, 'Warning', 'FailedCreate', `Error creating job: ${(err as Error).message}`);
      throw err;
    }
  }

  /** Deletes the oldest finished Jobs beyond the history limits. */
  private async trimHistory(cj: CronJob, children: Job[]): Promise<void> {
    const limits: [('Complete' | 'Failed'), number][] = [
      ['Complete', cj.spec.successfulJobsHistoryLimit ?? 3],
      ['Failed', cj.spec.failedJobsHistoryLimit ?? 1],
    ];
    for (const [kind, limit] of limits) {
      const done = children.filter((j) => jobFinished(j) === kind && !j.metadata.deletionTimestamp).sort((a, b) => startedMs(a) - startedMs(b) || compareStrings(a.metadata.name ?? '', b.metadata.name ?? ''));
      for (const j of done.slice(0, Math.max(0, done.length - limit))) {
        await this.ctx.client.delete('Job', j.metadata.namespace, j.metadata.name!, { propagationPolicy: 'Background', preconditions: { uid: j.metadata.uid! } })
          .catch((err: unknown) => { if (!(isNotFound(err) || isConflict(err))) throw err; });
        this.events.record(cj, 'Normal', 'SawCompletedJob', `Saw completed job: ${j.metadata.name}, condition: ${kind}`);
      }
    }
  }

  private async writeStatus(cj: CronJob, status: NonNullable<CronJob['status']>): Promise<void> {
    const prev = cj.status ?? {};
    const strip = (s: NonNullable<CronJob['status']>): unknown => ({ ...s, active: (s.active ?? []).map(({ resourceVersion: _rv, ...r }) => r) });
    if (deepEqual(strip(prev), strip(status))) return;
    const patch: Record<string, unknown> = { ...status, active: status.active && status.active.length > 0 ? status.active : null };
    try {
      await this.ctx.client.patchStatus('CronJob', cj.metadata.namespace, cj.metadata.name!, { status: patch }, 'merge');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

export function startCronJobController(ctx: ControllerContext): void {
  new CronJobController(ctx, ctx.informers.forKind<CronJob>('CronJob'), ctx.informers.forKind<Job>('Job')).start();
}
