/**
 * The agent runs some of its code as separate scripts (the probe helper and the port-forward dialer in a
 * pod's netns, one-shot helper jobs). A joined node has only the one-file bundle, so there the bundle
 * itself must be each script: a script located beside the agent's own file would not exist on the node
 * (port-forward to a joined node's pod once failed that way). This test builds the bundle and runs each
 * script from it, against a listener on loopback.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fork, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAgentBundle } from '../../installer/bundle.js';
import { NETNS_DIAL_JOB } from '../../agent/portforward/netns-dialer.js';
import type { DialReply } from '../../agent/portforward/netns-dialer-helper.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-bundle-scripts-'));
let bundlePath = '';
let echo: Server;
let port = 0;

test.before(async () => {
  bundlePath = (await buildAgentBundle(join(dir, 'corral-agent.cjs'))).path;
  echo = createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  port = (echo.address() as AddressInfo).port;
});

test.after(() => {
  echo.close();
  rmSync(dir, { recursive: true, force: true });
});

test('no script in the bundle is located relative to the bundle file', () => {
  const text = readFileSync(bundlePath, 'utf8');
  const relative = [...text.matchAll(/new URL\(\s*["'`]\.\.?\/[^"'`]+["'`]\s*,\s*import\.meta\.url\s*\)/g)].map((m) => m[0]);
  assert.equal(relative, [], 'each helper script must be the bundle itself (installer/bundle.ts, helper-scripts-are-the-bundle)');
});

test('the bundle is the port-forward dialer: it hands back a connected socket over IPC', async () => {
  const child = fork(bundlePath, [NETNS_DIAL_JOB], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
  try {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer from the dialer: ${stderr}`)), 20_000);
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the dialer exited ${code}: ${stderr}`)); });
      child.once('message', (msg: DialReply, handle: unknown) => {
        clearTimeout(timer);
        if (msg.ok && handle instanceof Socket) resolve(handle);
        else reject(new Error(`dial failed: ${JSON.stringify(msg)}`));
      });
      child.send({ id: 1, port });
    });
    const answer = await new Promise<string>((resolve, reject) => {
      socket.once('data', (d: Buffer) => resolve(d.toString('utf8')));
      socket.once('error', reject);
      socket.resume();
      socket.write('ping through the bundle');
    });
    socket.destroy();
    assert.is(answer, 'ping through the bundle');
  } finally {
    child.kill();
  }
});

test('the bundle is the probe helper: a tcp probe passes against a listener and fails against a closed port', () => {
  const ok = spawnSync(process.execPath, [bundlePath, 'tcp', '127.0.0.1', String(port), '5000'], { encoding: 'utf8', timeout: 30_000 });
  assert.is(ok.status, 0, ok.stderr);
  const closed = spawnSync(process.execPath, [bundlePath, 'tcp', '127.0.0.1', '1', '5000'], { encoding: 'utf8', timeout: 30_000 });
  assert.is(closed.status, 1, closed.stderr);
  assert.match(closed.stderr, 'dial tcp 127.0.0.1:1');
});

test.run();
