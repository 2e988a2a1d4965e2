/**
 * Hardware-in-the-loop: the device flow against real boards with something attached (e.g. a Raspberry
 * Pi with an FTDI USB-serial adapter). Run on the server machine, as root, once the boards have joined:
 *
 *   CORRAL_HIL_DEVICE=usb-0403-6001 [CORRAL_HIL_HOSTS=pi@pi-1,pi@pi-2] [CORRAL_HIL_SERIAL=/dev/ttyUSB0]
 *   [CORRAL_HIL_LOOPBACK=1] [CORRAL_HIL_DATA_DIR=/var/lib/corral] node dist/test/hil/devices.hil.js
 *
 * CORRAL_HIL_HOSTS (user@host, as for join.hil.ts) limits the check to those boards: each must publish
 * the device. CORRAL_HIL_LOOPBACK=1 says the adapter's TX and RX are wired together (a loopback plug),
 * so the test's pod writes a line to CORRAL_HIL_SERIAL and reads it back through the real UART.
 * Never part of CI. Ends with `N passed, N failed`; exits non-zero when a scenario failed.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ApiClient } from '../../api/client/client.js';
import { HttpsTransport } from '../../api/client/transport.js';
import type { Node } from '../../api/types.js';
import { parseTarget } from '../../installer/join/target.js';

const DEVICE = process.env['CORRAL_HIL_DEVICE'] ?? '';
const RESOURCE = DEVICE.startsWith('devices.corral.io/') ? DEVICE : `devices.corral.io/${DEVICE}`;
const HOSTS = (process.env['CORRAL_HIL_HOSTS'] ?? '').split(',').map((h) => h.trim()).filter(Boolean);
const SERIAL = process.env['CORRAL_HIL_SERIAL'] ?? '/dev/ttyUSB0';
const LOOPBACK = process.env['CORRAL_HIL_LOOPBACK'] === '1';
const DATA = process.env['CORRAL_HIL_DATA_DIR'] ?? '/var/lib/corral';
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'corral.js');
const KUBECONFIG = join(DATA, 'kubeconfig.yaml');

function api(): ApiClient {
  const kc = parseYaml(readFileSync(KUBECONFIG, 'utf8')) as { clusters: { cluster: { server: string; 'certificate-authority-data': string } }[]; users: { user: { token: string } }[] };
  return new ApiClient(new HttpsTransport({
    server: kc.clusters[0]!.cluster.server, caPem: Buffer.from(kc.clusters[0]!.cluster['certificate-authority-data'], 'base64').toString(), token: kc.users[0]!.user.token,
  }));
}

/** `corral hil run` with the device, as a CI pipeline would call it. */
function hilRun(name: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'hil', 'run', '--kubeconfig', KUBECONFIG, '--device', DEVICE, '--image', 'busybox', '--name', name, '--rm', ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started }));
  });
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(what);
}

const ready = (n: Node): boolean => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
const stamp = Date.now().toString(36);

const scenarios: [string, () => Promise<void>][] = [
  ['the boards publish the device', async () => {
    const nodes = (await api().list<Node>('Node')).items.filter(ready);
    const withDevice = nodes.filter((n) => Number(n.status?.capacity?.[RESOURCE] ?? 0) > 0);
    check(withDevice.length > 0, `no Ready node has ${RESOURCE}; kubectl describe node shows what each publishes`);
    for (const host of HOSTS) {
      const name = parseTarget(host).host.split('.')[0]!.toLowerCase();
      check(withDevice.some((n) => n.metadata.name === name), `node ${name} (${host}) does not publish ${RESOURCE}`);
    }
    process.stdout.write(`  ${RESOURCE} on: ${withDevice.map((n) => `${n.metadata.name} (${n.status!.allocatable?.[RESOURCE]} allocatable)`).join(', ')}\n`);
  }],
  ['corral hil run streams the output and returns the exit code', async () => {
    const r = await hilRun(`hil-exit-${stamp}`, ['--timeout', '2m', '--', 'sh', '-c', 'echo on-the-board; ls /dev; exit 7']);
    check(r.code === 7, `exit code ${r.code}, want 7:\n${r.stderr}`);
    check(r.stdout.includes('on-the-board'), `output: ${r.stdout}`);
  }],
  ['runs beyond the free devices queue and all complete, one per device at a time', async () => {
    const nodes = (await api().list<Node>('Node')).items.filter(ready);
    const units = nodes.reduce((n, x) => n + Number(x.status?.allocatable?.[RESOURCE] ?? 0), 0);
    const runs = await Promise.all(Array.from({ length: units + 1 }, (_, i) => hilRun(`hil-queue-${stamp}-${i}`, ['--timeout', '2m', '--', 'sleep', '5'])));
    check(runs.every((r) => r.code === 0), `exit codes ${runs.map((r) => r.code).join(',')}`);
    check(runs.some((r) => r.stderr.includes('waiting for a free device')), 'no run waited for the device although there were more runs than units');
  }],
  ['a run past its deadline is stopped on the board', async () => {
    const r = await hilRun(`hil-late-${stamp}`, ['--timeout', '5s', '--', 'sh', '-c', 'echo started; sleep 120']);
    check(r.code !== 0 && r.stderr.includes('DeadlineExceeded'), `code ${r.code}: ${r.stderr}`);
    check(r.ms < 60_000, `took ${r.ms} ms`);
  }],
  ...(LOOPBACK ? [['a line written to the serial port comes back through the loopback plug', async () => {
    const script = `stty -F ${SERIAL} 115200 raw -echo && (timeout 5 cat ${SERIAL} > /tmp/rx &) && sleep 0.5 && echo corral-${stamp} > ${SERIAL} && sleep 2 && cat /tmp/rx`;
    const r = await hilRun(`hil-loop-${stamp}`, ['--timeout', '1m', '--', 'sh', '-c', script]);
    check(r.code === 0 && r.stdout.includes(`corral-${stamp}`), `code ${r.code}: ${r.stdout}\n${r.stderr}`);
  }] as [string, () => Promise<void>]] : []),
];

async function main(): Promise<number> {
  if (!DEVICE) {
    process.stderr.write('set CORRAL_HIL_DEVICE to a device resource the boards publish, e.g. usb-0403-6001 (see docs/hil.md)\n');
    return 2;
  }
  let passed = 0;
  let failed = 0;
  for (const [name, fn] of scenarios) {
    const t0 = Date.now();
    try {
      await fn();
      passed++;
      process.stdout.write(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
    } catch (err) {
      failed++;
      process.stdout.write(`FAIL ${name}: ${(err as Error).message}\n`);
    }
  }
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

void main().then((code) => { process.exitCode = code; });
