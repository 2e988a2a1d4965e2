/**
 * `kubectl attach` and `kubectl run -i/-it --rm` with the real kubectl v1.32 (lab 'atch', real containerd):
 * interactive sessions run kubectl on a tmux pty on the control host, type into it and read its
 * screen; containers with `stdin`/`tty` keep their stdin across sessions and an agent restart (the
 * shim holds it), `stdinOnce` closes it after the first session, terminal resizes reach the pty, and
 * bad requests get upstream's errors while the agent stays up.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, type Lab } from './harness.js';
import { buildBusyboxImage } from './image.js';
import { labTierAvailable } from './prerequisites.js';
import { API_PORT, KUBECTL, startLabCluster, type LabCluster } from './agent-cluster.js';
import type { Pod } from '../../api/types.js';
import { waitUntil } from '../support/wait.js';

const test = suite('kubectl attach and run -it in the lab');
/** This checkout's ws package (dist/test/lab → the repository's node_modules). */
const WS_MODULE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'node_modules', 'ws');

let lab: Lab | undefined;
let cluster: LabCluster | undefined;
const need = (): LabCluster => {
  if (!cluster) throw new Error('the lab cluster did not come up (see the first test)');
  return cluster;
};
const onControl = (argv: string[], timeoutMs: number): ReturnType<Lab['exec']> => {
  if (!lab) throw new Error('no lab');
  return lab.exec('control', argv, { timeoutMs });
};

const PODS = `
apiVersion: v1
kind: Pod
metadata: { name: shell }
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - { name: main, image: busybox, imagePullPolicy: IfNotPresent, command: ['sh'], stdin: true, tty: true }
---
apiVersion: v1
kind: Pod
metadata: { name: once }
spec:
  terminationGracePeriodSeconds: 0
  restartPolicy: Never
  containers:
  - { name: main, image: busybox, imagePullPolicy: IfNotPresent, command: ['sh', '-c', 'echo ready; cat; echo stdin-closed'], stdin: true, stdinOnce: true }
---
apiVersion: v1
kind: Pod
metadata: { name: twice }
spec:
  terminationGracePeriodSeconds: 0
  restartPolicy: Never
  containers:
  - { name: long, image: busybox, imagePullPolicy: IfNotPresent, command: ['sleep', '3600'] }
  - { name: brief, image: busybox, imagePullPolicy: IfNotPresent, command: ['true'] }
---
apiVersion: v1
kind: Pod
metadata: { name: deaf }
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - { name: main, image: busybox, imagePullPolicy: IfNotPresent, command: ['sleep', '3600'], stdin: true }
---
apiVersion: v1
kind: Pod
metadata: { name: plain }
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - { name: main, image: busybox, imagePullPolicy: IfNotPresent, command: ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.3; done'] }
`;

/** A kubectl running on a tmux pty of the control host: keys in, screen out. */
class Terminal {
  private readonly socket: string;
  constructor(private readonly c: LabCluster, private readonly name: string) {
    this.socket = join(c.serverData, '..', `tmux-${name}`);
  }

  private async tmux(args: string[]): Promise<string> {
    const r = await onControl(['tmux', '-S', this.socket, ...args], 10_000);
    if (r.code !== 0) throw new Error(`tmux ${args[0]}: ${r.stderr}`);
    return r.stdout;
  }

  async start(kubectlArgs: string[], size = { cols: 100, rows: 30 }): Promise<void> {
    const cmd = [KUBECTL, '--kubeconfig', this.c.kubeconfig, ...kubectlArgs].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    await this.tmux(['new-session', '-d', '-s', this.name, '-x', String(size.cols), '-y', String(size.rows), `${cmd}; echo kubectl-exit=$?; sleep 600`]);
  }

  screen(): Promise<string> {
    return this.tmux(['capture-pane', '-p', '-J', '-S', '-200', '-t', this.name]);
  }

  async type(text: string): Promise<void> {
    await this.tmux(['send-keys', '-t', this.name, '-l', text]);
    await this.tmux(['send-keys', '-t', this.name, 'Enter']);
  }

  async resize(cols: number, rows: number): Promise<void> {
    await this.tmux(['resize-window', '-t', this.name, '-x', String(cols), '-y', String(rows)]);
  }

  async waitFor(what: string, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    let last = '';
    return waitUntil(what, async () => {
      last = await this.screen();
      return pattern.test(last) ? last : undefined;
    }, timeoutMs, 200).catch((err: unknown) => {
      throw new Error(`${String(err)}\nscreen:\n${last}\nagent log:\n${agentLog()}`);
    });
  }

  async kill(): Promise<void> {
    await this.tmux(['kill-session', '-t', this.name]).catch(() => undefined);
  }
}

/**
 * A v5.channel.k8s.io WebSocket to `path` from the control host (Node.js and this checkout's ws):
 * `http <code> <body>` for a refused upgrade, else `status <channel> <body>` of the first status frame.
 */
async function rawAttach(c: LabCluster, path: string): Promise<string> {
  const tls = join(c.serverData, 'server');
  const script = `
    const { WebSocket } = require(process.argv[1]);
    const fs = require('node:fs');
    const ws = new WebSocket(process.argv[2], ['v5.channel.k8s.io'], {
      headers: { authorization: 'Bearer ' + fs.readFileSync(process.argv[3], 'utf8').trim() }, ca: fs.readFileSync(process.argv[4]) });
    ws.on('unexpected-response', (_q, res) => { let b = ''; res.on('data', (d) => { b += d; }); res.on('end', () => { console.log('http ' + res.statusCode + ' ' + b); process.exit(0); }); });
    ws.on('message', (d) => { if (d[0] === 3) { console.log('status 3 ' + d.subarray(1).toString()); process.exit(0); } });
    ws.on('close', () => { console.log('closed'); process.exit(0); });
    ws.on('error', (e) => { console.log('error ' + e.message); process.exit(0); });`;
  const r = await onControl([process.execPath, '-e', script, WS_MODULE, `wss://${lab!.controlIp}:${API_PORT}${path}`, join(tls, 'admin-token'), join(tls, 'tls', 'ca.crt')], 20_000);
  return `${r.stdout.trim()}${r.stderr.trim() ? ` (stderr: ${r.stderr.trim()})` : ''}`;
}

function agentLog(): string {
  const p = cluster?.agents.get('n1');
  return p ? readFileSync(p.logFile, 'utf8').slice(-3000) : '';
}

async function podPhase(c: LabCluster, name: string): Promise<string | undefined> {
  const r = await c.kubectl(['get', 'pod', name, '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as Pod).status?.phase : undefined;
}

async function running(c: LabCluster, name: string): Promise<void> {
  await waitUntil(`${name} running`, async () => (await podPhase(c, name)) === 'Running', 60_000, 300)
    .catch((err: unknown) => { throw new Error(`${String(err)}\nagent log:\n${agentLog()}`); });
}

if (labTierAvailable(test, 'attach lab test')) {
  test.after(async () => {
    if (lab) {
      const report = await lab.destroy();
      if (report.errors.length > 0) process.stdout.write(`lab teardown errors: ${report.errors.join('; ')}\n`);
    }
  });

  test('a node with the busybox image; pods with stdin and tty, stdinOnce, and neither', async () => {
    lab = await createLab({ name: 'atch', nodes: 1 });
    const image = await buildBusyboxImage({ dir: '/tmp/corral-lab-images' });
    await lab.importImage('n1', image);
    cluster = await startLabCluster(lab);
    const c = need();
    await c.kubectlOk(['apply', '-f', '-'], PODS);
    for (const name of ['shell', 'once', 'plain', 'twice', 'deaf']) await running(c, name);
  });

  test('kubectl run -it --rm: a shell on a pty, typed into, resized, exited; the pod is deleted', async () => {
    const c = need();
    const t = new Terminal(c, 'runit');
    await t.start(['run', '-it', '--rm', '--image=busybox', '--image-pull-policy=IfNotPresent', '--restart=Never', 'runit', '--', 'sh']);
    try {
      await t.waitFor('the shell prompt', /\/ # /);
      await t.type('echo hi-$((6*7)); tty');
      const s = await t.waitFor('the command output', /hi-42\s+\/dev\/pts\/\d+/);
      assert.not.match(s, /hi-\$\(\(6\*7\)\)\s*\n\s*hi-\$/, 'the echo of the typed line is the pty\'s, once');
      await t.type('stty size');
      await t.waitFor('the terminal size of the tmux pane', /\n30 100\s/);
      await t.resize(111, 33);
      await t.type('clear; stty size');
      await t.waitFor('the new size after a resize', /33 111/);
      await t.type('exit');
      await t.waitFor('kubectl ended and deleted the pod', /pod "runit" deleted[\s\S]*kubectl-exit=0/, 60_000);
    } finally {
      await t.kill();
    }
    assert.is(await podPhase(c, 'runit'), undefined, 'the pod is gone');
  });

  test('kubectl run -i --rm without a tty pipes stdin to the container and prints its output', async () => {
    const c = need();
    const r = await c.kubectl(['run', '-i', '--rm', '--image=busybox', '--image-pull-policy=IfNotPresent', '--restart=Never', 'pipe', '--',
      'sh', '-c', 'while read l; do echo "got:$l"; done; echo done-reading'], 'alpha\nbeta\n');
    assert.is(r.code, 0, `${r.stdout}\n${r.stderr}\n${agentLog()}`);
    assert.match(r.stdout, /got:alpha\s+got:beta\s+done-reading/, `${r.stdout}\n${r.stderr}\n${agentLog()}`);
    assert.match(r.stdout, /pod "pipe" deleted/);
    assert.is(await podPhase(c, 'pipe'), undefined, 'the pod is gone');
  });

  test('kubectl run -it --rm as the README tour runs it, from a script (stdin /dev/null or a closed pipe): exit 0 at once, the pod deleted', async () => {
    const c = need();
    // The tour's own command line (no pull policy: Always for busybox:latest, which falls back to the
    // imported image when no registry answers). kubectl warns that stdin is not a terminal, attaches
    // without a tty, ends stdin at once; stdinOnce closes the container's stdin, sh exits 0, kubectl
    // sees the pod Succeeded and deletes it. A hitch anywhere shows as kubectl's one-minute wait running out.
    for (const [name, redirect] of [['tour-null', '< /dev/null'], ['tour-pipe', '< <(true)']] as const) {
      const started = Date.now();
      const r = await onControl(['bash', '-c', `${KUBECTL} --kubeconfig ${c.kubeconfig} run -it --rm ${name} --image=busybox --restart=Never -- sh ${redirect}`], 90_000);
      const ms = Date.now() - started;
      assert.is(r.code, 0, `${name}: ${r.stdout}\n${r.stderr}\n${agentLog()}`);
      assert.match(r.stderr, /Unable to use a TTY - input is not a terminal/);
      assert.match(r.stdout, new RegExp(`pod "${name}" deleted`));
      assert.ok(ms < 20_000, `${name}: kubectl took ${ms} ms`);
      assert.is(await podPhase(c, name), undefined, `${name}: the pod is gone`);
    }
  });

  test('kubectl attach -it to a tty container; stdin stays open for the next session and across an agent restart', async () => {
    const c = need();
    const first = new Terminal(c, 'att1');
    await first.start(['attach', '-it', 'shell']);
    try {
      await first.waitFor('attached', /If you don't see a command prompt/);
      await first.type('echo first-$((2+3))');
      await first.waitFor('output of the first session', /first-5/);
    } finally {
      await first.kill(); // kubectl goes away without closing the shell
    }
    await c.killAgent('n1');
    c.startAgent('n1');
    await waitUntil('the agent serves again', async () => (await c.kubectl(['logs', 'shell', '--tail=1'])).code === 0, 60_000, 500);
    const second = new Terminal(c, 'att2');
    await second.start(['attach', '-it', 'shell']);
    try {
      await second.waitFor('attached again', /If you don't see a command prompt/);
      await second.type('echo second-$((3+4))');
      await second.waitFor('output of the second session', /second-7/);
    } finally {
      await second.kill();
    }
    assert.is(await podPhase(c, 'shell'), 'Running', 'the shell still runs');
  });

  test('stdinOnce: stdin closes when the first attach ends (the shim alone would keep it open)', async () => {
    const c = need();
    // kubectl sends the line, then ends its stdin; the container reads to the end of its stdin and
    // exits, which ends the session with kubectl's exit code 0.
    const r = await c.kubectl(['attach', '-i', 'once'], 'line-one\n');
    assert.is(r.code, 0, `${r.stdout}\n${r.stderr}\n${agentLog()}`);
    assert.match(r.stdout, /line-one\s+stdin-closed/);
    await waitUntil('once succeeded', async () => (await podPhase(c, 'once')) === 'Succeeded', 30_000, 300);
  });

  test('attach without a tty streams output from now on; errors are upstream\'s; the agent stays up', async () => {
    const c = need();
    // Output before the attach is not replayed, output after it arrives (kubectl is stopped after 2 s).
    const r = await onControl(['timeout', '-s', 'INT', '2', KUBECTL, '--kubeconfig', c.kubeconfig, 'attach', 'plain'], 20_000);
    const ticks = [...r.stdout.matchAll(/tick-(\d+)/g)].map((m) => Number(m[1]));
    assert.ok(ticks.length >= 3, `ticks while attached: ${r.stdout} ${r.stderr}`);
    assert.ok(ticks[0]! > 1, 'earlier output is not replayed');
    // Asking for a tty of a container without one: kubectl's warning, then the plain stream.
    const tty = await onControl(['timeout', '-s', 'INT', '2', KUBECTL, '--kubeconfig', c.kubeconfig, 'attach', '-it', 'plain'], 20_000);
    assert.match(tty.stderr, /Unable to use a TTY - container main did not allocate one/);
    assert.match(tty.stdout, /tick-\d+/);

    const noContainer = await c.kubectl(['attach', 'plain', '-c', 'nope']);
    assert.is.not(noContainer.code, 0);
    assert.match(noContainer.stderr, /container nope is not valid for pod plain|not found/);
    const raw = await c.kubectl(['get', '--raw', '/api/v1/namespaces/default/pods/plain/attach?stdout=maybe']);
    assert.is.not(raw.code, 0);
    assert.match(raw.stderr, /invalid value for query parameter "stdout"/);

    // A running pod whose container has ended: the agent refuses with kubelet's words, relayed as a Status.
    await waitUntil('twice/brief terminated', async () => {
      const p = JSON.parse(await c.kubectlOk(['get', 'pod', 'twice', '-o', 'json'])) as Pod;
      return p.status?.containerStatuses?.find((s) => s.name === 'brief')?.state?.terminated !== undefined;
    }, 30_000, 300);
    const ended = await c.kubectl(['attach', 'twice', '-c', 'brief']);
    assert.is.not(ended.code, 0);
    assert.match(ended.stderr, /container not found \("brief"\)/);
    // A pod whose container was never created (its image cannot be pulled): kubectl itself would wait
    // for Running, so a raw WebSocket client on the control host asks.
    await c.kubectlOk(['run', 'stuck', '--image=busybox:absent', '--image-pull-policy=IfNotPresent', '--restart=Never', '--', 'sh']);
    await waitUntil('stuck cannot pull', async () => {
      const p = JSON.parse(await c.kubectlOk(['get', 'pod', 'stuck', '-o', 'json'])) as Pod;
      return /ErrImagePull|ImagePullBackOff/.test(p.status?.containerStatuses?.[0]?.state?.waiting?.reason ?? '');
    }, 60_000, 300);
    const pending = await rawAttach(c, '/api/v1/namespaces/default/pods/stuck/attach?stdin=true&stdout=true');
    assert.match(pending, /^status 3 \{.*"message":"container not found \(\\"stuck\\"\)".*"code":500/, pending);
    await c.kubectlOk(['delete', 'pod', 'stuck', '--wait=false']);
    await c.kubectlOk(['run', 'short', '--image=busybox', '--image-pull-policy=IfNotPresent', '--restart=Never', '--', 'true']);
    await waitUntil('short succeeded', async () => (await podPhase(c, 'short')) === 'Succeeded', 60_000, 300);
    const done = await c.kubectl(['attach', 'short']);
    assert.match(done.stderr, /cannot attach a container in a completed pod; current phase is Succeeded/);
    // The agent is still serving.
    assert.match(await c.kubectlOk(['exec', 'plain', '--', 'echo', 'alive']), /alive/);
  });

  test('stdin a container never reads: the server stops reading the client (bounded relay), then a client gone mid-session harms nothing', async () => {
    const c = need();
    const tls = join(c.serverData, 'server');
    // 64 MiB of stdin in 512 KiB frames; what the client still holds 3 s later is what nobody took.
    const script = `
      const { WebSocket } = require(process.argv[1]);
      const fs = require('node:fs');
      const ws = new WebSocket(process.argv[2], ['v5.channel.k8s.io'], {
        headers: { authorization: 'Bearer ' + fs.readFileSync(process.argv[3], 'utf8').trim() }, ca: fs.readFileSync(process.argv[4]) });
      ws.on('error', (e) => { console.log('error ' + e.message); process.exit(0); });
      ws.on('open', () => {
        const frame = Buffer.alloc(512 * 1024 + 1, 120); frame[0] = 0;
        for (let i = 0; i < 128; i++) ws.send(frame);
        setTimeout(() => { console.log('held ' + ws.bufferedAmount); ws.terminate(); process.exit(0); }, 3000);
      });`;
    const r = await onControl([process.execPath, '-e', script, WS_MODULE, `wss://${lab!.controlIp}:${API_PORT}/api/v1/namespaces/default/pods/deaf/attach?stdin=true&stdout=true`,
      join(tls, 'admin-token'), join(tls, 'tls', 'ca.crt')], 30_000);
    const held = Number(/held (\d+)/.exec(r.stdout)?.[1] ?? -1);
    // Without back-pressure the server reads all 64 MiB into its memory; with it, the server, the
    // agent and the kernel buffers between them take some megabytes and the client keeps the rest.
    assert.ok(held > 24 * 1024 * 1024, `the client still holds ${held} bytes (${r.stdout.trim()} ${r.stderr.trim()})`);
    assert.match(await c.kubectlOk(['exec', 'plain', '--', 'echo', 'alive']), /alive/);
    assert.match(await c.kubectlOk(['get', '--raw', '/readyz']), /ok/);
  });
}

test.run();
