/**
 * `corral join` end to end in the lab: the server installed as a supervised service on the control
 * host, three nodes joined over real SSH in parallel until Ready, host key refusals, `--dry-run`,
 * an idempotent re-join, and `corral uninstall` leaving a node clean. Every client (the join itself,
 * kubectl) runs inside the control host; the test runner never talks to a lab address.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, type Lab } from './harness.js';
import { labTierAvailable } from './prerequisites.js';
import { KUBECTL } from '../support/server-process.js';
import type { ExecResult } from './exec.js';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(DIST, 'server', 'cli.js');
const SERVICE = join(DIST, 'installer', 'service.js');
const DATA = '/var/lib/corral';
const KUBECONFIG = `${DATA}/kubeconfig.yaml`;

let lab: Lab;
const node = process.execPath;

function corral(args: readonly string[], timeoutMs = 240_000): Promise<ExecResult> {
  return lab.exec('control', [node, CLI, ...args], { timeoutMs, env: { ...process.env, HOME: join(lab.dir, 'home') } });
}

function joinArgs(knownHosts: string, hosts: readonly string[], extra: readonly string[] = []): string[] {
  return ['join', ...hosts, '--data-dir', DATA, '--ssh-key', lab.clientKey, '--known-hosts', knownHosts, '--ready-timeout', '90s', ...extra];
}

async function kubectl(args: readonly string[]): Promise<string> {
  const r = await lab.exec('control', [KUBECTL, '--kubeconfig', KUBECONFIG, ...args], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

interface NodeList { items: { metadata: { name: string; annotations?: Record<string, string> }; status?: { conditions?: { type: string; status: string }[]; addresses?: { type: string; address: string }[] } }[] }

async function nodes(): Promise<Map<string, { ready: boolean; ip: string; annotations: Record<string, string> }>> {
  const list = JSON.parse(await kubectl(['get', 'nodes', '-o', 'json'])) as NodeList;
  return new Map(list.items.map((n) => [n.metadata.name, {
    ready: n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    ip: n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '',
    annotations: n.metadata.annotations ?? {},
  }]));
}

/** Polls until the named Nodes are all Ready (an agent may re-post its status once after a restart). */
async function allReady(names: readonly string[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = await nodes();
    if (names.every((n) => all.get(n)?.ready)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 500));
  }
}

const hostsOf = (names: readonly string[]): string[] => names.map((n) => `root@${lab.node(n).ip}`);
const show = (r: ExecResult): string => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;

if (labTierAvailable(test, 'the join lab test')) {
  test.before(async () => {
    lab = await createLab({ name: 'join', nodes: 3 });
  });
  test.after(async () => {
    if (lab) await lab.destroy();
  });

  test('the server installs on the control host as a supervised service and prints kubeconfig, join token, status page', async () => {
    const r = await lab.exec('control', [node, SERVICE, '--data-dir', DATA, '--cli', CLI, '--', '--disable-agent'], { timeoutMs: 120_000 });
    assert.is(r.code, 0, show(r));
    assert.match(r.stdout, `kubeconfig:  ${KUBECONFIG}`);
    assert.match(r.stdout, /join token:  K10[0-9a-f]{64}::\w+\.\w+/);
    assert.match(r.stdout, `status page: https://${lab.controlIp}:6443/`);
    assert.match(r.stdout, 'supervised: /usr/local/lib/corral/corral.service.sh');
    const status = await lab.exec('control', ['sh', '/usr/local/lib/corral/corral.service.sh', 'status']);
    assert.is(status.code, 0, show(status));
    // Re-running is an upgrade in place: same data (same CA, same join token), server restarted.
    const token = /join token:  (\S+)/.exec(r.stdout)![1];
    const again = await lab.exec('control', [node, SERVICE, '--data-dir', DATA, '--cli', CLI, '--', '--disable-agent'], { timeoutMs: 120_000 });
    assert.is(again.code, 0, show(again));
    assert.is(/join token:  (\S+)/.exec(again.stdout)![1], token);
  });

  test('an unknown host key is refused without --accept-new-host-key, then recorded with it', async () => {
    const kh = join(lab.dir, 'kh-empty');
    writeFileSync(kh, '');
    const refused = await corral(joinArgs(kh, hostsOf(['n1']), ['--dry-run']));
    assert.is(refused.code, 1, show(refused));
    assert.match(refused.stdout, `host key of ${lab.node('n1').ip} is not in ${kh}`);
    assert.match(refused.stdout, /SHA256:[A-Za-z0-9+/]{43}/);
    assert.match(refused.stdout, '--accept-new-host-key');
    const accepted = await corral(joinArgs(kh, hostsOf(['n1']), ['--dry-run', '--accept-new-host-key']));
    assert.is(accepted.code, 0, show(accepted));
    const recorded = readFileSync(kh, 'utf8');
    assert.match(recorded, `${lab.node('n1').ip} ssh-ed25519 `);
    assert.match(readFileSync(lab.knownHostsFile, 'utf8'), recorded.split(' ')[2]!.trim());
  });

  test('a changed host key is always refused, with its fingerprint', async () => {
    // Record n2's key under n1's address: what a reinstalled or impersonated n1 looks like.
    const n2Line = readFileSync(lab.knownHostsFile, 'utf8').split('\n').find((l) => l.startsWith('n2,'))!;
    const kh = join(lab.dir, 'kh-changed');
    writeFileSync(kh, `${lab.node('n1').ip} ${n2Line.split(' ').slice(1).join(' ')}\n`);
    const r = await corral(joinArgs(kh, hostsOf(['n1']), ['--accept-new-host-key']));
    assert.is(r.code, 1, show(r));
    assert.match(r.stdout, `HOST KEY OF ${lab.node('n1').ip} HAS CHANGED`);
    assert.match(r.stdout, /offered ssh-ed25519 SHA256:\S+, but .* has ssh-ed25519 SHA256:\S+ \(line 1\)/);
    const untouched = await lab.exec('n1', ['test', '-e', '/etc/corral/agent.json']);
    assert.is.not(untouched.code, 0);
  });

  test('--dry-run prints the preflight and the plan per host and changes nothing', async () => {
    const r = await corral(joinArgs(lab.knownHostsFile, hostsOf(['n1', 'n2'])).concat('--dry-run'));
    assert.is(r.code, 0, show(r));
    for (const n of ['n1', 'n2']) assert.match(r.stdout, `root@${lab.node(n).ip} (root@${lab.node(n).ip}:22): node ${n}, amd64`);
    assert.match(r.stdout, '[ok  ] privileges');
    assert.match(r.stdout, '[ok  ] cgroups');
    assert.match(r.stdout, 'upload the agent bundle');
    assert.match(r.stdout, 'supervised service');
    assert.match(r.stdout, /planned/);
    for (const n of ['n1', 'n2']) {
      const files = await lab.exec(n, ['sh', '-c', 'ls -A /usr/local/lib/corral /etc/corral /var/lib/corral']);
      assert.is(files.stdout.trim().split('\n').filter((l) => l && !l.endsWith(':')).length, 0, files.stdout);
    }
  });

  test('three nodes join over SSH in parallel and become Ready, with their identity recorded', async () => {
    const r = await corral(joinArgs(lab.knownHostsFile, hostsOf(['n1', 'n2', 'n3'])));
    assert.is(r.code, 0, show(r));
    assert.match(r.stdout, /HOST\s+NODE\s+ARCH\s+BOARD\s+RESULT\s+TIME\s+PHASES/);
    for (const n of ['n1', 'n2', 'n3']) {
      assert.match(r.stdout, new RegExp(`root@${lab.node(n).ip.replace(/\./g, '\\.')}\\s+${n}\\s+amd64\\s+.*joined`));
    }
    const all = await nodes();
    for (const n of ['n1', 'n2', 'n3']) {
      const got = all.get(n);
      assert.ok(got?.ready, `${n} Ready`);
      assert.is(got!.ip, lab.node(n).ip);
      assert.match(got!.annotations['corral.io/node-password-sha256'] ?? '', /^[0-9a-f]{64}$/);
      const mode = await lab.exec(n, ['stat', '-c', '%a', '/etc/corral/node-token', '/etc/corral/node-password']);
      assert.equal(mode.stdout.trim().split('\n'), ['600', '600']);
    }
  });

  test('re-join is idempotent: nothing re-uploaded, identity kept, Nodes Ready again', async () => {
    const before = await lab.exec('n1', ['cat', '/etc/corral/node-password']);
    const r = await corral(joinArgs(lab.knownHostsFile, hostsOf(['n1', 'n2', 'n3'])));
    assert.is(r.code, 0, show(r));
    assert.match(r.stdout, 'upload: bundle already current');
    assert.is((r.stdout.match(/upgraded in /g) ?? []).length, 3, r.stdout);
    assert.is((await lab.exec('n1', ['cat', '/etc/corral/node-password'])).stdout, before.stdout);
    assert.ok(await allReady(['n1', 'n2', 'n3'], 30_000), await kubectl(['get', 'nodes', '-o', 'yaml']));
  });
}

test.run();
