/**
 * The LAN install script (`/install.sh`, served by a real `corral server`) never puts the join token
 * on a command line: it takes it from CORRAL_TOKEN or --token-file, refuses --token, and hands it to
 * its downloads through the environment. The script runs for real with sh and Node; a `node` first on
 * PATH records the argv of every Node process it starts (then runs the real node). The token pins the
 * right CA but its secret is wrong, so the script stops at the first token-bearing download (401) and
 * installs nothing on this machine.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerProcess } from '../support/server-process.js';
import { caHashOf } from '../../server/auth/pki.js';

const it = suite<{ server: ServerProcess; scratch: string; script: string; token: string }>('install-script-token');

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'] });
  ctx.scratch = mkdtempSync(join(tmpdir(), 'corral-install-'));
  const res = await ctx.server.clientWithToken(undefined).transport.request({ method: 'GET', path: '/install.sh' });
  ctx.script = await res.text();
  assert.is(res.status, 200);
  ctx.token = `K10${caHashOf(ctx.server.caPem)}::abcdef.${'5ec7e7'.repeat(5)}01`;
  // A `node` that records its arguments, then runs the real one.
  writeFileSync(join(ctx.scratch, 'node'), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${join(ctx.scratch, 'argv.log')}\nexec ${process.execPath} "$@"\n`);
  chmodSync(join(ctx.scratch, 'node'), 0o755);
});

it.after(async (ctx) => {
  await ctx.server?.destroy();
  if (ctx.scratch) rmSync(ctx.scratch, { recursive: true, force: true });
});

function runScript(ctx: { scratch: string; script: string; server: ServerProcess }, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stderr: string; argv: string[] }> {
  rmSync(join(ctx.scratch, 'argv.log'), { force: true });
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-s', '-', '--server', ctx.server.url, ...args], {
      env: { PATH: `${ctx.scratch}:${process.env['PATH'] ?? '/usr/bin:/bin'}`, HOME: ctx.scratch, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.stdout.resume();
    child.on('close', (code) => {
      const log = join(ctx.scratch, 'argv.log');
      resolve({ code: code ?? -1, stderr, argv: existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [] });
    });
    child.stdin.end(ctx.script);
  });
}

function secretOf(token: string): string {
  return token.slice(token.indexOf('::') + 2);
}

it('--token is refused before anything runs, naming the safe ways', async (ctx) => {
  const r = await runScript(ctx, ['--token', ctx.token]);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'readable by every user');
  assert.match(r.stderr, 'CORRAL_TOKEN');
  assert.match(r.stderr, '--token-file');
  assert.equal(r.argv, [], 'nothing was started');
});

it('with --token-file or CORRAL_TOKEN, no process the script starts has the token in its argv', async (ctx) => {
  const file = join(ctx.scratch, 'join-token');
  writeFileSync(file, `${ctx.token}\n`, { mode: 0o600 });
  for (const [how, args, env] of [['--token-file', ['--token-file', file], {}], ['CORRAL_TOKEN', [], { CORRAL_TOKEN: ctx.token }]] as const) {
    const r = await runScript(ctx, [...args], { ...env });
    // The CA pin matched, then the bundle download carried the (wrong) token and was refused.
    assert.is(r.code, 1, `${how}: ${r.stderr}`);
    assert.match(r.stderr, /bundle\/corral-agent\.cjs: HTTP 40[13]/, `${how}: ${r.stderr}`);
    assert.ok(r.argv.some((a) => a.includes('/bundle/corral-agent.cjs')), `${how}: the token-bearing download ran: ${r.argv.join('\n')}`);
    assert.equal(r.argv.filter((a) => a.includes(secretOf(ctx.token))), [], `${how}: the token is on a command line`);
  }
});

it.run();
