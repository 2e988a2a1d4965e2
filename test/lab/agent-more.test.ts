/**
 * More of `corral agent` in the lab, on a cluster whose server runs its LOCAL agent: `corral server`
 * without --disable-agent on n1 (with --reserved-cpu/--reserved-memory), a `corral agent` on n2 with
 * small log rotation limits. Covers: allocatable = capacity − reserved; a pod on the server's own node
 * serving its ClusterIP; httpGet and tcpSocket probes (passing and failing); startupProbe gating and
 * restarting; `kubectl logs --previous`, `--since`, `--since-time` and rotation; the tty resize
 * channel of `kubectl exec -it`; air-gap image import; hostPath and secret volumes; containerd going
 * down and coming back; leftovers of a pod deleted while the agent was down; `corral agent --uninstall`.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, type Lab, type LabProcess } from './harness.js';
import { buildBusyboxImage, DEFAULT_IMAGE_REF } from './image.js';
import { sleep } from './exec.js';
import { labTierAvailable } from './prerequisites.js';
import { KUBECTL } from './agent-cluster.js';
import { containerdArgv } from './containerd.js';
import type { Node, Pod, Service } from '../../api/types.js';
import { waitUntil } from '../support/wait.js';

const IMAGE_CACHE = '/tmp/corral-lab-images';
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'corral.js');
const AIRGAP_REF = 'docker.io/library/airgap-box:1.0';
const test = suite('corral agent in the lab, more');

interface Ctx {
  lab: Lab;
  serverData: string;
  kubeconfig: string;
  server: LabProcess;
  agentArgs: string[];
  agent: LabProcess;
}
let ctx: Ctx | undefined;
const need = (): Ctx => {
  if (!ctx) throw new Error('the lab cluster did not come up (see the first test)');
  return ctx;
};

const until = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, stepMs = 300): Promise<T> => waitUntil(what, fn, timeoutMs, stepMs);

async function kubectl(args: readonly string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const c = need();
  return c.lab.exec('control', [KUBECTL, '--kubeconfig', c.kubeconfig, ...args], { timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
}
async function kubectlOk(args: readonly string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}
async function pod(name: string): Promise<Pod> {
  return JSON.parse(await kubectlOk(['get', 'pod', name, '-o', 'json'])) as Pod;
}
function isReady(p: Pod): boolean {
  return p.status?.phase === 'Running' && (p.status.conditions ?? []).some((x) => x.type === 'Ready' && x.status === 'True');
}
function tailOf(p: LabProcess | undefined): string {
  return p ? readFileSync(p.logFile, 'utf8').slice(-3000) : '';
}
function nodeReady(n: Node | undefined): { status: string; reason: string; message: string } | undefined {
  const c = n?.status?.conditions?.find((x) => x.type === 'Ready');
  return c ? { status: c.status, reason: c.reason ?? '', message: c.message ?? '' } : undefined;
}

const PODS = `
apiVersion: v1
kind: Secret
metadata: { name: creds2 }
stringData: { password: hunter2 }
---
apiVersion: v1
kind: Pod
metadata: { name: local-web, labels: { app: local-web } }
spec:
  nodeName: n1
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www']
    ports: [{ name: http, containerPort: 80 }]
    readinessProbe: { httpGet: { path: /index.html, port: http }, periodSeconds: 1 }
    livenessProbe: { tcpSocket: { port: 80 }, periodSeconds: 1, failureThreshold: 2 }
---
apiVersion: v1
kind: Service
metadata: { name: local-web }
spec:
  selector: { app: local-web }
  ports: [{ port: 80, targetPort: 80 }]
---
apiVersion: v1
kind: Pod
metadata: { name: client }
spec:
  nodeName: n2
  terminationGracePeriodSeconds: 0
  containers: [{ name: main, image: busybox, imagePullPolicy: IfNotPresent, command: ['sleep', '3600'] }]
---
apiVersion: v1
kind: Pod
metadata: { name: probes-bad }
spec:
  nodeName: n2
  terminationGracePeriodSeconds: 0
  containers:
  - name: httpd
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ['sh', '-c', 'mkdir -p /www && exec httpd -f -p 80 -h /www']
    readinessProbe: { httpGet: { path: /missing, port: 80 }, periodSeconds: 1 }
    livenessProbe: { tcpSocket: { port: 8081 }, periodSeconds: 1, failureThreshold: 2 }
---
apiVersion: v1
kind: Pod
metadata: { name: startup-slow }
spec:
  nodeName: n2
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ['sh', '-c', 'sleep 4; touch /tmp/started; exec sleep 3600']
    startupProbe: { exec: { command: ['test', '-f', '/tmp/started'] }, periodSeconds: 1, failureThreshold: 20 }
    livenessProbe: { exec: { command: ['test', '-f', '/tmp/started'] }, periodSeconds: 1, failureThreshold: 1 }
    readinessProbe: { exec: { command: ['test', '-f', '/tmp/started'] }, periodSeconds: 1 }
---
apiVersion: v1
kind: Pod
metadata: { name: startup-fail }
spec:
  nodeName: n2
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ['sh', '-c', 'n=$(cat /d/n 2>/dev/null || echo 0); echo $((n+1)) > /d/n; echo run-$n; exec sleep 3600']
    startupProbe: { exec: { command: ['false'] }, periodSeconds: 1, failureThreshold: 2 }
    volumeMounts: [{ name: d, mountPath: /d }]
  volumes: [{ name: d, emptyDir: {} }]
---
apiVersion: v1
kind: Pod
metadata: { name: since }
spec:
  nodeName: n2
  terminationGracePeriodSeconds: 0
  containers:
  - { name: main, image: busybox, imagePullPolicy: IfNotPresent, command: ['sh', '-c', 'echo early-1; echo early-2; sleep 5; while true; do echo late; sleep 0.5; done'] }
---
apiVersion: v1
kind: Pod
metadata: { name: rotator }
spec:
  nodeName: n2
  terminationGracePeriodSeconds: 0
  containers:
  - { name: main, image: busybox, imagePullPolicy: IfNotPresent, command: ['sh', '-c', 'i=0; while [ $i -lt 2000 ]; do echo "line-$i-padding-padding-padding-padding"; i=$((i+1)); usleep 2000; done; exec sleep 3600'] }
---
apiVersion: v1
kind: Pod
metadata: { name: airgap }
spec:
  nodeName: n2
  terminationGracePeriodSeconds: 0
  containers: [{ name: main, image: '${AIRGAP_REF}', imagePullPolicy: Never, command: ['sleep', '3600'] }]
`;

function volumesPod(hostDir: string): string {
  return `
apiVersion: v1
kind: Pod
metadata: { name: volumes }
spec:
  nodeName: n2
  terminationGracePeriodSeconds: 0
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ['sh', '-c', 'echo from-pod > /hp/written-by-pod; cat /hp/from-host; echo; echo "secret=$(cat /sec/password) mode=$(stat -L -c %a /sec/password)"']
    volumeMounts: [{ name: hp, mountPath: /hp }, { name: sec, mountPath: /sec, readOnly: true }]
  volumes:
  - { name: hp, hostPath: { path: '${hostDir}', type: Directory } }
  - { name: sec, secret: { secretName: creds2, defaultMode: 0400 } }
`;
}

if (labTierAvailable(test, 'agent lab test (more)')) {
  test.after(async () => {
    if (ctx) {
      const report = await ctx.lab.destroy();
      if (report.errors.length > 0) process.stdout.write(`lab teardown errors: ${report.errors.join('; ')}\n`);
    }
  });

  test('corral server runs its local agent on n1 (allocatable = capacity − reserved); a corral agent joins from n2', async () => {
    const lab = await createLab({ name: 'agmore', nodes: 2 });
    const image = await buildBusyboxImage({ dir: IMAGE_CACHE });
    await Promise.all(lab.nodes.map((n) => lab.importImage(n.name, image)));
    const serverData = join(lab.node('n1').dir, 'corral');
    // The server writes its kubeconfig for 127.0.0.1; kubectl runs on the control host.
    const kubeconfig = join(lab.dir, 'control-kubeconfig.yaml');
    const env = { ...process.env, CORRAL_LOG_LEVEL: 'info' };
    const tok = await lab.exec('n1', [process.execPath, CLI, 'token', 'create', '--role', 'node', '--data-dir', serverData]);
    if (tok.code !== 0) throw new Error(`token create: ${tok.stderr}`);
    const n1 = lab.node('n1');
    const server = lab.spawn('n1', [process.execPath, CLI, 'server', '--data-dir', serverData, '--port', '6443', '--bind-address', '0.0.0.0',
      '--advertise-address', n1.ip, '--tls-san', n1.ip, '--node-ip', n1.ip, '--containerd-address', n1.containerdSocket, '--netns-prefix', `${lab.netnsPrefix}n1-`,
      '--reserved-cpu', '500m', '--reserved-memory', '256Mi', '--pod-eviction-timeout', '300s', '--node-monitor-grace-period', '60s'], { logName: 'server', env });
    const n2 = lab.node('n2');
    const agentArgs = [process.execPath, CLI, 'agent', '--server', `https://${n1.ip}:6443`, '--token', tok.stdout.trim(), '--ca-file', join(serverData, 'server', 'tls', 'ca.crt'),
      '--data-dir', join(n2.dir, 'corral'), '--node-name', 'n2', '--node-ip', n2.ip, '--containerd-address', n2.containerdSocket,
      '--netns-prefix', `${lab.netnsPrefix}n2-`, '--cluster-cidr', lab.podCidr, '--service-cidr', lab.serviceCidr, '--crash-backoff', '1s',
      '--log-max-size', '16Ki', '--log-max-files', '2', '--plain-http-registry', `${lab.controlIp}:5000`];
    ctx = { lab, serverData, kubeconfig, server, agentArgs, agent: undefined as unknown as LabProcess };
    await until('the server answers', async () => {
      const own = join(serverData, 'kubeconfig.yaml');
      if (!existsSync(own)) return false;
      writeFileSync(kubeconfig, readFileSync(own, 'utf8').replace(/server: https:\/\/[^\s]+/, `server: https://${n1.ip}:6443`));
      return (await kubectl(['get', '--raw', '/readyz'])).code === 0;
    }, 60_000, 200)
      .catch((err: unknown) => { throw new Error(`${String(err)}\n${tailOf(server)}`); });
    ctx.agent = lab.spawn('n2', agentArgs, { logName: 'agent', env });
    const nodes = await until('n1 and n2 Ready with pod CIDRs', async () => {
      const list = (JSON.parse(await kubectlOk(['get', 'nodes', '-o', 'json'])) as { items: Node[] }).items;
      const ok = list.filter((n) => n.spec?.podCIDR && nodeReady(n)?.status === 'True');
      return ok.length === 2 ? list : undefined;
    }, 60_000).catch((err: unknown) => { throw new Error(`${String(err)}\nserver:\n${tailOf(server)}\nagent:\n${tailOf(ctx?.agent)}`); });
    const self = nodes.find((n) => n.metadata.name === 'n1');
    assert.ok(self, 'the server registered its own node n1 through its local agent');
    const nproc = Number((await lab.exec('n1', ['nproc'])).stdout.trim());
    const memKi = Number(/MemTotal:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'))![1]);
    assert.is(self!.status?.capacity?.['cpu'], String(nproc));
    assert.is(self!.status?.allocatable?.['cpu'], `${nproc * 1000 - 500}m`, 'cpu: capacity − 500m');
    assert.is(self!.status?.allocatable?.['memory'], `${memKi - 256 * 1024}Ki`, 'memory: capacity − 256Mi');
    const other = nodes.find((n) => n.metadata.name === 'n2')!;
    assert.is(other.status?.allocatable?.['cpu'], String(nproc), 'n2 reserves nothing');
    await kubectlOk(['apply', '-f', '-'], PODS);
  });

  test('a pod on the server\'s own node runs (httpGet readiness, tcpSocket liveness) and serves its ClusterIP', async () => {
    const p = await until('local-web Ready', async () => {
      const x = await pod('local-web');
      return isReady(x) ? x : undefined;
    }, 60_000).catch((err: unknown) => { throw new Error(`${String(err)}\n${tailOf(need().server)}`); });
    assert.is(p.spec.nodeName, 'n1');
    assert.is(p.status?.containerStatuses?.[0]?.restartCount, 0, 'the passing tcpSocket liveness probe restarts nothing');
    const svc = JSON.parse(await kubectlOk(['get', 'service', 'local-web', '-o', 'json'])) as Service;
    await until('client running', async () => (await pod('client')).status?.phase === 'Running', 30_000);
    const out = await until('ClusterIP answers from n2', async () => {
      const r = await kubectl(['exec', 'client', '--', 'sh', '-c', `for i in 1 2 3; do timeout 3 wget -q -O - http://${svc.spec.clusterIP}/; done`]);
      return r.code === 0 && r.stdout.trim().split('\n').length === 3 ? r.stdout : undefined;
    }, 20_000);
    assert.equal(new Set(out.trim().split('\n')), new Set(['local-web']));
  });

  test('a failing httpGet readiness probe keeps a pod unready; a failing tcpSocket liveness probe restarts it', async () => {
    const p = await until('probes-bad restarted', async () => {
      const x = await pod('probes-bad');
      return (x.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1 ? x : undefined;
    }, 40_000);
    assert.not.ok(isReady(p), 'a 404 readiness answer never makes the pod Ready');
    assert.match(p.status?.containerStatuses?.[0]?.lastState?.terminated?.message ?? '', /Liveness probe failed: dial tcp/);
  });

  test('startupProbe gates liveness and readiness; a failing one restarts the container; logs --previous shows the last attempt', async () => {
    const slow = await until('startup-slow Ready', async () => {
      const x = await pod('startup-slow');
      return isReady(x) ? x : undefined;
    }, 40_000);
    assert.is(slow.status?.containerStatuses?.[0]?.restartCount, 0, 'the liveness probe (failing for 4 s) did not run before startup passed');
    assert.is(slow.status?.containerStatuses?.[0]?.started, true);

    const [current, previous] = await until('startup-fail restarted, logs of both attempts', async () => {
      const x = await pod('startup-fail');
      const cs = x.status?.containerStatuses?.[0];
      if ((cs?.restartCount ?? 0) < 1 || !cs?.state?.running) return undefined;
      assert.match(cs.lastState?.terminated?.message ?? '', /Startup probe failed/);
      const cur = (await kubectlOk(['logs', 'startup-fail'])).trim();
      const prev = (await kubectlOk(['logs', 'startup-fail', '--previous'])).trim();
      const x2 = await pod('startup-fail');
      if (x2.status?.containerStatuses?.[0]?.restartCount !== cs.restartCount) return undefined; // restarted meanwhile: ask again
      return [cur, prev] as const;
    }, 40_000);
    const n = Number(/^run-(\d+)$/.exec(current)?.[1]);
    assert.ok(n >= 1, `current attempt's log: ${current}`);
    assert.is(previous, `run-${n - 1}`, 'kubectl logs --previous shows the attempt before');
  });

  test('kubectl logs --since and --since-time use the time of each line', async () => {
    await until('since running for 7 s', async () => {
      const x = await pod('since');
      const started = x.status?.containerStatuses?.[0]?.state?.running?.startedAt;
      return started && Date.now() - Date.parse(started) > 7_000;
    }, 40_000);
    const all = await kubectlOk(['logs', 'since']);
    assert.match(all, /^early-1\nearly-2\nlate\n/);
    const recent = await kubectlOk(['logs', 'since', '--since=2s']);
    assert.match(recent, /late/);
    assert.not.match(recent, /early/, '--since=2s leaves out lines from 5 s before');
    const cut = new Date(Date.now() - 2_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const sinceTime = await kubectlOk(['logs', 'since', `--since-time=${cut}`]);
    assert.match(sinceTime, /late/);
    assert.not.match(sinceTime, /early/);
    const stamped = await kubectlOk(['logs', 'since', '--timestamps', '--tail=3']);
    for (const line of stamped.trim().split('\n')) {
      const t = Date.parse(line.split(' ')[0]!);
      assert.ok(Math.abs(Date.now() - t) < 5_000, `line time from the index, not the file's: ${line}`);
    }
    const earlyStamp = Date.parse((await kubectlOk(['logs', 'since', '--timestamps'])).split('\n')[0]!.split(' ')[0]!);
    assert.ok(Date.now() - earlyStamp > 5_000, 'the first line keeps its early time');
  });

  test('log files rotate at --log-max-size, keeping --log-max-files; kubectl logs reads across them in order', async () => {
    const c = need();
    const p = await until('rotator running', async () => {
      const x = await pod('rotator');
      return x.status?.phase === 'Running' ? x : undefined;
    }, 30_000);
    const dir = join(c.lab.node('n2').dir, 'corral', 'agent', 'logs', `default_rotator_${p.metadata.uid}`, 'main');
    await until('all 2000 lines written', async () => /^line-1999-/.test(await kubectlOk(['logs', 'rotator', '--tail=1'])), 40_000);
    await sleep(1_500); // one more pass of the log keeper
    const files = readdirSync(dir).filter((f) => !f.endsWith('.idx')).sort();
    assert.equal(files, ['0.log', '0.log.1', '0.log.2'], `kept files: ${files.join(',')}`);
    for (const f of ['0.log.1', '0.log.2']) assert.ok(statSync(join(dir, f)).size < 64 * 1024, `${f} is near the 16Ki limit`);
    const text = await kubectlOk(['logs', 'rotator']);
    const numbers = text.trim().split('\n').map((l) => Number(/^line-(\d+)-/.exec(l)?.[1]));
    assert.ok(numbers.every((x) => Number.isInteger(x)), 'whole lines only');
    const sizes = files.map((f) => `${f}=${statSync(join(dir, f)).size}`).join(' ');
    assert.ok(numbers[0]! > 0, `the oldest lines are gone (first ${numbers[0]}, ${numbers.length} lines, ${sizes})`);
    assert.is(numbers.at(-1), 1999);
    for (let i = 1; i < numbers.length; i++) assert.ok(numbers[i]! > numbers[i - 1]!, `lines in order at ${i}: ${numbers[i - 1]} then ${numbers[i]}`);
  });

  test('kubectl exec -it applies the terminal size and its changes (resize channel)', async () => {
    const c = need();
    // kubectl runs on a pty of `script`; 2 s in, that terminal is resized, and kubectl sends the new size.
    const cmd = `stty rows 33 cols 111; (sleep 2.5; stty -F /dev/tty rows 44 cols 122) & ${KUBECTL} --kubeconfig ${c.kubeconfig} exec -it client -- sh -c 'sleep 1; stty size; sleep 3; stty size'`;
    const r = await c.lab.exec('control', ['script', '-qfec', cmd, '/dev/null'], { timeoutMs: 30_000 });
    assert.match(r.stdout, /33 111\s+44 122/, `stty size in the container: ${JSON.stringify(r.stdout)} ${r.stderr}`);
  });

  test('an image tarball dropped in <data-dir>/agent/images is imported; an imagePullPolicy Never pod then starts', async () => {
    const c = need();
    const before = await pod('airgap');
    assert.is(before.status?.containerStatuses?.[0]?.state?.waiting?.reason, 'ErrImageNeverPull', 'not there yet');
    const tar = await buildBusyboxImage({ dir: IMAGE_CACHE, ref: AIRGAP_REF });
    const dir = join(c.lab.node('n2').dir, 'corral', 'agent', 'images');
    copyFileSync(tar, join(dir, 'airgap-box.tar'));
    await until('airgap running', async () => (await pod('airgap')).status?.phase === 'Running', 40_000);
  });

  test('registry pull with imagePullSecrets from a registry in the lab (basic auth, plain HTTP)', async () => {
    const c = need();
    const layout = join(c.lab.dir, 'registry-layout');
    mkdirSync(layout, { recursive: true });
    const untar = await c.lab.exec('control', ['tar', '-xf', await buildBusyboxImage({ dir: IMAGE_CACHE }), '-C', layout]);
    assert.is(untar.code, 0, untar.stderr);
    const registry = c.lab.spawn('control', [process.execPath, join(dirname(fileURLToPath(import.meta.url)), 'mini-registry.js'), layout, c.lab.controlIp, '5000', 'corral', 's3cret'], { logName: 'registry' });
    await until('registry listening', async () => readFileSync(registry.logFile, 'utf8').includes('listening'), 10_000, 100);
    const image = `${c.lab.controlIp}:5000/lab/private:1.0`;
    const podYaml = (name: string, secret: boolean): string => `
apiVersion: v1
kind: Pod
metadata: { name: ${name} }
spec:
  nodeName: n2
  terminationGracePeriodSeconds: 0
  ${secret ? 'imagePullSecrets: [{ name: regcred }]' : ''}
  containers: [{ name: main, image: '${image}', imagePullPolicy: IfNotPresent, command: ['sleep', '3600'] }]
`;
    await kubectlOk(['apply', '-f', '-'], podYaml('pull-nosecret', false));
    const refused = await until('pull without credentials refused', async () => {
      const w = (await pod('pull-nosecret')).status?.containerStatuses?.[0]?.state?.waiting;
      return w && /ErrImagePull|ImagePullBackOff/.test(w.reason ?? '') ? w : undefined;
    }, 30_000);
    assert.match(refused.message ?? '', /401|nauthori/i, `why: ${refused.message}`);
    await kubectlOk(['create', 'secret', 'docker-registry', 'regcred', `--docker-server=${c.lab.controlIp}:5000`, '--docker-username=corral', '--docker-password=s3cret']);
    await kubectlOk(['apply', '-f', '-'], podYaml('pull-secret', true));
    await until('pull-secret running', async () => (await pod('pull-secret')).status?.phase === 'Running', 40_000)
      .catch((err: unknown) => { throw new Error(`${String(err)}\nregistry log:\n${tailOf(registry)}`); });
    // The layers are already in containerd's store (same busybox); the manifest came with credentials.
    const pattern = /(GET|HEAD) \/v2\/lab\/private\/manifests\/1\.0 200/;
    await until('the registry served the manifest', async () => pattern.test(readFileSync(registry.logFile, 'utf8')), 5_000, 100)
      .catch((err: unknown) => { throw new Error(`${String(err)}\nregistry log:\n${readFileSync(registry.logFile, 'utf8')}`); });
    await kubectlOk(['delete', 'pod', 'pull-nosecret', 'pull-secret', '--wait=false']);
  });

  test('hostPath and secret volumes', async () => {
    const c = need();
    const hostDir = join(c.lab.node('n2').dir, 'hostpath-vol');
    mkdirSync(hostDir, { recursive: true });
    await c.lab.exec('n2', ['sh', '-c', `echo from-host > ${hostDir}/from-host`]);
    await kubectlOk(['apply', '-f', '-'], volumesPod(hostDir));
    await until('volumes Succeeded', async () => (await pod('volumes')).status?.phase === 'Succeeded', 30_000);
    const logs = await kubectlOk(['logs', 'volumes']);
    assert.match(logs, /from-host\n/);
    assert.match(logs, /secret=hunter2 mode=400/);
    assert.is(readFileSync(join(hostDir, 'written-by-pod'), 'utf8'), 'from-pod\n', 'the pod wrote into the host directory');
  });

  test('a crash-looping container keeps the logs of its current and previous attempts only', async () => {
    const c = need();
    const p = await until('startup-fail restarted 3 times', async () => {
      const x = await pod('startup-fail');
      return (x.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 3 && x.status?.containerStatuses?.[0]?.state?.running ? x : undefined;
    }, 60_000);
    const dir = join(c.lab.node('n2').dir, 'corral', 'agent', 'logs', `default_startup-fail_${p.metadata.uid}`, 'main');
    const attempts = readdirSync(dir).filter((f) => /^\d+\.log$/.test(f)).map((f) => Number(f.slice(0, -4))).sort((a, b) => a - b);
    assert.is(attempts.length, 2, `log files: ${readdirSync(dir).join(',')}`);
    assert.is(attempts[1]! - attempts[0]!, 1, 'the current attempt and the one before');
    assert.ok(attempts[1]! >= 3, 'older attempts were removed');
  });

  test('containerd down → a clear Node condition, the agent keeps running; containerd back → Ready again', async () => {
    const c = need();
    const n2 = c.lab.node('n2');
    const ctrd = n2.containerd!;
    ctrd.child.kill('SIGTERM');
    await Promise.race([ctrd.exited, sleep(10_000)]);
    const down = await until('n2 NotReady because of containerd', async () => {
      const cond = nodeReady(JSON.parse(await kubectlOk(['get', 'node', 'n2', '-o', 'json'])) as Node);
      return cond?.status === 'False' ? cond : undefined;
    }, 40_000);
    assert.is(down.reason, 'ContainerRuntimeUnreachable');
    assert.match(down.message, /container runtime is down/);
    assert.is(c.agent.child.exitCode, null, 'the agent did not crash');
    const paths = { root: join(n2.dir, 'containerd'), state: n2.containerdState, socket: n2.containerdSocket, config: join(n2.dir, 'containerd.toml') };
    n2.containerd = c.lab.spawn('n2', containerdArgv(paths), { logName: 'containerd' });
    await until('n2 Ready again', async () => nodeReady(JSON.parse(await kubectlOk(['get', 'node', 'n2', '-o', 'json'])) as Node)?.status === 'True', 40_000);
    const out = await kubectlOk(['exec', 'client', '--', 'echo', 'still-here']);
    assert.is(out.trim(), 'still-here', 'pods kept running and exec works again');
  });

  test('a pod deleted while its agent was down: its container and netns are removed when the agent is back', async () => {
    const c = need();
    const p = await pod('since');
    const short = p.metadata.uid!.replace(/-/g, '').slice(0, 16);
    const netns = `${c.lab.netnsPrefix}n2-${p.metadata.uid}`;
    assert.ok((await c.lab.ctr('n2', ['containers', 'ls', '-q'])).stdout.includes(short));
    c.agent.child.kill('SIGKILL');
    await Promise.race([c.agent.exited, sleep(10_000)]);
    await kubectlOk(['delete', 'pod', 'since', '--grace-period=0', '--force']);
    assert.ok((await c.lab.ctr('n2', ['containers', 'ls', '-q'])).stdout.includes(short), 'still there while the agent is down');
    c.agent = c.lab.spawn('n2', c.agentArgs, { logName: 'agent', env: { ...process.env, CORRAL_LOG_LEVEL: 'info' } });
    await until('the container of the deleted pod is gone', async () => !(await c.lab.ctr('n2', ['containers', 'ls', '-q'])).stdout.includes(short), 40_000)
      .catch((err: unknown) => { throw new Error(`${String(err)}\n${tailOf(c.agent)}`); });
    await until('its netns is gone', async () => !existsSync(`/run/netns/${netns}`), 10_000);
    assert.ok(isReady(await pod('client')) || (await pod('client')).status?.phase === 'Running', 'other pods are untouched');
  });

  test('corral agent --uninstall removes containers, pod netns, cni0, routes, iptables chains and the agent data', async () => {
    const c = need();
    const n2 = c.lab.node('n2');
    c.agent.child.kill('SIGTERM');
    await Promise.race([c.agent.exited, sleep(10_000)]);
    const nat = await c.lab.exec('n2', ['iptables-nft-save', '-t', 'nat']);
    assert.match(nat.stdout, /CORRAL-SERVICES/, 'the agent had programmed its chains');
    // A rule of somebody else must survive.
    await c.lab.exec('n2', ['iptables-nft', '-t', 'nat', '-N', 'SOMEONE-ELSE']);
    // A create that died half-way: the rootfs mounted in the agent's state dir, no container record.
    const halfMade = join(n2.dir, 'corral', 'agent', 'containers', 'halfmade00000000-main-0', 'rootfs');
    mkdirSync(halfMade, { recursive: true });
    const mounted = await c.lab.ctr('n2', ['images', 'mount', '--rw', DEFAULT_IMAGE_REF, halfMade]);
    assert.is(mounted.code, 0, `mounting a half-made container's rootfs: ${mounted.stderr}`);
    // (in the node's own mount namespace, where its agent, ctr and the uninstall run)
    const mountsOnNode = async (): Promise<string> => (await c.lab.exec('n2', ['cat', '/proc/self/mountinfo'])).stdout;
    assert.ok((await mountsOnNode()).includes(` ${halfMade} `), 'the half-made rootfs is mounted');
    const r = await c.lab.exec('n2', [process.execPath, CLI, 'agent', '--uninstall', '--data-dir', join(n2.dir, 'corral'), '--node-name', 'n2',
      '--netns-prefix', `${c.lab.netnsPrefix}n2-`, '--containerd-address', n2.containerdSocket], { timeoutMs: 120_000 });
    assert.is(r.code, 0, `uninstall: ${r.stdout} ${r.stderr}`);
    assert.is((await c.lab.ctr('n2', ['containers', 'ls', '-q'])).stdout.trim(), '', 'no containers left');
    assert.is((await c.lab.ctr('n2', ['tasks', 'ls', '-q'])).stdout.trim(), '', 'no tasks left');
    assert.is(readdirSync('/run/netns').filter((n) => n.startsWith(`${c.lab.netnsPrefix}n2-`)).length, 0, 'no pod netns left');
    assert.is.not((await c.lab.exec('n2', ['ip', 'link', 'show', 'cni0'])).code, 0, 'cni0 is gone');
    assert.is((await c.lab.exec('n2', ['ip', 'route', 'show', 'proto', '193'])).stdout.trim(), '', 'no corral routes');
    const after = await c.lab.exec('n2', ['iptables-nft-save', '-t', 'nat']);
    assert.not.match(after.stdout, /CORRAL-/, 'no corral chains or jumps');
    assert.match(after.stdout, /SOMEONE-ELSE/, 'other rules untouched');
    assert.not.ok(existsSync(join(n2.dir, 'corral', 'agent')), 'agent data removed');
    assert.not.ok((await mountsOnNode()).includes(join(n2.dir, 'corral', 'agent')), 'nothing mounted under the agent data');
  });
}

test.run();
