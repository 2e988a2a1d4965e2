/**
 * The `corral` CLI against real servers: an online backup taken while the server writes is one
 * consistent revision and a server started on the restored data dir serves exactly the objects up to
 * it; restore refuses a running server; `corral status` shows nodes and warnings; settings precedence
 * flag > CORRAL_* environment > config file > default; `--help` on every command.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConfigMap, Event, Node } from '../../api/types.js';
import { configFileEnv } from '../../cli/config-file.js';
import { ServerProcess } from '../support/server-process.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'corral.js');

interface CliResult { code: number; stdout: string; stderr: string }

/** Runs `corral ARGS` with a clean CORRAL_* environment plus `env`. */
function corral(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CORRAL_'))) as Record<string, string>;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...base, CORRAL_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const it = suite<{ server: ServerProcess; scratch: string }>('corral CLI');

it.before(async (ctx) => {
  ctx.scratch = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  ctx.server = await ServerProcess.start();
});

it.after(async (ctx) => {
  await ctx.server?.destroy();
  if (ctx.scratch) rmSync(ctx.scratch, { recursive: true, force: true });
});

it('backup while the server writes → restore into a new data dir → the same objects up to the backup revision', async (ctx) => {
  const client = ctx.server.client;
  const written = new Map<string, number>();
  let stop = false;
  let n = 0;
  const writer = async (): Promise<void> => {
    while (!stop) {
      const name = `cm-${n++}`;
      const cm = await client.create<ConfigMap>('ConfigMap', 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { n: name } });
      written.set(name, Number(cm.metadata.resourceVersion));
    }
  };
  const writers = [writer(), writer(), writer()];
  while (written.size < 30) await new Promise((r) => setTimeout(r, 20));
  const file = join(ctx.scratch, 'backup.db');
  const backup = await corral(['backup', file, '--data-dir', ctx.server.dataDir]);
  const writtenDuringBackup = written.size;
  while (written.size < writtenDuringBackup + 30) await new Promise((r) => setTimeout(r, 20));
  stop = true;
  await Promise.all(writers);
  assert.is(backup.code, 0, backup.stderr);
  const m = /revision (\d+), (\d+) objects, .*integrity ok/.exec(backup.stdout);
  assert.ok(m, `backup output: ${backup.stdout}`);
  const revision = Number(m![1]);
  const expected = [...written].filter(([, rv]) => rv <= revision).map(([name]) => name).sort();
  const after = [...written].filter(([, rv]) => rv > revision).length;
  assert.ok(expected.length >= 30, `the backup holds the writes before it (${expected.length})`);
  assert.ok(after >= 30, 'writes went on after the backup');
  assert.not.ok(readdirSync(ctx.scratch).some((f) => f.includes('.partial-')), 'no temporary file left');

  const restoredDir = join(ctx.scratch, 'restored');
  const restore = await corral(['restore', file, '--data-dir', restoredDir]);
  assert.is(restore.code, 0, restore.stderr);
  assert.match(restore.stdout, new RegExp(`revision ${revision}`));
  const restored = await ServerProcess.start({ dataDir: restoredDir });
  try {
    const list = await restored.client.listAll<ConfigMap>('ConfigMap', 'default');
    const names = list.items.map((c) => c.metadata.name!).filter((x) => x.startsWith('cm-')).sort();
    assert.equal(names, expected, 'exactly the objects written up to the backup revision');
    const one = await restored.client.get<ConfigMap>('ConfigMap', 'default', expected[0]!);
    assert.is(one.data?.['n'], expected[0]);
    assert.is(one.metadata.resourceVersion, String(written.get(expected[0]!)), 'resourceVersions survive');
    // The restored store keeps counting from the backup revision.
    const fresh = await restored.client.create<ConfigMap>('ConfigMap', 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'after-restore' } });
    assert.ok(Number(fresh.metadata.resourceVersion) > revision);
  } finally {
    await restored.destroy();
  }
  // Restoring again keeps the previous database aside instead of deleting it.
  const again = await corral(['restore', file, '--data-dir', restoredDir]);
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stdout, /previous database kept as .*before-restore/);
  assert.ok(readdirSync(join(restoredDir, 'server', 'db')).some((f) => f.includes('.before-restore-')));
});

it('restore refuses a running server and leaves its database alone', async (ctx) => {
  const file = join(ctx.scratch, 'backup.db');
  const before = await ctx.server.client.listAll('ConfigMap', 'default');
  const r = await corral(['restore', file, '--data-dir', ctx.server.dataDir]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /is running \(pid \d+\): stop it first/);
  const after = await ctx.server.client.listAll('ConfigMap', 'default');
  assert.is(after.items.length, before.items.length);
  assert.not.ok(readdirSync(join(ctx.server.dataDir, 'server', 'db')).some((f) => f.includes('before-restore')));
});

it('restore refuses a file that is not an intact corral store', async (ctx) => {
  const junk = join(ctx.scratch, 'junk.db');
  writeFileSync(junk, 'this is not a database');
  const r = await corral(['restore', junk, '--data-dir', join(ctx.scratch, 'never')]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /corral restore: /);
  assert.not.ok(existsSync(join(ctx.scratch, 'never', 'server', 'db', 'state.db')));
});

it('status prints nodes, capacity, pods not running and warnings', async (ctx) => {
  const c = ctx.server.client;
  await c.create<Node>('Node', undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'pi-7', labels: { 'kubernetes.io/arch': 'arm64', 'corral.dev/board': 'Raspberry-Pi-4-Model-B' } }, spec: {} });
  const now = new Date().toISOString();
  await c.patchStatus('Node', undefined, 'pi-7', {
    status: {
      capacity: { cpu: '4', memory: '4Gi', pods: '110' }, allocatable: { cpu: '4', memory: '4Gi', pods: '110' },
      conditions: [
        { type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: 'runtime down', lastHeartbeatTime: now, lastTransitionTime: now },
        { type: 'CgroupMemoryDisabled', status: 'True', reason: 'MemoryCgroupDisabled', message: 'add cgroup_enable=memory to cmdline.txt', lastHeartbeatTime: now, lastTransitionTime: now },
      ],
    },
  });
  await c.create('Pod', 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'waiting' }, spec: { nodeName: 'pi-7', containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '1', memory: '1Gi' } } }] } });
  const event: Event = {
    apiVersion: 'v1', kind: 'Event', metadata: { name: 'pi-7.oom', namespace: 'default' },
    involvedObject: { kind: 'Node', name: 'pi-7' }, reason: 'SystemOOM', message: 'System OOM encountered, victim process: node', type: 'Warning',
    firstTimestamp: now, lastTimestamp: now, count: 2, source: { component: 'corral-agent' },
  } as Event;
  await c.create('Event', 'default', event);
  const r = await corral(['status', '--data-dir', ctx.server.dataDir]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /NODES: 0\/1 ready/);
  assert.match(r.stdout, /pi-7\s+NotReady\s+arm64\s+Raspberry-Pi-4-Model-B\s+1\/4 25%\s+1Gi\/4Gi 25%\s+1\/110/);
  assert.match(r.stdout, /default\s+waiting\s+Pending\s+0\s+pi-7/);
  assert.match(r.stdout, /! node pi-7 is NotReady: runtime down/);
  assert.match(r.stdout, /! node pi-7: memory cgroup disabled — add cgroup_enable=memory/);
  assert.match(r.stdout, /node\/pi-7\s+SystemOOM\s+System OOM encountered, victim process: node \(x2\)/);
});

it('status says so when the server is down', async (ctx) => {
  const dir = join(ctx.scratch, 'down');
  mkdirSync(dir, { recursive: true });
  copyFileSync(ctx.server.kubeconfig, join(dir, 'kubeconfig.yaml'));
  // Same kubeconfig, but pointing at a port nobody listens on.
  const text = readFileSync(join(dir, 'kubeconfig.yaml'), 'utf8').replace(/127\.0\.0\.1:\d+/, '127.0.0.1:9');
  writeFileSync(join(dir, 'kubeconfig.yaml'), text);
  const r = await corral(['status', '--data-dir', dir]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /cannot read the cluster from https:\/\/127\.0\.0\.1:9.*is the server running/);
});

it('status finds its kubeconfig as kubectl does: --kubeconfig, KUBECONFIG (merged, current-context), data dir, ~/.kube/config', async (ctx) => {
  const dir = join(ctx.scratch, 'kubeconfigs');
  mkdirSync(dir, { recursive: true });
  const good = readFileSync(ctx.server.kubeconfig, 'utf8');
  const down = good.replace(/127\.0\.0\.1:\d+/, '127.0.0.1:9');
  const context = /current-context:\s*(\S+)/.exec(good)?.[1];
  assert.ok(context, 'the kubeconfig names a current context');
  // A data dir whose kubeconfig points nowhere: every case below that answers did not read it.
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, 'kubeconfig.yaml'), down);
  writeFileSync(join(dir, 'good.yaml'), good);
  writeFileSync(join(dir, 'down.yaml'), down);
  // Only a context entry, no current-context: merged with good.yaml, whose clusters and users it names.
  writeFileSync(join(dir, 'contexts-only.yaml'), `apiVersion: v1\nkind: Config\ncontexts: []\n`);
  const home = mkdtempSync(join(tmpdir(), 'corral-home-'));
  try {
    const viaEnv = await corral(['status'], { HOME: home, CORRAL_DATA_DIR: dataDir, KUBECONFIG: `${join(dir, 'missing.yaml')}:${join(dir, 'contexts-only.yaml')}:${join(dir, 'good.yaml')}:${join(dir, 'down.yaml')}` });
    assert.is(viaEnv.code, 0, viaEnv.stderr);
    assert.match(viaEnv.stdout, /NODES: /);
    // The first file's definitions win: down.yaml first means the dead port.
    const firstWins = await corral(['status'], { HOME: home, CORRAL_DATA_DIR: dataDir, KUBECONFIG: `${join(dir, 'down.yaml')}:${join(dir, 'good.yaml')}` });
    assert.is(firstWins.code, 1);
    assert.match(firstWins.stderr, /127\.0\.0\.1:9/);
    // --kubeconfig beats KUBECONFIG.
    const flag = await corral(['status', '--kubeconfig', join(dir, 'good.yaml')], { HOME: home, CORRAL_DATA_DIR: dataDir, KUBECONFIG: join(dir, 'down.yaml') });
    assert.is(flag.code, 0, flag.stderr);
    // --context names a context that is not there: refused, naming it.
    const badContext = await corral(['status', '--context', 'nope'], { HOME: home, KUBECONFIG: join(dir, 'good.yaml') });
    assert.is(badContext.code, 1);
    assert.match(badContext.stderr, /context "nope" is not in/);
    // Without KUBECONFIG: the data dir's kubeconfig (here the dead one) comes before ~/.kube/config.
    mkdirSync(join(home, '.kube'));
    writeFileSync(join(home, '.kube', 'config'), good);
    const dataFirst = await corral(['status'], { HOME: home, CORRAL_DATA_DIR: dataDir });
    assert.is(dataFirst.code, 1);
    assert.match(dataFirst.stderr, /127\.0\.0\.1:9/);
    // No kubeconfig in the data dir: ~/.kube/config, as kubectl.
    const homeConfig = await corral(['status'], { HOME: home, CORRAL_DATA_DIR: join(dir, 'empty') });
    assert.is(homeConfig.code, 0, homeConfig.stderr);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

it('settings: flag > CORRAL_* environment > config file > default', async (ctx) => {
  const real = ctx.server.dataDir;
  const missing = join(ctx.scratch, 'no-such-dir');
  const config = join(ctx.scratch, 'config.yaml');
  writeFileSync(config, `# corral settings\ndata-dir: ${real}\nlog-level: warn\n`);
  const home = mkdtempSync(join(tmpdir(), 'corral-home-'));
  try {
    // Config file only: its data-dir is used.
    const fromFile = await corral(['kubeconfig', '--config', config], { HOME: home });
    assert.is(fromFile.code, 0, fromFile.stderr);
    assert.match(fromFile.stdout, /certificate-authority-data/);
    // CORRAL_CONFIG names the file just as well.
    const viaEnvName = await corral(['kubeconfig'], { HOME: home, CORRAL_CONFIG: config });
    assert.is(viaEnvName.code, 0, viaEnvName.stderr);
    // Environment beats the file.
    const envWins = await corral(['kubeconfig', '--config', config], { HOME: home, CORRAL_DATA_DIR: missing });
    assert.is(envWins.code, 1);
    assert.match(envWins.stderr, new RegExp(`no kubeconfig at ${missing}`), envWins.stderr);
    // A flag beats both.
    const flagWins = await corral(['kubeconfig', '--config', config, '--data-dir', real], { HOME: home, CORRAL_DATA_DIR: missing });
    assert.is(flagWins.code, 0, flagWins.stderr);
    // Nothing set: the default (~/.corral for a non-root user, /var/lib/corral for root).
    const dflt = await corral(['kubeconfig'], { HOME: home, CORRAL_CONFIG: join(ctx.scratch, 'absent.yaml') });
    assert.is(dflt.code, 1);
    assert.match(dflt.stderr, /config file .*absent\.yaml does not exist/, 'a named config file must exist');
    const bad = join(ctx.scratch, 'bad.yaml');
    writeFileSync(bad, '- just\n- a list\n');
    const badRun = await corral(['kubeconfig', '--config', bad], { HOME: home });
    assert.is(badRun.code, 1);
    assert.match(badRun.stderr, /expected a map of settings/);
    // Every flag of every command, also those read only from the command line (token create --role).
    const tokenConfig = join(ctx.scratch, 'token.yaml');
    writeFileSync(tokenConfig, 'role: viewer\ndescription: from-the-config-file\n');
    const made = await corral(['token', 'create', '--config', tokenConfig, '--data-dir', real]);
    assert.is(made.code, 0, made.stderr);
    const madeByEnv = await corral(['token', 'create', '--config', tokenConfig, '--data-dir', real], { CORRAL_DESCRIPTION: 'from-env' });
    assert.is(madeByEnv.code, 0, madeByEnv.stderr);
    const listed = await corral(['token', 'list', '--data-dir', real]);
    assert.match(listed.stdout, /viewer\s+-\s+<never>\s+\S+\s+from-the-config-file/);
    assert.match(listed.stdout, /viewer\s+-\s+<never>\s+\S+\s+from-env/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
  assert.equal(await configFileEnv('tls-san: [pi.lan, 10.0.0.2]\ndisable-agent: true\nport: 6443\nnode-ip:\n', 'f'),
    { CORRAL_TLS_SAN: 'pi.lan,10.0.0.2', CORRAL_DISABLE_AGENT: 'true', CORRAL_PORT: '6443' });
});

it('--help works on every command', async () => {
  const top = await corral(['--help']);
  assert.is(top.code, 0);
  const names = [...top.stdout.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]!);
  for (const required of ['server', 'agent', 'join', 'uninstall', 'kubeconfig', 'token', 'status', 'backup', 'restore', 'version']) {
    assert.ok(names.includes(required), `corral --help lists ${required} (got ${names.join(', ')})`);
  }
  for (const name of names) {
    const r = await corral([name, '--help']);
    assert.is(r.code, 0, `corral ${name} --help: ${r.stderr}`);
    assert.match(r.stdout, /Usage: corral /, `corral ${name} --help prints its usage`);
    assert.match(r.stdout, /Precedence: flag > environment > config file > default/);
  }
});

it('backup FILE is 0600 from its first byte, even under umask 000, and restore keeps the store private', async (ctx) => {
  const dir = join(ctx.scratch, 'private');
  mkdirSync(dir, { recursive: true });
  const seen = new Map<string, number>();
  const watcher = watch(dir, (_event, name) => {
    if (!name) return;
    try { seen.set(String(name), statSync(join(dir, String(name))).mode & 0o777); } catch { /* renamed or removed already */ }
  });
  const file = join(dir, 'secrets.db');
  writeFileSync(file, 'an older, world-readable file in the way', { mode: 0o644 });
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CORRAL_'))) as Record<string, string>;
  const code = await new Promise<number>((resolve) => {
    const child = spawn('/bin/sh', ['-c', 'umask 000; exec "$0" "$@"', process.execPath, CLI, 'backup', file, '--data-dir', ctx.server.dataDir],
      { env: { ...base, CORRAL_LOG_LEVEL: 'warn' }, stdio: 'ignore' });
    child.on('close', (c) => resolve(c ?? -1));
  });
  await new Promise((r) => setTimeout(r, 100));
  watcher.close();
  assert.is(code, 0);
  assert.is(statSync(file).mode & 0o777, 0o600, 'the backup holds every Secret');
  for (const [name, mode] of seen) assert.is(mode & 0o077, 0, `${name} was ${mode.toString(8)} at some point`);
  assert.ok([...seen.keys()].some((n) => n.includes('.partial-')), `the temporary file was seen: ${[...seen.keys()].join(', ')}`);
  // Restoring an old 0644 backup does not leave the live store readable by others.
  chmodSync(file, 0o644);
  const restoredDir = join(ctx.scratch, 'restored-private');
  const restored = await corral(['restore', file, '--data-dir', restoredDir]);
  assert.is(restored.code, 0, restored.stderr);
  const db = readdirSync(join(restoredDir, 'server'), { recursive: true }).map(String).find((n) => n.endsWith('.db'));
  assert.ok(db, 'restored database');
  assert.is(statSync(join(restoredDir, 'server', db)).mode & 0o077, 0);
});

it.run();
