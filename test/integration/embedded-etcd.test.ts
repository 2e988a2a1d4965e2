/**
 * Three `corral server` processes that form their own etcd cluster (Debian's etcd-server, supervised by
 * each server), on loopback: the first with --cluster-init, the second with --server FIRST, the third
 * with --server DOWN,SECOND (the first address answers nothing). They serve one API (same CA, same
 * admin token; an object written through one is read through another); etcd speaks TLS only, takes its
 * settings from a 0600 file and has no secret on its command line; a killed member is restarted by its
 * server; kill -9 a whole server and its member and writes go on through the other two; a server with
 * a wrong cluster token is refused with a clear message and adds no member.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, mkdtempSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, ServerProcess } from '../support/server-process.js';
import { etcdAvailable } from '../support/etcd-process.js';
import { waitUntil } from '../support/wait.js';
import type { KubeObject } from '../../api/meta.js';
import { accessFromToken, nodeServerUrl } from '../../installer/join/cluster.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'corral.js');
const SECRET = 'embedded-etcd-test-secret-3a9c51d2e7';

interface Member { server: ServerProcess; clientPort: number; peerPort: number }
interface Ctx { a: Member; b: Member; c: Member }
const test = suite<Ctx>('servers with embedded etcd (--cluster-init / --server)');

const etcdDir = (m: Member): string => join(m.server.dataDir, 'server', 'etcd');
const etcdPid = (m: Member): number => Number(readFileSync(join(etcdDir(m), 'etcd.pid'), 'utf8').trim());

async function startMember(join_: string[] | undefined, env: Record<string, string> = {}): Promise<Member> {
  const clientPort = await freePort();
  const peerPort = await freePort();
  const server = await ServerProcess.start({
    extraArgs: [
      ...(join_ ? ['--server', join_.join(',')] : ['--cluster-init']),
      '--advertise-address', '127.0.0.1', '--etcd-client-port', String(clientPort), '--etcd-peer-port', String(peerPort),
    ],
    env: { CORRAL_TOKEN: SECRET, CORRAL_LEADER_LEASE_SECONDS: '3', CORRAL_LOG_LEVEL: 'info', ...env },
  });
  return { server, clientPort, peerPort };
}

/** etcdctl against `m`'s member with its server's client certificate. */
function etcdctl(m: Member, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const tls = join(etcdDir(m), 'tls');
  return spawnSync('etcdctl', ['--endpoints', `https://127.0.0.1:${m.clientPort}`, '--cacert', join(tls, 'ca.crt'), '--cert', join(tls, 'client.crt'), '--key', join(tls, 'client.key'), '--command-timeout', '5s', ...args], {
    encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' }, timeout: 10_000,
  });
}

function configMap(name: string, value: string): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { value } } as KubeObject;
}

async function killPid(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitUntil(`pid ${pid} is gone`, async () => !existsSync(`/proc/${pid}`) || /^\S+\s+\S+\s+Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/\(.*\)/, 'x')), 10_000, 50);
}

if (etcdAvailable()) {
  test.before(async (ctx) => {
    ctx.a = await startMember(undefined);
    ctx.b = await startMember([ctx.a.server.url]);
    // The first address answers nothing: the join moves on to the second.
    ctx.c = await startMember([`https://127.0.0.1:${await freePort()}`, ctx.b.server.url]);
  });

  test.after(async (ctx) => {
    for (const m of [ctx.a, ctx.b, ctx.c]) {
      if (!m) continue;
      const pid = existsSync(join(etcdDir(m), 'etcd.pid')) ? etcdPid(m) : undefined;
      await m.server.destroy();
      // A server killed with -9 leaves its member to us.
      if (pid !== undefined) await killPid(pid);
    }
  });

  test('three members, TLS only, settings from a private file, nothing secret on etcd\'s command line', (ctx) => {
    const list = etcdctl(ctx.a, ['member', 'list', '-w', 'json']);
    assert.is(list.status, 0, list.stderr);
    const members = (JSON.parse(list.stdout) as { members: { name: string; peerURLs: string[] }[] }).members;
    assert.is(members.length, 3, list.stdout);
    assert.equal(members.map((m) => m.peerURLs[0]).sort(), [ctx.a, ctx.b, ctx.c].map((m) => `https://127.0.0.1:${m.peerPort}`).sort());
    for (const m of [ctx.a, ctx.b, ctx.c]) {
      const dir = etcdDir(m);
      assert.is(statSync(join(dir, 'config.yaml')).mode & 0o777, 0o600, 'the config file is private');
      for (const key of ['ca.key', 'server.key', 'peer.key', 'client.key']) assert.is(statSync(join(dir, 'tls', key)).mode & 0o777, 0o600, key);
      assert.is(statSync(join(dir, 'data')).mode & 0o777, 0o700);
      const cmdline = readFileSync(`/proc/${etcdPid(m)}/cmdline`, 'utf8').split('\0').filter(Boolean);
      assert.equal(cmdline.slice(1), ['--config-file', join(dir, 'config.yaml')]);
      const config = readFileSync(join(dir, 'config.yaml'), 'utf8');
      assert.match(config, /client-cert-auth: true/);
      assert.not.match(config, new RegExp(SECRET));
    }
    // No plain-HTTP client port, and no client without a certificate from the etcd CA.
    const plain = spawnSync('etcdctl', ['--endpoints', `http://127.0.0.1:${ctx.a.clientPort}`, '--command-timeout', '3s', 'endpoint', 'health'], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' }, timeout: 10_000 });
    assert.is.not(plain.status, 0);
    const noCert = spawnSync('etcdctl', ['--endpoints', `https://127.0.0.1:${ctx.a.clientPort}`, '--cacert', join(etcdDir(ctx.a), 'tls', 'ca.crt'), '--command-timeout', '3s', 'get', '/corral/bootstrap'], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' }, timeout: 10_000 });
    assert.is.not(noCert.status, 0, 'a client without a certificate is refused');
  });

  test('one API: same CA and admin token; written through one server, read through the others', async (ctx) => {
    for (const m of [ctx.b, ctx.c]) {
      assert.is(m.server.caPem, ctx.a.server.caPem);
      assert.is(m.server.token, ctx.a.server.token);
    }
    await ctx.a.server.client.create('ConfigMap', 'default', configMap('written-on-a', 'from a'));
    for (const m of [ctx.b, ctx.c]) {
      const got = await m.server.client.get<KubeObject & { data?: Record<string, string> }>('ConfigMap', 'default', 'written-on-a');
      assert.is(got.data?.['value'], 'from a');
    }
    await ctx.c.server.client.create('ConfigMap', 'default', configMap('written-on-c', 'from c'));
    const onA = await ctx.a.server.client.get<KubeObject & { data?: Record<string, string> }>('ConfigMap', 'default', 'written-on-c');
    assert.is(onA.data?.['value'], 'from c');
  });

  test('corral backup on a server machine reads its own member', (ctx) => {
    const file = join(ctx.a.server.dataDir, 'backup.db');
    const r = spawnSync(process.execPath, [CLI, 'backup', file, '--data-dir', ctx.b.server.dataDir], { encoding: 'utf8', timeout: 60_000 });
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /etcd revision \d+, \d+ objects/);
    assert.ok(statSync(file).size > 10_000);
  });

  test('a wrong cluster token is refused with a clear error, and no member is added', async (ctx) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'corral-it-wrongtoken-'));
    try {
      const child = spawn(process.execPath, [CLI, 'server', '--server', ctx.a.server.url, '--data-dir', dataDir, '--port', String(await freePort()),
        '--bind-address', '127.0.0.1', '--advertise-address', '127.0.0.1', '--disable-agent',
        '--etcd-client-port', String(await freePort()), '--etcd-peer-port', String(await freePort())], {
        env: { ...process.env, CORRAL_TOKEN: 'not-the-cluster-token-0000', CORRAL_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
      child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      assert.is.not(code, 0, out);
      assert.match(out, /does not hold this cluster token/);
      // The server's side: a wrong bearer on the member route is 401 with the reason.
      const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${ctx.a.server.url}/v1-corral/server-join/member`, { method: 'POST', ca: ctx.a.server.caPem, headers: { authorization: 'Bearer not-the-cluster-token-0000', 'content-type': 'application/json' } }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => { body += d.toString(); });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ name: 'intruder', peerUrl: 'https://127.0.0.1:1' }));
      });
      assert.is(reply.status, 401, reply.body);
      assert.match(reply.body, /cluster token does not match/);
      const list = etcdctl(ctx.a, ['member', 'list', '-w', 'json']);
      assert.is((JSON.parse(list.stdout) as { members: unknown[] }).members.length, 3, list.stdout);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('corral join --server with several addresses, the first down: the installer uses the next, nodes get them all', async (ctx) => {
    const created = spawnSync(process.execPath, [CLI, 'token', 'create', '--ttl', '10m', '--data-dir', ctx.a.server.dataDir], { encoding: 'utf8' });
    assert.is(created.status, 0, created.stderr);
    const down = `https://127.0.0.1:${await freePort()}`;
    const access = await accessFromToken(`${down},${ctx.c.server.url}`, created.stdout.trim());
    assert.is(access.url, ctx.c.server.url);
    assert.equal(access.urls, [down, ctx.c.server.url]);
    assert.is(nodeServerUrl(access, '127.0.0.1'), `${down},${ctx.c.server.url}`);
    // The token made on a is good on c (one token set), and so is the node credential it trades for.
    const credential = await waitUntil('the token made on a is known to c', () => access.nodeToken('ha-node-1').catch(() => undefined), 15_000, 300);
    assert.match(credential, /^K10[0-9a-f]{64}::/);
    const none = await accessFromToken(down, created.stdout.trim()).then(() => 'joined', (err: Error) => err.message);
    assert.match(none, /cannot reach the server at https:\/\/127\.0\.0\.1/);
  });

  test('a member that dies is restarted by its server', async (ctx) => {
    const before = etcdPid(ctx.a);
    await killPid(before);
    const after = await waitUntil('a new etcd pid', async () => {
      const pid = existsSync(join(etcdDir(ctx.a), 'etcd.pid')) ? etcdPid(ctx.a) : before;
      return pid !== before && existsSync(`/proc/${pid}`) ? pid : undefined;
    }, 20_000, 100);
    assert.ok(after > 0);
    await waitUntil('writes through a work again', async () => {
      try {
        await ctx.a.server.client.create('ConfigMap', 'default', configMap('after-etcd-restart', 'x'));
        return true;
      } catch {
        return false;
      }
    }, 30_000, 300);
    assert.match(ctx.a.server.logs, /etcd exited .*restarting/);
  });

  test('kill -9 a server and its member: writes go on through the other two', async (ctx) => {
    const pid = etcdPid(ctx.b);
    await ctx.b.server.stop('SIGKILL');
    await killPid(pid);
    for (let i = 0; i < 5; i++) {
      await waitUntil(`write ${i} through a`, async () => {
        try {
          await ctx.a.server.client.create('ConfigMap', 'default', configMap(`after-b-died-${i}`, String(i)));
          return true;
        } catch (err) {
          return /already exists/.test((err as Error).message);
        }
      }, 20_000, 300);
    }
    for (let i = 0; i < 5; i++) {
      const got = await ctx.c.server.client.get<KubeObject & { data?: Record<string, string> }>('ConfigMap', 'default', `after-b-died-${i}`);
      assert.is(got.data?.['value'], String(i));
    }
    await ctx.c.server.client.create('ConfigMap', 'default', configMap('written-on-c-after-b-died', 'c'));
  });
}

test.run();
