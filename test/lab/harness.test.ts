/**
 * The lab harness itself: a 3-node lab comes up with guard routes, a LAN that reaches nothing outside,
 * per-node hostnames, sshd, SFTP, containerd and private install paths; a pod on n1 serves HTTP to n2
 * over a host-gw route (the path the agent will use); and teardown leaves nothing behind.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { createLab, DEFAULT_BASE_DIR, DEFAULT_LAN_CIDR, DEFAULT_POD_CIDR, DEFAULT_SERVICE_CIDR, type Lab } from './harness.js';
import { buildBusyboxImage, DEFAULT_IMAGE_REF } from './image.js';
import { cidrsOverlap, listGuardRoutes } from './guard-routes.js';
import { isRunning, listNetns, namespaceInode, NETNS_DIR, netnsPath, pidsInNamespaces } from './netns.js';
import { PRIVATE_PATHS } from './host-ns.js';
import { exec, execOk, sleep } from './exec.js';
import { labTierAvailable } from './prerequisites.js';

const LAB = 'labtest';
const IMAGE_CACHE = '/tmp/corral-lab-images';

interface MachineSnapshot {
  mountPoints: string[];
  routes: string[];
  iptables: string;
  privatePathsPresent: boolean[];
}

/** iptables rules of the root namespace, without the lines that change on every dump. */
async function iptablesRules(): Promise<string> {
  const dumps: string[] = [];
  for (const tool of ['iptables-save', 'iptables-legacy-save']) {
    if (!existsSync(`/usr/sbin/${tool}`)) continue;
    const r = await exec([tool]);
    dumps.push(r.stdout.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/g, '')).join('\n'));
  }
  return dumps.join('\n---\n');
}

/**
 * What a lab could leave on the machine. Mounts and routes are limited to what a lab touches, so other
 * work on the same machine (another netns, another route) cannot make this test flaky.
 */
async function snapshot(labDir: string): Promise<MachineSnapshot> {
  const labRanges = [DEFAULT_LAN_CIDR, DEFAULT_POD_CIDR, DEFAULT_SERVICE_CIDR];
  const touchable = (p: string): boolean => p === NETNS_DIR || p.startsWith(`${NETNS_DIR}/${LAB}-`) || p.startsWith(labDir) || (PRIVATE_PATHS as readonly string[]).includes(p);
  const routes = JSON.parse(await execOk(['ip', '-j', '-4', 'route', 'show', 'table', 'all'])) as { dst?: string; type?: string; table?: string }[];
  return {
    mountPoints: readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter(touchable).sort(),
    routes: routes.filter((r) => r.dst !== undefined && r.dst !== 'default' && labRanges.some((c) => cidrsOverlap(c, r.dst!))).map((r) => JSON.stringify(r)).sort(),
    iptables: await iptablesRules(),
    privatePathsPresent: PRIVATE_PATHS.map((p) => existsSync(p)),
  };
}

/** The lab's namespace ids (every host netns, pod netns and host view), to find its processes. */
function labNamespaceInodes(lab: Lab): Set<number> {
  const inodes = new Set<number>();
  for (const ns of listNetns(lab.netnsPrefix)) {
    const ino = namespaceInode(netnsPath(ns));
    if (ino !== undefined) inodes.add(ino);
  }
  for (const h of [lab.control, ...lab.nodes]) {
    for (const f of [h.view.mntFile, h.view.utsFile]) {
      const ino = namespaceInode(f);
      if (ino !== undefined) inodes.add(ino);
    }
  }
  return inodes;
}

if (labTierAvailable(test, 'lab harness test')) {
  let lab: Lab | undefined;
  let before: MachineSnapshot | undefined;
  let guardsBefore: string[] = [];
  let destroyed = false;
  const need = (): Lab => {
    if (!lab) throw new Error('the lab did not come up (see the first test)');
    return lab;
  };

  test.after(async () => {
    if (lab && !destroyed) await lab.destroy();
  });

  test('a 3-node lab comes up behind guard routes', async () => {
    before = await snapshot(`${DEFAULT_BASE_DIR}/${LAB}`);
    guardsBefore = await listGuardRoutes();
    lab = await createLab({ name: LAB, nodes: 3 });
    process.stdout.write(`lab bring-up: ${lab.timings.bringUpMs} ms ${JSON.stringify(lab.timings.steps)}\n`);
    const guards = await listGuardRoutes();
    for (const range of [lab.lanCidr, lab.podCidr, lab.serviceCidr]) assert.ok(guards.includes(range), `guard route for ${range} missing: ${guards.join(', ')}`);
    // The guard answers for lab addresses in the root namespace: nothing would go to the real gateway.
    const r = await exec(['ip', 'route', 'get', lab.nodes[0]!.ip]);
    assert.is.not(r.code, 0, 'root namespace must have no usable route to a lab address');
    assert.match(r.stderr, /unreachable|no route/i);
  });

  test('nodes reach each other over br0 and nothing outside the lab', async () => {
    const l = need();
    for (const from of ['control', 'n1', 'n2']) {
      for (const to of l.nodes) {
        if (to.name === from) continue;
        const r = await l.exec(from, ['busybox', 'ping', '-c', '1', '-W', '2', to.ip], { timeoutMs: 5_000 });
        assert.is(r.code, 0, `ping ${from} -> ${to.name}: ${r.stdout}${r.stderr}`);
      }
    }
    // 192.0.2.1 is the machine's real gateway: a lab node has no route to it, so the ping fails at once.
    const out = await l.exec('n1', ['busybox', 'ping', '-c', '1', '-W', '1', '192.0.2.1'], { timeoutMs: 5_000 });
    assert.is.not(out.code, 0, 'a lab node must not reach the real gateway');
    assert.match(out.stderr + out.stdout, /unreachable/i);
    const route = await l.exec('n1', ['ip', 'route', 'get', '192.0.2.1']);
    assert.is.not(route.code, 0);
    // Nodes forward (host-gw pod routes) in their own netns; the machine's setting is not touched.
    const fwd = await l.exec('n1', ['sysctl', '-n', 'net.ipv4.ip_forward']);
    assert.is(fwd.stdout.trim(), '1');
  });

  let spawnedPid = 0;
  test('lab.spawn runs a long-lived server in a node\'s view that control reaches', async () => {
    const l = need();
    await execOkIn(l, 'n3', ['mkdir -p /var/lib/corral/www', 'echo served-by-n3 > /var/lib/corral/www/index.html']);
    const p = l.spawn('n3', ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/var/lib/corral/www'], { logName: 'httpd' });
    spawnedPid = p.pid;
    let body = '';
    for (let i = 0; i < 50 && body !== 'served-by-n3'; i++) {
      const r = await l.exec('control', ['timeout', '3', 'busybox', 'wget', '-q', '-O', '-', `http://${l.node('n3').ip}:8080/`], { timeoutMs: 5_000 });
      body = r.stdout.trim();
      if (body !== 'served-by-n3') await sleep(50);
    }
    assert.is(body, 'served-by-n3', readFileSync(p.logFile, 'utf8'));
  });

  test('ssh from control lands in each node with its hostname and its own install paths', async () => {
    const l = need();
    for (const n of l.nodes) {
      const r = await l.ssh(n.name, 'hostname');
      assert.is(r.code, 0, `ssh ${n.name}: ${r.stderr}`);
      assert.is(r.stdout.trim(), n.name);
    }
    const w = await l.ssh('n1', 'echo written-on-n1 > /etc/corral/marker && cat /etc/corral/marker');
    assert.is(w.stdout.trim(), 'written-on-n1', w.stderr);
    const other = await l.ssh('n2', 'cat /etc/corral/marker');
    assert.is.not(other.code, 0, 'n2 must not see a file n1 wrote under /etc/corral');
    assert.not.ok(existsSync('/etc/corral/marker'), 'the machine itself must not see it either');
  });

  test('SFTP upload with ssh2 from the control host', async () => {
    const l = need();
    const n2 = l.node('n2');
    const hostKey = readFileSync(`${n2.dir}/ssh_host_ed25519_key.pub`, 'utf8').trim();
    const script = fileURLToPath(new URL('./ssh2-upload.js', import.meta.url));
    const job = { host: n2.ip, keyFile: l.clientKey, hostKey, remotePath: '/var/lib/corral/upload.bin', bytes: 1 << 20 };
    const r = await l.exec('control', [process.execPath, script, JSON.stringify(job)], { timeoutMs: 20_000 });
    assert.is(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as { localSha256: string; remoteSha256: string; remoteSize: number; ms: number };
    process.stdout.write(`ssh2 connect + 1 MiB SFTP + exec: ${res.ms} ms\n`);
    assert.is(res.remoteSize, 1 << 20);
    assert.is(res.remoteSha256, res.localSha256);
    const onNode = await l.exec('n2', ['sha256sum', job.remotePath]);
    assert.is(onNode.stdout.split(' ')[0], res.localSha256);
    assert.not.ok(existsSync(job.remotePath), 'the upload lands in n2\'s view, not on the machine');
  });

  test('every node runs its own containerd', async () => {
    const l = need();
    const uuids = new Set<string>();
    for (const n of l.nodes) {
      const r = await l.ctr(n.name, ['version']);
      assert.is(r.code, 0, r.stderr);
      const uuid = /UUID:\s*(\S+)/.exec(r.stdout)?.[1];
      assert.ok(uuid, r.stdout);
      uuids.add(uuid);
    }
    assert.is(uuids.size, l.nodes.length, 'each node must answer from a different containerd');
  });

  test('busybox httpd in a pod netns on n1 answers wget from n2 over a host-gw route', async () => {
    const l = need();
    const t0 = performance.now();
    const image = await buildBusyboxImage({ dir: IMAGE_CACHE });
    await l.importImage('n1', image);
    const images = await l.ctr('n1', ['images', 'ls', '-q']);
    assert.ok(images.stdout.split('\n').includes(DEFAULT_IMAGE_REF), images.stdout);

    // The pod netns is made from inside n1 (as its agent will): it must be visible to the machine too.
    const pod = `${l.netnsPrefix}pod-web`;
    const n1 = l.node('n1');
    await execOkIn(l, 'n1', [
      `ip netns add ${pod}`,
      `ip link add vweb type veth peer name eth0 netns ${pod}`,
      'ip addr add 10.42.1.1/24 dev vweb',
      'ip link set vweb up',
      `ip -n ${pod} link set lo up`,
      `ip -n ${pod} addr add 10.42.1.2/24 dev eth0`,
      `ip -n ${pod} link set eth0 up`,
      `ip -n ${pod} route add default via 10.42.1.1`,
    ]);
    assert.ok(existsSync(netnsPath(pod)), 'a netns created inside a node shows under /run/netns on the machine');
    await execOkIn(l, 'n2', [`ip route add 10.42.1.0/24 via ${n1.ip}`]);

    const token = randomBytes(8).toString('hex');
    const run = await l.ctr('n1', ['run', '-d', '--with-ns', `network:${netnsPath(pod)}`, DEFAULT_IMAGE_REF, 'web',
      'sh', '-c', `mkdir -p /www && echo ${token} > /www/index.html && exec httpd -f -p 80 -h /www`]);
    assert.is(run.code, 0, run.stderr);

    let body = '';
    for (let i = 0; i < 50 && body !== token; i++) {
      // busybox 1.35 `wget -T` segfaults: bound it with timeout instead.
      const r = await l.exec('n2', ['timeout', '3', 'busybox', 'wget', '-q', '-O', '-', 'http://10.42.1.2/'], { timeoutMs: 5_000 });
      body = r.stdout.trim();
      if (body !== token) await sleep(100);
    }
    assert.is(body, token, 'n2 must get the page the pod on n1 serves');
    process.stdout.write(`image import + pod netns + ctr run + first answer: ${Math.round(performance.now() - t0)} ms\n`);
  });

  test('destroy leaves no process, mount, netns, route, iptables rule or directory behind', async () => {
    const l = need();
    const inodes = labNamespaceInodes(l);
    const pids = pidsInNamespaces(inodes);
    // sshd + containerd per node, the pod's shim and httpd, and the spawned httpd on n3.
    assert.ok(pids.length >= l.nodes.length * 2 + 3, `expected the lab's processes, found ${pids.length}`);
    assert.ok(pids.includes(spawnedPid), 'the spawned server is one of the lab\'s processes');

    const report = await l.destroy();
    destroyed = true;
    process.stdout.write(`lab teardown: ${report.ms} ms ${JSON.stringify(report.steps)}, ${report.killed} processes killed\n`);
    assert.equal(report.errors, []);

    assert.equal(pids.filter(isRunning), [], 'every lab process is gone');
    assert.equal(pidsInNamespaces(inodes), []);
    assert.equal(listNetns(`${LAB}-`), []);
    assert.not.ok(existsSync(l.dir), 'lab directory removed');
    const guards = await listGuardRoutes();
    for (const range of [l.lanCidr, l.podCidr, l.serviceCidr]) {
      if (!guardsBefore.includes(range)) assert.not.ok(guards.includes(range), `guard route ${range} left`);
    }
    const after = await snapshot(l.dir);
    const b = before!;
    assert.equal(after.mountPoints, b.mountPoints, 'mounts as before');
    assert.equal(after.routes, b.routes, 'routes in the lab ranges as before');
    assert.is(after.iptables, b.iptables, 'iptables rules as before');
    assert.equal(after.privatePathsPresent, b.privatePathsPresent, 'install paths the lab created are removed');
  });

  test('a lab created over a crashed run\'s leftovers clears them first', async () => {
    const crashed = await createLab({ name: 'labcrash', nodes: 1 });
    const n1 = crashed.node('n1');
    await crashed.importImage('n1', await buildBusyboxImage({ dir: IMAGE_CACHE }));
    // A container in a network namespace of its own: only its cgroup ties it to the lab.
    const run = await crashed.ctr('n1', ['run', '-d', DEFAULT_IMAGE_REF, 'labcrash-box', 'sleep', '600']);
    assert.is(run.code, 0, run.stderr);
    const tasks = await crashed.ctr('n1', ['tasks', 'ls']);
    const boxPid = Number(/labcrash-box\s+(\d+)/.exec(tasks.stdout)?.[1]);
    assert.ok(boxPid > 0 && isRunning(boxPid), tasks.stdout);
    const pidsCgroup = /^\d+:pids:(\S+)$/m.exec(readFileSync(`/proc/${boxPid}/cgroup`, 'utf8'))?.[1];
    const oldPids = pidsInNamespaces(labNamespaceInodes(crashed));
    assert.ok(oldPids.length >= 3, 'sshd, containerd and the shim run');
    // The worst crash: the test runner is gone and so is containerd, which could have cleaned up.
    process.kill(n1.containerd!.pid, 'SIGKILL');
    await sleep(50);

    const again = await createLab({ name: 'labcrash', nodes: 1, containerd: false });
    try {
      assert.equal([...oldPids, boxPid].filter(isRunning), [], 'processes of the crashed run are gone');
      if (pidsCgroup !== undefined) assert.not.ok(existsSync(`/sys/fs/cgroup/pids${pidsCgroup}`), `cgroup ${pidsCgroup} removed`);
      const r = await again.ssh('n1', 'hostname');
      assert.is(r.stdout.trim(), 'n1', r.stderr);
    } finally {
      const report = await again.destroy();
      assert.equal(report.errors, []);
    }
    assert.equal(listNetns('labcrash-'), []);
  });
}

/** Runs shell lines in a lab host, failing with the first error. */
async function execOkIn(lab: Lab, host: string, lines: readonly string[]): Promise<void> {
  const r = await lab.exec(host, ['sh', '-ec', lines.join('\n')]);
  if (r.code !== 0) throw new Error(`on ${host}: ${r.stderr.trim()}`);
}

test.run();
