/**
 * High availability on real hosts: the issue's "Must show" in the netns lab. Three server hosts
 * (s1..s3), each running one member of a three-member etcd (Debian's etcd-server, over the lab LAN)
 * and one `corral server --datastore-endpoint` on it; two agent hosts (n1, n2) running real
 * `corral agent` with containerd and runc, given all three servers. Then, in order:
 *
 * - the server holding the controllers' Lease is killed (-9) during a Deployment rollout of real pods:
 *   another server takes the controllers over within the lease time (measured), the rollout
 *   completes, no pod is created twice (a watch from before the Deployment sees exactly `replicas`
 *   pods added and none deleted), Services created meanwhile through the survivors never share a
 *   ClusterIP, a pod status change made meanwhile reaches the API, and node heartbeats go on;
 * - one etcd member is killed: writes (and the agents' pod status) go on; a second one: the API answers a clear 5xx/429 and
 *   acknowledges nothing; both return: writes work again (measured);
 * - through all of it the pods started before the faults keep their containerd tasks (same PIDs and
 *   start times), and every write the API acknowledged is there at the end (test/support/durability).
 *
 * Why this file is long: one scenario whose steps depend on each other (each fault starts from the
 * state the previous one left), told in order in one place.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLab, type Lab, type LabProcess } from '../lab/harness.js';
import { buildBusyboxImage } from '../lab/image.js';
import { labTierAvailable } from '../lab/prerequisites.js';
import { CLI, KUBECTL, labAgentArgv, labAgentEnv } from '../lab/agent-cluster.js';
import { LabEtcd } from '../lab/etcd-lab.js';
import { etcdAvailable } from '../support/etcd-process.js';
import { lostWrites, type AcknowledgedWrite } from '../support/durability.js';
import { waitUntil } from '../support/wait.js';
import { sleep } from '../../api/async-util.js';
import type { Deployment, Lease, Node, Pod, Service } from '../../api/types.js';
import type { KubeList } from '../../api/meta.js';

const LAB_NAME = 'halab';
const SERVER_HOSTS = ['s1', 's2', 's3'] as const;
const AGENT_HOSTS = ['n1', 'n2'] as const;
/** Real pods the two agents run in the rollout (CORRAL_HA_LAB_REPLICAS overrides). */
const REPLICAS = Number(process.env['CORRAL_HA_LAB_REPLICAS'] ?? '') || 24;
const STEADY = 4;
/** The servers run with the default lease (15 s), as installed. */
const LEASE_SECONDS = 15;
const API_PORT = 6443;
const IMAGE_CACHE = '/tmp/corral-lab-images';
const CLUSTER_SECRET = 'ha-lab-cluster-secret-5d0c9e27b1';

interface LabServer { host: string; url: string; dataDir: string; kubeconfig: string; process?: LabProcess }
interface TaskSnapshot { node: string; containerId: string; pid: string; startedAt: string }

const test = suite('three servers and two real agents on a three-member etcd in the lab');
let lab: Lab | undefined;
let etcd: LabEtcd | undefined;
const servers: LabServer[] = [];
const agents = new Map<string, LabProcess>();
const acknowledged: AcknowledgedWrite[] = [];
let leaderHost = '';
let writeSeq = 0;
/** When the two killed etcd members were started again. */
let etcdBackAt = 0;
/** Containerd tasks of the pods that ran before any fault, and of the rollout's pods once it was done. */
let steadyTasks = new Map<string, TaskSnapshot>();
let rolloutTasks = new Map<string, TaskSnapshot>();
const measured: string[] = [];

const need = (): Lab => {
  if (!lab) throw new Error('the lab did not come up (see the first test)');
  return lab;
};
const server = (host: string): LabServer => servers.find((s) => s.host === host)!;
const survivors = (): LabServer[] => servers.filter((s) => s.host !== leaderHost);
const alive = (p: LabProcess | undefined): boolean => p !== undefined && p.child.exitCode === null && p.child.signalCode === null;

/** kubectl from the control host against one server. */
function kubectl(s: LabServer, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return need().exec('control', [KUBECTL, '--kubeconfig', s.kubeconfig, '--cache-dir', join(need().dir, 'kube-cache'), ...args],
    { timeoutMs: opts.timeoutMs ?? 60_000, ...(opts.input !== undefined ? { input: opts.input } : {}) });
}

async function getJson<T>(s: LabServer, args: readonly string[]): Promise<T> {
  const r = await kubectl(s, [...args, '-o', 'json']);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} via ${s.host}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as T;
}

function logTail(p: LabProcess | undefined, chars = 3000): string {
  return p ? readFileSync(p.logFile, 'utf8').slice(-chars) : '(no process)';
}

/** curl from the control host against one server, as the admin (the token sits in a 0600 header file, not on the command line). */
function curl(s: LabServer, path: string, args: readonly string[] = [], opts: { input?: string; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const l = need();
  return l.exec('control', ['curl', '-sS', '--cacert', join(server('s1').dataDir, 'server', 'tls', 'ca.crt'), '-H', `@${join(l.dir, 'admin-auth.header')}`, ...args, `${s.url}${path}`],
    { timeoutMs: opts.timeoutMs ?? 60_000, ...(opts.input !== undefined ? { input: opts.input } : {}) });
}

/** One ConfigMap create through `s`; recorded for the durability check when acknowledged (201). */
async function write(s: LabServer): Promise<{ ok: true } | { ok: false; status: number; message: string; ms: number }> {
  const name = `w-${writeSeq++}`;
  const started = Date.now();
  const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { n: name } });
  const r = await curl(s, '/api/v1/namespaces/default/configmaps', ['--max-time', '60', '-X', 'POST', '-H', 'Content-Type: application/json', '--data-binary', '@-', '-w', '\n%{http_code}'], { input: body });
  const status = Number(/(\d+)\s*$/.exec(r.stdout)?.[1] ?? 0);
  const answer = r.stdout.replace(/\d+\s*$/, '').trim();
  if (status !== 201) return { ok: false, status, message: `${answer}${r.stderr.trim()}`, ms: Date.now() - started };
  const cm = JSON.parse(answer) as { metadata: { uid: string; resourceVersion: string } };
  acknowledged.push({ kind: 'create', key: `configmaps/${name}`, revision: Number(cm.metadata.resourceVersion), value: name, identity: cm.metadata.uid });
  return { ok: true };
}

/** Starts `corral server` on a server host (its etcd member's endpoints and the shared secret) and waits until it is ready. */
async function startServer(host: string): Promise<void> {
  const l = need();
  const s = server(host);
  s.process = l.spawn(host, [process.execPath, CLI, 'server', '--data-dir', s.dataDir, '--port', String(API_PORT), '--bind-address', '0.0.0.0',
    '--advertise-address', l.host(host).ip, '--disable-agent', '--datastore-endpoint', etcd!.endpoints.join(','),
    '--pod-eviction-timeout', '300s', '--node-monitor-grace-period', '60s'],
  { logName: 'server', env: { ...process.env, CORRAL_TOKEN: CLUSTER_SECRET, CORRAL_LOG_LEVEL: 'info' } });
  await waitUntil(`server on ${host} ready`, async () => {
    if (!alive(s.process)) throw new Error(`server on ${host} exited: ${logTail(s.process)}`);
    const r = await l.exec('control', ['curl', '-sk', '--max-time', '3', `${s.url}/readyz`], { timeoutMs: 5_000 });
    return r.stdout === 'ok';
  }, 90_000, 300).catch((err: unknown) => { throw new Error(`${String(err)}\n${logTail(s.process)}`); });
}

/** The host whose server holds the controllers' Lease (identities are `<hostname>_<uuid>`), asked through `via`. */
async function leaseHolder(via: LabServer): Promise<{ host: string; identity: string }> {
  const lease = await getJson<Lease>(via, ['get', 'lease', '-n', 'kube-system', 'corral-controllers']);
  const identity = lease.spec?.holderIdentity ?? '';
  return { host: identity.split('_')[0] ?? '', identity };
}

function ready(p: Pod): boolean {
  return p.status?.phase === 'Running' && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

async function pods(via: LabServer, app: string): Promise<Pod[]> {
  return (await getJson<KubeList<Pod>>(via, ['get', 'pods', '-l', `app=${app}`])).items;
}

/** Each pod's containerd task as the node's containerd reports it (PID), with the start time the API shows. */
async function taskSnapshot(list: readonly Pod[]): Promise<Map<string, TaskSnapshot>> {
  const l = need();
  const tasksOf = new Map<string, string>();
  for (const n of AGENT_HOSTS) tasksOf.set(n, (await l.ctr(n, ['tasks', 'ls'])).stdout);
  const out = new Map<string, TaskSnapshot>();
  for (const p of list) {
    const cs = p.status?.containerStatuses?.[0];
    const containerId = cs?.containerID?.replace('containerd://', '') ?? '';
    const node = p.spec.nodeName ?? '';
    const pid = new RegExp(`^${containerId}\\s+(\\d+)\\s+RUNNING`, 'm').exec(tasksOf.get(node) ?? '')?.[1];
    assert.ok(containerId && pid, `pod ${p.metadata.name} has a running task on ${node}: ${containerId}`);
    out.set(p.metadata.name!, { node, containerId, pid: pid!, startedAt: cs?.state?.running?.startedAt ?? '' });
  }
  return out;
}

/** Asserts that every pod in `before` still runs the same containerd task. */
async function assertSameTasks(via: LabServer, app: string, before: Map<string, TaskSnapshot>): Promise<void> {
  const now = await taskSnapshot((await pods(via, app)).filter((p) => before.has(p.metadata.name!)));
  for (const [name, was] of before) {
    const is = now.get(name);
    assert.ok(is, `pod ${name} still exists`);
    assert.equal(is, was, `pod ${name} kept its task (was ${JSON.stringify(was)})`);
  }
}

/** Makes a pod's readiness probe fail (or pass again) from inside its container, on its node. */
async function setNotReady(t: TaskSnapshot, notReady: boolean): Promise<void> {
  const r = await need().ctr(t.node, ['tasks', 'exec', '--exec-id', `ha-${Date.now()}`, t.containerId, 'sh', '-c', notReady ? 'touch /tmp/notready' : 'rm -f /tmp/notready']);
  assert.is(r.code, 0, `ctr tasks exec: ${r.stderr}`);
}

function deployment(name: string, replicas: number): string {
  return JSON.stringify({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name },
    spec: {
      replicas, selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [{
            name: 'main', image: 'busybox', imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'exec sleep 100000'],
            readinessProbe: { exec: { command: ['sh', '-c', 'test ! -f /tmp/notready'] }, periodSeconds: 1, failureThreshold: 1 },
          }],
        },
      },
    },
  });
}

/** The events of a watch stream's log (one JSON event a line, as the API sends them). */
function watchEvents(logFile: string): { type: string; name: string; uid: string }[] {
  return readFileSync(logFile, 'utf8').split('\n').filter((line) => line.startsWith('{')).map((line) => {
    const ev = JSON.parse(line) as { type: string; object: Pod };
    return { type: ev.type, name: ev.object.metadata.name!, uid: ev.object.metadata.uid! };
  });
}

if (labTierAvailable(test, 'HA lab test') && etcdAvailable()) {
  test.after(async () => {
    if (measured.length > 0) process.stdout.write(`  measured:\n${measured.map((m) => `    ${m}`).join('\n')}\n`);
    if (lab) {
      const report = await lab.destroy();
      if (report.errors.length > 0) process.stdout.write(`lab teardown errors: ${report.errors.join('; ')}\n`);
    }
  });

  test('three servers on a three-member etcd across three hosts, two real agents Ready', async () => {
    lab = await createLab({ name: LAB_NAME, nodes: AGENT_HOSTS.length, clients: SERVER_HOSTS, sshd: false });
    const l = lab;
    const image = await buildBusyboxImage({ dir: IMAGE_CACHE });
    await Promise.all(AGENT_HOSTS.map((n) => l.importImage(n, image)));
    etcd = await LabEtcd.start(l, SERVER_HOSTS);
    for (const host of SERVER_HOSTS) {
      const ip = l.host(host).ip;
      servers.push({ host, url: `https://${ip}:${API_PORT}`, dataDir: join(l.host(host).dir, 'corral'), kubeconfig: join(l.dir, `${host}.kubeconfig`) });
    }
    // The first server stores the cluster's CA and keys in etcd; the others take them from there.
    await startServer('s1');
    await Promise.all(['s2', 's3'].map(startServer));
    const adminKubeconfig = readFileSync(join(server('s1').dataDir, 'kubeconfig.yaml'), 'utf8');
    for (const s of servers) writeFileSync(s.kubeconfig, adminKubeconfig.replace(/server: https:\/\/\S+/, `server: ${s.url}`), { mode: 0o600 });
    const adminToken = readFileSync(join(server('s1').dataDir, 'server', 'admin-token'), 'utf8').trim();
    writeFileSync(join(l.dir, 'admin-auth.header'), `Authorization: Bearer ${adminToken}\n`, { mode: 0o600 });

    // Exactly one holder of the controllers' Lease, seen alike through every server.
    const holders = await waitUntil('a controllers leader', async () => {
      const seen = await Promise.all(servers.map((s) => leaseHolder(s)));
      return seen.every((h) => h.identity !== '' && h.identity === seen[0]!.identity) ? seen : undefined;
    }, 60_000, 500);
    leaderHost = holders[0]!.host;
    assert.ok((SERVER_HOSTS as readonly string[]).includes(leaderHost), `holder ${holders[0]!.identity}`);
    const leaders = servers.filter((s) => /became leader/.test(logTail(s.process, 1_000_000)));
    assert.equal(leaders.map((s) => s.host), [leaderHost], 'one server took the Lease');

    // A join token made on one server works on every server (the token file is shared through etcd).
    const made = await l.exec('s1', [process.execPath, CLI, 'token', 'create', '--role', 'join', '--data-dir', server('s1').dataDir, '--description', 'ha lab agents']);
    assert.is(made.code, 0, made.stderr);
    const token = made.stdout.trim();
    const tokensFile = (s: LabServer): string => readFileSync(join(s.dataDir, 'server', 'tokens.json'), 'utf8');
    await waitUntil('the token on every server', async () => servers.every((s) => tokensFile(s) === tokensFile(server('s1'))), 30_000, 300);

    // The agents list the leader first: the kill below takes away the server they talk to.
    const ordered = [server(leaderHost), ...survivors()].map((s) => s.url);
    for (const n of AGENT_HOSTS) {
      agents.set(n, l.spawn(n, labAgentArgv(l, n, { servers: ordered, caFile: join(server('s1').dataDir, 'server', 'tls', 'ca.crt') }),
        { logName: 'agent', env: labAgentEnv({ ...process.env, CORRAL_LOG_LEVEL: 'info', CORRAL_TOKEN: token }) }));
    }
    // Secrets never on a command line (readable by every user through ps and /proc/PID/cmdline).
    for (const p of [...agents.values(), ...servers.map((s) => s.process)]) {
      const cmdline = p ? readFileSync(`/proc/${p.child.pid}/cmdline`, 'utf8') : '';
      assert.ok(cmdline !== '' && !cmdline.includes(token) && !cmdline.includes(CLUSTER_SECRET), `a secret on the command line: ${cmdline.split('\0').join(' ')}`);
    }
    await waitUntil('2 Ready nodes with pod CIDRs', async () => {
      const nodes = (await getJson<KubeList<Node>>(servers[0]!, ['get', 'nodes'])).items;
      return nodes.filter((n) => n.spec?.podCIDR && n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length === AGENT_HOSTS.length;
    }, 90_000, 500).catch((err: unknown) => { throw new Error(`${String(err)}\nagent n1:\n${logTail(agents.get('n1'))}`); });
  });

  test('pods started before the faults run on both agents', async () => {
    const s = survivors()[0]!;
    const r = await kubectl(s, ['apply', '-f', '-'], { input: deployment('steady', STEADY) });
    assert.is(r.code, 0, r.stderr);
    const list = await waitUntil(`${STEADY} ready steady pods`, async () => {
      const ps = await pods(s, 'steady');
      return ps.length === STEADY && ps.every(ready) ? ps : undefined;
    }, 120_000, 500).catch(async (err: unknown) => { throw new Error(`${String(err)}\n${(await kubectl(s, ['get', 'pods', '-o', 'wide'])).stdout}\n${logTail(agents.get('n1'))}`); });
    assert.equal(new Set(list.map((p) => p.spec.nodeName)).size, AGENT_HOSTS.length, 'the steady pods are spread over both agents');
    steadyTasks = await taskSnapshot(list);
  });

  test(`kill -9 of the leading server during a ${REPLICAS}-replica rollout`, async () => {
    const l = need();
    const leader = server(leaderHost);
    const [via, other] = survivors() as [LabServer, LabServer];
    const holderBefore = (await leaseHolder(via)).identity;

    // Every pod of the rollout ever added or deleted, seen through a server that stays up.
    const watch = l.spawn('control', ['curl', '-sSN', '--cacert', join(server('s1').dataDir, 'server', 'tls', 'ca.crt'), '-H', `@${join(l.dir, 'admin-auth.header')}`,
      `${via.url}/api/v1/namespaces/default/pods?watch=1&labelSelector=app%3Dbig`], { logName: 'pod-watch' });
    await sleep(1_500);
    const created = await kubectl(via, ['apply', '-f', '-'], { input: deployment('big', REPLICAS) });
    assert.is(created.code, 0, created.stderr);
    await waitUntil('a third of the pods exist', async () => (await pods(via, 'big')).length >= REPLICAS / 3, 60_000, 200);

    // Writes acknowledged by the leader just before it dies must survive it.
    for (let i = 0; i < 3; i++) assert.ok((await write(leader)).ok, 'a write through the leader');
    leader.process!.child.kill('SIGKILL');
    await Promise.race([leader.process!.exited, sleep(10_000)]);
    const killedAt = Date.now();

    // A pod status change made now (readiness fails inside a container) reaches the API through a survivor.
    const [probeName, probed] = [...steadyTasks][0]!;
    await setNotReady(probed, true);
    await waitUntil(`${probeName} not Ready in the API`, async () => {
      const p = await getJson<Pod>(via, ['get', 'pod', probeName]);
      return (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'False');
    }, 30_000, 300);
    measured.push(`a readiness change reached the API ${Date.now() - killedAt} ms after the leader's kill (agents failed over)`);

    // Services created through both survivors while the controllers move.
    const made = await Promise.all(Array.from({ length: 8 }, async (_, i) => {
      const s = i % 2 === 0 ? via : other;
      const r = await kubectl(s, ['create', 'service', 'clusterip', `svc-${i}`, '--tcp=80:80', '-o', 'json']);
      assert.is(r.code, 0, `service through ${s.host}: ${r.stderr}`);
      const svc = JSON.parse(r.stdout) as Service;
      acknowledged.push({ kind: 'create', key: `services/svc-${i}`, revision: Number(svc.metadata.resourceVersion), value: svc.spec.clusterIP ?? '', identity: svc.metadata.uid! });
      return svc;
    }));
    assert.is(made.length, 8);

    const tookOverAt = await waitUntil('another server holds the controllers\' Lease', async () => {
      const h = await leaseHolder(via);
      return h.identity !== holderBefore && h.identity !== '' ? { at: Date.now(), host: h.host } : undefined;
    }, (LEASE_SECONDS * 3) * 1000, 200);
    const takeoverMs = tookOverAt.at - killedAt;
    measured.push(`controllers taken over by ${tookOverAt.host} ${takeoverMs} ms after the leader's kill -9 (lease ${LEASE_SECONDS} s)`);
    // A candidate takes an expired Lease: the lease time, plus its retry period and our polling, plus slack for a loaded machine.
    assert.ok(takeoverMs <= (LEASE_SECONDS + 10) * 1000, `taken over in ${takeoverMs} ms`);
    assert.ok(survivors().some((s) => s.host === tookOverAt.host), 'a surviving server leads');

    // Node heartbeats went on through the survivors.
    for (const n of AGENT_HOSTS) {
      await waitUntil(`${n}'s heartbeat after the kill`, async () => {
        const lease = await getJson<Lease>(via, ['get', 'lease', '-n', 'kube-node-lease', n]);
        return Date.parse(lease.spec?.renewTime ?? '') > killedAt;
      }, 30_000, 500);
    }

    const rolledOutAt = await waitUntil(`all ${REPLICAS} replicas available`, async () => {
      const d = await getJson<Deployment>(via, ['get', 'deployment', 'big']);
      return d.status?.availableReplicas === REPLICAS && d.status.updatedReplicas === REPLICAS ? Date.now() : undefined;
    }, 240_000, 1_000).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\n${(await kubectl(via, ['get', 'pods', '-o', 'wide'])).stdout}\nagent n1:\n${logTail(agents.get('n1'))}`);
    });
    measured.push(`rollout of ${REPLICAS} real pods complete ${rolledOutAt - killedAt} ms after the kill`);
    await setNotReady(probed, false);
    await waitUntil(`${probeName} Ready again`, async () => ready(await getJson<Pod>(via, ['get', 'pod', probeName])), 30_000, 300);

    await sleep(2_000); // time for a stray extra pod to show up, if any
    watch.child.kill('SIGTERM');
    await Promise.race([watch.exited, sleep(5_000)]);
    const events = watchEvents(watch.logFile);
    const added = new Set(events.filter((e) => e.type === 'ADDED').map((e) => e.uid));
    assert.is(added.size, REPLICAS, `pods ever added: ${added.size}; the watch logged: ${readFileSync(watch.logFile, 'utf8').slice(0, 500)}`);
    assert.equal(events.filter((e) => e.type === 'DELETED').map((e) => e.name), [], 'no pod was created twice and deleted again');
    const big = await pods(via, 'big');
    assert.is(big.length, REPLICAS);
    assert.is(new Set(big.map((p) => p.metadata.uid)).size, REPLICAS, 'distinct uids');
    assert.is(new Set(big.map((p) => p.metadata.ownerReferences?.[0]?.uid)).size, 1, 'one ReplicaSet owns them all');
    assert.ok(big.every(ready), 'every pod Running and Ready');
    rolloutTasks = await taskSnapshot(big);

    const services = (await getJson<KubeList<Service>>(via, ['get', 'services', '-A'])).items;
    const ips = services.map((s) => s.spec.clusterIP).filter((ip): ip is string => ip !== undefined && ip !== 'None');
    assert.is(new Set(ips).size, ips.length, `no ClusterIP handed out twice: ${ips.join(' ')}`);
    await assertSameTasks(via, 'steady', steadyTasks);
  });

  test('kill -9 of one etcd member: writes go on', async () => {
    // The dead server's machine loses its etcd member too.
    await etcd!.kill(leaderHost);
    const killedAt = Date.now();
    let ok = 0;
    for (let i = 0; i < 10; i++) if ((await write(survivors()[i % 2]!)).ok) ok++;
    measured.push(`10 writes with one etcd member down: ${ok} acknowledged in ${Date.now() - killedAt} ms`);
    assert.ok(ok >= 9, `${ok} of 10 writes acknowledged with one member down`);
    // The agents' status writes go on too.
    const [probeName, probed] = [...steadyTasks][2]!;
    await setNotReady(probed, true);
    await waitUntil(`${probeName} not Ready with one member down`, async () => !ready(await getJson<Pod>(survivors()[0]!, ['get', 'pod', probeName])), 30_000, 300);
    await setNotReady(probed, false);
    await waitUntil(`${probeName} Ready again`, async () => ready(await getJson<Pod>(survivors()[0]!, ['get', 'pod', probeName])), 30_000, 300);
  });

  test('kill -9 of a second member: a clear 5xx/429, nothing acknowledged; writes return with the members', async () => {
    const [via] = survivors() as [LabServer, LabServer];
    const second = SERVER_HOSTS.find((h) => h !== leaderHost)!;
    await etcd!.kill(second);
    const before = acknowledged.length;
    const r = await write(via);
    assert.not.ok(r.ok, 'no quorum: the write must not be acknowledged');
    if (!r.ok) {
      assert.ok(r.status === 429 || r.status >= 500, `a 5xx or 429, not ${r.status}: ${r.message}`);
      assert.match(r.message, /"kind":"Status".*(etcd|storage|unavailable)/i, 'a Kubernetes Status that says why');
      assert.ok(r.ms <= 40_000, `answered in ${r.ms} ms`);
      measured.push(`with two of three etcd members down a write was refused in ${r.ms} ms: ${r.status} ${r.message.slice(0, 300)}`);
    }
    assert.is(acknowledged.length, before);
    assert.ok(survivors().every((s) => alive(s.process)), 'the servers stay up');
    assert.ok([...agents.values()].every(alive), 'the agents stay up');

    const returnedAt = Date.now();
    etcdBackAt = returnedAt;
    etcd!.restart(leaderHost);
    etcd!.restart(second);
    await etcd!.waitHealthy(90_000);
    // Each server's etcd client finds the members again on its own (its circuit breaker re-probes a
    // member that failed after a few seconds), so every survivor is waited for, not only the first.
    for (const s of survivors()) {
      await waitUntil(`writes work again through ${s.host}`, async () => (await write(s)).ok, 90_000, 500);
      measured.push(`writes acknowledged again through ${s.host} ${Date.now() - returnedAt} ms after the two members were restarted`);
    }
    for (let i = 0; i < 5; i++) assert.ok((await write(survivors()[i % 2]!)).ok);
  });

  test('every acknowledged write is there; the pods kept their tasks; the agents report through the survivors', async () => {
    const [via] = survivors() as [LabServer, LabServer];
    // The killed server comes back and serves again (as a follower of the controllers).
    await startServer(leaderHost);
    const stored = new Map<string, { revision: number; value: string; identity: string }>();
    for (const kind of ['configmaps', 'services'] as const) {
      const list = await getJson<KubeList<{ metadata: { name?: string; uid?: string; resourceVersion?: string }; data?: Record<string, string>; spec?: { clusterIP?: string } }>>(server(leaderHost), ['get', kind]);
      for (const o of list.items) {
        stored.set(`${kind}/${o.metadata.name}`, { revision: Number(o.metadata.resourceVersion), value: kind === 'configmaps' ? o.data?.['n'] ?? '' : o.spec?.clusterIP ?? '', identity: o.metadata.uid ?? '' });
      }
    }
    assert.ok(acknowledged.length >= 25, `${acknowledged.length} acknowledged writes`);
    assert.equal(await lostWrites(acknowledged, async (key) => stored.get(key)), [], 'acknowledged writes lost');

    await assertSameTasks(via, 'steady', steadyTasks);
    await assertSameTasks(via, 'big', rolloutTasks);
    for (const n of AGENT_HOSTS) {
      const node = await getJson<Node>(via, ['get', 'node', n]);
      assert.ok(node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'), `${n} Ready`);
      await waitUntil(`${n}'s heartbeat after etcd's return`, async () => {
        const lease = await getJson<Lease>(via, ['get', 'lease', '-n', 'kube-node-lease', n]);
        return Date.parse(lease.spec?.renewTime ?? '') > etcdBackAt;
      }, 30_000, 500);
    }
    // After the outage, a status change still reaches the API.
    const [probeName, probed] = [...steadyTasks][1]!;
    await setNotReady(probed, true);
    await waitUntil(`${probeName} not Ready`, async () => !ready(await getJson<Pod>(via, ['get', 'pod', probeName])), 30_000, 300);
    await setNotReady(probed, false);
    const agentLogs = AGENT_HOSTS.map((n) => logTail(agents.get(n), 1_000_000)).join('\n');
    assert.not.match(agentLogs, /"level":"fatal"/, 'no agent hit a fatal error');
  });
}

test.run();
