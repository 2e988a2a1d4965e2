/**
 * The supervised service (hosts without systemd) for real: the rendered sh script starts a detached
 * supervisor with a pid file, restarts the command when it dies, stops it (escalating if needed) and
 * reports status — no network, a temp dir only.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderSupervisor } from '../../installer/service-files.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-sup-'));
const script = join(dir, 'svc.service.sh');
const runDir = join(dir, 'run');
const log = join(dir, 'svc.log');
writeFileSync(script, renderSupervisor({ name: 'svc', description: 'test service', argv: ['sleep', '300'], runDir, logFile: log }), { mode: 0o755 });

const sh = (cmd: string): { code: number; out: string } => {
  const r = spawnSync('sh', [script, cmd], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
};
const pidOf = (f: string): number => Number(readFileSync(join(runDir, f), 'utf8').trim());
const running = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // An exited process that nobody reaped is a zombie: not running.
  return !/^State:\s*Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
};
const waitFor = async (what: string, cond: () => boolean, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

test('start detaches a supervisor with a pid file; starting again is a no-op', () => {
  const r = sh('start');
  assert.is(r.code, 0, r.out);
  assert.match(r.out, /svc started \(pid \d+\)/);
  assert.ok(running(pidOf('svc.pid')));
  const again = sh('start');
  assert.match(again.out, 'svc is running');
  assert.is(sh('status').code, 0);
});

test('the command is restarted when it dies', async () => {
  await waitFor('child pid file', () => existsSync(join(runDir, 'svc.child.pid')));
  const first = pidOf('svc.child.pid');
  process.kill(first, 'SIGKILL');
  await waitFor('a new child', () => existsSync(join(runDir, 'svc.child.pid')) && pidOf('svc.child.pid') !== first && running(pidOf('svc.child.pid')));
  assert.match(readFileSync(log, 'utf8'), `pid ${first} exited with 137`);
});

test('stop ends supervisor and command; status then says stopped', () => {
  const sup = pidOf('svc.pid');
  const child = pidOf('svc.child.pid');
  const r = sh('stop');
  assert.is(r.code, 0, r.out);
  assert.not.ok(running(sup));
  assert.not.ok(running(child));
  assert.not.ok(existsSync(join(runDir, 'svc.pid')));
  const st = sh('status');
  assert.is(st.code, 3);
  assert.match(st.out, 'svc is stopped');
});

test.after(() => {
  sh('stop');
  rmSync(dir, { recursive: true, force: true });
});

test.run();
