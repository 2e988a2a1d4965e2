/**
 * The limits kubelet holds running pods to, on a real node (1-node lab, real containerd, `corral
 * server` + `corral agent`, kubectl v1.32): a disk emptyDir written past its sizeLimit gets its pod
 * evicted (Failed, reason Evicted, kubelet's message, an Evicted event, a DisruptionTarget condition),
 * while a pod within its limit keeps running; a pod past its activeDeadlineSeconds is stopped and
 * Failed with DeadlineExceeded; and an agent restart never starts those pods' containers again.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { createLab, type Lab } from './harness.js';
import { buildBusyboxImage } from './image.js';
import { labTierAvailable } from './prerequisites.js';
import { startLabCluster, type LabCluster } from './agent-cluster.js';
import type { Event, Node, Pod } from '../../api/types.js';
import type { KubeList } from '../../api/meta.js';
import { waitUntil } from '../support/wait.js';

const test = suite('pod limits on the node: emptyDir sizeLimit, activeDeadlineSeconds');
const IMAGE_CACHE = '/tmp/corral-lab-images';

let lab: Lab | undefined;
let cluster: LabCluster | undefined;
const need = (): LabCluster => {
  if (!cluster) throw new Error('the lab cluster did not come up (see the first test)');
  return cluster;
};
const agentLog = (): string => {
  const p = cluster?.agents.get('n1');
  return p ? readFileSync(p.logFile, 'utf8').slice(-3000) : '';
};

function podYaml(name: string, command: string, extra: string): string {
  return `
apiVersion: v1
kind: Pod
metadata: { name: ${name} }
spec:
  nodeName: n1
  terminationGracePeriodSeconds: 1
${extra}
  containers:
  - name: c
    image: busybox
    imagePullPolicy: Never
    command: ["sh", "-c", ${JSON.stringify(command)}]
    volumeMounts: [{ name: scratch, mountPath: /scratch }]
  volumes:
  - name: scratch
    emptyDir: { sizeLimit: 1Mi }
`;
}

async function getPod(c: LabCluster, name: string): Promise<Pod> {
  return c.getJson<Pod>(['get', 'pod', name]);
}

async function waitPhase(c: LabCluster, name: string, phase: string, timeoutMs: number): Promise<Pod> {
  let last: Pod | undefined;
  return waitUntil(`pod ${name} ${phase}`, async () => {
    last = await getPod(c, name);
    return last.status?.phase === phase ? last : undefined;
  }, timeoutMs, 300).catch((err: unknown) => {
    throw new Error(`${String(err)}\nlast status: ${JSON.stringify(last?.status)}\nagent log:\n${agentLog()}`);
  });
}

if (labTierAvailable(test, 'pod limits lab test')) {
  test.after(async () => {
    if (lab) {
      const report = await lab.destroy();
      if (report.errors.length > 0) process.stdout.write(`lab teardown errors: ${report.errors.join('; ')}\n`);
    }
  });

  test('the node comes up (agent measuring emptyDirs every second)', async () => {
    lab = await createLab({ name: 'podlimit', nodes: 1 });
    await lab.importImage('n1', await buildBusyboxImage({ dir: IMAGE_CACHE }));
    cluster = await startLabCluster(lab, { crashBackoff: '1s', agentArgs: ['--eviction-monitoring-period', '1s'] });
    const c = need();
    await waitUntil('n1 Ready', async () => {
      const n = (await c.getJson<KubeList<Node>>(['get', 'nodes'])).items.find((x) => x.metadata.name === 'n1');
      return n?.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True');
    }, 60_000, 300).catch((err: unknown) => { throw new Error(`${String(err)}\nagent log:\n${agentLog()}`); });
  });

  test('a disk emptyDir written past its sizeLimit gets the pod evicted; one within it keeps running', async () => {
    const c = need();
    await c.kubectlOk(['apply', '-f', '-'], podYaml('fill', 'dd if=/dev/zero of=/scratch/big bs=1024 count=3072; sleep 3600', ''));
    await c.kubectlOk(['apply', '-f', '-'], podYaml('small', 'dd if=/dev/zero of=/scratch/little bs=1024 count=100; sleep 3600', ''));
    const evicted = await waitPhase(c, 'fill', 'Failed', 60_000);
    assert.is(evicted.status?.reason, 'Evicted');
    assert.is(evicted.status?.message, 'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". ');
    const disruption = evicted.status?.conditions?.find((x) => x.type === 'DisruptionTarget');
    assert.is(disruption?.status, 'True');
    assert.is(disruption?.reason, 'TerminationByKubelet');
    const state = evicted.status?.containerStatuses?.[0]?.state;
    assert.ok(state?.terminated, `the container was stopped: ${JSON.stringify(state)}`);
    const events = await c.getJson<KubeList<Event>>(['get', 'events', '--field-selector', 'involvedObject.name=fill']);
    assert.ok(events.items.some((e) => e.reason === 'Evicted' && e.type === 'Warning' && /exceeds the limit "1Mi"/.test(e.message ?? '')),
      `an Evicted event: ${events.items.map((e) => `${e.reason}: ${e.message}`).join('; ')}`);
    // The small pod has been measured several times by now (every second) and is left alone.
    const small = await getPod(c, 'small');
    assert.is(small.status?.phase, 'Running', JSON.stringify(small.status));
    const out = await c.kubectlOk(['get', 'pod', 'fill']);
    assert.match(out, /fill\s+0\/1\s+Error|fill\s+0\/1\s+Evicted/, out);
  });

  test('a pod past its activeDeadlineSeconds is stopped and Failed with DeadlineExceeded', async () => {
    const c = need();
    const started = Date.now();
    await c.kubectlOk(['apply', '-f', '-'], podYaml('deadline', 'sleep 3600', '  activeDeadlineSeconds: 4'));
    await waitPhase(c, 'deadline', 'Running', 60_000);
    const failed = await waitPhase(c, 'deadline', 'Failed', 60_000);
    assert.ok(Date.now() - started >= 4_000, 'not before the deadline');
    assert.is(failed.status?.reason, 'DeadlineExceeded');
    assert.is(failed.status?.message, 'Pod was active on the node longer than the specified deadline');
    assert.ok(failed.status?.containerStatuses?.[0]?.state?.terminated, JSON.stringify(failed.status?.containerStatuses));
    const events = await c.getJson<KubeList<Event>>(['get', 'events', '--field-selector', 'involvedObject.name=deadline']);
    assert.ok(events.items.some((e) => e.reason === 'DeadlineExceeded'), events.items.map((e) => e.reason).join(','));
  });

  test('after an agent restart the evicted and timed-out pods stay Failed and nothing of theirs runs again', async () => {
    const c = need();
    const before = await Promise.all(['fill', 'deadline'].map((n) => getPod(c, n)));
    await c.killAgent('n1');
    const agent = c.startAgent('n1'); // a new log file per process
    await waitUntil('the restarted agent is up', async () => readFileSync(agent.logFile, 'utf8').includes('node-local DNS is listening'), 60_000, 300).catch((err: unknown) => { throw new Error(`${String(err)}\nagent log:\n${agentLog()}`); });
    // Give the new agent several sync rounds (restart back-off is 1 s) to do the wrong thing.
    await new Promise((r) => setTimeout(r, 6_000));
    for (const [i, name] of ['fill', 'deadline'].entries()) {
      const now = await getPod(c, name);
      assert.is(now.status?.phase, 'Failed', `${name}: ${JSON.stringify(now.status)}`);
      assert.is(now.status?.reason, before[i]!.status?.reason);
      assert.is(now.status?.containerStatuses?.[0]?.restartCount, before[i]!.status?.containerStatuses?.[0]?.restartCount, `${name} was not restarted: before ${JSON.stringify(before[i]!.status?.containerStatuses)} now ${JSON.stringify(now.status?.containerStatuses)}`);
      assert.ok(now.status?.containerStatuses?.[0]?.state?.terminated, `${name} not running: ${JSON.stringify(now.status?.containerStatuses)}`);
    }
    const tasks = await lab!.ctr('n1', ['tasks', 'ls']);
    const running = tasks.stdout.split('\n').filter((l) => l.includes('RUNNING'));
    assert.is(running.length, 1, `only the small pod runs:\n${tasks.stdout}`);
  });
}

test.run();
