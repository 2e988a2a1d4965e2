/**
 * Job: runs pods until `completions` of them succeeded, `parallelism` at a time, and gives up after
 * `backoffLimit` failures (with exponential back-off between failed pods' replacements: 10 s, 20 s,
 * 40 s … capped at 6 min as upstream; the base comes from CORRAL_JOB_BACKOFF_BASE_MS so tests need
 * not wait), or when `activeDeadlineSeconds` ran out (DeadlineExceeded; active pods are deleted).
 * Finished Jobs get SuccessCriteriaMet+Complete or FailureTarget+Failed conditions like v1.32, and
 * are deleted (cascading) `ttlSecondsAfterFinished` after they finished.
 *
 * Counts come from the pods the Job owns (finished pods are kept, as upstream keeps them), never
 * below what status already recorded, so a finished pod someone deleted is not counted again.
 * Like the ReplicaSet controller, a running Job adopts active orphan pods its selector matches and
 * releases pods whose labels stopped matching.
 */
import { backoffDelay } from '../../api/async-util.js';
import { rfc3339, type Condition } from '../../api/meta.js';
import { deepEqual, compareStrings } from '../../api/object-util.js';
import { labelSelectorFromObject, matchesLabels, selectorMatchesNothing, type LabelRequirement } from '../../api/selectors.js';
import { isConflict, isForbidden, isNotFound } from '../../api/status.js';
import type { Job, JobStatus, Pod } from '../../api/types.js';
import type { ControllerContext } from './context.js';
import { Controller } from '../../api/machinery/controller.js';
import { createEventRecorder, type EventRecorder } from '../../api/machinery/events.js';
import { objectKeyOf, type Informer } from '../../api/machinery/informer.js';
import { adopt, controllerOf, isPodActive, isPodReady, ownerRefOf, podFromTemplate, release } from './pod-control.js';

const DEFAULT_BACKOFF_BASE_MS = 10_000;
const MAX_BACKOFF_MS = 6 * 60_000;
const EXPECTATION_TTL_MS = 30_000;

export function backoffBaseMs(): number {
  const v = Number(process.env['CORRAL_JOB_BACKOFF_BASE_MS']);
  return Number.isFinite(v) && v > 0 ? v : DEFAULT_BACKOFF_BASE_MS;
}

/** Delay before the next pod after `failures` failed ones (0 for none). Exported for tests. */
export function backoffDelayMs(failures: number, baseMs: number): number {
  return backoffDelay({ initialMs: baseMs, maxMs: MAX_BACKOFF_MS }, failures);
}

function finishedCondition(job: Job): Condition | undefined {
  return job.status?.conditions?.find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
}

/** When a finished pod finished (its containers' finishedAt, else the Ready transition). */
function finishedAtMs(pod: Pod): number {
  let t = 0;
  for (const cs of pod.status?.containerStatuses ?? []) {
    const f = cs.state?.terminated?.finishedAt;
    if (f) t = Math.max(t, Date.parse(f));
  }
  if (t > 0) return t;
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime;
  return ready ? Date.parse(ready) : Date.parse(pod.metadata.creationTimestamp ?? '') || 0;
}

/** The Job's selector as requirements; undefined selects nothing. */
function selectorOf(job: Job): LabelRequirement[] | undefined {
  const sel = job.spec.selector;
  if (!sel || selectorMatchesNothing(sel)) return undefined;
  try {
    return labelSelectorFromObject(sel);
  } catch {
    return undefined;
  }
}

function tolerateGoneOrChanged(err: unknown): void {
  if (!(isNotFound(err) || isConflict(err))) throw err;
}

function cond(type: string, reason: string, message: string, now: string): Condition {
  return { type, status: 'True', reason, message, lastProbeTime: now, lastTransitionTime: now };
}

class JobController {
  private readonly controller: Controller;
  private readonly events: EventRecorder;
  private readonly baseMs = backoffBaseMs();
  /** job uid → {count, expiry} of creates not yet seen in the cache. */
  private readonly pendingCreates = new Map<string, { n: number; until: number }>();
  /** pod uids we deleted and the cache may still show. */
  private readonly pendingDeletes = new Map<string, number>();
  /** job uid → failed pods seen and when the last new failure was seen (finishedAt has only second precision). */
  private readonly failuresSeen = new Map<string, { count: number; atMs: number }>();

  constructor(private readonly ctx: ControllerContext, private readonly jobs: Informer<Job>, private readonly pods: Informer<Pod>) {
    this.events = createEventRecorder(ctx.client, 'job-controller');
    this.controller = new Controller({ name: 'job-controller', workers: 4, reconcile: (key) => this.reconcile(key) });
    const enqueue = (j: Job): void => this.controller.enqueue(objectKeyOf(j));
    jobs.addHandlers({ onAdd: enqueue, onUpdate: (_o, n) => enqueue(n), onDelete: (j) => { this.pendingCreates.delete(j.metadata.uid ?? ''); this.failuresSeen.delete(j.metadata.uid ?? ''); } });
    const podAdded = (p: Pod): void => {
      const ref = controllerOf(p);
      if (ref?.kind === 'Job') {
        const pending = this.pendingCreates.get(ref.uid);
        if (pending && pending.n > 0) pending.n--;
      }
      this.enqueueFor(p);
    };
    pods.addHandlers({
      onAdd: podAdded,
      onUpdate: (old, p) => {
        if (controllerOf(old)?.uid !== controllerOf(p)?.uid || !deepEqual(old.metadata.labels, p.metadata.labels)) this.enqueueFor(old);
        this.enqueueFor(p);
      },
      onDelete: (p) => { this.pendingDeletes.delete(p.metadata.uid ?? ''); this.enqueueFor(p); },
    });
  }

  start(): void {
    void (async () => {
      await Promise.all([this.jobs.waitForSync(), this.pods.waitForSync()]);
      await this.controller.run(this.ctx.signal);
    })();
  }

  /** The Job controlling a pod, or for an orphan every Job whose selector matches it (it may adopt it). */
  private enqueueFor(pod: Pod): void {
    const ref = controllerOf(pod);
    if (ref) {
      if (ref.kind === 'Job') this.controller.enqueue(`${pod.metadata.namespace}/${ref.name}`);
      return;
    }
    for (const job of this.jobs.listNamespace(pod.metadata.namespace ?? 'default')) {
      const sel = selectorOf(job);
      if (sel && matchesLabels(sel, pod.metadata.labels)) this.controller.enqueue(objectKeyOf(job));
    }
  }

  /**
   * The pods this Job owns after adopting active orphans its selector matches and releasing owned
   * pods that no longer match (upstream's ControllerRefManager). A finished Job adopts nothing.
   */
  private async claimPods(job: Job, adoptOrphans: boolean): Promise<Pod[]> {
    const uid = job.metadata.uid!;
    const selector = selectorOf(job);
    const owner = ownerRefOf(job, 'batch/v1', 'Job');
    const owned: Pod[] = [];
    for (const pod of this.pods.listNamespace(job.metadata.namespace ?? 'default')) {
      const matches = selector !== undefined && matchesLabels(selector, pod.metadata.labels);
      const ref = controllerOf(pod);
      if (ref) {
        if (ref.uid !== uid) continue;
        if (matches || pod.metadata.deletionTimestamp) owned.push(pod);
        else await release(this.ctx.client, 'Pod', pod, uid).catch(tolerateGoneOrChanged);
        continue;
      }
      if (!adoptOrphans || !matches || !isPodActive(pod)) continue;
      try {
        owned.push(await adopt(this.ctx.client, 'Pod', pod, owner) as Pod);
      } catch (err) {
        tolerateGoneOrChanged(err);
      }
    }
    return owned;
  }

  private inFlight(uid: string, nowMs: number): number {
    const p = this.pendingCreates.get(uid);
    if (!p || p.until < nowMs) return 0;
    return p.n;
  }

  private async reconcile(key: string): Promise<{ requeueAfterMs: number } | void> {
    const job = this.jobs.get(key);
    if (!job || job.metadata.deletionTimestamp) return;
    const nowMs = Date.now();
    const now = rfc3339(new Date(nowMs));
    const uid = job.metadata.uid!;
    const owned = await this.claimPods(job, !finishedCondition(job));
    const gone = (p: Pod): boolean => !!p.metadata.deletionTimestamp || (this.pendingDeletes.get(p.metadata.uid ?? '') ?? 0) >= nowMs;
    const succeededPods = owned.filter((p) => p.status?.phase === 'Succeeded');
    const failedPods = owned.filter((p) => p.status?.phase === 'Failed');
    const active = owned.filter((p) => !gone(p) && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
    const terminating = owned.filter((p) => gone(p) && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
    const prev = job.status ?? {};
    const succeeded = Math.max(prev.succeeded ?? 0, succeededPods.length);
    // restartPolicy OnFailure: restarts in place count as failures too, as upstream counts them.
    const restarts = active.reduce((n, p) => n + (p.status?.containerStatuses ?? []).reduce((m, c) => m + c.restartCount, 0), 0);
    const failed = Math.max(prev.failed ?? 0, failedPods.length);

    const seen = this.failuresSeen.get(uid);
    if (failedPods.length > (seen?.count ?? 0)) this.failuresSeen.set(uid, { count: failedPods.length, atMs: nowMs });
    const finished = finishedCondition(job);
    if (finished) return this.afterFinished(job, finished, active, nowMs);

    const status: JobStatus = { ...prev, succeeded, failed, active: active.length, ready: active.filter(isPodReady).length, terminating: terminating.length, uncountedTerminatedPods: {} };
    if (job.spec.suspend) {
      for (const p of active) await this.deletePod(p);
      status.active = 0;
      const conditions = (prev.conditions ?? []).filter((c) => c.type !== 'Suspended');
      conditions.push(cond('Suspended', 'JobSuspended', 'Job suspended', now));
      if (!(prev.conditions ?? []).some((c) => c.type === 'Suspended' && c.status === 'True')) status.conditions = conditions;
      await this.writeStatus(job, status);
      return;
    }
    if (!status.startTime) status.startTime = now;
    if ((prev.conditions ?? []).some((c) => c.type === 'Suspended' && c.status === 'True')) {
      status.conditions = (prev.conditions ?? []).map((c) => (c.type === 'Suspended' ? { ...c, status: 'False' as const, reason: 'JobResumed', message: 'Job resumed', lastTransitionTime: now } : c));
    }

    const backoffLimit = job.spec.backoffLimit ?? 6;
    const completions = job.spec.completions;
    const parallelism = job.spec.parallelism ?? 1;
    const deadline = job.spec.activeDeadlineSeconds;
    const startMs = Date.parse(status.startTime);
    let failure: { reason: string; message: string } | undefined;
    if (failed + restarts > backoffLimit) failure = { reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
    else if (deadline !== undefined && nowMs >= startMs + deadline * 1000) failure = { reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
    const complete = completions !== undefined && completions !== null ? succeeded >= completions : succeeded > 0 && active.length === 0;

    if (failure) {
      for (const p of active) await this.deletePod(p);
      status.active = 0;
      status.terminating = terminating.length + active.length;
      status.conditions = [
        ...(status.conditions ?? prev.conditions ?? []).filter((c) => c.type !== 'FailureTarget' && c.type !== 'Failed'),
        cond('FailureTarget', failure.reason, failure.message, now),
        cond('Failed', failure.reason, failure.message, now),
      ];
      this.events.record(job, 'Warning', failure.reason, failure.message);
      await this.writeStatus(job, status);
      return this.ttlRequeue(job, nowMs, nowMs);
    }
    if (complete) {
      // Work-queue jobs: once one pod succeeded the rest are told to stop.
      for (const p of active) await this.deletePod(p);
      status.active = 0;
      status.completionTime = now;
      status.conditions = [
        ...(status.conditions ?? prev.conditions ?? []).filter((c) => c.type !== 'SuccessCriteriaMet' && c.type !== 'Complete'),
        cond('SuccessCriteriaMet', 'CompletionsReached', 'Reached expected number of succeeded pods', now),
        cond('Complete', 'CompletionsReached', 'Reached expected number of succeeded pods', now),
      ];
      this.events.record(job, 'Normal', 'Completed', 'Job completed');
      await this.writeStatus(job, status);
      return this.ttlRequeue(job, nowMs, nowMs);
    }

    // How many pods should run now.
    const remaining = completions !== undefined && completions !== null ? completions - succeeded : succeeded > 0 ? 0 : parallelism;
    const wanted = Math.max(0, Math.min(parallelism, remaining));
    const inFlight = this.inFlight(uid, nowMs);
    let requeueMs: number | undefined = deadline !== undefined ? startMs + deadline * 1000 - nowMs : undefined;
    const have = active.length + inFlight;
    if (have > wanted) {
      // Parallelism lowered: delete the newest surplus pods.
      const surplus = [...active].sort((a, b) => compareStrings(b.metadata.creationTimestamp ?? '', a.metadata.creationTimestamp ?? '')).slice(0, have - wanted);
      for (const p of surplus) await this.deletePod(p);
    } else if (have < wanted) {
      const lastFailure = Math.max(failedPods.reduce((t, p) => Math.max(t, finishedAtMs(p)), 0), this.failuresSeen.get(uid)?.atMs ?? 0);
      const readyAt = lastFailure + backoffDelayMs(failed, this.baseMs);
      if (failed > 0 && readyAt > nowMs) {
        requeueMs = Math.min(requeueMs ?? Infinity, readyAt - nowMs);
      } else {
        await this.createPods(job, wanted - have);
        status.active = active.length + (wanted - have);
      }
    }
    await this.writeStatus(job, status);
    if (requeueMs !== undefined && Number.isFinite(requeueMs)) return { requeueAfterMs: Math.max(50, requeueMs) };
  }

  /** A finished Job: stray pods go; after ttlSecondsAfterFinished the Job goes too (cascading). */
  private async afterFinished(job: Job, finished: Condition, active: Pod[], nowMs: number): Promise<{ requeueAfterMs: number } | void> {
    for (const p of active) await this.deletePod(p);
    const finishedMs = Date.parse(job.status?.completionTime ?? finished.lastTransitionTime ?? '') || nowMs;
    return this.ttlRequeue(job, finishedMs, nowMs);
  }

  private async ttlRequeue(job: Job, finishedMs: number, nowMs: number): Promise<{ requeueAfterMs: number } | void> {
    const ttl = job.spec.ttlSecondsAfterFinished;
    if (ttl === undefined || ttl === null) return;
    const at = finishedMs + ttl * 1000;
    if (at > nowMs) return { requeueAfterMs: at - nowMs };
    await this.ctx.client.delete('Job', job.metadata.namespace, job.metadata.name!, {
      propagationPolicy: 'Foreground', preconditions: { uid: job.metadata.uid! },
    }).catch((err: unknown) => { if (!(isNotFound(err) || isConflict(err))) throw err; });
  }

  private async createPods(job: Job, n: number): Promise<void> {
    const uid = job.metadata.uid!;
    const entry = { n, until: Date.now() + EXPECTATION_TTL_MS };
    this.pendingCreates.set(uid, entry);
    const owner = ownerRefOf(job, 'batch/v1', 'Job');
    const results = await Promise.allSettled(Array.from({ length: n }, () =>
      this.ctx.client.create<Pod>('Pod', job.metadata.namespace, podFromTemplate(job.spec.template, job.metadata.namespace!, owner))));
    for (const r of results) {
      if (r.status === 'fulfilled') this.events.record(job, 'Normal', 'SuccessfulCreate', `Created pod: ${r.value.metadata.name}`);
      else {
        entry.n = Math.max(0, entry.n - 1);
        if (!(isForbidden(r.reason))) {
          this.events.record(job, 'Warning', 'FailedCreate', `Error creating: ${(r.reason as Error).message}`);
        }
      }
    }
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure && !(isForbidden(failure.reason))) throw failure.reason;
  }

  private async deletePod(pod: Pod): Promise<void> {
    this.pendingDeletes.set(pod.metadata.uid!, Date.now() + EXPECTATION_TTL_MS);
    await this.ctx.client.delete('Pod', pod.metadata.namespace, pod.metadata.name!, { preconditions: { uid: pod.metadata.uid! } })
      .catch((err: unknown) => { if (!(isNotFound(err) || isConflict(err))) throw err; });
  }

  private async writeStatus(job: Job, status: JobStatus): Promise<void> {
    const prev = job.status ?? {};
    if (deepEqual(prev, status)) return;
    try {
      await this.ctx.client.patchStatus('Job', job.metadata.namespace, job.metadata.name!, { status }, 'merge');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

export function startJobController(ctx: ControllerContext): void {
  new JobController(ctx, ctx.informers.forKind<Job>('Job'), ctx.informers.forKind<Pod>('Pod')).start();
}
