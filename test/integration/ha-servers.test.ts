/**
 * Two `corral server` processes on one etcd, each with its own data dir and the same cluster secret:
 * both serve the API; they share one CA and admin token (a kubeconfig made for one works against the
 * other); a token created or revoked with `corral token` on one machine works, or stops working, on
 * the other within seconds; the shared material is encrypted in etcd; exactly one server runs the
 * controllers, and killing it (-9) moves them to the other, which finishes a Deployment's rollout;
 * a client over both servers (the agent's failover transport) carries on through the survivor.
 * A server started with another secret refuses to start.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ServerProcess } from '../support/server-process.js';
import { EtcdCluster, etcdAvailable } from '../support/etcd-process.js';
import { waitUntil } from '../support/wait.js';
import type { Lease } from '../../api/types.js';
import { ApiClient } from '../../api/client/client.js';
import { HttpsTransport } from '../../api/client/transport.js';
import { FailoverTransport } from '../../api/client/failover-transport.js';

const KUBECTL = process.env['CORRAL_KUBECTL'] ?? '/usr/lib/google-cloud-sdk/bin/kubectl.1.32';
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'corral.js');
const run = promisify(execFile);
const SECRET = 'ha-test-cluster-secret-6f1c0b2a9d';

interface Ctx { etcd: EtcdCluster; a: ServerProcess; b: ServerProcess; dead?: ServerProcess; alive?: ServerProcess }
const test = suite<Ctx>('two servers on one etcd');

async function kubectl(kubeconfig: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(KUBECTL, ['--kubeconfig', kubeconfig, ...args], { timeout: 30_000 });
    return { code: 0, out: r.stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** A kubeconfig for `server` with the given bearer token (and the server's own CA file). */
function kubeconfigFor(server: ServerProcess, token: string, name: string): string {
  const text = readFileSync(server.kubeconfig, 'utf8').replace(/token: .*/, `token: ${token}`);
  const file = join(server.dataDir, `${name}.kubeconfig`);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

const start = (etcd: EtcdCluster, extra: string[] = []): Promise<ServerProcess> => ServerProcess.start({
  extraArgs: ['--datastore-endpoint', etcd.endpoints.join(','), ...extra],
  env: { CORRAL_TOKEN: SECRET, CORRAL_LEADER_LEASE_SECONDS: '3', CORRAL_LOG_LEVEL: 'info' },
});

if (etcdAvailable()) {
  test.before(async (ctx) => {
    ctx.etcd = await EtcdCluster.start(1);
    ctx.a = await start(ctx.etcd);
    ctx.b = await start(ctx.etcd);
  });

  test.after(async (ctx) => {
    await ctx.a?.destroy();
    await ctx.b?.destroy();
    await ctx.etcd?.stop();
  });

  test('one CA and one admin token: either server\'s kubeconfig works against the other', async (ctx) => {
    const caA = readFileSync(join(ctx.a.dataDir, 'server', 'tls', 'ca.crt'), 'utf8');
    const caB = readFileSync(join(ctx.b.dataDir, 'server', 'tls', 'ca.crt'), 'utf8');
    assert.is(caB, caA);
    const adminA = readFileSync(join(ctx.a.dataDir, 'server', 'admin-token'), 'utf8').trim();
    // a's kubeconfig pointed at b's port.
    const crossed = readFileSync(ctx.a.kubeconfig, 'utf8').replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${ctx.b.port}`);
    const file = join(ctx.a.dataDir, 'crossed.kubeconfig');
    writeFileSync(file, crossed, { mode: 0o600 });
    const r = await kubectl(file, ['get', 'namespaces']);
    assert.is(r.code, 0, r.out);
    assert.match(r.out, /kube-system/);
    assert.ok(adminA.length > 10);
    const stored = spawnSync('etcdctl', ['--endpoints', ctx.etcd.endpoints.join(','), 'get', '/corral/bootstrap', '--print-value-only'], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } });
    assert.ok(stored.stdout.length > 100, 'bootstrap data is in etcd');
    assert.not.match(stored.stdout, /BEGIN|PRIVATE KEY/, 'and it is encrypted');
    assert.not.ok(stored.stdout.includes(adminA), 'the admin token is not readable in etcd');
  });

  test('a token created on one server works on the other; revoked there, it stops working here', async (ctx) => {
    const created = spawnSync(process.execPath, [CLI, 'token', 'create', '--role', 'viewer', '--data-dir', ctx.a.dataDir, '--description', 'ha test'], { encoding: 'utf8' });
    assert.is(created.status, 0, created.stderr);
    const token = created.stdout.trim();
    const onB = kubeconfigFor(ctx.b, token, 'viewer');
    await waitUntil('the viewer token works on b', async () => (await kubectl(onB, ['get', 'pods'])).code === 0, 15_000, 300);
    const id = token.split('.')[0]!;
    const revoked = spawnSync(process.execPath, [CLI, 'token', 'revoke', id, '--data-dir', ctx.b.dataDir], { encoding: 'utf8' });
    assert.is(revoked.status, 0, revoked.stderr);
    const onA = kubeconfigFor(ctx.a, token, 'viewer');
    await waitUntil('the revoked token fails on a', async () => {
      const r = await kubectl(onA, ['get', 'pods']);
      return r.code !== 0 && /Unauthorized|You must be logged in/.test(r.out);
    }, 15_000, 300);
  });

  test('one server runs the controllers; kill -9 it and the other takes over and finishes a rollout', async (ctx) => {
    const leaseOf = async (): Promise<Lease> => ctx.a.client.get<Lease>('Lease', 'kube-system', 'corral-controllers').catch(() => ctx.b.client.get<Lease>('Lease', 'kube-system', 'corral-controllers'));
    const holder = await waitUntil('a controllers leader', async () => (await leaseOf()).spec?.holderIdentity, 15_000, 200);
    const leaderIsA = await waitUntil('the leader logs it', async () => {
      if (/became leader/.test(ctx.a.logs)) return 'a';
      if (/became leader/.test(ctx.b.logs)) return 'b';
      return undefined;
    }, 15_000, 200);
    const [leader, other] = leaderIsA === 'b' ? [ctx.b, ctx.a] : [ctx.a, ctx.b];
    await leader.stop('SIGKILL');
    ctx.dead = leader;
    ctx.alive = other;
    const killedAt = Date.now();
    const r = await kubectl(other.kubeconfig, ['create', 'deployment', 'after-failover', '--image=busybox', '--replicas=5']);
    assert.is(r.code, 0, r.out);
    await waitUntil('the new leader holds the Lease', async () => {
      const l = await other.client.get<Lease>('Lease', 'kube-system', 'corral-controllers');
      return l.spec?.holderIdentity !== holder;
    }, 20_000, 200);
    await waitUntil('the Deployment\'s 5 pods exist (controllers run on the survivor)', async () => {
      const out = await kubectl(other.kubeconfig, ['get', 'pods', '-l', 'app=after-failover', '-o', 'name']);
      return out.code === 0 && out.out.trim().split('\n').filter(Boolean).length === 5;
    }, 30_000, 300);
    assert.ok(Date.now() - killedAt < 30_000);
  });

  test('a client over both servers (the agent\'s failover transport) carries on through the survivor', async (ctx) => {
    const dead = ctx.dead!;
    const alive = ctx.alive!;
    const token = readFileSync(join(alive.dataDir, 'server', 'admin-token'), 'utf8').trim();
    const caPem = readFileSync(join(alive.dataDir, 'server', 'tls', 'ca.crt'), 'utf8');
    const transport = new FailoverTransport([dead, alive].map((s) => ({ name: s.url, transport: new HttpsTransport({ server: s.url, caPem, token, timeoutMs: 5_000 }) })));
    try {
      const client = new ApiClient(transport);
      const list = await client.list('Namespace');
      assert.ok(list.items.some((n) => n.metadata.name === 'kube-system'), 'a read moved to the survivor');
      assert.is(transport.active, alive.url);
      const made = await client.create('ConfigMap', 'default', { metadata: { name: 'via-failover' } });
      assert.is(made.metadata.name, 'via-failover', 'a write to a refused connection moved too');
    } finally {
      transport.close();
    }
  });

  test('a server with another secret refuses to start', async (ctx) => {
    const r = spawnSync(process.execPath, [CLI, 'server', '--data-dir', join(ctx.a.dataDir, '..', 'wrong-secret'), '--port', '0', '--bind-address', '127.0.0.1',
      '--disable-agent', '--datastore-endpoint', ctx.etcd.endpoints.join(',')], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, CORRAL_TOKEN: 'another-secret-entirely-0000', CORRAL_LOG_LEVEL: 'warn' } });
    assert.is(r.status, 1, 'exits (the etcd connection does not keep it alive)');
    assert.match(r.stderr + r.stdout, /cannot be decrypted with this server's token: start every server with the same --token-file/);
  });
}

test.run();
