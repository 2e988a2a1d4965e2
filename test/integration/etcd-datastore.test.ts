/**
 * `corral server --datastore-endpoint` on a real etcd (loopback): the controllers and kubectl work
 * as on SQLite, an object's resourceVersion is etcd's mod_revision of its key, nothing is written to
 * the data dir's SQLite file, the state survives a server restart, Events carry an etcd lease (etcd
 * removes them itself), and an unreachable etcd or a missing cluster secret stops the start with a
 * message that names it.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { paths } from '../../server/config.js';
import { ServerProcess } from '../support/server-process.js';
import { EtcdCluster, etcdAvailable } from '../support/etcd-process.js';
import { waitUntil } from '../support/wait.js';

const KUBECTL = process.env['CORRAL_KUBECTL'] ?? '/usr/lib/google-cloud-sdk/bin/kubectl.1.32';
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'corral.js');
const run = promisify(execFile);

interface Ctx { etcd: EtcdCluster; server: ServerProcess }
const test = suite<Ctx>('corral server on etcd');

async function kubectl(ctx: Ctx, args: string[]): Promise<string> {
  const r = await run(KUBECTL, ['--kubeconfig', ctx.server.kubeconfig, ...args], { timeout: 30_000 });
  return r.stdout;
}

function etcdctlJson(ctx: Ctx, args: string[]): { kvs?: { key: string; mod_revision: number; lease?: number }[] } {
  const r = spawnSync('etcdctl', ['--endpoints', ctx.etcd.endpoints.join(','), ...args, '-w', 'json'], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } });
  if (r.status !== 0) throw new Error(`etcdctl ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as { kvs?: { key: string; mod_revision: number; lease?: number }[] };
}

if (etcdAvailable()) {
  test.before(async (ctx) => {
    ctx.etcd = await EtcdCluster.start(1);
    ctx.server = await ServerProcess.start({ extraArgs: ['--datastore-endpoint', ctx.etcd.endpoints.join(',')], env: { CORRAL_TOKEN: 'test-cluster-secret-0123456789' } });
  });

  test.after(async (ctx) => {
    await ctx.server?.destroy();
    await ctx.etcd?.stop();
  });

  test('kubectl and the controllers work; resourceVersion is etcd\'s mod_revision; no SQLite file', async (ctx) => {
    await kubectl(ctx, ['create', 'deployment', 'web', '--image=busybox', '--replicas=3']);
    await waitUntil('the Deployment\'s 3 pods exist', async () => {
      const out = await kubectl(ctx, ['get', 'pods', '-l', 'app=web', '-o', 'name']);
      return out.trim().split('\n').filter(Boolean).length === 3;
    }, 30_000, 300);
    const cm = JSON.parse(await kubectl(ctx, ['create', 'configmap', 'settings', '--from-literal=a=1', '-o', 'json'])) as { metadata: { resourceVersion: string } };
    const kv = etcdctlJson(ctx, ['get', '/registry/core/configmaps/default/settings']).kvs?.[0];
    assert.ok(kv, 'the ConfigMap is a key in etcd');
    assert.is(String(kv.mod_revision), cm.metadata.resourceVersion);
    assert.not.ok(existsSync(paths.db(ctx.server.dataDir)), 'no SQLite database in the data dir');
  });

  test('Events are written with an etcd lease, so etcd expires them', async (ctx) => {
    await waitUntil('an Event exists', async () => (etcdctlJson(ctx, ['get', '--prefix', '/registry/core/events/']).kvs ?? []).length > 0, 30_000, 300);
    const events = etcdctlJson(ctx, ['get', '--prefix', '/registry/core/events/']).kvs ?? [];
    assert.ok(events.every((e) => (e.lease ?? 0) !== 0), 'every Event key carries a lease');
  });

  test('the state survives a server restart', async (ctx) => {
    await ctx.server.restart();
    const names = (await kubectl(ctx, ['get', 'deployments,configmaps', '-o', 'name'])).split('\n');
    assert.ok(names.includes('deployment.apps/web'), names.join(','));
    assert.ok(names.includes('configmap/settings'), names.join(','));
  });

  test('an unreachable etcd stops the start with a message that names it', async () => {
    const r = spawnSync(process.execPath, [CLI, 'server', '--data-dir', join(dirname(CLI), '..', 'no-such-dir-for-etcd-test'), '--port', '0', '--bind-address', '127.0.0.1',
      '--disable-agent', '--datastore-endpoint', 'http://127.0.0.1:9'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, CORRAL_LOG_LEVEL: 'warn', CORRAL_TOKEN: 'test-cluster-secret-0123456789' } });
    assert.is(r.status, 1, 'exits');
    assert.match(r.stderr + r.stdout, /cannot reach etcd at http:\/\/127\.0\.0\.1:9/);
    const noSecret = spawnSync(process.execPath, [CLI, 'server', '--datastore-endpoint', 'http://127.0.0.1:9'], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, CORRAL_TOKEN: '' } });
    assert.is.not(noSecret.status, 0);
    assert.match(noSecret.stderr, /--datastore-endpoint needs the cluster secret all servers share: --token-file FILE/);
    const bad = spawnSync(process.execPath, [CLI, 'server', '--datastore-endpoint', 'etcd1:2379'], { encoding: 'utf8', timeout: 20_000 });
    assert.is.not(bad.status, 0);
    assert.match(bad.stderr, /invalid --datastore-endpoint "etcd1:2379"/);
  });
}

test.run();
