/**
 * `kubectl top` on a real node (1-node lab, real containerd + runc, `corral server` + `corral agent`,
 * kubectl v1.32): a pod spinning a busy loop shows close to one core in `kubectl top pods` and
 * `kubectl top pods --containers`, an idle pod next to it almost none, and `kubectl top nodes` shows
 * the node using at least what the busy pod uses. The readings come from the containers' cgroups (v1
 * or v2, whichever this machine has) through the agent's /stats/summary, collected every second here.
 * The agent's own /metrics, scraped from the LAN, counted the pod starts, ctr calls and iptables syncs.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { createLab, type Lab } from './harness.js';
import { buildBusyboxImage } from './image.js';
import { labTierAvailable } from './prerequisites.js';
import { startLabCluster, type LabCluster } from './agent-cluster.js';
import type { Node, Pod } from '../../api/types.js';
import type { KubeList } from '../../api/meta.js';
import { waitUntil } from '../support/wait.js';
import { parseExposition, value } from '../support/prom-text.js';
import { join } from 'node:path';

const test = suite('kubectl top on a lab node');
const IMAGE_CACHE = '/tmp/corral-lab-images';

let lab: Lab | undefined;
let cluster: LabCluster | undefined;
const need = (): LabCluster => {
  if (!cluster) throw new Error('the lab cluster did not come up (see the first test)');
  return cluster;
};
const logs = (): string => {
  const agent = cluster?.agents.get('n1');
  return `agent:\n${agent ? readFileSync(agent.logFile, 'utf8').slice(-2000) : ''}\nserver:\n${cluster ? readFileSync(cluster.server.logFile, 'utf8').slice(-2000) : ''}`;
};

const pod = (name: string, command: string): string => `
apiVersion: v1
kind: Pod
metadata: { name: ${name}, labels: { app: top-probe } }
spec:
  nodeName: n1
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    imagePullPolicy: Never
    command: ["sh", "-c", ${JSON.stringify(command)}]
`;

/** `250m` → 0.25, `1` → 1. */
const cores = (cpu: string): number => (cpu.endsWith('m') ? Number(cpu.slice(0, -1)) / 1000 : Number(cpu));

if (labTierAvailable(test, 'kubectl top lab test')) {
  test.after(async () => {
    await cluster?.kubectl(['delete', 'pod', '-l', 'app=top-probe', '--wait=false']).catch(() => undefined);
    if (lab) {
      const report = await lab.destroy();
      if (report.errors.length > 0) process.stdout.write(`lab teardown errors: ${report.errors.join('; ')}\n`);
    }
  });

  test('the node comes up, with usage collected every second', async () => {
    // The server inherits the test's environment.
    process.env['CORRAL_METRICS_RESOLUTION_SECONDS'] = '1';
    lab = await createLab({ name: 'top', nodes: 1 });
    await lab.importImage('n1', await buildBusyboxImage({ dir: IMAGE_CACHE }));
    cluster = await startLabCluster(lab);
    const c = need();
    await waitUntil('n1 Ready', async () => {
      const n = (await c.getJson<KubeList<Node>>(['get', 'nodes'])).items.find((x) => x.metadata.name === 'n1');
      return n?.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True');
    }, 60_000, 300).catch((err: unknown) => { throw new Error(`${String(err)}\n${logs()}`); });
  });

  test('a busy-loop pod shows close to one core in kubectl top pods, an idle one almost none; top nodes shows n1', async () => {
    const c = need();
    await c.kubectlOk(['apply', '-f', '-'], pod('spin', 'while :; do :; done'));
    await c.kubectlOk(['apply', '-f', '-'], pod('idle', 'sleep 3600'));
    await waitUntil('both pods Running', async () => {
      const pods = (await c.getJson<KubeList<Pod>>(['get', 'pods', '-l', 'app=top-probe'])).items;
      return pods.length === 2 && pods.every((p) => p.status?.phase === 'Running');
    }, 60_000, 300).catch((err: unknown) => { throw new Error(`${String(err)}\n${logs()}`); });

    // NAME CPU(cores) MEMORY(bytes); a few seconds of readings so the loop has run for a whole window.
    let last = '';
    const spin = await waitUntil('the busy pod to show most of a core', async () => {
      const r = await c.kubectl(['top', 'pods', '-l', 'app=top-probe', '--no-headers']);
      last = `${r.stdout}${r.stderr}`;
      const row = r.stdout.split('\n').map((l) => l.trim().split(/\s+/)).find((cols) => cols[0] === 'spin');
      return row && cores(row[1]!) >= 0.5 ? row : undefined;
    }, 60_000, 1_000).catch((err: unknown) => { throw new Error(`${String(err)}\nlast kubectl top pods:\n${last}\n${logs()}`); });
    process.stdout.write(`kubectl top pods: spin ${spin[1]} ${spin[2]}\n`);
    // A single busy loop cannot use more than one core (10 % for the sampling window's jitter).
    assert.ok(cores(spin[1]!) <= 1.1, `spin uses ${spin[1]}`);
    assert.match(spin[2]!, /^\d+Mi$/);

    const withContainers = await c.kubectlOk(['top', 'pods', '-l', 'app=top-probe', '--containers', '--no-headers']);
    // POD NAME CPU(cores) MEMORY(bytes)
    const rows = withContainers.split('\n').map((l) => l.trim().split(/\s+/)).filter((cols) => cols.length === 4);
    const spinMain = rows.find((cols) => cols[0] === 'spin' && cols[1] === 'main');
    const idleMain = rows.find((cols) => cols[0] === 'idle' && cols[1] === 'main');
    assert.ok(spinMain && idleMain, withContainers);
    assert.ok(cores(spinMain[2]!) >= 0.4, withContainers);
    assert.ok(cores(idleMain[2]!) < 0.05, withContainers);

    const nodes = await c.kubectlOk(['top', 'nodes', '--no-headers']);
    // NAME CPU(cores) CPU% MEMORY(bytes) MEMORY%
    const n1 = nodes.split('\n').map((l) => l.trim().split(/\s+/)).find((cols) => cols[0] === 'n1');
    assert.ok(n1, nodes);
    assert.ok(cores(n1[1]!) >= 0.4, `n1 uses ${n1[1]} while spin runs: ${nodes}`);
    assert.match(n1[2]!, /^\d+%$/);
    assert.match(n1[3]!, /^\d+Mi$/);
  });

  test('the agent\'s /metrics counted the pod starts, the ctr calls and the iptables syncs', async () => {
    need();
    const n1 = lab!.node('n1');
    const token = readFileSync(join(n1.dir, 'corral', 'agent', 'tls', 'kubelet-token'), 'utf8').trim();
    // From the control host, as a scraper in the LAN would (the test runner talks to no lab address).
    const r = await lab!.exec('control', ['curl', '-sk', '--max-time', '10', '-H', `Authorization: Bearer ${token}`, `https://${n1.ip}:10250/metrics`]);
    assert.is(r.code, 0, r.stderr);
    const m = parseExposition(r.stdout);
    assert.ok(value(m.samples, 'kubelet_pod_start_duration_seconds_count', {}) >= 2, 'both pods started');
    assert.ok(value(m.samples, 'kubelet_pod_start_duration_seconds_sum', {}) > 0);
    assert.ok(value(m.samples, 'kubelet_runtime_operations_duration_seconds_count', { operation_type: 'containers create' }) >= 2, 'ctr containers create per container');
    assert.ok(value(m.samples, 'kubelet_runtime_operations_duration_seconds_count', { operation_type: 'task start' }) >= 2, 'a containerd task start per container');
    assert.is(value(m.samples, 'kubelet_running_pods', {}), 2);
    assert.ok(value(m.samples, 'kubeproxy_sync_proxy_rules_duration_seconds_count', {}) >= 1, 'iptables synced');
    assert.ok(value(m.samples, 'workqueue_adds_total', { name: 'pod-sync' }) >= 2);
  });

  test('a deleted pod has no metrics any more', async () => {
    const c = need();
    await c.kubectlOk(['delete', 'pod', 'spin', '--wait=true', '--timeout=60s']);
    const r = await c.kubectl(['get', '--raw', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/spin']);
    assert.is(r.code, 1);
    assert.match(r.stderr, /NotFound|not found/);
  });
}

test.run();
