/**
 * Jobs and CronJobs inside a real `corral server` with hollow nodes: a Job runs its completions with
 * the given parallelism and completes (then is deleted by ttlSecondsAfterFinished), a failing Job
 * hits backoffLimit, activeDeadlineSeconds fails a Job and stops its pods; a CronJob `*\/1 * * * *`
 * creates Jobs named by their scheduled minute and keeps its history limits, Forbid and Replace
 * concurrency, suspend.
 *
 * Keeping it short: the server runs with CORRAL_CRONJOB_CLOCK_SPEEDUP=60 (the CronJob controller's
 * clock runs 60× faster, so a scheduled minute comes every real second; the schedule logic itself is
 * unchanged) and CORRAL_JOB_BACKOFF_BASE_MS=200 (the Job back-off starts at 200 ms, not 10 s).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { CronJob, Job, Pod } from '../../api/types.js';
import { HollowNode } from '../support/hollow-node.js';
import { kubectl, ServerProcess } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

const it = suite<{ server: ServerProcess; auto: HollowNode; manual: HollowNode }>('batch');

const waitFor = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> => waitUntil(what, fn, timeoutMs);

function job(name: string, node: string, spec: Partial<Job['spec']> = {}): Job {
  return {
    apiVersion: 'batch/v1', kind: 'Job', metadata: { name },
    spec: {
      template: { spec: { restartPolicy: 'Never', nodeSelector: { 'kubernetes.io/hostname': node }, containers: [{ name: 'work', image: 'busybox' }] } },
      ...spec,
    },
  };
}

function condition(j: Job | undefined, type: string): { reason?: string } | undefined {
  return j?.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

async function jobPods(server: ServerProcess, name: string): Promise<Pod[]> {
  return (await server.client.list<Pod>('Pod', 'default', { labelSelector: `job-name=${name}` })).items;
}

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start({ env: { CORRAL_CRONJOB_CLOCK_SPEEDUP: '60', CORRAL_JOB_BACKOFF_BASE_MS: '200' } });
  ctx.auto = await HollowNode.start(ctx.server.client, { name: 'batch-auto', autoCompleteAfterMs: 300 });
  ctx.manual = await HollowNode.start(ctx.server.client, { name: 'batch-manual' });
});

it.after(async (ctx) => {
  ctx.auto?.stop();
  ctx.manual?.stop();
  await ctx.server?.destroy();
});

it('a Job runs its completions with the given parallelism, completes, and goes after its TTL', async ({ server }) => {
  const created = await server.client.create<Job>('Job', 'default', job('count', 'batch-auto', { completions: 4, parallelism: 2, ttlSecondsAfterFinished: 2 }));
  const uid = created.metadata.uid!;
  assert.equal(created.spec.selector, { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } }, 'generated selector');
  assert.is(created.spec.template.metadata?.labels?.['job-name'], 'count');
  let maxActive = 0;
  const done = await waitFor('Job complete', async () => {
    const j = await server.client.get<Job>('Job', 'default', 'count');
    const running = (await jobPods(server, 'count')).filter((p) => p.status?.phase === 'Running' || p.status?.phase === 'Pending').length;
    maxActive = Math.max(maxActive, running);
    return condition(j, 'Complete') ? j : undefined;
  });
  assert.ok(maxActive <= 2, `at most parallelism=2 pods at once (saw ${maxActive})`);
  assert.is(done.status?.succeeded, 4);
  assert.is(done.status?.active ?? 0, 0);
  assert.ok(done.status?.startTime && done.status.completionTime);
  assert.ok(condition(done, 'SuccessCriteriaMet'), 'SuccessCriteriaMet before Complete, as v1.32');
  const pods = await jobPods(server, 'count');
  assert.is(pods.length, 4);
  for (const p of pods) {
    assert.is(p.metadata.labels?.['batch.kubernetes.io/controller-uid'], uid);
    assert.is(p.metadata.ownerReferences?.[0]?.kind, 'Job');
  }
  const out = await kubectl(server, ['get', 'job', 'count']);
  assert.match(out.stdout, /count\s+Complete\s+4\/4/);
  await waitFor('Job and its pods deleted after ttlSecondsAfterFinished', async () =>
    !(await server.client.tryGet('Job', 'default', 'count')) && (await jobPods(server, 'count')).length === 0, 10_000);
});

it('a failing Job retries with back-off and fails at backoffLimit', async ({ server, manual }) => {
  await server.client.create('Job', 'default', job('flaky', 'batch-manual', { backoffLimit: 2 }));
  const failedAt: number[] = [];
  const failed = await waitFor('Job failed', async () => {
    const j = await server.client.get<Job>('Job', 'default', 'flaky');
    if (condition(j, 'Failed')) return j;
    for (const p of manual.pods()) {
      if (p.pod.metadata.labels?.['job-name'] === 'flaky' && p.phase === 'Running') {
        await manual.failPod('default', p.name, 3);
        failedAt.push(Date.now());
      }
    }
    return undefined;
  });
  assert.is(condition(failed, 'Failed')?.reason, 'BackoffLimitExceeded');
  assert.ok(condition(failed, 'FailureTarget'));
  assert.is(failed.status?.failed, 3, 'backoffLimit 2 allows 3 attempts');
  assert.is(failedAt.length, 3);
  // Back-off: 200 ms after the first failure, 400 ms after the second (plus reaction time).
  assert.ok(failedAt[2]! - failedAt[1]! >= 400, `second back-off was ${failedAt[2]! - failedAt[1]!} ms`);
});

it('activeDeadlineSeconds fails the Job and stops its pods', async ({ server }) => {
  await server.client.create('Job', 'default', job('slow', 'batch-manual', { activeDeadlineSeconds: 1, parallelism: 2, completions: 2 }));
  const failed = await waitFor('deadline exceeded', async () => {
    const j = await server.client.get<Job>('Job', 'default', 'slow');
    return condition(j, 'Failed') ? j : undefined;
  }, 10_000);
  assert.is(condition(failed, 'Failed')?.reason, 'DeadlineExceeded');
  await waitFor('pods stopped', async () => (await jobPods(server, 'slow')).length === 0);
});

function cronJob(name: string, node: string, spec: Partial<CronJob['spec']> = {}): CronJob {
  return {
    apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name },
    spec: {
      schedule: '*/1 * * * *',
      jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', nodeSelector: { 'kubernetes.io/hostname': node }, containers: [{ name: 'tick', image: 'busybox' }] } } } },
      ...spec,
    },
  };
}

async function cronChildren(server: ServerProcess, name: string): Promise<Job[]> {
  const cj = await server.client.get<CronJob>('CronJob', 'default', name);
  return (await server.client.list<Job>('Job', 'default')).items.filter((j) => j.metadata.ownerReferences?.some((r) => r.uid === cj.metadata.uid));
}

it('a Job adopts an orphaned pod its selector matches and releases a pod that stops matching (upstream conformance)', async ({ server }) => {
  const created = await server.client.create<Job>('Job', 'default', job('adopter', 'batch-manual', { parallelism: 2, completions: 4 }));
  const running = await waitFor('2 running pods', async () => {
    const pods = (await jobPods(server, 'adopter')).filter((p) => p.status?.phase === 'Running');
    return pods.length === 2 && pods;
  });
  const orphan = running[0]!.metadata.name!;
  // Orphan it the way the upstream test does: drop its ownerReferences.
  const r = await kubectl(server, ['patch', 'pod', orphan, '--type=json', '-p', '[{"op":"remove","path":"/metadata/ownerReferences"}]']);
  assert.is(r.code, 0, r.stderr);
  const adopted = await waitFor('orphan re-adopted', async () => {
    const p = await server.client.get<Pod>('Pod', 'default', orphan);
    const ref = p.metadata.ownerReferences?.find((o) => o.controller === true);
    return ref?.uid === created.metadata.uid && p;
  });
  assert.is(adopted.metadata.ownerReferences?.[0]?.kind, 'Job');
  assert.is(adopted.metadata.ownerReferences?.[0]?.blockOwnerDeletion, true);
  // Labels that no longer match the selector: released.
  const relabel = await kubectl(server, ['label', 'pod', orphan, 'batch.kubernetes.io/controller-uid-', 'controller-uid-']);
  assert.is(relabel.code, 0, relabel.stderr);
  await waitFor('pod released', async () => ((await server.client.get<Pod>('Pod', 'default', orphan)).metadata.ownerReferences ?? []).length === 0);
  await server.client.delete('Job', 'default', 'adopter', { propagationPolicy: 'Background' });
  await server.client.delete('Pod', 'default', orphan, { gracePeriodSeconds: 0 });
});

it('a CronJob every minute creates Jobs named by their minute and keeps its history limits', async ({ server }) => {
  await server.client.create('CronJob', 'default', cronJob('tick', 'batch-auto', { successfulJobsHistoryLimit: 2 }));
  const seen = new Set<string>();
  await waitFor('5 scheduled jobs', async () => {
    for (const j of await cronChildren(server, 'tick')) seen.add(j.metadata.name!);
    return seen.size >= 5;
  }, 20_000);
  const minutes = [...seen].map((n) => Number(/^tick-(\d+)$/.exec(n)?.[1])).sort((a, b) => a - b);
  for (const m of minutes) assert.ok(Number.isInteger(m), 'job name is <cronjob>-<unix minutes>');
  for (let i = 1; i < minutes.length; i++) assert.is(minutes[i]! - minutes[i - 1]!, 1, 'one job per scheduled minute, none skipped or doubled');
  const cj = await waitFor('history trimmed to 2 successful jobs', async () => {
    const children = await cronChildren(server, 'tick');
    const complete = children.filter((j) => condition(j, 'Complete'));
    const c = await server.client.get<CronJob>('CronJob', 'default', 'tick');
    return complete.length <= 2 && c.status?.lastSuccessfulTime ? c : undefined;
  });
  assert.ok(cj.status?.lastScheduleTime);
  const last = (await cronChildren(server, 'tick')).at(-1)!;
  assert.ok(last.metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp']);
  // Suspend: no new jobs.
  await server.client.patch('CronJob', 'default', 'tick', { spec: { suspend: true } });
  await new Promise((r) => setTimeout(r, 300));
  const before = new Set((await cronChildren(server, 'tick')).map((j) => j.metadata.name));
  await new Promise((r) => setTimeout(r, 2500));
  const after = (await cronChildren(server, 'tick')).filter((j) => !before.has(j.metadata.name));
  assert.is(after.length, 0, 'a suspended CronJob starts nothing');
  await server.client.delete('CronJob', 'default', 'tick');
});

it('concurrencyPolicy Forbid keeps one Job; Replace swaps it', async ({ server }) => {
  await server.client.create('CronJob', 'default', cronJob('forbid', 'batch-manual', { concurrencyPolicy: 'Forbid' }));
  await waitFor('first job', async () => (await cronChildren(server, 'forbid')).length === 1);
  await new Promise((r) => setTimeout(r, 3000)); // three more scheduled minutes
  const forbid = await cronChildren(server, 'forbid');
  assert.is(forbid.length, 1, 'Forbid: no second Job while the first is active');
  const cj = await server.client.get<CronJob>('CronJob', 'default', 'forbid');
  assert.is(cj.status?.active?.length, 1);
  assert.is(cj.status?.active?.[0]?.name, forbid[0]!.metadata.name);
  await server.client.delete('CronJob', 'default', 'forbid');

  await server.client.create('CronJob', 'default', cronJob('replace', 'batch-manual', { concurrencyPolicy: 'Replace' }));
  const first = await waitFor('first job', async () => (await cronChildren(server, 'replace'))[0]);
  await waitFor('first job replaced by a newer one', async () => {
    const now = (await cronChildren(server, 'replace')).filter((j) => !j.metadata.deletionTimestamp);
    return now.length === 1 && now[0]!.metadata.name !== first.metadata.name;
  }, 10_000);
  const c = await server.client.get<CronJob>('CronJob', 'default', 'replace');
  assert.ok((c.status?.active?.length ?? 0) <= 1);
  await server.client.delete('CronJob', 'default', 'replace');
});

it.run();
