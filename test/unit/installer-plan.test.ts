/** Join tokens, targets, the plan printout, the summary table and the service files. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatJoinToken, parseJoinToken } from '../../installer/token.js';
import { parseTarget } from '../../installer/join/target.js';
import { planSteps, renderPlan, type HostPlan } from '../../installer/join/plan.js';
import { LineProgress, renderSummary, TtyProgress } from '../../installer/join/progress.js';
import { agentServiceSpec, nodeNameFromHostname, renderTokenFile } from '../../installer/join/join.js';
import { renderSupervisor, renderSystemdUnit, serviceStartCommand, shQuote } from '../../installer/service-files.js';
import { serverServiceSpec } from '../../installer/service.js';
import { execFileSync } from 'node:child_process';
import { TokenStore } from '../../server/auth/tokens.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const HASH = 'ab'.repeat(32);

test('join tokens: pinned and bare forms, and what is rejected', () => {
  assert.equal(parseJoinToken(`K10${HASH}::a1b2c3.0123456789abcdef`), { caHash: HASH, credential: 'a1b2c3.0123456789abcdef', id: 'a1b2c3' });
  assert.equal(parseJoinToken(' a1b2c3.s3cr3t \n'), { credential: 'a1b2c3.s3cr3t', id: 'a1b2c3' });
  assert.is(parseJoinToken(`K10${HASH.toUpperCase()}::x.y`).caHash, HASH);
  assert.throws(() => parseJoinToken(`K10${HASH.slice(2)}::a.b`), /64 hex/);
  assert.throws(() => parseJoinToken('nodot'), /<id>\.<secret>/);
  assert.throws(() => parseJoinToken(`K10${HASH}::server:password`), /K10/);
  assert.is(formatJoinToken(HASH, 'a.b'), `K10${HASH}::a.b`);
  assert.throws(() => formatJoinToken('xyz', 'a.b'));
});

test('the server accepts the pinned form of a token as a bearer credential', () => {
  const store = new TokenStore(join(mkdtempSync(join(tmpdir(), 'corral-tok-')), 'tokens.json'));
  const { token } = store.create('join');
  assert.is(store.authenticate(formatJoinToken(HASH, token))?.role, 'join');
  assert.is(store.authenticate(token)?.role, 'join');
  assert.is(store.authenticate(`K10${HASH}::${token}x`), undefined);
});

test('targets: user, host, port, IPv6', () => {
  assert.equal(parseTarget('pi@pi-2'), { label: 'pi@pi-2', user: 'pi', host: 'pi-2', port: 22 });
  assert.equal(parseTarget('10.0.0.5:2222'), { label: '10.0.0.5:2222', user: 'root', host: '10.0.0.5', port: 2222 });
  assert.equal(parseTarget('pi@[fe80::1]:2200'), { label: 'pi@[fe80::1]:2200', user: 'pi', host: 'fe80::1', port: 2200 });
  assert.is(parseTarget('fe80::1').host, 'fe80::1');
  assert.throws(() => parseTarget('pi@host:99999'), /port/);
  assert.throws(() => parseTarget('@host'), /user/);
  assert.is(nodeNameFromHostname('Pi_4.Lan'), 'pi-4.lan');
});

const plan = (over: Partial<HostPlan> = {}): HostPlan => ({
  label: 'pi@pi-2', address: 'pi-2:22', user: 'pi', sudo: true, nodeName: 'pi-2', nodeIp: '192.168.1.22', arch: 'arm64',
  board: 'Raspberry Pi 4 Model B', service: 'systemd', installPackages: [], uploadBundle: true, bundleBytes: 3 * 1024 * 1024,
  bundleSha256: 'cd'.repeat(32), identity: 'new', serverUrl: 'https://192.168.1.10:6443',
  checks: [{ id: 'os', status: 'ok', detail: 'Debian' }], ...over,
});

test('plan: steps follow what the probe found', () => {
  const fresh = planSteps(plan({ installPackages: ['nodejs', 'containerd'] }));
  assert.is(fresh[0], 'apt-get install nodejs containerd');
  assert.match(fresh[1]!, 'upload the agent bundle (3.0 MiB');
  assert.match(fresh.join('\n'), 'create the node identity /etc/corral/node-password');
  assert.match(fresh.join('\n'), 'systemd unit corral-agent.service');
  assert.match(fresh.at(-1)!, 'wait until Node pi-2 (192.168.1.22) is Ready on https://192.168.1.10:6443');
  const rejoin = planSteps(plan({ uploadBundle: false, identity: 'kept', service: 'supervisor' }));
  assert.match(rejoin[0]!, 'keep /usr/local/lib/corral/corral-agent.cjs (already this version');
  assert.match(rejoin.join('\n'), 'keep the node identity');
  assert.match(rejoin.join('\n'), 'corral-agent.service.sh (pid file, restart)');
  const text = renderPlan(plan());
  assert.match(text, 'pi@pi-2 (pi@pi-2:22, sudo): node pi-2, arm64, Raspberry Pi 4 Model B');
  assert.match(text, '[ok  ] os');
  const failed = renderPlan(plan({ checks: [{ id: 'cgroups', status: 'fail', detail: 'off', fix: 'edit cmdline.txt' }] }));
  assert.match(failed, 'would stop here: preflight failed');
  assert.match(failed, 'fix: edit cmdline.txt');
  assert.not.match(failed, 'upload the agent');
});

test('summary table: one row per host with phases, then errors', () => {
  const text = renderSummary([
    { label: 'n1', nodeName: 'n1', arch: 'amd64', board: 'lab', result: 'joined', phases: { connect: 120, preflight: 300, upload: 900, start: 400, ready: 2100 }, totalMs: 3820 },
    { label: 'pi@pi-3', nodeName: '', arch: '', board: '', result: 'failed', error: 'ssh pi-3:22: connect ECONNREFUSED', phases: { connect: 5 }, totalMs: 5 },
  ]);
  const lines = text.split('\n');
  assert.match(lines[0]!, /^HOST\s+NODE\s+ARCH\s+BOARD\s+RESULT\s+TIME\s+PHASES$/);
  assert.match(lines[1]!, /^n1\s+n1\s+amd64\s+lab\s+joined\s+3\.8s\s+connect 0\.1s, preflight 0\.3s, upload 0\.9s, start 0\.4s, ready 2\.1s$/);
  assert.match(lines[2]!, /^pi@pi-3\s+-\s+-\s+-\s+failed\s+0\.0s\s+connect 0\.0s$/);
  assert.match(text, 'pi@pi-3: ssh pi-3:22: connect ECONNREFUSED');
});

test('service files: the token stays out of argv; quoting; systemd and supervisor forms', () => {
  const spec = agentServiceSpec({ nodeBinary: '/usr/bin/node', serverUrl: 'https://10.0.0.1:6443', nodeName: 'n1', nodeIp: '10.0.0.2' });
  assert.not.ok(spec.argv.some((a) => a.includes('K10')));
  assert.is(renderTokenFile(`K10${HASH}::a.b`), `CORRAL_TOKEN=K10${HASH}::a.b\n`);
  const unit = renderSystemdUnit(spec);
  assert.match(unit, 'ExecStart=/usr/bin/node --use-openssl-ca --max-semi-space-size=1 --no-opt --no-sparkplug --bytecode-old-age=1 /usr/local/lib/corral/corral-agent.cjs agent --server https://10.0.0.1:6443');
  assert.match(unit, 'Environment=MALLOC_MMAP_THRESHOLD_=131072\nEnvironment=MALLOC_TRIM_THRESHOLD_=131072\n');
  assert.match(unit, 'Restart=always');
  assert.match(unit, 'KillMode=process');
  const sup = renderSupervisor({ ...spec, argv: ['/usr/bin/node', "it's here", '100%'] });
  assert.match(sup, `exec /usr/bin/node 'it'\\''s here' 100%`);
  assert.match(sup, '  export MALLOC_MMAP_THRESHOLD_=131072\n  export MALLOC_TRIM_THRESHOLD_=131072\n  exec ');
  assert.match(sup, 'PIDFILE=/var/lib/corral/run/corral-agent.pid');
  assert.match(sup, 'setsid "$0" supervise');
  assert.is(shQuote('a b'), "'a b'");
  assert.is(shQuote('plain-word_1.2/x'), 'plain-word_1.2/x');
  assert.match(serviceStartCommand('corral-agent', true, '/usr/local/lib/corral'), 'systemctl restart corral-agent');
  assert.match(serviceStartCommand('corral-agent', false, '/usr/local/lib/corral'), '/usr/local/lib/corral/corral-agent.service.sh stop');
});

test('the server service: V8 flags on its command line, malloc settings in its environment (systemd and supervisor)', () => {
  const spec = serverServiceSpec({ nodeBinary: '/usr/bin/node', cli: '/opt/corral/dist/cli/corral.js', dataDir: '/var/lib/corral', serverArgs: ['--port', '6443'] });
  const unit = renderSystemdUnit(spec);
  assert.match(unit, 'ExecStart=/usr/bin/node --max-semi-space-size=4 --min-semi-space-size=4 --single-threaded-gc /opt/corral/dist/cli/corral.js server --data-dir /var/lib/corral --port 6443');
  assert.match(unit, 'Environment=MALLOC_ARENA_MAX=2\n');
  assert.match(unit, 'Environment=MALLOC_MMAP_THRESHOLD_=131072\n');
  // The supervisor's run() exports them before it execs the command: run it with a command that prints them.
  const sup = renderSupervisor({ ...spec, argv: ['sh', '-c', 'echo "$MALLOC_ARENA_MAX $MALLOC_MMAP_THRESHOLD_ $MALLOC_TRIM_THRESHOLD_"'] });
  const run = /^run\(\) \{\n[\s\S]*?\n\}\n/m.exec(sup)?.[0];
  assert.ok(run, sup);
  assert.is(execFileSync('sh', ['-c', `${run}run`], { encoding: 'utf8', env: {} }).trim(), '2 131072 131072');
});

test('progress: a TTY redraws one line per host in place; plain output is one line per event', () => {
  let screen = '';
  const tty = new TtyProgress(['n1', 'pi@pi-2'], (t) => { screen += t; }, 80);
  tty.phase('n1', 'upload', '1.0 MiB');
  tty.finished({ label: 'pi@pi-2', nodeName: '', arch: '', board: '', result: 'failed', error: 'preflight failed:\n  cgroups', phases: {}, totalMs: 1200 });
  tty.close();
  const frames = screen.split('\x1b[2A');
  assert.ok(frames.length >= 3, 'later frames move the cursor up over the 2 host lines');
  const last = frames.at(-1)!;
  assert.match(last, /\r\x1b\[2Kn1 {7}■■▶·· upload: 1\.0 MiB {2}\d+\.\ds\n/);
  assert.match(last, '✗ failed in 1.2s: preflight failed:');
  assert.not.match(last, 'cgroups');
  let plain = '';
  const lines = new LineProgress((t) => { plain += t; });
  lines.phase('n1', 'connect', 'root@n1:22');
  lines.finished({ label: 'n1', nodeName: 'n1', arch: 'arm64', board: '', result: 'joined', phases: {}, totalMs: 4100 });
  assert.is(plain, '[n1] connect: root@n1:22\n[n1] joined in 4.1s\n');
});

test.run();
