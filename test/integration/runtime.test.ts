/**
 * The containerd CLI driver against a real, private containerd: its own root/state/socket in a temp dir,
 * CRI off, running inside a fresh network namespace that only has loopback (nothing here creates an
 * address, so no guard routes are needed). The busybox image comes from test/lab/image.ts.
 *
 * Needs root, containerd, ctr and runc. Without them the tests are skipped locally and FAIL under CI=true.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { sleep } from '../../api/async-util.js';
import { ContainerdRuntime, RuntimeError, isRuntimeError, type TaskEvent } from '../../agent/runtime/index.js';
import { buildBusyboxImage } from '../lab/image.js';
import { containerdConfig } from '../lab/containerd.js';
import { exec, execOk, waitFor } from '../lab/exec.js';

const CI = process.env['CI'] === 'true';
const IMAGE = 'docker.io/library/busybox:latest';

function missingPrerequisites(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root');
  for (const bin of ['/usr/bin/containerd', '/usr/bin/ctr', '/usr/sbin/runc', '/usr/bin/unshare', '/usr/bin/nsenter']) {
    if (!existsSync(bin)) missing.push(bin);
  }
  return missing;
}

const missing = missingPrerequisites();
// Locally without the prerequisites nothing is registered (uvu's skip count would confuse test/run.ts's
// arithmetic); under CI every test runs and fails loudly.
const runnable = missing.length === 0 || CI;
if (!runnable) process.stderr.write(`skipping ${import.meta.url.split('/').pop()}: missing ${missing.join(', ')}\n`);
const run = (name: string, fn: () => Promise<void>): void => {
  if (runnable) test(name, fn);
};
if (missing.length > 0 && CI) {
  test('prerequisites for the runtime tests are present (CI=true)', () => {
    assert.unreachable(`missing: ${missing.join(', ')}`);
  });
}

const suffix = `${process.pid}-${Date.now() % 100000}`;
const netnsName = `corral-rt-${suffix}`;
const cgroupParent = `/corral-test-${suffix}`;
let dir = '';
let containerd: ChildProcess | undefined;
let rt: ContainerdRuntime;
let socket = '';
const events: TaskEvent[] = [];
const eventsAbort = new AbortController();
let eventsDone: Promise<void> | undefined;

/** The argv of every process, as any user can read it from /proc/PID/cmdline. */
function allCommandLines(): string[] {
  const lines: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try { lines.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')); } catch { /* gone */ }
  }
  return lines;
}

async function waitTaskStopped(id: string, timeoutMs = 15_000): Promise<void> {
  await waitFor(`task ${id} stopped`, async () => (await rt.task(id))?.status === 'STOPPED', timeoutMs, 50);
}

function collect(stream: NodeJS.ReadableStream | null): Promise<string> {
  return new Promise((resolve) => {
    let s = '';
    if (!stream) { resolve(''); return; }
    stream.on('data', (c: Buffer) => { s += c.toString('utf8'); });
    stream.on('end', () => resolve(s));
  });
}

async function execIn(id: string, execId: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const session = rt.exec(id, { execId, args });
  const [stdout, stderr, code] = await Promise.all([
    collect(session.process.stdout),
    collect(session.process.stderr),
    new Promise<number | null>((resolve) => session.process.on('close', (c) => resolve(c))),
  ]);
  return { code, stdout, stderr };
}

function podSpec(id: string, args: string[], extra: Partial<Parameters<ContainerdRuntime['run']>[0]> = {}): Parameters<ContainerdRuntime['run']>[0] {
  return {
    id,
    image: 'busybox',
    command: args,
    netnsPath: `/run/netns/${netnsName}`,
    logPath: join(dir, 'logs', `${id}.log`),
    labels: { 'corral.pod-uid': 'uid-1', 'corral.container-name': id },
    ...extra,
  };
}

/** Shim processes whose command line names our private containerd socket. */
function processesUsing(sock: string): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === containerd?.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmdline.includes(sock) && cmdline.includes('containerd-shim')) pids.push(Number(p));
    } catch { /* gone */ }
  }
  return pids;
}

async function startContainerd(config: string): Promise<void> {
  // nsenter (not `ip netns exec`) keeps containerd in our mount namespace, where the rootfs mounts are.
  containerd = spawn('nsenter', [`--net=/run/netns/${netnsName}`, '/usr/bin/containerd', '--config', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  containerd.stderr!.on('data', (c: Buffer) => { log += c.toString('utf8'); });
  await waitFor('containerd socket', () => existsSync(socket), 15_000, 50).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${log.slice(-2000)}`);
  });
}

run('a private containerd starts in its own netns and the busybox image imports', async () => {
  dir = mkdtempSync(join(tmpdir(), 'corral-rt-'));
  socket = join(dir, 'containerd.sock');
  await execOk(['ip', 'netns', 'add', netnsName]);
  await execOk(['ip', '-n', netnsName, 'link', 'set', 'lo', 'up']);
  const config = join(dir, 'config.toml');
  writeFileSync(config, containerdConfig({ root: join(dir, 'root'), state: join(dir, 'state'), socket, config }));
  rt = new ContainerdRuntime({ address: socket, stateDir: join(dir, 'containers'), cgroupParent });
  await startContainerd(config);
  assert.match(await rt.version(), /^containerd:\/\/1\./);
  eventsDone = rt.watchEvents((e) => events.push(e), { signal: eventsAbort.signal });

  const tarball = await buildBusyboxImage({ dir: join(tmpdir(), 'corral-test-images') });
  const refs = await rt.images.importTarball(tarball);
  assert.ok(refs.includes(IMAGE), `imported ${refs.join(', ')}`);
  assert.ok(await rt.images.exists('busybox'), 'busybox normalises to the imported image');
  assert.not.ok(await rt.images.exists('busybox:nope'));
  const cfg = await rt.images.config('busybox');
  assert.equal(cfg.cmd, ['sh']);
});

run('pull from a plain-HTTP registry on loopback with credentials; a wrong password is an ImagePull error', async () => {
  // A minimal registry (distribution API v2, read-only, Basic auth) serving the busybox OCI layout.
  const layout = join(dir, 'registry');
  mkdirSync(layout, { recursive: true });
  await execOk(['tar', '-xf', await buildBusyboxImage({ dir: join(tmpdir(), 'corral-test-images') }), '-C', layout]);
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; mediaType: string }[] };
  const manifest = index.manifests[0]!;
  const blob = (digest: string): Buffer => readFileSync(join(layout, 'blobs', 'sha256', digest.replace('sha256:', '')));
  // Unique: other tests on this machine may have a password like it on their own command lines.
  const password = `s3cret-${randomBytes(6).toString('hex')}`;
  const auth = `Basic ${Buffer.from(`puller:${password}`).toString('base64')}`;
  const authorized: string[] = [];
  // Every command line on the machine while ctr waits for the manifest (it is alive then, mid-pull).
  const commandLinesDuringPull: string[][] = [];
  const server = createServer((req, res) => {
    if (req.headers.authorization !== auth) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="corral-test"', 'Content-Type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    const url = req.url ?? '';
    authorized.push(url);
    let m: RegExpExecArray | null;
    if (url === '/v2/' || url === '/v2') { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end('{}'); return; }
    if ((m = /^\/v2\/test\/busybox\/manifests\/(.+)$/.exec(url)) && (m[1] === 'v1' || m[1] === manifest.digest)) {
      commandLinesDuringPull.push(allCommandLines());
      const body = blob(manifest.digest);
      res.writeHead(200, { 'Content-Type': manifest.mediaType, 'Docker-Content-Digest': manifest.digest, 'Content-Length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if ((m = /^\/v2\/test\/busybox\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url))) {
      const body = blob(m[1]!);
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Docker-Content-Digest': m[1]!, 'Content-Length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end('{"errors":[{"code":"NOT_FOUND"}]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    const ref = `127.0.0.1:${port}/test/busybox:v1`;
    try {
      await rt.images.pull(ref, { plainHttp: true, credentials: { username: 'puller', password: 'wrong' }, timeoutMs: 30_000 });
      assert.unreachable('a wrong password must fail');
    } catch (err) {
      assert.ok(isRuntimeError(err, 'ImagePull'), String(err));
    }
    const pulled = await rt.images.pull(ref, { plainHttp: true, credentials: { username: 'puller', password }, timeoutMs: 30_000 });
    assert.is(pulled.ref, ref);
    assert.is(pulled.digest, manifest.digest);
    // (Layer blobs are already in the content store from the import, so only the manifest must travel.)
    assert.ok(authorized.some((u) => u.includes('/manifests/')), `the manifest was fetched with the credentials: ${authorized.join(' ')}`);
    // No secret on a command line: ctr got the user name only and read the password from its terminal.
    assert.ok(commandLinesDuringPull.length > 0);
    for (const snapshot of commandLinesDuringPull) {
      const pull = snapshot.find((c) => c.includes('images pull') && c.includes(ref));
      assert.ok(pull, 'the ctr pull was running when the snapshot was taken');
      assert.match(pull, '--user puller ');
      assert.equal(snapshot.filter((c) => c.includes(password)).map((c) => c.slice(0, 300)), [], 'the registry password is readable in /proc/*/cmdline');
    }
    assert.ok(await rt.images.exists(ref));
    await rt.images.remove(ref);
    assert.not.ok(await rt.images.exists(ref));
  } finally {
    server.close();
  }
});

run('a container writes stdout and stderr to its log file and its exit code 3 is read back', async () => {
  await rt.run(podSpec('exit3', ['sh', '-c', 'echo to-stdout; echo to-stderr >&2; exit 3']));
  await waitTaskStopped('exit3');
  // The shim may still be copying the last output when the task shows STOPPED: give it a moment.
  const logFile = join(dir, 'logs', 'exit3.log');
  const readLog = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  await waitFor('both streams in the log', () => /to-stdout/.test(readLog()) && /to-stderr/.test(readLog()), 5_000).catch(() => undefined);
  const log = readLog();
  assert.match(log, /to-stdout/);
  assert.match(log, /to-stderr/);
  const exit = await rt.deleteTask('exit3');
  assert.equal(exit, { exitCode: 3 });
  await waitFor('exit event', () => events.some((e) => e.topic === '/tasks/exit' && e.body['container_id'] === 'exit3'), 5_000);
  const ev = events.find((e) => e.topic === '/tasks/exit' && e.body['container_id'] === 'exit3')!;
  assert.is(ev.body['exit_status'], 3);
  // A new task in the same container (an in-place restart) logs to the same file.
  await rt.startTask('exit3');
  await waitTaskStopped('exit3');
  assert.equal(await rt.deleteTask('exit3'), { exitCode: 3 });
  assert.is(readFileSync(join(dir, 'logs', 'exit3.log'), 'utf8').split('to-stdout').length - 1, 2, 'the log is appended to');
  await rt.remove('exit3');
  // An exit code of 0 is reported as 0 (ctr prints nothing for it).
  await rt.run(podSpec('exit0', ['true']));
  await waitTaskStopped('exit0');
  assert.equal(await rt.deleteTask('exit0'), { exitCode: 0 });
  await rt.remove('exit0');
});

run('what a container writes to stderr just before it exits is in its log, also after an in-place restart', async () => {
  // containerd 1.6's shim closes a shared log file when stdout ends, under the stderr copy that may
  // still be writing: a crashing program's last words on stderr were lost in a share of runs.
  const ids = Array.from({ length: 12 }, (_, i) => `last-words-${i}`);
  const script = 'echo error-$HOSTNAME >&2; echo out-$HOSTNAME';
  await Promise.all(ids.map((id) => rt.run(podSpec(id, ['sh', '-c', script], { hostname: id }))));
  const logOf = (id: string): string => readFileSync(join(dir, 'logs', `${id}.log`), 'utf8');
  /** The containers whose log does not hold `runs` stderr lines once every task stopped. */
  const lost = async (runs: number): Promise<string[]> => {
    for (const id of ids) await waitTaskStopped(id);
    // Give a stopped task's copy time to finish, so only an output that never comes is counted.
    await waitFor('stdout of every container', () => ids.every((id) => logOf(id).split(`out-${id}`).length - 1 === runs), 5_000).catch(() => undefined);
    await sleep(300);
    return ids.filter((id) => logOf(id).split(`error-${id}`).length - 1 !== runs).map((id) => `${id}: ${JSON.stringify(logOf(id))}`);
  };
  assert.equal(await lost(1), [], 'stderr lines missing from the logs');
  for (const id of ids) await rt.deleteTask(id);
  await Promise.all(ids.map((id) => rt.startTask(id)));
  assert.equal(await lost(2), [], 'stderr lines missing from the logs after a restart');
  for (const id of ids) await rt.remove(id);
});

run('the hostname is the pod name, exec relays stdio and exit codes, user and env are applied', async () => {
  await rt.run(podSpec('web-0', ['sleep', '300'], { hostname: 'web-0', env: { GREETING: 'hi there' }, user: { uid: 1000, gid: 2000 } }));
  const hostnameFile = await execIn('web-0', 'e1', ['cat', '/etc/hostname']);
  assert.is(hostnameFile.code, 0, hostnameFile.stderr);
  assert.is(hostnameFile.stdout, 'web-0\n');
  assert.is((await execIn('web-0', 'e2', ['hostname'])).stdout, 'web-0\n');
  assert.is((await execIn('web-0', 'e3', ['sh', '-c', 'echo $(id -u):$(id -g) "$GREETING"'])).stdout, '1000:2000 hi there\n');
  const failing = await execIn('web-0', 'e4', ['sh', '-c', 'echo oops >&2; exit 7']);
  assert.is(failing.code, 7);
  assert.is(failing.stderr, 'oops\n');
  // stdin reaches the process.
  const session = rt.exec('web-0', { execId: 'e5', args: ['cat'] });
  const out = collect(session.process.stdout);
  session.process.stdin!.end('piped input\n');
  assert.is(await out, 'piped input\n');
});

run('capabilities, devices, read-only bind mounts, working dir and privileged mode are applied', async () => {
  const hostDir = join(dir, 'host-share');
  mkdirSync(hostDir, { recursive: true });
  writeFileSync(join(hostDir, 'greeting'), 'from the host\n');
  await rt.run(podSpec('opts', ['sleep', '300'], {
    capAdd: ['NET_ADMIN'], capDrop: ['CHOWN'], devices: ['/dev/kmsg'], workingDir: '/tmp',
    mounts: [{ source: hostDir, destination: '/share', readOnly: true }],
  }));
  const capEff = (text: string): bigint => BigInt(`0x${/CapEff:\s+([0-9a-f]+)/.exec(text)![1]}`);
  const caps = capEff((await execIn('opts', 'o1', ['cat', '/proc/self/status'])).stdout);
  assert.ok((caps & (1n << 12n)) !== 0n, 'CAP_NET_ADMIN added');
  assert.ok((caps & 1n) === 0n, 'CAP_CHOWN dropped');
  assert.ok((caps & (1n << 21n)) === 0n, 'no CAP_SYS_ADMIN');
  assert.is((await execIn('opts', 'o2', ['sh', '-c', 'test -c /dev/kmsg && echo device'])).stdout, 'device\n');
  assert.is((await execIn('opts', 'o3', ['cat', '/share/greeting'])).stdout, 'from the host\n');
  assert.is.not((await execIn('opts', 'o4', ['touch', '/share/x'])).code, 0, 'read-only mount');
  assert.is((await execIn('opts', 'o5', ['pwd'])).stdout, '/tmp\n');
  // A terminal for `kubectl exec -t`.
  const tty = rt.exec('opts', { execId: 'o6', args: ['tty'], tty: true });
  const ttyOut = collect(tty.process.stdout);
  const ttyCode = await new Promise<number | null>((resolve) => tty.process.on('close', resolve));
  assert.is(ttyCode, 0);
  assert.match(await ttyOut, /\/dev\/pts\/\d+/);
  await rt.remove('opts');

  await rt.run(podSpec('priv', ['sleep', '300'], { privileged: true }));
  const privCaps = capEff((await execIn('priv', 'p1', ['cat', '/proc/self/status'])).stdout);
  assert.ok((privCaps & (1n << 21n)) !== 0n, 'privileged has CAP_SYS_ADMIN');
  await rt.remove('priv');
});

run('a sleep that ignores SIGTERM is killed after the grace period; a shell that traps it exits 0', async () => {
  const started = Date.now();
  const stop = await rt.stop('web-0', { gracePeriodMs: 600 });
  const took = Date.now() - started;
  assert.ok(stop.killed, 'needed SIGKILL');
  assert.ok(took >= 600, `waited the grace period (${took} ms)`);
  assert.equal(await rt.deleteTask('web-0'), { exitCode: 137 });

  await rt.run(podSpec('graceful', ['sh', '-c', 'trap "echo bye; exit 0" TERM; while true; do sleep 0.1; done']));
  await waitFor('graceful running', async () => (await rt.task('graceful'))?.status === 'RUNNING', 5_000);
  await new Promise((r) => setTimeout(r, 300)); // let the shell install its trap
  const graceful = await rt.stop('graceful', { gracePeriodMs: 5_000 });
  assert.not.ok(graceful.killed, 'stopped by SIGTERM alone');
  assert.equal(await rt.deleteTask('graceful'), { exitCode: 0 });
  assert.match(readFileSync(join(dir, 'logs', 'graceful.log'), 'utf8'), /bye/);
});

run('the memory limit is set on the cgroup and exceeding it ends in an OOM kill (137)', async () => {
  const limit = 32 * 1024 * 1024;
  await rt.run(podSpec('hog', ['sh', '-c', 'sleep 0.5; x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived ${#x}'], { memoryLimitBytes: limit, cpus: 0.5 }));
  const v1 = `/sys/fs/cgroup/memory${cgroupParent}/hog/memory.limit_in_bytes`;
  const v2 = `/sys/fs/cgroup${cgroupParent}/hog/memory.max`;
  const limitFile = existsSync(v1) ? v1 : v2;
  assert.is(Number(readFileSync(limitFile, 'utf8').trim()), limit);
  const cpuV1 = `/sys/fs/cgroup/cpu${cgroupParent}/hog/cpu.cfs_quota_us`;
  if (existsSync(cpuV1)) assert.is(readFileSync(cpuV1, 'utf8').trim(), '50000');
  await waitTaskStopped('hog', 30_000);
  assert.equal(await rt.deleteTask('hog'), { exitCode: 137 });
  assert.not.match(readFileSync(join(dir, 'logs', 'hog.log'), 'utf8'), /survived/);
});

run('containers are found again by their labels (AND of all labels)', async () => {
  await rt.run(podSpec('other-pod', ['sleep', '300'], { labels: { 'corral.pod-uid': 'uid-2', 'corral.container-name': 'main' } }));
  const pod1 = (await rt.listContainers({ labels: { 'corral.pod-uid': 'uid-1' } })).map((c) => c.id).sort();
  assert.equal(pod1, ['graceful', 'hog', 'web-0']);
  const one = await rt.listContainers({ labels: { 'corral.pod-uid': 'uid-1', 'corral.container-name': 'web-0' } });
  assert.equal(one.map((c) => c.id), ['web-0']);
  assert.is(one[0]!.logPath, join(dir, 'logs', 'web-0.log'));
  assert.is(one[0]!.image, IMAGE);
  assert.equal((await rt.listContainers({ labels: { 'corral.pod-uid': 'uid-2' } })).map((c) => c.id), ['other-pod']);
  assert.equal(await rt.listContainers({ labels: { 'corral.pod-uid': 'nobody' } }), []);
});

run('tasks and the version read through containerd\'s API are what ctr reports', async () => {
  // other-pod runs; listed-exit's task has stopped and is not deleted yet.
  await rt.run(podSpec('listed-exit', ['true']));
  await waitTaskStopped('listed-exit');
  const listed = (await rt.listTasks()).map((t) => `${t.id} ${t.pid} ${t.status}`).sort();
  const fromCtr = (await rt.ctr.call(['tasks', 'ls'])).stdout.split('\n').slice(1).map((l) => l.trim().split(/\s+/).join(' ')).filter((l) => l !== '').sort();
  assert.ok(listed.some((l) => / RUNNING$/.test(l)) && listed.some((l) => / STOPPED$/.test(l)), listed.join('; '));
  assert.equal(listed, fromCtr);
  const server = (await rt.ctr.call(['version'])).stdout.split('Server:')[1] ?? '';
  assert.is(await rt.version(), `containerd://${/Version:\s+(\S+)/.exec(server)?.[1] ?? '?'}`);
  await rt.remove('listed-exit');
});

run('errors are typed: NotFound, AlreadyExists, Aborted, Unreachable (fast)', async () => {
  try {
    await rt.kill('no-such-container', 'SIGTERM');
    assert.unreachable('kill of a missing task');
  } catch (err) {
    assert.ok(isRuntimeError(err, 'NotFound'), String(err));
  }
  try {
    await rt.run(podSpec('other-pod', ['true']));
    assert.unreachable('duplicate id');
  } catch (err) {
    assert.ok(isRuntimeError(err, 'AlreadyExists'), String(err));
  }
  assert.is((await rt.task('other-pod'))?.status, 'RUNNING', 'the duplicate attempt left the original alone');
  const ac = new AbortController();
  ac.abort();
  try {
    await rt.listTasks({ signal: ac.signal });
    assert.unreachable('aborted');
  } catch (err) {
    assert.ok(isRuntimeError(err, 'Aborted'), String(err));
  }
  const down = new ContainerdRuntime({ address: join(dir, 'missing.sock'), stateDir: join(dir, 'x') });
  const t0 = Date.now();
  try {
    await down.listTasks();
    assert.unreachable('no socket');
  } catch (err) {
    assert.instance(err, RuntimeError);
    assert.is((err as RuntimeError).code, 'Unreachable');
  }
  assert.ok(Date.now() - t0 < 2_000, 'Unreachable is reported without waiting for a dial timeout');
});

/** Writes `text` into a container's stdin FIFO and closes this writer (the shim keeps its own). */
function writeStdin(id: string, text: string): void {
  const fd = openSync(rt.stdinPath(id), constants.O_WRONLY | constants.O_NONBLOCK);
  try { writeSync(fd, text); } finally { closeSync(fd); }
}

async function logHas(id: string, pattern: RegExp): Promise<string> {
  const file = join(dir, 'logs', `${id}.log`);
  let text = '';
  await waitFor(`${id} log matches ${pattern}`, () => pattern.test(text = existsSync(file) ? readFileSync(file, 'utf8') : ''), 10_000, 50)
    .catch((err: unknown) => { throw new Error(`${String(err)}: ${JSON.stringify(text)}`); });
  return text;
}

run('stdin containers: the shim holds the stdin FIFO across writers, CloseIO ends it; a tty container runs on a resizable pty', async () => {
  await rt.run(podSpec('reader', ['sh', '-c', 'while read l; do echo "got:$l"; done; echo eof'], { stdio: { stdin: true, tty: false } }));
  writeStdin('reader', 'one\n');
  writeStdin('reader', 'two\n'); // the first writer went away: no end of file for the container
  await logHas('reader', /got:one\ngot:two\n/);
  assert.is((await rt.task('reader'))?.status, 'RUNNING');
  await rt.tasks.closeStdin('reader');
  await logHas('reader', /got:two\neof\n/);
  await waitTaskStopped('reader');

  await rt.run(podSpec('term', ['sh'], { stdio: { stdin: true, tty: true } }));
  await rt.tasks.resizePty('term', 123, 45);
  writeStdin('term', 'tty; stty size; echo sum-$((40+2))\n');
  const text = await logHas('term', /sum-42/);
  assert.match(text, /\/dev\/pts\/\d+\r\n45 123\r\n/, 'a pty of the requested size (CRLF from its line discipline)');
  await rt.kill('term', 'SIGKILL');
  await waitTaskStopped('term');
  const err = await rt.tasks.resizePty('no-such-task', 80, 24).catch((e: unknown) => e);
  assert.ok(isRuntimeError(err, 'NotFound'), String(err));
  await rt.remove('reader');
  await rt.remove('term');
});

run('after containerd restarts, the Tasks API client connects again and finds the task still running', async () => {
  await rt.run(podSpec('survivor', ['sleep', '300']));
  assert.is((await rt.task('survivor'))?.status, 'RUNNING');
  // The event stream (`ctr events`) would end with containerd: no later test reads it.
  eventsAbort.abort();
  await eventsDone;
  const stopped = new Promise((r) => containerd!.once('exit', r));
  containerd!.kill('SIGTERM');
  await stopped;
  const down = await rt.listTasks().catch((e: unknown) => e);
  assert.ok(isRuntimeError(down, 'Unreachable'), `while containerd is down: ${String(down)}`);
  await startContainerd(join(dir, 'config.toml'));
  await waitFor('containerd answering', async () => (await rt.version().catch(() => '')) !== '', 10_000, 100);
  assert.equal((await rt.listTasks()).filter((t) => t.id === 'survivor').map((t) => t.status), ['RUNNING']);
  await rt.remove('survivor');
});

run('removing every container leaves no tasks, containers, shims, mounts, snapshots or leases', async () => {
  for (const c of await rt.listContainers()) await rt.remove(c.id);
  await rt.remove('never-existed'); // idempotent
  assert.equal(await rt.listTasks(), []);
  assert.equal(await rt.listContainers(), []);
  await waitFor('shims gone', () => processesUsing(socket).length === 0, 5_000);
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(dir));
  assert.equal(mounts, []);
  const snapshots = (await rt.ctr.call(['snapshots', 'ls'])).stdout.split('\n').slice(1).filter((l) => l.trim() !== '');
  assert.ok(snapshots.every((l) => /Committed\s*$/.test(l)), `only image layers remain:\n${snapshots.join('\n')}`);
  const leases = (await rt.ctr.call(['leases', 'ls', '-q'])).stdout.trim();
  assert.is(leases, '');
  assert.equal(readdirSync(join(dir, 'containers')), []);
});

test.after(async () => {
  eventsAbort.abort();
  await eventsDone?.catch(() => undefined);
  if (rt && socket && existsSync(socket)) {
    for (const c of await rt.listContainers().catch(() => [])) await rt.remove(c.id).catch(() => undefined);
  }
  if (containerd && containerd.exitCode === null) {
    containerd.kill('SIGTERM');
    await new Promise((r) => { containerd!.once('exit', r); setTimeout(r, 5_000); });
  }
  for (const pid of socket ? processesUsing(socket) : []) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  for (const sub of ['memory', 'cpu', 'cpuacct', 'pids', 'blkio', 'devices', 'freezer', 'cpuset', 'hugetlb', 'net_cls', 'perf_event', 'net_prio', 'systemd', 'unified', '']) {
    const p = join('/sys/fs/cgroup', sub, cgroupParent);
    try { rmdirSync(p); } catch { /* absent or busy */ }
  }
  await exec(['ip', 'netns', 'delete', netnsName]).catch(() => undefined);
  if (dir) {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const mp = line.split(' ')[4];
      if (mp?.startsWith(dir)) await exec(['umount', '-l', mp]);
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
