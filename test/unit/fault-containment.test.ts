/**
 * api/fault-containment.ts: a listener wrapped by containFaults never throws out, whatever its
 * handler does; the last-resort policy (ADR 006) in a real child process: an unhandled rejection
 * is logged and the process goes on, an uncaught exception is logged with its origin, the shutdown
 * runs, and the process exits 70.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { containFaults, UNCAUGHT_EXIT_CODE } from '../../api/fault-containment.js';
import { log } from '../../api/log.js';

const MODULE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'api', 'fault-containment.js');

test('containFaults: sync throws and rejections reach onFault with the arguments, are logged with context, never escape', async () => {
  const lines: string[] = [];
  log.setSink((l) => lines.push(l));
  const faults: string[] = [];
  const listener = containFaults('test', (what: string) => {
    if (what === 'sync') throw new Error('sync boom');
    if (what === 'async') return Promise.reject(new Error('async boom'));
    return undefined;
  }, (err, what) => faults.push(`${what}: ${(err as Error).message}`), (what) => ({ request: what }));
  listener('sync');
  listener('async');
  listener('fine');
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(faults, ['sync: sync boom', 'async: async boom']);
  assert.is(lines.length, 2);
  assert.match(lines[0]!, '"request":"sync"');
  assert.match(lines[1]!, '"request":"async"');
  // A failing onFault is logged too and still does not escape.
  const worse = containFaults('test', () => { throw new Error('first'); }, () => { throw new Error('second'); });
  worse();
  assert.match(lines.join(''), 'answering a failed request failed too');
  log.setSink((l) => process.stderr.write(l));
});

function runChild(code: string): { status: number | null; stdout: string; stderr: string } {
  const script = `import { installLastResortHandlers } from ${JSON.stringify(MODULE)};\n${code}`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, CORRAL_LOG_LEVEL: 'info' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('last resort: an unhandled rejection is logged and the process keeps running', () => {
  const r = runChild(`
    installLastResortHandlers({ component: 'agent' });
    Promise.reject(new Error('nobody awaited me'));
    setTimeout(() => { process.stdout.write('still running\\n'); }, 100);
  `);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, 'still running');
  assert.match(r.stderr, /"level":"error","component":"agent","msg":"unhandled promise rejection[^"]*","error":"Error: nobody awaited me/);
});

test('last resort: an uncaught exception is logged with its origin, the shutdown runs, and the exit code is 70', () => {
  const r = runChild(`
    installLastResortHandlers({ component: 'server', shutdown: async () => { process.stdout.write('shutdown ran\\n'); } });
    setTimeout(() => { throw new Error('escaped a listener'); }, 10);
    setInterval(() => undefined, 1000);
  `);
  assert.is(r.status, UNCAUGHT_EXIT_CODE, r.stderr);
  assert.match(r.stdout, 'shutdown ran');
  assert.match(r.stderr, /"level":"error","component":"server","msg":"uncaught exception[^"]*","origin":"uncaughtException","error":"Error: escaped a listener/);
});

test('last resort: a shutdown that hangs does not keep the process from exiting', () => {
  const r = runChild(`
    installLastResortHandlers({ component: 'server', shutdownTimeoutMs: 200, shutdown: () => new Promise(() => setInterval(() => undefined, 1000)) });
    setTimeout(() => { throw new Error('boom'); }, 10);
  `);
  assert.is(r.status, UNCAUGHT_EXIT_CODE, r.stderr);
});

test.run();
