/**
 * Migration both ways through `corral backup` / `corral restore`: SQLite → backup → etcd, and etcd →
 * backup → a new SQLite data dir. Every object arrives with its uid and content, and the order of
 * resourceVersions is kept; a restore into an etcd that already holds cluster state is refused.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ServerProcess } from '../support/server-process.js';
import { EtcdCluster, etcdAvailable } from '../support/etcd-process.js';

const KUBECTL = process.env['CORRAL_KUBECTL'] ?? '/usr/lib/google-cloud-sdk/bin/kubectl.1.32';
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'corral.js');
const run = promisify(execFile);

interface Obj { kind: string; metadata: { name: string; namespace?: string; uid: string; resourceVersion: string }; data?: Record<string, string> }

async function kubectl(server: ServerProcess, args: string[]): Promise<string> {
  return (await run(KUBECTL, ['--kubeconfig', server.kubeconfig, ...args], { timeout: 30_000 })).stdout;
}

async function corral(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { timeout: 60_000, env: { ...process.env, CORRAL_LOG_LEVEL: 'warn' } });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** The test's own objects (default namespace ConfigMaps and Secrets), by name. */
async function objects(server: ServerProcess): Promise<Map<string, Obj>> {
  const list = JSON.parse(await kubectl(server, ['get', 'configmaps,secrets', '-l', 'migrate=yes', '-o', 'json'])) as { items: Obj[] };
  return new Map(list.items.map((o) => [`${o.kind}/${o.metadata.name}`, o]));
}

function order(objs: Map<string, Obj>): string[] {
  return [...objs.values()].sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion)).map((o) => `${o.kind}/${o.metadata.name}`);
}

const test = suite('moving the state between SQLite and etcd');
const work = mkdtempSync(join(tmpdir(), 'corral-migrate-'));
const servers: ServerProcess[] = [];
const clusters: EtcdCluster[] = [];

test.after(async () => {
  for (const s of servers) await s.destroy();
  for (const c of clusters) await c.stop();
  rmSync(work, { recursive: true, force: true });
});

if (etcdAvailable()) {
  test('SQLite → backup → etcd → backup → SQLite keeps every object, uid and the write order', async () => {
    const sqlite = await ServerProcess.start({ extraArgs: ['--disable-controllers'] });
    servers.push(sqlite);
    for (let i = 0; i < 12; i++) {
      const kind = i % 3 === 0 ? 'secret generic' : 'configmap';
      await kubectl(sqlite, ['create', ...kind.split(' '), `obj-${i}`, `--from-literal=n=${i}`]);
      await kubectl(sqlite, ['label', kind.split(' ')[0]!, `obj-${i}`, 'migrate=yes']);
    }
    // Touch an early object last, so write order differs from name order.
    await kubectl(sqlite, ['annotate', 'configmap', 'obj-1', 'touched=late']);
    const original = await objects(sqlite);
    assert.is(original.size, 12);

    const backup1 = join(work, 'from-sqlite.db');
    const b1 = await corral(['backup', backup1, '--data-dir', sqlite.dataDir]);
    assert.is(b1.code, 0, b1.out);

    const etcd = await EtcdCluster.start(1);
    clusters.push(etcd);
    const endpoint = etcd.endpoints.join(',');
    const r1 = await corral(['restore', backup1, '--datastore-endpoint', endpoint]);
    assert.is(r1.code, 0, r1.out);
    assert.match(r1.out, /restored .* into etcd at http:\/\/127\.0\.0\.1:\d+: \d+ objects/);
    const again = await corral(['restore', backup1, '--datastore-endpoint', endpoint]);
    assert.is.not(again.code, 0);
    assert.match(again.out, /already holds \d+ keys under \/registry\/: restore needs an etcd without cluster state/);

    // The etcd server reuses the SQLite server's data dir: same CA and tokens, as an operator would.
    await sqlite.stop();
    const onEtcd = await ServerProcess.start({ dataDir: sqlite.dataDir, extraArgs: ['--disable-controllers', '--datastore-endpoint', endpoint], env: { CORRAL_TOKEN: 'test-cluster-secret-0123456789' } });
    servers.push(onEtcd);
    const inEtcd = await objects(onEtcd);
    assert.equal([...inEtcd.keys()].sort(), [...original.keys()].sort());
    for (const [name, o] of original) {
      assert.is(inEtcd.get(name)!.metadata.uid, o.metadata.uid, `${name} keeps its uid`);
      assert.equal(inEtcd.get(name)!.data, o.data);
    }
    assert.equal(order(inEtcd), order(original), 'resourceVersions keep their order');

    await kubectl(onEtcd, ['create', 'configmap', 'made-on-etcd', '--from-literal=x=1']);
    await kubectl(onEtcd, ['label', 'configmap', 'made-on-etcd', 'migrate=yes']);
    const withNew = await objects(onEtcd);
    const backup2 = join(work, 'from-etcd.db');
    const b2 = await corral(['backup', backup2, '--datastore-endpoint', endpoint]);
    assert.is(b2.code, 0, b2.out);
    assert.match(b2.out, /backup written to .*: etcd revision \d+, \d+ objects/);
    assert.is(statSync(backup2).mode & 0o777, 0o600);

    const fresh = join(work, 'fresh-data');
    const r2 = await corral(['restore', backup2, '--data-dir', fresh]);
    assert.is(r2.code, 0, r2.out);
    const back = await ServerProcess.start({ dataDir: fresh, extraArgs: ['--disable-controllers'] });
    servers.push(back);
    const inSqlite = await objects(back);
    assert.equal([...inSqlite.keys()].sort(), [...withNew.keys()].sort());
    for (const [name, o] of withNew) assert.is(inSqlite.get(name)!.metadata.uid, o.metadata.uid, `${name} keeps its uid`);
    assert.equal(order(inSqlite), order(withNew), 'resourceVersions keep their order on the way back');
  });
}

test.run();
