/**
 * Hardware-in-the-loop: the join scenarios against real machines (e.g. Raspberry Pis on a bench).
 * Run on the server machine after `sudo bash installer/install.sh`, as root:
 *
 *   CORRAL_HIL_HOSTS=pi@pi-1,pi@pi-2,pi@pi-3 [CORRAL_HIL_SUDO=1] [CORRAL_HIL_SSH_KEY=~/.ssh/id_ed25519]
 *   [CORRAL_HIL_NODE_LOSS=1] [CORRAL_HIL_JOIN_ARGS='--install-deps'] node dist/test/hil/join.hil.js
 *
 * Never part of CI (which uses the lab): it talks to the machines named, and only to them. See
 * docs/hil.md. Ends with `N passed, N failed`; exits non-zero when a scenario failed.
 */
import { spawnSync } from 'node:child_process';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ApiClient } from '../../api/client/client.js';
import { HttpsTransport } from '../../api/client/transport.js';
import type { Node, Pod, Service } from '../../api/types.js';
import { SshSession, type SshOptions } from '../../installer/join/ssh.js';
import { parseTarget, type JoinTarget } from '../../installer/join/target.js';
import { sleep } from '../../api/async-util.js';

const HOSTS = (process.env['CORRAL_HIL_HOSTS'] ?? '').split(',').map((h) => h.trim()).filter(Boolean);
const DATA = process.env['CORRAL_HIL_DATA_DIR'] ?? '/var/lib/corral';
const SUDO = process.env['CORRAL_HIL_SUDO'] === '1';
const KEY = process.env['CORRAL_HIL_SSH_KEY'];
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'corral.js');

/** Extra `corral join` flags, e.g. `--install-deps` or `--netns-prefix lab-`. */
const JOIN_ARGS = (process.env['CORRAL_HIL_JOIN_ARGS'] ?? '').split(/\s+/).filter(Boolean);
const sshArgs = [...(KEY ? ['--ssh-key', KEY] : []), ...(SUDO ? ['--sudo'] : [])];
const sshOptions: SshOptions = {
  ...(KEY ? { keyFile: KEY } : {}), knownHostsFile: join(homedir(), '.ssh', 'known_hosts'), acceptNewHostKey: false, sudo: SUDO,
  prompt: async () => undefined, ...(process.env['CORRAL_SSH_PASSWORD'] ? { password: process.env['CORRAL_SSH_PASSWORD'] } : {}),
};

function corral(args: readonly string[]): { code: number; out: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 600_000 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function api(): ApiClient {
  const kc = parseYaml(readFileSync(join(DATA, 'kubeconfig.yaml'), 'utf8')) as { clusters: { cluster: { server: string; 'certificate-authority-data': string } }[]; users: { user: { token: string } }[] };
  return new ApiClient(new HttpsTransport({
    server: kc.clusters[0]!.cluster.server, caPem: Buffer.from(kc.clusters[0]!.cluster['certificate-authority-data'], 'base64').toString(), token: kc.users[0]!.user.token,
  }));
}

async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(1000);
  }
}
function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(what);
}

const ready = (n: Node): boolean => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
const podReady = (p: Pod): boolean => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp;

async function onHost<T>(t: JoinTarget, fn: (s: SshSession) => Promise<T>): Promise<T> {
  const s = await SshSession.connect(t, sshOptions);
  try { return await fn(s); } finally { s.close(); }
}

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 5_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const scenarios: [string, () => Promise<void>][] = [];
const scenario = (name: string, fn: () => Promise<void>): void => void scenarios.push([name, fn]);
const targets = HOSTS.map((h) => parseTarget(h));
const c = api();
let nodeNames: string[] = [];

scenario('all hosts join in parallel and become Ready', async () => {
  const r = corral(['join', ...HOSTS, '--data-dir', DATA, ...sshArgs, ...JOIN_ARGS]);
  process.stdout.write(r.out);
  check(r.code === 0, `corral join exited ${r.code}`);
  const nodes = (await c.list<Node>('Node')).items;
  nodeNames = nodes.filter(ready).map((n) => n.metadata.name!);
  check(nodeNames.length >= HOSTS.length, `expected ${HOSTS.length} Ready nodes, got ${nodeNames.join(', ')}`);
});

scenario('re-join upgrades in place without uploading again', async () => {
  const r = corral(['join', ...HOSTS, '--data-dir', DATA, ...sshArgs, ...JOIN_ARGS]);
  check(r.code === 0, `re-join exited ${r.code}:\n${r.out}`);
  check((r.out.match(/bundle already current/g) ?? []).length === HOSTS.length, 'every host kept its bundle');
});

scenario('pods spread; Service via ClusterIP from every node and NodePort on every host; DaemonSet everywhere', async () => {
  await c.create('Deployment', 'default', {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'hil-web' },
    spec: { replicas: HOSTS.length, selector: { matchLabels: { app: 'hil-web' } }, template: { metadata: { labels: { app: 'hil-web' } }, spec: {
      affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'hil-web' } } } }] } },
      containers: [{ name: 'httpd', image: 'busybox', command: ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www'] }] } } },
  });
  const svc = await c.create<Service>('Service', 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'hil-web' }, spec: { type: 'NodePort', selector: { app: 'hil-web' }, ports: [{ port: 80, targetPort: 8080 }] } });
  const ip = svc.spec!.clusterIP!;
  await c.create('DaemonSet', 'default', {
    apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'hil-probe' },
    spec: { selector: { matchLabels: { app: 'hil-probe' } }, template: { metadata: { labels: { app: 'hil-probe' } }, spec: {
      containers: [{ name: 'probe', image: 'busybox', command: ['sh', '-c', `while true; do timeout 5 wget -qO- http://${ip}/ && echo CLUSTERIP-OK; sleep 2; done`] }] } } },
  });
  const web = await eventually('web pods Running', 300_000, async () => {
    const pods = (await c.list<Pod>('Pod', 'default', { labelSelector: 'app=hil-web' })).items.filter(podReady);
    return pods.length === HOSTS.length ? pods : undefined;
  });
  check(new Set(web.map((p) => p.spec?.nodeName)).size === Math.min(HOSTS.length, nodeNames.length), 'one web pod per node');
  const probes = await eventually('a probe pod on every node', 300_000, async () => {
    const pods = (await c.list<Pod>('Pod', 'default', { labelSelector: 'app=hil-probe' })).items.filter(podReady);
    return pods.length >= nodeNames.length ? pods : undefined;
  });
  for (const p of probes) {
    await eventually(`ClusterIP answers in ${p.metadata.name} on ${p.spec?.nodeName}`, 60_000, async () => {
      const log = await c.transport.request({ method: 'GET', path: `/api/v1/namespaces/default/pods/${p.metadata.name}/log?tailLines=20` });
      return (await log.text()).includes('CLUSTERIP-OK') ? true : undefined;
    });
  }
  const nodePort = svc.spec!.ports![0]!.nodePort!;
  for (const t of targets) await eventually(`NodePort on ${t.host}`, 60_000, async () => ((await httpGet(`http://${t.host}:${nodePort}/`)).trim() ? true : undefined));
});

if (process.env['CORRAL_HIL_NODE_LOSS'] === '1') {
  scenario('node loss: agent stopped and server traffic dropped → NotReady → pods elsewhere → back → stale pods cleaned', async () => {
    const t = targets.at(-1)!;
    const serverIp = (await onHost(t, async (s) => (await s.probe('echo "$1"')).stdout)).split(' ')[0]!;
    const name = (await onHost(t, (s) => s.runOk('hostname', 'hostname'))).trim().toLowerCase();
    const lostPods = (await c.list<Pod>('Pod', 'default', { labelSelector: 'app=hil-web' })).items.filter((p) => p.spec?.nodeName === name).map((p) => p.metadata.uid!);
    // The DROP rule removes itself after 5 minutes whatever happens to this script.
    await onHost(t, (s) => s.runOk('cutting the node off', `sh /usr/local/lib/corral/corral-agent.service.sh stop 2>/dev/null || systemctl stop corral-agent; iptables -I INPUT -s ${serverIp} -p tcp ! --dport 22 -j DROP; (sleep 300; iptables -D INPUT -s ${serverIp} -p tcp ! --dport 22 -j DROP) </dev/null >/dev/null 2>&1 &`));
    await eventually(`${name} NotReady`, 120_000, async () => (!ready(await c.get<Node>('Node', undefined, name)) ? true : undefined));
    await eventually('web pods recreated elsewhere', 300_000, async () => {
      const pods = (await c.list<Pod>('Pod', 'default', { labelSelector: 'app=hil-web' })).items.filter(podReady);
      return pods.length === HOSTS.length && pods.every((p) => p.spec?.nodeName !== name) ? true : undefined;
    });
    await onHost(t, (s) => s.runOk('reconnecting the node', `iptables -D INPUT -s ${serverIp} -p tcp ! --dport 22 -j DROP; sh /usr/local/lib/corral/corral-agent.service.sh start 2>/dev/null || systemctl start corral-agent`));
    await eventually(`${name} Ready`, 180_000, async () => (ready(await c.get<Node>('Node', undefined, name)) ? true : undefined));
    await eventually('stale containers removed', 180_000, async () => {
      const ids = await onHost(t, (s) => s.runOk('listing containers', 'ctr -n k8s.io containers ls -q'));
      return lostPods.some((u) => ids.includes(u.replace(/-/g, '').slice(0, 16))) ? undefined : true;
    });
  });
}

scenario('uninstall of one host leaves it clean and deletes its Node; it joins again', async () => {
  const t = targets.at(-1)!;
  const r = corral(['uninstall', HOSTS.at(-1)!, '--data-dir', DATA, ...sshArgs]);
  check(r.code === 0, `uninstall exited ${r.code}:\n${r.out}`);
  const left = await onHost(t, (s) => s.runOk('checking leftovers', [
    'find /usr/local/lib/corral /etc/corral /var/lib/corral -mindepth 1 2>/dev/null',
    '(iptables-save; iptables-legacy-save) 2>/dev/null | grep CORRAL-',
    'ctr -n k8s.io containers ls -q 2>/dev/null',
    'ip netns list | grep "^corral-"',
    'ls /etc/systemd/system/corral-agent.service 2>/dev/null',
    'true'].join('; ')));
  check(left.trim() === '', `leftovers on ${t.host}:\n${left}`);
  const again = corral(['join', HOSTS.at(-1)!, '--data-dir', DATA, ...sshArgs, ...JOIN_ARGS]);
  check(again.code === 0, `re-join after uninstall exited ${again.code}:\n${again.out}`);
});

scenario('cleanup', async () => {
  for (const [kind, name] of [['Deployment', 'hil-web'], ['Service', 'hil-web'], ['DaemonSet', 'hil-probe']] as const) await c.deleteIfExists(kind, 'default', name);
});

if (HOSTS.length === 0) {
  process.stdout.write('set CORRAL_HIL_HOSTS=user@host,... (see docs/hil.md)\n0 passed, 1 failed\n');
  process.exitCode = 2;
} else {
  let passed = 0;
  let failed = 0;
  for (const [name, fn] of scenarios) {
    const t0 = Date.now();
    try {
      await fn();
      passed++;
      process.stdout.write(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
    } catch (err) {
      failed++;
      process.stdout.write(`FAIL ${name}: ${(err as Error).message}\n`);
    }
  }
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  process.exitCode = failed > 0 ? 1 : 0;
}
