/**
 * The arm64 tier: an emulated arm64 node (test/lab/arm64-node.ts: Debian's arm64 userland, the official
 * arm64 Node.js, qemu-user through binfmt_misc) beside an amd64 node in the lab, both joined with
 * `corral join` over SSH from the control host, as a Raspberry Pi and an x86 box would be.
 * - preflight sees aarch64 / arm64, the bundle is uploaded, and the agent runs on the arm64 Node.js
 *   under qemu; the Node is Ready with kubernetes.io/arch=arm64;
 * - an arm64 pod serves a ClusterIP Service that a pod on the amd64 node reaches;
 * - a multi-arch image runs its own variant on each node, which prints its platform and `uname -m`;
 * - an amd64-only image fails on the arm64 node with ErrImagePull naming both platforms.
 * Its own tier (`bash test/all.sh arm64`; also part of the full run) because emulation is slow and the
 * node's root must be built once: ~20 s with the arm64 root cached, ~2 min more for a cold root build
 * (debootstrap, measured 1 min 55 s; see test/lab/arm64-userland.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, type Lab } from '../lab/harness.js';
import { labTierAvailable } from '../lab/prerequisites.js';
import { KUBECTL } from '../support/server-process.js';
import type { ExecResult } from '../lab/exec.js';
import { buildBusyboxImage } from '../lab/image.js';
import { AMD64_VARIANT, ARM64_VARIANT, missingArm64NodePrerequisites, QEMU_BINFMT } from '../lab/arm64-userland.js';
import { importArm64Image, startArm64Node, type Arm64Node } from '../lab/arm64-node.js';
import { waitUntil } from '../support/wait.js';
import type { Node, Pod, Event } from '../../api/types.js';
import type { KubeList } from '../../api/meta.js';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(DIST, 'cli', 'corral.js');
const SERVICE = join(DIST, 'cli', 'install-service.js');
const DATA = '/var/lib/corral';
const KUBECONFIG = `${DATA}/kubeconfig.yaml`;
const IMAGE_CACHE = '/tmp/corral-lab-images';
const MULTI = 'lab.local/multi:1';
const AMD64_ONLY = 'lab.local/amd64-only:1';

let lab: Lab | undefined;
let arm: Arm64Node | undefined;
const need = (): Lab => {
  if (!lab) throw new Error('the lab did not come up (see the first test)');
  return lab;
};
const show = (r: ExecResult): string => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;

async function kubectl(args: readonly string[], input?: string): Promise<string> {
  const r = await need().exec('control', [KUBECTL, '--kubeconfig', KUBECONFIG, ...args], { timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const getJson = async <T>(args: readonly string[]): Promise<T> => JSON.parse(await kubectl([...args, '-o', 'json'])) as T;

/** The arm64 agent's log, for failure messages. */
function armAgentLog(): string {
  if (!lab) return '';
  try {
    return readFileSync(join(lab.node('n2').dir, 'fs', 'var-lib-corral', 'agent.log'), 'utf8').slice(-3000);
  } catch (err) {
    return `(no agent log: ${(err as Error).message})`;
  }
}

async function podPhase(name: string, phase: string, timeoutMs: number): Promise<Pod> {
  return waitUntil(`pod ${name} ${phase}`, async () => {
    const p = await getJson<Pod>(['get', 'pod', name]);
    return p.status?.phase === phase ? p : undefined;
  }, timeoutMs, 1_000).catch(async (err: unknown) => {
    throw new Error(`${String(err)}\n${await kubectl(['describe', 'pod', name]).catch((e: Error) => e.message)}\narm64 agent log:\n${armAgentLog()}`);
  });
}

const missing = missingArm64NodePrerequisites();
if (missing.length > 0) {
  if (process.env['CI'] === 'true') test('arm64 node prerequisites are present', () => { throw new Error(`missing: ${missing.join(', ')} — run test/setup.sh as root`); });
  else test.skip(`arm64 tier (skipped: missing ${missing.join(', ')})`, () => undefined);
} else if (labTierAvailable(test, 'the arm64 tier')) {
  test.after(async () => {
    if (lab) {
      const report = await lab.destroy();
      if (report.errors.length > 0) process.stdout.write(`lab teardown errors: ${report.errors.join('; ')}\n`);
    }
  });

  test('an emulated arm64 node: qemu-aarch64 with the fix-binary flag, arm64 sshd, containerd and Node.js', async () => {
    lab = await createLab({ name: 'arm64lab', nodes: 2, bareNodes: ['n2'] });
    const t0 = performance.now();
    arm = await startArm64Node(lab, 'n2');
    process.stdout.write(`arm64 node up in ${Math.round(performance.now() - t0)} ms${arm.rootBuiltMs !== undefined ? ` (root built in ${arm.rootBuiltMs} ms)` : ''}\n`);
    assert.match(readFileSync(QEMU_BINFMT, 'utf8'), /^flags: \S*F/m);
    const r = await lab.ssh('n2', 'uname -m; dpkg --print-architecture; node -p "process.arch + \' \' + process.version"; dpkg -s openssh-server containerd busybox-static | grep -c "^Architecture: arm64"', { timeoutMs: 60_000 });
    assert.is(r.code, 0, show(r));
    const [unameM, dpkgArch, nodeArch, armPackages] = r.stdout.trim().split('\n');
    assert.is(unameM, 'aarch64');
    assert.is(dpkgArch, 'arm64');
    assert.match(nodeArch ?? '', /^arm64 v20\./);
    assert.is(armPackages, '3');
    // The sshd that answered is the arm64 one, run by qemu (the kernel shows the interpreter as exe).
    const sshdExe = await lab.exec('n2', ['readlink', `/proc/${arm.sshd.pid}/exe`]);
    assert.match(sshdExe.stdout, /qemu-aarch64|aarch64-binfmt/, show(sshdExe));
  });

  test('the server on the control host; corral join over SSH sees arm64 beside amd64 in preflight', async () => {
    const l = need();
    const r = await l.exec('control', [process.execPath, SERVICE, '--data-dir', DATA, '--cli', CLI, '--', '--disable-agent'], { timeoutMs: 180_000 });
    assert.is(r.code, 0, show(r));
    const dry = await l.exec('control', [process.execPath, CLI, 'join', `root@${l.node('n1').ip}`, `root@${l.node('n2').ip}`, '--data-dir', DATA, '--ssh-key', l.clientKey,
      '--known-hosts', l.knownHostsFile, '--netns-prefix', l.netnsPrefix, '--dry-run'], { timeoutMs: 180_000, env: { ...process.env, HOME: join(l.dir, 'home') } });
    assert.is(dry.code, 0, show(dry));
    assert.match(dry.stdout, `root@${l.node('n2').ip} (root@${l.node('n2').ip}:22): node n2, arm64`);
    assert.match(dry.stdout, `root@${l.node('n1').ip} (root@${l.node('n1').ip}:22): node n1, amd64`);
    assert.match(dry.stdout, /\[ok {2}\] arch\s+arm64/);
    assert.match(dry.stdout, /\[ok {2}\] nodejs\s+Node\.js v20\./);
  });

  test('both nodes join in parallel: the bundle is uploaded, the arm64 agent runs under qemu, Ready with kubernetes.io/arch=arm64', async () => {
    const l = need();
    const r = await l.exec('control', [process.execPath, CLI, 'join', `root@${l.node('n1').ip}`, `root@${l.node('n2').ip}`, '--data-dir', DATA, '--ssh-key', l.clientKey,
      '--known-hosts', l.knownHostsFile, '--netns-prefix', l.netnsPrefix, '--ready-timeout', '5m'], { timeoutMs: 420_000, env: { ...process.env, HOME: join(l.dir, 'home') } });
    assert.is(r.code, 0, `${show(r)}\narm64 agent log:\n${armAgentLog()}`);
    assert.match(r.stdout, new RegExp(`root@${l.node('n2').ip.replace(/\./g, '\\.')}\\s+n2\\s+arm64\\s+.*joined`));
    assert.match(r.stdout, new RegExp(`root@${l.node('n1').ip.replace(/\./g, '\\.')}\\s+n1\\s+amd64\\s+.*joined`));
    // One arch-neutral JavaScript bundle for both: what differs per architecture is the Node.js under it.
    const sums = await Promise.all(['n1', 'n2'].map((n) => l.exec(n, ['sha256sum', '/usr/local/lib/corral/corral-agent.cjs'])));
    assert.is(sums[0]!.stdout.split(' ')[0], sums[1]!.stdout.split(' ')[0]);
    // The agent process is the arm64 Node.js, run by qemu (the kernel shows the interpreter as its exe).
    const agentExe = await l.exec('n2', ['sh', '-c', `for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q '/usr/local/bin/node .*corral-agent.cjs agent' && readlink $p/exe; done`]);
    assert.match(agentExe.stdout, /qemu-aarch64|aarch64-binfmt/, `the arm64 agent runs emulated: ${show(agentExe)}`);
    const nodes = await getJson<KubeList<Node>>(['get', 'nodes']);
    const byName = new Map(nodes.items.map((n) => [n.metadata.name, n]));
    for (const [name, arch] of [['n1', 'amd64'], ['n2', 'arm64']] as const) {
      const n = byName.get(name);
      assert.ok(n?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'), `${name} Ready`);
      assert.is(n?.metadata.labels?.['kubernetes.io/arch'], arch);
      assert.is(n?.status?.nodeInfo?.architecture, arch);
    }
    assert.match(await kubectl(['get', 'nodes', '-l', 'kubernetes.io/arch=arm64', '-o', 'name']), /^node\/n2\n$/);
  });

  test('an arm64 pod serves a ClusterIP Service reached from a pod on the amd64 node; a multi-arch image runs its own variant on each node', async () => {
    const l = need();
    const multi = await buildBusyboxImage({ dir: IMAGE_CACHE, ref: MULTI, variants: [AMD64_VARIANT, ARM64_VARIANT] });
    await l.importImage('n1', multi);
    await importArm64Image(l, 'n2', arm!, multi);
    await kubectl(['apply', '-f', '-'], `
apiVersion: v1
kind: Pod
metadata: { name: web-arm, labels: { app: web-arm } }
spec:
  nodeSelector: { kubernetes.io/arch: arm64 }
  terminationGracePeriodSeconds: 0
  containers:
  - name: httpd
    image: ${MULTI}
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'mkdir -p /www && (cat /platform; uname -m) > /www/index.html && exec httpd -f -p 8080 -h /www']
---
apiVersion: v1
kind: Service
metadata: { name: web-arm }
spec:
  selector: { app: web-arm }
  ports: [{ port: 80, targetPort: 8080 }]
---
apiVersion: v1
kind: Pod
metadata: { name: client-amd }
spec:
  nodeSelector: { kubernetes.io/arch: amd64 }
  terminationGracePeriodSeconds: 0
  containers:
  - name: client
    image: ${MULTI}
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'cat /platform; uname -m; exec sleep 3600']
`);
    const web = await podPhase('web-arm', 'Running', 180_000);
    assert.is(web.spec.nodeName, 'n2');
    const client = await podPhase('client-amd', 'Running', 60_000);
    assert.is(client.spec.nodeName, 'n1');
    // Each variant says what it is: the amd64 one natively, the arm64 one under qemu.
    assert.is((await kubectl(['logs', 'client-amd'])).trim(), 'linux/amd64\nx86_64');
    const clusterIP = (await getJson<{ spec: { clusterIP: string } }>(['get', 'service', 'web-arm'])).spec.clusterIP;
    const body = await waitUntil(`ClusterIP ${clusterIP} from client-amd on n1`, async () => {
      const r = await l.exec('control', [KUBECTL, '--kubeconfig', KUBECONFIG, 'exec', 'client-amd', '--', 'timeout', '10', 'wget', '-qO-', `http://${clusterIP}/`], { timeoutMs: 60_000 });
      return r.code === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : undefined;
    }, 90_000, 1_000);
    assert.is(body, 'linux/arm64/v8\naarch64');
  });

  test('an image without an arm64 variant fails on the arm64 node with ErrImagePull naming both platforms, never an exec format error', async () => {
    const l = need();
    await importArm64Image(l, 'n2', arm!, await buildBusyboxImage({ dir: IMAGE_CACHE, ref: AMD64_ONLY, variants: [AMD64_VARIANT] }), true);
    await kubectl(['apply', '-f', '-'], `
apiVersion: v1
kind: Pod
metadata: { name: amd-only }
spec:
  nodeName: n2
  restartPolicy: Always
  terminationGracePeriodSeconds: 0
  containers: [{ name: main, image: '${AMD64_ONLY}', imagePullPolicy: IfNotPresent, command: [sh, -c, 'uname -m; sleep 3600'] }]
`);
    const waiting = await waitUntil('amd-only waiting with an image error', async () => {
      const w = (await getJson<Pod>(['get', 'pod', 'amd-only'])).status?.containerStatuses?.[0]?.state?.waiting;
      return w && /^(ErrImagePull|ImagePullBackOff)$/.test(w.reason ?? '') && w.message ? w : undefined;
    }, 120_000, 1_000).catch((err: unknown) => { throw new Error(`${String(err)}\narm64 agent log:\n${armAgentLog()}`); });
    assert.match(waiting.message ?? '', 'no match for platform in manifest: the image has linux/amd64, this node is linux/arm64');
    const events = await getJson<KubeList<Event>>(['get', 'events', '--field-selector', 'involvedObject.name=amd-only']);
    assert.ok(events.items.some((e) => e.reason === 'Failed' && /linux\/amd64/.test(e.message ?? '')), JSON.stringify(events.items.map((e) => `${e.reason}: ${e.message}`)));
    const p = await getJson<Pod>(['get', 'pod', 'amd-only']);
    assert.is(p.status?.containerStatuses?.[0]?.restartCount ?? 0, 0);
    const uid = (p.metadata.uid ?? '').replace(/-/g, '').slice(0, 16);
    const containers = (await l.ctr('n2', ['containers', 'ls', '-q'])).stdout.split('\n').filter((id) => id.startsWith(uid));
    assert.equal(containers, [], 'no container was created from the foreign image');
  });
}

test.run();
