/**
 * `kubectl port-forward` in the lab (lab 'pfwd', real kubectl 1.32, containerd, server on the control
 * host, agent on n1): kubectl on the control host forwards pod/web 8080:80 plus a port the pod
 * serves on 127.0.0.1 only, svc/web 8081:80 over the SPDY upgrade fallback, and deploy/webd; 200
 * parallel requests through the tunnel all succeed; a closed port reaches kubectl as upstream's error
 * text; when kubectl exits the tunnel is gone on both sides (no helper process, no connection in the
 * pod's network namespace, no session in the agent's log left open).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, type Lab, type LabProcess } from './harness.js';
import { buildBusyboxImage } from './image.js';
import { labTierAvailable } from './prerequisites.js';
import { KUBECTL, startLabCluster, type LabCluster } from './agent-cluster.js';
import type { Node, Pod } from '../../api/types.js';
import type { KubeList } from '../../api/meta.js';
import { waitUntil } from '../support/wait.js';

const test = suite('kubectl port-forward in the lab');
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'corral.js');

let lab: Lab | undefined;
let cluster: LabCluster | undefined;
const need = (): { lab: Lab; c: LabCluster } => {
  if (!lab || !cluster) throw new Error('the lab cluster did not come up (see the first test)');
  return { lab, c: cluster };
};

/** busybox httpd on :80 (the pod's name) and on 127.0.0.1:9090 only ("loopback-NAME"); `indent` spaces deep. */
const podSpec = (indent: number): string => `
terminationGracePeriodSeconds: 1
containers:
- name: httpd
  image: busybox
  imagePullPolicy: IfNotPresent
  command: ['sh', '-c', 'mkdir -p /www /lo && hostname > /www/index.html && echo loopback-$(hostname) > /lo/index.html && httpd -p 127.0.0.1:9090 -h /lo && exec httpd -f -p 80 -h /www']
  ports: [{ name: http, containerPort: 80 }]`.replace(/\n/g, `\n${' '.repeat(indent)}`);

const MANIFESTS = `
apiVersion: v1
kind: Pod
metadata: { name: web, labels: { app: web } }
spec:${podSpec(2)}
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ name: http, port: 80, targetPort: http }]
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: webd }
spec:
  replicas: 1
  selector: { matchLabels: { app: webd } }
  template:
    metadata: { labels: { app: webd } }
    spec:${podSpec(6)}
`;

/** `count` GETs at once from the control host to 127.0.0.1:port; the bodies (or error texts). */
async function parallelGets(l: Lab, port: number, count: number): Promise<string[]> {
  const script = `
    const http = require('node:http');
    const one = () => new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: ${port}, path: '/', agent: false, timeout: 20000 }, (res) => {
        let body = '';
        res.on('data', (d) => body += d);
        res.on('end', () => resolve(res.statusCode === 200 ? body.trim() : 'status ' + res.statusCode));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => resolve('error ' + e.message));
    });
    Promise.all(Array.from({ length: ${count} }, one)).then((r) => process.stdout.write(JSON.stringify(r)));
  `;
  const r = await l.exec('control', [process.execPath, '-e', script], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`request script failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}

function startForward(l: Lab, c: LabCluster, args: readonly string[], env: NodeJS.ProcessEnv = {}): LabProcess {
  return l.spawn('control', [KUBECTL, '--kubeconfig', c.kubeconfig, 'port-forward', ...args], { logName: 'port-forward', env: { ...process.env, ...env } });
}

async function forwarding(p: LabProcess, port: number): Promise<void> {
  await waitUntil(`kubectl forwarding ${port}`, async () => {
    const text = readFileSync(p.logFile, 'utf8');
    if (p.child.exitCode !== null) throw new Error(`kubectl port-forward exited: ${text}`);
    return text.includes(`Forwarding from 127.0.0.1:${port}`);
  }, 30_000, 100);
}

async function stop(p: LabProcess): Promise<void> {
  p.child.kill('SIGINT');
  const code = await Promise.race([p.exited, new Promise<number>((r) => setTimeout(() => r(-2), 10_000))]);
  assert.ok(code !== -2, 'kubectl port-forward exits on SIGINT');
}

function agentLog(): string {
  const p = cluster?.agents.get('n1');
  return p ? readFileSync(p.logFile, 'utf8').slice(-3000) : '';
}

/** The server's connections to n1's agent endpoint (its port 10250); a tunnel is one of them. */
async function tunnelsToAgent(l: Lab): Promise<number> {
  const r = await l.exec('control', ['ss', '-Htn', 'state', 'established', 'dport = :10250']);
  return r.stdout.split('\n').filter((line) => line.trim()).length;
}

/** Connections still open inside the pod's network namespace, and dial helpers still running on the node. */
async function leftovers(l: Lab, c: LabCluster): Promise<{ podConnections: string; helpers: string }> {
  const pod = await c.getJson<Pod>(['get', 'pod', 'web']);
  const netns = `/run/netns/${l.netnsPrefix}n1-${pod.metadata.uid}`;
  const ss = await l.exec('n1', ['nsenter', `--net=${netns}`, 'ss', '-Htn', 'state', 'established']);
  // The bracket keeps pgrep from matching a command line that merely names the pattern.
  const ps = await l.exec('n1', ['pgrep', '-af', 'netns-dialer-helper[.]js']);
  return { podConnections: ss.stdout.trim(), helpers: ps.stdout.trim() };
}

if (labTierAvailable(test, 'port-forward lab test')) {
  test.after(async () => {
    if (lab) {
      const report = await lab.destroy();
      if (report.errors.length > 0) process.stdout.write(`lab teardown errors: ${report.errors.join('; ')}\n`);
    }
  });

  test('one node, a web pod, a Service and a Deployment', async () => {
    lab = await createLab({ name: 'pfwd', nodes: 1 });
    const image = await buildBusyboxImage({ dir: '/tmp/corral-lab-images' });
    await lab.importImage('n1', image);
    cluster = await startLabCluster(lab);
    const { c } = need();
    await waitUntil('n1 Ready', async () => {
      const list = (await c.getJson<KubeList<Node>>(['get', 'nodes'])).items;
      return list.some((n) => n.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'));
    }, 60_000, 300).catch((err: unknown) => { throw new Error(`${String(err)}\nagent log:\n${agentLog()}`); });
    await c.kubectlOk(['apply', '-f', '-'], MANIFESTS);
    await waitUntil('web pods ready', async () => {
      const pods = (await c.getJson<KubeList<Pod>>(['get', 'pods'])).items;
      return pods.length === 2 && pods.every((p) => p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'));
    }, 90_000, 300).catch((err: unknown) => { throw new Error(`${String(err)}\nagent log:\n${agentLog()}`); });
  });

  test('pod/web 8080:80 and 8082:9090 (127.0.0.1 only in the pod), 200 parallel requests, then a clean close', async () => {
    const { lab: l, c } = need();
    const baseline = await tunnelsToAgent(l);
    const pf = startForward(l, c, ['pod/web', '8080:80', '8082:9090']);
    await forwarding(pf, 8080);
    await forwarding(pf, 8082);
    const bodies = await parallelGets(l, 8080, 200);
    const failed = bodies.filter((b) => b !== 'web');
    assert.is(failed.length, 0, `failed requests: ${failed.slice(0, 5).join(' | ')}\n${readFileSync(pf.logFile, 'utf8').slice(-2000)}`);
    assert.equal(await parallelGets(l, 8082, 20), Array(20).fill('loopback-web'));
    // While kubectl runs, the agent holds one helper for the session.
    assert.match((await leftovers(l, c)).helpers, /netns-dialer-helper/);
    await stop(pf);
    const left = await waitUntil('no connection and no helper left on the node', async () => {
      const now = await leftovers(l, c);
      return now.podConnections === '' && now.helpers === '' ? now : undefined;
    }, 10_000, 200).catch(async (err: unknown) => { throw new Error(`${String(err)}: ${JSON.stringify(await leftovers(l, c))}`); });
    assert.ok(left);
    await waitUntil('the server keeps no tunnel to the agent', async () => (await tunnelsToAgent(l)) <= baseline, 10_000, 200);
  });

  test('svc/web 8081:80 over the SPDY/3.1 upgrade (WebSockets off in kubectl) and deploy/webd', async () => {
    const { lab: l, c } = need();
    const svc = startForward(l, c, ['svc/web', '8081:80'], { KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' });
    await forwarding(svc, 8081);
    const bodies = await parallelGets(l, 8081, 200);
    assert.is(bodies.filter((b) => b !== 'web').length, 0, bodies.filter((b) => b !== 'web').slice(0, 5).join(' | '));
    await stop(svc);
    const deploy = startForward(l, c, ['deploy/webd', '8083:80']);
    await forwarding(deploy, 8083);
    const got = await parallelGets(l, 8083, 10);
    assert.ok(got.every((b) => b.startsWith('webd-')), got.join(','));
    await stop(deploy);
  });

  test('a closed port reaches kubectl as upstream\'s error text, and the session ends', async () => {
    const { lab: l, c } = need();
    const pf = startForward(l, c, ['pod/web', '8084:81']);
    await forwarding(pf, 8084);
    const got = await parallelGets(l, 8084, 1);
    assert.ok(got[0]!.startsWith('error'), `the client's connection fails: ${got[0]}`);
    const text = await waitUntil('kubectl prints the error', async () => {
      const t = readFileSync(pf.logFile, 'utf8');
      return t.includes('error forwarding port 81') ? t : undefined;
    }, 10_000, 100);
    // kubectl quotes the message in its log line, so the inner quotes arrive as \".
    assert.match(text, /an error occurred forwarding 8084 -> 81: error forwarding port 81 to pod [0-9a-f-]+, uid : failed to execute portforward in network namespace \\?"\/run\/netns\/[^"\\]+\\?": failed to connect to localhost:81 inside namespace \\?"[0-9a-f-]+\\?", IPv4: dial tcp4 127\.0\.0\.1:81: connect: connection refused/, text);
    if (pf.child.exitCode === null) await stop(pf);
    await waitUntil('no helper left', async () => (await leftovers(l, c)).helpers === '', 10_000, 200);
  });

  test('a viewer (no create on pods/portforward) is refused before any tunnel opens', async () => {
    const { lab: l, c } = need();
    const tok = await l.exec('control', [process.execPath, CLI, 'token', 'create', '--role', 'viewer', '--data-dir', c.serverData]);
    assert.is(tok.code, 0, tok.stderr);
    const r = await c.kubectl(['--token', tok.stdout.trim(), 'port-forward', 'pod/web', '8086:80']);
    assert.is.not(r.code, 0);
    assert.match(r.stderr, /pods "web" is forbidden: User "viewer:[^"]+" cannot (get|create) resource "pods\/portforward" in API group "" in the namespace "default"/);
  });

  test('kubectl refuses a pod that is not running', async () => {
    const { c } = need();
    await c.kubectlOk(['apply', '-f', '-'], 'apiVersion: v1\nkind: Pod\nmetadata: { name: nowhere }\nspec:\n  nodeName: ghost\n  containers: [{ name: c, image: busybox }]\n');
    const r = await c.kubectl(['port-forward', 'pod/nowhere', '8085:80']);
    assert.is.not(r.code, 0);
    assert.match(r.stderr, /unable to forward port because pod is not running/);
  });
}

test.run();
