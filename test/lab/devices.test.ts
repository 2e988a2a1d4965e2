/**
 * Devices passed to pods and hardware-in-the-loop jobs, end to end in a 1-node lab (real `corral
 * server` and `corral agent`, containerd + runc, kubectl v1.32), with a fake sysfs tree and device
 * nodes made with mknod:
 *
 * - labels and devices.corral.io resources appear on the Node; a hot-plugged adapter shows within
 *   seconds and its unplug removes them;
 * - a pod asking for `serial-rig` gets exactly that adapter's nodes (the same /dev names, no others),
 *   reads what the test wrote at the other end and writes back; a pod that makes the node itself
 *   cannot open it (cgroup device rules);
 * - a second pod waits Pending (FailedScheduling) until the first finishes, then gets the device;
 * - the agent killed mid-job comes back knowing the lease (from the pod's status): a pod bound to the
 *   node by name while the device is held fails admission instead of sharing it;
 * - a device that disappears drops the resource and its pod gets a DeviceUnhealthy Event;
 * - `corral hil run` returns the job's exit code and output, and a run past its deadline is stopped
 *   on the board with its log still readable through `kubectl logs job/NAME`.
 *
 * The serial adapter's tty is a loop block device over a file: a pty's slave cannot stand in, since
 * the kernel refuses (EIO) to open a pts slave through a node outside its devpts instance, which is
 * exactly what a container's device node is. The test talks to the pod through the backing file.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, type Lab } from './harness.js';
import { buildBusyboxImage } from './image.js';
import { labTierAvailable } from './prerequisites.js';
import { startLabCluster, type LabCluster } from './agent-cluster.js';
import type { Event, Node, Pod } from '../../api/types.js';
import type { KubeList } from '../../api/meta.js';
import { waitUntil } from '../support/wait.js';
import { buildBoard, byIdName, FTDI, plugUsbSerial, unplugUsbSerial, type FakeUsbSerial } from '../support/fake-devices.js';

const test = suite('devices and HIL jobs');
const IMAGE_CACHE = '/tmp/corral-lab-images';
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'corral.js');
const RIG = 'devices.corral.io/serial-rig';
const CP210X: FakeUsbSerial = { port: '1-2', busnum: 1, devnum: 3, vendor: '10c4', product: 'ea60', serial: 'CP1', manufacturer: 'Silicon_Labs', model: 'CP2102 USB to UART', tty: 'ttyUSB1' };

let lab: Lab | undefined;
let cluster: LabCluster | undefined;
let loopDevice = '';
let backing = '';
let sys = '';
let dev = '';
const need = (): LabCluster => {
  if (!cluster) throw new Error('the lab cluster did not come up (see the first test)');
  return cluster;
};
const agentLog = (): string => {
  const p = cluster?.agents.get('n1');
  return p ? readFileSync(p.logFile, 'utf8').slice(-4000) : '';
};

function mknod(path: string, type: 'b' | 'c', major: number, minor: number): void {
  mkdirSync(dirname(path), { recursive: true });
  execFileSync('mknod', ['-m', '0666', path, type, String(major), String(minor)]);
}

/** Block `n` (512 bytes) of the adapter's "wire": the loop device's backing file. */
function writeBlock(n: number, text: string): void {
  const fd = openSync(backing, 'r+');
  try {
    const buf = Buffer.alloc(512);
    buf.write(text);
    writeSync(fd, buf, 0, 512, n * 512);
  } finally {
    closeSync(fd);
  }
}
function readBlock(n: number): string {
  const fd = openSync(backing, 'r');
  try {
    const buf = Buffer.alloc(512);
    readSync(fd, buf, 0, 512, n * 512);
    return buf.toString('utf8').replace(/\0+$/, '');
  } finally {
    closeSync(fd);
  }
}

async function node(c: LabCluster): Promise<Node> {
  return (await c.getJson<KubeList<Node>>(['get', 'nodes'])).items.find((x) => x.metadata.name === 'n1')!;
}
async function pod(c: LabCluster, name: string): Promise<Pod | undefined> {
  const r = await c.kubectl(['get', 'pod', name, '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as Pod) : undefined;
}
async function podPhase(c: LabCluster, name: string, phase: string, timeoutMs: number): Promise<Pod> {
  return waitUntil(`pod ${name} ${phase}`, async () => {
    const p = await pod(c, name);
    return p?.status?.phase === phase ? p : undefined;
  }, timeoutMs, 300).catch(async (err: unknown) => {
    const described = (await c.kubectl(['describe', 'pod', name])).stdout;
    const allocatable = JSON.stringify((await node(c)).status?.allocatable);
    const server = cluster ? readFileSync(cluster.server.logFile, 'utf8').split('\n').filter((l) => /schedul/i.test(l)).slice(-15).join('\n') : '';
    throw new Error(`${String(err)}\n${described}\nnode allocatable: ${allocatable}\nserver:\n${server}\nagent log:\n${agentLog()}`);
  });
}

function devicePod(name: string, resource: string, script: string, extra = ''): string {
  return `
apiVersion: v1
kind: Pod
metadata: { name: ${name} }
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
${extra}  containers:
  - name: main
    image: busybox
    command: ['sh', '-c', ${JSON.stringify(script)}]
    resources: { limits: { ${resource}: 1 } }
`;
}

/** What the serial pods run: show their /dev, answer the ping, wait for "release" on the wire. */
const SERIAL_SCRIPT = [
  'ls /dev /dev/serial/by-id; ls /dev/bus 2>&1 | head -1',
  `echo "read: $(dd if=/dev/serial/by-id/${byIdName(FTDI)} bs=512 count=1 iflag=direct 2>/dev/null | tr -d '\\000')"`,
  `printf "pong from $(hostname)" | dd of=/dev/ttyUSB0 bs=512 seek=1 conv=sync oflag=direct 2>/dev/null`,
  'until dd if=/dev/ttyUSB0 bs=512 skip=2 count=1 iflag=direct 2>/dev/null | grep -q \"release $(hostname)\"; do sleep 0.2; done',
  'echo released',
].join('; ');

if (labTierAvailable(test, 'devices lab test')) {
  test.after(async () => {
    if (lab) {
      const report = await lab.destroy();
      if (report.errors.length > 0) process.stdout.write(`lab teardown errors: ${report.errors.join('; ')}\n`);
    }
    if (loopDevice) execFileSync('losetup', ['-d', loopDevice]);
  });

  test('labels and resources appear on the node; a hot-plugged adapter shows within seconds and its unplug removes them', async () => {
    lab = await createLab({ name: 'hildev', nodes: 1 });
    await lab.importImage('n1', await buildBusyboxImage({ dir: IMAGE_CACHE }));
    const fake = join(lab.dir, 'fake-hw');
    sys = join(fake, 'sys');
    dev = join(fake, 'dev');
    backing = join(fake, 'wire.img');
    mkdirSync(fake, { recursive: true });
    writeFileSync(backing, Buffer.alloc(64 * 1024));
    loopDevice = execFileSync('losetup', ['-f', '--show', '--direct-io=on', backing], { encoding: 'utf8' }).trim();
    const loopMinor = Number(/(\d+)$/.exec(loopDevice)![1]);
    // The adapter's tty is the loop device; the other nodes are harmless memory devices (zero, full).
    const makeNode = async (path: string): Promise<void> => {
      if (path.endsWith('/ttyUSB0')) mknod(path, 'b', 7, loopMinor);
      else mknod(path, 'c', 1, path.includes('/bus/usb/') || path.endsWith('ttyUSB1') ? 5 : 7);
    };
    await buildBoard(sys, dev, makeNode);
    await plugUsbSerial(sys, dev, FTDI, makeNode);
    const config = join(fake, 'devices.yaml');
    writeFileSync(config, 'devices:\n- name: serial-rig\n  match:\n    path: /dev/serial/by-id/usb-FTDI_*\n  count: 1\n');
    cluster = await startLabCluster(lab, { crashBackoff: '1s', agentArgs: ['--devices-config', config, '--sysfs-root', sys, '--dev-root', dev] });
    const c = need();
    const n = await waitUntil('n1 Ready with its devices', async () => {
      const x = await node(c).catch(() => undefined);
      return x?.status?.conditions?.some((k) => k.type === 'Ready' && k.status === 'True') && x.status.allocatable?.[RIG] === '1' ? x : undefined;
    }, 90_000, 500).catch((err: unknown) => { throw new Error(`${String(err)}\nagent log:\n${agentLog()}`); });
    assert.is(n.metadata.labels?.['feature.corral.io/usb-0403-6001'], 'true');
    assert.equal(Object.fromEntries(Object.entries(n.status!.capacity!).filter(([k]) => k.startsWith('devices.corral.io/'))), {
      'devices.corral.io/gpio-0': '1', 'devices.corral.io/i2c-1': '1', [RIG]: '1',
      [`devices.corral.io/serial-${byIdName(FTDI)}`]: '1', 'devices.corral.io/usb-0403-6001': '1',
    });
    const described = await c.kubectlOk(['describe', 'node', 'n1']);
    assert.match(described, /devices\.corral\.io\/serial-rig:\s+1/);

    // Hot-plug: a CP2102 adapter appears, then goes.
    const plugged = Date.now();
    await plugUsbSerial(sys, dev, CP210X, makeNode);
    await waitUntil('the CP2102 on the node', async () => {
      const x = await node(c);
      return x.metadata.labels?.['feature.corral.io/usb-10c4-ea60'] === 'true' && x.status?.capacity?.['devices.corral.io/usb-10c4-ea60'] === '1';
    }, 10_000, 200);
    const shownMs = Date.now() - plugged;
    assert.ok(shownMs < 5_000, `hot-plug took ${shownMs} ms`);
    await unplugUsbSerial(sys, dev, CP210X);
    const gone = await waitUntil('the CP2102 gone from the node', async () => {
      const x = await node(c);
      return x.metadata.labels?.['feature.corral.io/usb-10c4-ea60'] === undefined && x.status?.capacity?.['devices.corral.io/usb-10c4-ea60'] === undefined
        && x.status?.allocatable?.['devices.corral.io/usb-10c4-ea60'] === undefined ? x : undefined;
    }, 10_000, 200);
    assert.is(gone.metadata.labels?.['feature.corral.io/usb-0403-6001'], 'true', 'the other adapter stays');
  });

  test('a pod gets exactly the serial-rig adapter, talks through it; a second pod waits; a killed agent does not double-allocate', async () => {
    const c = need();
    writeBlock(0, 'ping from the test');
    await c.kubectlOk(['apply', '-f', '-'], devicePod('rig-a', RIG, SERIAL_SCRIPT));
    const a = await podPhase(c, 'rig-a', 'Running', 90_000);
    assert.is(a.spec.nodeName, 'n1');
    await waitUntil('pong on the wire', async () => readBlock(1).startsWith('pong from rig-a') || undefined, 30_000, 200)
      .catch((err: unknown) => { throw new Error(`${String(err)}\nagent log:\n${agentLog()}`); });
    const log = await c.kubectlOk(['logs', 'rig-a']);
    assert.match(log, /read: ping from the test/, log);
    assert.match(log, /ttyUSB0/);
    assert.match(log, new RegExp(byIdName(FTDI)));
    for (const other of ['ttyUSB1', 'gpiochip0', 'i2c-1', 'ttyS0', 'loop']) assert.not.match(log, new RegExp(`\\b${other}\\b`), `${other} must not be in the pod:\n${log}`);
    assert.match(log, /ls: \/dev\/bus: No such file or directory/, 'serial-rig matches the by-id link only, not the USB node');
    const recorded = a.status?.conditions?.find((x) => x.type === 'devices.corral.io/allocated');
    assert.is(recorded?.status, 'True');
    assert.equal(JSON.parse(recorded!.message!), { [RIG]: [{ id: 'usb-0403-6001-A1', paths: ['/dev/ttyUSB0', `/dev/serial/by-id/${byIdName(FTDI)}`] }] });

    // The same adapter under its built-in name is taken too: allocatable 0 there.
    await waitUntil('usb-0403-6001 allocatable 0 while rig-a holds the adapter', async () => (await node(c)).status?.allocatable?.['devices.corral.io/usb-0403-6001'] === '0' || undefined, 15_000, 300);

    // A pod that makes the node itself may not open it: no cgroup rule for it, no privileged.
    const loopMinor = Number(/(\d+)$/.exec(loopDevice)![1]);
    await c.kubectlOk(['apply', '-f', '-'], `
apiVersion: v1
kind: Pod
metadata: { name: sneaky }
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: busybox
    command: ['sh', '-c', 'mknod /tmp/wire b 7 ${loopMinor} && dd if=/tmp/wire bs=512 count=1 of=/dev/null; echo "exit $?"']
`);
    await podPhase(c, 'sneaky', 'Succeeded', 60_000);
    const sneaky = await c.kubectlOk(['logs', 'sneaky']);
    assert.match(sneaky, /can't open '\/tmp\/wire': Operation not permitted|mknod: \/tmp\/wire: Operation not permitted/, sneaky);
    assert.match(sneaky, /^exit 1$/m, sneaky);

    // A second pod waits with a clear reason.
    await c.kubectlOk(['apply', '-f', '-'], devicePod('rig-b', RIG, SERIAL_SCRIPT));
    const waiting = await waitUntil('rig-b unschedulable', async () => (await pod(c, 'rig-b'))?.status?.conditions?.find((x) => x.type === 'PodScheduled' && x.status === 'False'), 30_000, 300);
    assert.match(waiting.message ?? '', new RegExp(`^0/1 nodes are available: 1 Insufficient ${RIG.replace(/\./g, '\\.')}\\.`));
    const events = await c.getJson<KubeList<Event>>(['get', 'events', '--field-selector', 'involvedObject.name=rig-b']);
    assert.ok(events.items.some((e) => e.reason === 'FailedScheduling'));

    // The agent dies mid-job and comes back: the lease is read from rig-a's status.
    await c.killAgent('n1');
    c.startAgent('n1');
    await waitUntil('the restarted agent reports', async () => /corral agent is up/.test(readFileSync(c.agents.get('n1')!.logFile, 'utf8')) || undefined, 60_000, 300);
    // A pod bound here by name (no scheduler) while the adapter is held: refused, not shared.
    await c.kubectlOk(['apply', '-f', '-'], devicePod('rig-forced', RIG, 'echo should not run', '  nodeName: n1\n'));
    const refused = await podPhase(c, 'rig-forced', 'Failed', 60_000);
    assert.is(refused.status?.reason, 'UnexpectedAdmissionError');
    assert.match(refused.status?.message ?? '', /Allocate failed due to requested number of devices unavailable for devices\.corral\.io\/serial-rig\. Requested: 1, Available: 0/);
    assert.is((await pod(c, 'rig-a'))?.status?.phase, 'Running', 'rig-a kept its device through the restart');
    assert.is((await pod(c, 'rig-b'))?.spec.nodeName, undefined, 'rig-b still waits');

    // rig-a finishes: rig-b gets the adapter and hears the same wire.
    // Each pod waits for its own release line: rig-b, started the moment rig-a ends, must not see rig-a's.
    writeBlock(1, '');
    writeBlock(2, 'release rig-a');
    await podPhase(c, 'rig-a', 'Succeeded', 60_000);
    await podPhase(c, 'rig-b', 'Running', 60_000);
    await waitUntil('rig-b answers', async () => readBlock(1).startsWith('pong from rig-b') || undefined, 30_000, 200);
    writeBlock(2, 'release rig-b');
    await podPhase(c, 'rig-b', 'Succeeded', 60_000);
    assert.match(await c.kubectlOk(['logs', 'rig-b']), /read: ping from the test[\s\S]*released/);
    await c.kubectlOk(['delete', 'pod', 'rig-a', 'rig-b', 'rig-forced', 'sneaky', '--wait=false']);
  });

  test('a device that disappears drops its resource and its pod gets a DeviceUnhealthy event', async () => {
    const c = need();
    await c.kubectlOk(['apply', '-f', '-'], devicePod('i2c-user', 'devices.corral.io/i2c-1', 'ls -l /dev/i2c-1; sleep 600'));
    await podPhase(c, 'i2c-user', 'Running', 60_000);
    execFileSync('rm', ['-rf', join(sys, 'class/i2c-dev/i2c-1'), join(dev, 'i2c-1')]);
    await waitUntil('i2c-1 gone from the node', async () => (await node(c)).status?.capacity?.['devices.corral.io/i2c-1'] === undefined || undefined, 15_000, 300);
    const ev = await waitUntil('DeviceUnhealthy event', async () => {
      const list = await c.getJson<KubeList<Event>>(['get', 'events', '--field-selector', 'involvedObject.name=i2c-user']);
      return list.items.find((e) => e.reason === 'DeviceUnhealthy');
    }, 15_000, 300);
    assert.is(ev.type, 'Warning');
    assert.match(ev.message ?? '', /device i2c-1 of devices\.corral\.io\/i2c-1 allocated to this pod is no longer attached to node n1/);
    await c.kubectlOk(['delete', 'pod', 'i2c-user', '--wait=false']);
  });

  test('corral hil run returns the job\'s exit code and output; past its deadline it is stopped on the board and its log stays', async () => {
    const c = need();
    const l = lab!;
    // Whatever an earlier failed test left holding the adapter goes first.
    await c.kubectlOk(['delete', 'pods', '--all', '--grace-period=0', '--force', '--wait=true']);
    const hil = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
      l.exec('control', [process.execPath, CLI, 'hil', 'run', '--kubeconfig', c.kubeconfig, '--device', 'usb-0403-6001', '--image', 'busybox', ...args], { timeoutMs: 120_000 });
    const ok = await hil(['--name', 'hil-exit', '--timeout', '60s', '--', 'sh', '-c', 'echo hello from the board; ls /dev/bus/usb/001; exit 3']);
    assert.is(ok.code, 3, `${ok.stdout}\n${ok.stderr}`);
    assert.match(ok.stdout, /hello from the board\n002\n/);
    assert.match(ok.stderr, /job default\/hil-exit created/);
    assert.match(ok.stderr, /exit code 3/);
    // The Job and its pod's log stay until the Job is deleted.
    assert.match(await c.kubectlOk(['logs', 'job/hil-exit']), /hello from the board/);

    const late = await hil(['--name', 'hil-late', '--timeout', '3s', '--', 'sh', '-c', 'echo started; sleep 60; echo never']);
    assert.is.not(late.code, 0);
    assert.match(late.stdout, /started/);
    assert.not.match(late.stdout, /never/);
    assert.match(late.stderr, /DeadlineExceeded/);
    const p = (await c.getJson<KubeList<Pod>>(['get', 'pods', '-l', 'batch.kubernetes.io/job-name=hil-late'])).items[0]!;
    assert.is(p.status?.phase, 'Failed');
    assert.is(p.status?.reason, 'DeadlineExceeded');
    assert.match(await c.kubectlOk(['logs', 'job/hil-late']), /started/);
    await c.kubectlOk(['delete', 'job', 'hil-exit', 'hil-late']);
  });
}

test.run();
