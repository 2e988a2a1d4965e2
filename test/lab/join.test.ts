/**
 * `corral join` end to end in the lab: the server installed as a supervised service on the control
 * host, three nodes joined over real SSH in parallel until Ready, host key refusals, `--dry-run`,
 * an idempotent re-join, and `corral uninstall` leaving a node clean. Every client (the join itself,
 * kubectl) runs inside the control host; the test runner never talks to a lab address.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, type Lab } from './harness.js';
import { labTierAvailable } from './prerequisites.js';
import { KUBECTL } from '../support/server-process.js';
import { sleep, type ExecResult } from './exec.js';
import { buildBusyboxImage } from './image.js';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(DIST, 'cli', 'corral.js');
const SERVICE = join(DIST, 'cli', 'install-service.js');
const DATA = '/var/lib/corral';
const KUBECONFIG = `${DATA}/kubeconfig.yaml`;
/**
 * The control host has no containerd: no local agent. Short node-loss timings keep the test quick; the
 * grace period stays above twice the agents' 10 s Lease renewal so healthy nodes never look lost.
 */
const SERVER_FLAGS = ['--disable-agent', '--node-monitor-grace-period', '25s', '--pod-eviction-timeout', '3s'];
const IMAGE_CACHE = '/tmp/corral-lab-images';

let lab: Lab;
const node = process.execPath;

function corral(args: readonly string[], timeoutMs = 240_000): Promise<ExecResult> {
  return lab.exec('control', [node, CLI, ...args], { timeoutMs, env: { ...process.env, HOME: join(lab.dir, 'home') } });
}

function joinArgs(knownHosts: string, hosts: readonly string[], extra: readonly string[] = []): string[] {
  // Pod netns carry the lab's prefix, so a lab teardown removes whatever a failed run leaves.
  return ['join', ...hosts, '--data-dir', DATA, '--ssh-key', lab.clientKey, '--known-hosts', knownHosts, '--ready-timeout', '90s',
    '--netns-prefix', lab.netnsPrefix, ...extra];
}

async function kubectl(args: readonly string[], input?: string): Promise<string> {
  const r = await lab.exec('control', [KUBECTL, '--kubeconfig', KUBECONFIG, ...args], { timeoutMs: 30_000, ...(input !== undefined ? { input } : {}) });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

interface NodeList { items: { metadata: { name: string; annotations?: Record<string, string> }; status?: { conditions?: { type: string; status: string }[]; addresses?: { type: string; address: string }[] } }[] }

async function nodes(): Promise<Map<string, { ready: boolean; ip: string; annotations: Record<string, string> }>> {
  const list = JSON.parse(await kubectl(['get', 'nodes', '-o', 'json'])) as NodeList;
  return new Map(list.items.map((n) => [n.metadata.name, {
    ready: n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    ip: n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '',
    annotations: n.metadata.annotations ?? {},
  }]));
}

/** Polls until the named Nodes are all Ready (an agent may re-post its status once after a restart). */
async function allReady(names: readonly string[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = await nodes();
    if (names.every((n) => all.get(n)?.ready)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface PodList { items: { metadata: { name: string; uid: string; deletionTimestamp?: string; labels?: Record<string, string> }; spec: { nodeName?: string }; status?: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] } }[] }

async function pods(selector: string): Promise<PodList['items']> {
  return (JSON.parse(await kubectl(['get', 'pods', '-l', selector, '-o', 'json'])) as PodList).items;
}

const running = (p: PodList['items'][number]): boolean => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp &&
  (p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false);

/** Polls check() until it returns a value (not undefined) or the time is up. */
async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const state = await kubectl(['get', 'pods', '-o', 'wide']).catch((e: Error) => e.message) +
        await kubectl(['get', 'events', '--field-selector', 'type=Warning']).catch((e: Error) => e.message);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}\npods:\n${state}`);
    }
    await sleep(500);
  }
}

const WORKLOADS = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 3
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      terminationGracePeriodSeconds: 1
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            podAffinityTerm: { topologyKey: kubernetes.io/hostname, labelSelector: { matchLabels: { app: web } } }
      containers:
      - name: httpd
        image: busybox
        imagePullPolicy: IfNotPresent
        command: [sh, -c, 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www']
        ports: [{ containerPort: 8080 }]
        readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 }
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  type: NodePort
  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080 }]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: { name: probe }
spec:
  selector: { matchLabels: { app: probe } }
  template:
    metadata: { labels: { app: probe } }
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: probe
        image: busybox
        imagePullPolicy: IfNotPresent
        command: [sleep, '3600']
`;

const hostsOf = (names: readonly string[]): string[] => names.map((n) => `root@${lab.node(n).ip}`);
const show = (r: ExecResult): string => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;

if (labTierAvailable(test, 'the join lab test')) {
  test.before(async () => {
    lab = await createLab({ name: process.env['CORRAL_JOIN_LAB_NAME'] ?? 'join', nodes: 3 });
    const image = await buildBusyboxImage({ dir: IMAGE_CACHE });
    await Promise.all(lab.nodes.map((n) => lab.importImage(n.name, image)));
  });
  test.after(async () => {
    if (lab) await lab.destroy();
  });

  test('the server installs on the control host as a supervised service and prints kubeconfig, join token, status page', async () => {
    const r = await lab.exec('control', [node, SERVICE, '--data-dir', DATA, '--cli', CLI, '--', ...SERVER_FLAGS], { timeoutMs: 120_000 });
    assert.is(r.code, 0, show(r));
    assert.match(r.stdout, `kubeconfig:  ${KUBECONFIG}`);
    assert.match(r.stdout, /join token:  K10[0-9a-f]{64}::\w+\.\w+/);
    assert.match(r.stdout, `status page: https://${lab.controlIp}:6443/`);
    assert.match(r.stdout, 'supervised: /usr/local/lib/corral/corral.service.sh');
    const status = await lab.exec('control', ['sh', '/usr/local/lib/corral/corral.service.sh', 'status']);
    assert.is(status.code, 0, show(status));
    // Re-running is an upgrade in place: same data (same CA, same join token), server restarted.
    const token = /join token:  (\S+)/.exec(r.stdout)![1];
    const again = await lab.exec('control', [node, SERVICE, '--data-dir', DATA, '--cli', CLI, '--', ...SERVER_FLAGS], { timeoutMs: 120_000 });
    assert.is(again.code, 0, show(again));
    assert.is(/join token:  (\S+)/.exec(again.stdout)![1], token);
  });

  test('an unknown host key is refused without --accept-new-host-key, then recorded with it', async () => {
    const kh = join(lab.dir, 'kh-empty');
    writeFileSync(kh, '');
    const refused = await corral(joinArgs(kh, hostsOf(['n1']), ['--dry-run']));
    assert.is(refused.code, 1, show(refused));
    assert.match(refused.stdout, `host key of ${lab.node('n1').ip} is not in ${kh}`);
    assert.match(refused.stdout, /SHA256:[A-Za-z0-9+/]{43}/);
    assert.match(refused.stdout, '--accept-new-host-key');
    const accepted = await corral(joinArgs(kh, hostsOf(['n1']), ['--dry-run', '--accept-new-host-key']));
    assert.is(accepted.code, 0, show(accepted));
    const recorded = readFileSync(kh, 'utf8');
    assert.match(recorded, `${lab.node('n1').ip} ssh-ed25519 `);
    assert.match(readFileSync(lab.knownHostsFile, 'utf8'), recorded.split(' ')[2]!.trim());
  });

  test('a changed host key is always refused, with its fingerprint', async () => {
    // Record n2's key under n1's address: what a reinstalled or impersonated n1 looks like.
    const n2Line = readFileSync(lab.knownHostsFile, 'utf8').split('\n').find((l) => l.startsWith('n2,'))!;
    const kh = join(lab.dir, 'kh-changed');
    writeFileSync(kh, `${lab.node('n1').ip} ${n2Line.split(' ').slice(1).join(' ')}\n`);
    const r = await corral(joinArgs(kh, hostsOf(['n1']), ['--accept-new-host-key']));
    assert.is(r.code, 1, show(r));
    assert.match(r.stdout, `HOST KEY OF ${lab.node('n1').ip} HAS CHANGED`);
    assert.match(r.stdout, /offered ssh-ed25519 SHA256:\S+, but .* has ssh-ed25519 SHA256:\S+ \(line 1\)/);
    const untouched = await lab.exec('n1', ['test', '-e', '/etc/corral/agent.json']);
    assert.is.not(untouched.code, 0);
  });

  test('--dry-run prints the preflight and the plan per host and changes nothing', async () => {
    const r = await corral(joinArgs(lab.knownHostsFile, hostsOf(['n1', 'n2'])).concat('--dry-run'));
    assert.is(r.code, 0, show(r));
    for (const n of ['n1', 'n2']) assert.match(r.stdout, `root@${lab.node(n).ip} (root@${lab.node(n).ip}:22): node ${n}, amd64`);
    assert.match(r.stdout, '[ok  ] privileges');
    assert.match(r.stdout, '[ok  ] cgroups');
    assert.match(r.stdout, 'upload the agent bundle');
    assert.match(r.stdout, 'supervised service');
    assert.match(r.stdout, /planned/);
    for (const n of ['n1', 'n2']) {
      const files = await lab.exec(n, ['sh', '-c', 'ls -A /usr/local/lib/corral /etc/corral /var/lib/corral']);
      assert.is(files.stdout.trim().split('\n').filter((l) => l && !l.endsWith(':')).length, 0, files.stdout);
    }
  });

  test('from another machine: --server with a K10 token checks the server CA before anything else; a forged pin is refused', async () => {
    const token = (await corral(['token', 'create', '--ttl', '1h', '--data-dir', DATA])).stdout.trim();
    const server = `https://${lab.controlIp}:6443`;
    const common = ['--ssh-key', lab.clientKey, '--known-hosts', lab.knownHostsFile, '--dry-run', `root@${lab.node('n1').ip}`];
    const ok = await corral(['join', '--server', server, '--token', token, ...common]);
    assert.is(ok.code, 0, show(ok));
    assert.match(ok.stdout, `wait until Node n1 (${lab.node('n1').ip}) is Ready on ${server}`);
    const forged = token.replace(/^K10[0-9a-f]{4}/, 'K100000');
    const bad = await corral(['join', '--server', server, '--token', forged, ...common]);
    assert.is(bad.code, 1, show(bad));
    assert.match(bad.stderr, 'refusing to trust it');
    assert.not.match(bad.stdout, 'preflight');
  });

  test('three nodes join over SSH in parallel and become Ready, with their identity recorded', async () => {
    // n1 as an older corral left it: its agent bundle was an ES module under another name.
    await lab.exec('n1', ['sh', '-c', 'mkdir -p /usr/local/lib/corral && echo old > /usr/local/lib/corral/corral-agent.mjs']);
    const r = await corral(joinArgs(lab.knownHostsFile, hostsOf(['n1', 'n2', 'n3'])));
    assert.is(r.code, 0, show(r));
    const files = (await lab.exec('n1', ['ls', '/usr/local/lib/corral'])).stdout.trim().split('\n');
    assert.ok(files.includes('corral-agent.cjs') && !files.includes('corral-agent.mjs'), `the old bundle is removed once the new agent started: ${files.join(' ')}`);
    assert.match(r.stdout, /HOST\s+NODE\s+ARCH\s+BOARD\s+RESULT\s+TIME\s+PHASES/);
    for (const n of ['n1', 'n2', 'n3']) {
      assert.match(r.stdout, new RegExp(`root@${lab.node(n).ip.replace(/\./g, '\\.')}\\s+${n}\\s+amd64\\s+.*joined`));
    }
    const all = await nodes();
    for (const n of ['n1', 'n2', 'n3']) {
      const got = all.get(n);
      assert.ok(got?.ready, `${n} Ready`);
      assert.is(got!.ip, lab.node(n).ip);
      assert.match(got!.annotations['corral.io/node-password-sha256'] ?? '', /^[0-9a-f]{64}$/);
      const mode = await lab.exec(n, ['stat', '-c', '%a', '/etc/corral/node-token', '/etc/corral/node-password']);
      assert.equal(mode.stdout.trim().split('\n'), ['600', '600']);
    }
  });

  test('re-join is idempotent: nothing re-uploaded, identity kept, Nodes Ready again', async () => {
    const before = await lab.exec('n1', ['cat', '/etc/corral/node-password']);
    const r = await corral(joinArgs(lab.knownHostsFile, hostsOf(['n1', 'n2', 'n3'])));
    assert.is(r.code, 0, show(r));
    assert.match(r.stdout, 'upload: bundle already current');
    assert.is((r.stdout.match(/upgraded in /g) ?? []).length, 3, r.stdout);
    assert.is((await lab.exec('n1', ['cat', '/etc/corral/node-password'])).stdout, before.stdout);
    // Each node has one credential: the re-join's replaced (and revoked) the first join's.
    const list = (await corral(['token', 'list', '--data-dir', DATA])).stdout;
    for (const n of ['n1', 'n2', 'n3']) assert.is(list.split('\n').filter((l) => l.endsWith(`node ${n}`)).length, 1, list);
    assert.ok(await allReady(['n1', 'n2', 'n3'], 30_000), await kubectl(['get', 'nodes', '-o', 'yaml']));
  });

  test('a host asking for the name of another Ready node is refused by the preflight, with the fix', async () => {
    const r = await corral(joinArgs(lab.knownHostsFile, hostsOf(['n2']), ['--node-name', 'n1']));
    assert.is(r.code, 1, show(r));
    assert.match(r.stdout, `node-name: node name n1 is already used by a Ready node at ${lab.node('n1').ip}`);
    assert.match(r.stdout, 'fix: join with --node-name OTHER');
    assert.is((await nodes()).get('n1')?.ip, lab.node('n1').ip);
  });

  test('pods spread across the joined nodes; the Service answers via ClusterIP from pods on every node and via NodePort on every node', async () => {
    await kubectl(['apply', '-f', '-'], WORKLOADS);
    const web = await eventually('3 Ready web pods', 90_000, async () => {
      const ready = (await pods('app=web')).filter(running);
      return ready.length === 3 ? ready : undefined;
    });
    assert.equal(new Set(web.map((p) => p.spec.nodeName)).size, 3, 'one web pod per node');
    const probes = await eventually('a probe pod Running on every node', 90_000, async () => {
      const ready = (await pods('app=probe')).filter((p) => p.status?.phase === 'Running');
      return new Set(ready.map((p) => p.spec.nodeName)).size === 3 ? ready : undefined;
    });
    assert.equal(probes.map((p) => p.spec.nodeName).sort(), ['n1', 'n2', 'n3']);
    const svc = JSON.parse(await kubectl(['get', 'service', 'web', '-o', 'json'])) as { spec: { clusterIP: string; ports: { nodePort: number }[] } };
    const { clusterIP } = svc.spec;
    const nodePort = svc.spec.ports[0]!.nodePort;
    for (const p of probes) {
      const answers = await eventually(`ClusterIP ${clusterIP} from ${p.metadata.name} on ${p.spec.nodeName}`, 30_000, async () => {
        const r = await lab.exec('control', [KUBECTL, '--kubeconfig', KUBECONFIG, 'exec', p.metadata.name, '--', 'timeout', '5', 'wget', '-qO-', `http://${clusterIP}/`], { timeoutMs: 20_000 });
        // A web pod answers with its hostname; anything else (an empty relay) is retried.
        if (r.code === 0 && /^web-/.test(r.stdout.trim())) return r.stdout.trim();
        throw new Error(`exit ${r.code}, stdout ${JSON.stringify(r.stdout.slice(0, 200))}, stderr ${JSON.stringify(r.stderr.slice(0, 200))}`);
      });
      assert.match(answers, /^web-/);
    }
    for (const n of lab.nodes) {
      const body = await eventually(`NodePort ${nodePort} on ${n.name}`, 30_000, async () => {
        const r = await lab.exec('control', ['timeout', '5', 'wget', '-qO-', `http://${n.ip}:${nodePort}/`]);
        return r.code === 0 ? r.stdout.trim() : undefined;
      });
      assert.match(body, /^web-/);
    }
  });

  test('node loss: agent stopped and link cut → NotReady → pods recreated elsewhere → node back → stale pods cleaned', async () => {
    const lost = 'n2';
    const before = (await pods('app=web')).filter((p) => p.spec.nodeName === lost);
    assert.ok(before.length > 0, 'a web pod runs on the node that will be lost');
    const lostUids = before.map((p) => p.metadata.uid.replace(/-/g, '').slice(0, 16));
    const stop = await lab.exec(lost, ['sh', '/usr/local/lib/corral/corral-agent.service.sh', 'stop']);
    assert.is(stop.code, 0, show(stop));
    await lab.exec(lost, ['ip', 'link', 'set', 'eth0', 'down']);
    await eventually(`${lost} NotReady`, 60_000, async () => ((await nodes()).get(lost)?.ready === false ? true : undefined));
    const moved = await eventually('3 Ready web pods on the other nodes', 90_000, async () => {
      const ready = (await pods('app=web')).filter(running);
      return ready.length === 3 && ready.every((p) => p.spec.nodeName !== lost) ? ready : undefined;
    });
    assert.ok(moved.every((p) => ['n1', 'n3'].includes(p.spec.nodeName ?? '')));
    await lab.exec(lost, ['ip', 'link', 'set', 'eth0', 'up']);
    const start = await lab.exec(lost, ['sh', '/usr/local/lib/corral/corral-agent.service.sh', 'start']);
    assert.is(start.code, 0, show(start));
    await eventually(`${lost} Ready again`, 60_000, async () => ((await nodes()).get(lost)?.ready ? true : undefined));
    await eventually('the lost pods\' containers removed from the returning node', 60_000, async () => {
      const ids = (await lab.ctr(lost, ['containers', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
      return ids.some((id) => lostUids.some((u) => id.startsWith(u))) ? undefined : true;
    });
    assert.is((await pods('app=web')).filter((p) => p.spec.nodeName === lost && lostUids.includes(p.metadata.uid.replace(/-/g, '').slice(0, 16))).length, 0);
  });

  test('a reinstalled host (files gone, stale Node left) re-joins without manual cleanup and gets a new identity', async () => {
    const oldHash = (await nodes()).get('n1')!.annotations['corral.io/node-password-sha256'];
    await lab.exec('n1', ['sh', '/usr/local/lib/corral/corral-agent.service.sh', 'stop']);
    await lab.exec('n1', ['sh', '-c', 'find /etc/corral /usr/local/lib/corral /var/lib/corral -mindepth 1 -delete']);
    const r = await corral(joinArgs(lab.knownHostsFile, hostsOf(['n1'])));
    assert.is(r.code, 0, show(r));
    const n1 = (await nodes()).get('n1')!;
    assert.ok(n1.ready);
    assert.match(n1.annotations['corral.io/node-password-sha256'] ?? '', /^[0-9a-f]{64}$/);
    assert.is.not(n1.annotations['corral.io/node-password-sha256'], oldHash);
  });

  test('--server with several addresses, the first one down: the join goes through the next, and the agent is given them all', async () => {
    const token = (await corral(['token', 'create', '--ttl', '1h', '--data-dir', DATA])).stdout.trim();
    const down = `https://${lab.controlIp}:6553`; // nothing listens there
    const up = `https://${lab.controlIp}:6443`;
    const r = await corral(['join', `root@${lab.node('n1').ip}`, '--server', `${down},${up}`, '--token', token, '--ssh-key', lab.clientKey,
      '--known-hosts', lab.knownHostsFile, '--ready-timeout', '90s', '--netns-prefix', lab.netnsPrefix]);
    assert.is(r.code, 0, show(r));
    const service = await lab.exec('n1', ['cat', '/usr/local/lib/corral/corral-agent.service.sh']);
    assert.match(service.stdout, `${down},${up}`);
    assert.ok(await allReady(['n1'], 30_000), 'n1 is Ready with its agent talking to the server that answers');
  });

  test('corral uninstall leaves the node clean: no pod netns, no corral chains, no containers, no files, no service, no Node', async () => {
    const n3 = lab.node('n3');
    const pid = (await lab.exec('n3', ['cat', '/var/lib/corral/run/corral-agent.pid'])).stdout.trim();
    assert.match(pid, /^\d+$/);
    assert.ok((await lab.ctr('n3', ['containers', 'ls', '-q'])).stdout.trim().length > 0, 'n3 runs containers before the uninstall');
    const r = await corral(['uninstall', `root@${n3.ip}`, '--data-dir', DATA, '--ssh-key', lab.clientKey, '--known-hosts', lab.knownHostsFile]);
    assert.is(r.code, 0, show(r));
    assert.match(r.stdout, 'uninstalled; Node n3 deleted');
    // Gone, or a zombie: the lab's PID 1 does not reap orphans.
    const gone = await lab.exec('control', ['sh', '-c', `[ ! -e /proc/${pid} ] || grep -q '^State:[[:space:]]*Z' /proc/${pid}/status`]);
    assert.is(gone.code, 0, 'the agent supervisor is gone');
    assert.is((await lab.ctr('n3', ['containers', 'ls', '-q'])).stdout.trim(), '');
    const netns = (await lab.exec('n3', ['ip', 'netns', 'list'])).stdout;
    assert.not.match(netns, `${lab.netnsPrefix}n3-`);
    const chains = (await lab.exec('n3', ['sh', '-c', 'iptables-save; iptables-legacy-save 2>/dev/null'])).stdout;
    assert.not.match(chains, 'CORRAL-');
    const files = await lab.exec('n3', ['sh', '-c', "find /usr/local/lib/corral /etc/corral /var/lib/corral -mindepth 1; awk '$2 ~ \"^(/etc|/usr/local/lib|/var/lib)/corral/\"' /proc/self/mounts"]);
    assert.is(files.stdout.trim(), '', files.stdout);
    assert.not.ok((await nodes()).has('n3'));
    assert.not.match((await corral(['token', 'list', '--data-dir', DATA])).stdout, /node n3\n/, 'its credential is revoked');
    // The other nodes are untouched.
    assert.ok(await allReady(['n1', 'n2'], 20_000));
  });

  test('a node joins with the one-liner from the server: curl … /install.sh | sh -s - --token-file FILE', async () => {
    const token = (await corral(['token', 'create', '--ttl', '1h', '--data-dir', DATA])).stdout.trim();
    assert.match(token, /^K10[0-9a-f]{64}::/);
    const ca = (await lab.exec('control', ['cat', `${DATA}/server/tls/ca.crt`])).stdout;
    writeFileSync(join(lab.dir, 'server-ca.crt'), ca);
    // The token comes from a file (or CORRAL_TOKEN), never from the script's command line.
    const tokenFile = join(lab.dir, 'join-token');
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const cmd = `curl -fsSL --cacert ${join(lab.dir, 'server-ca.crt')} https://${lab.controlIp}:6443/install.sh | sh -s - --token-file ${tokenFile} --netns-prefix ${lab.netnsPrefix}`;
    // n3 as an older corral left it: its agent bundle was an ES module under another name.
    await lab.exec('n3', ['sh', '-c', 'mkdir -p /usr/local/lib/corral && echo old > /usr/local/lib/corral/corral-agent.mjs']);
    const r = await lab.exec('n3', ['sh', '-c', cmd], { timeoutMs: 180_000 });
    assert.is(r.code, 0, show(r));
    assert.match(r.stdout, 'Node n3 is Ready');
    const files = (await lab.exec('n3', ['ls', '/usr/local/lib/corral'])).stdout.trim().split('\n');
    assert.ok(files.includes('corral-agent.cjs') && !files.includes('corral-agent.mjs'), `the old bundle is removed once the new agent started: ${files.join(' ')}`);
    assert.ok((await nodes()).get('n3')?.ready);
    // The 1 h join token was traded for a credential of the node's own that does not expire.
    const onNode = (await lab.exec('n3', ['cat', '/etc/corral/node-token'])).stdout;
    assert.match(onNode, /^CORRAL_TOKEN=K10[0-9a-f]{64}::\w+\.\w+\n$/);
    assert.not.match(onNode, token.split('::')[1]!);
    assert.match((await corral(['token', 'list', '--data-dir', DATA])).stdout, /\snode\s+(\S+\s+)?<never>\s+\S+\s+node n3\n/); // ROLE [USER] EXPIRES CREATED DESCRIPTION
    // A token for another CA is refused before anything is fetched with it.
    const forged = token.replace(/^K10[0-9a-f]{4}/, 'K100000');
    writeFileSync(tokenFile, `${forged}\n`, { mode: 0o600 });
    const bad = await lab.exec('n3', ['sh', '-c', `curl -fsSL --cacert ${join(lab.dir, 'server-ca.crt')} https://${lab.controlIp}:6443/install.sh | sh -s - --token-file ${tokenFile}`]);
    assert.is.not(bad.code, 0);
    assert.match(bad.stderr, 'refusing to trust it');
  });
}

test.run();
