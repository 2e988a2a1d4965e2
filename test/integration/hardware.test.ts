/** readHardware and the host signals on this very machine, checked against nproc and /proc/meminfo. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execOk } from '../lab/exec.js';
import { readHardware, nodeStatusFrom, nodeLabelsFrom, readHostSignals, hostConditions, missingFromPath, findInPath } from '../../agent/hardware/index.js';

test('capacity cpu equals nproc and memory equals /proc/meminfo MemTotal in Ki', async () => {
  const hw = await readHardware({ dataDir: tmpdir() });
  const nproc = (await execOk(['nproc'])).trim();
  const memTotal = /^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1];
  const status = nodeStatusFrom(hw, { reserved: {}, nodeIP: '127.0.0.1', hostname: 'here', runtimeVersion: 'containerd://test', corralVersion: '0.0.0' });
  assert.is(status.capacity!['cpu'], nproc);
  assert.is(status.capacity!['memory'], `${memTotal}Ki`);
  assert.is(status.allocatable!['cpu'], nproc);
  assert.ok(Number(status.capacity!['ephemeral-storage']!.replace(/Ki$/, '')) > 0);
});

test('architecture, OS image, ids and labels match the machine', async () => {
  const hw = await readHardware({ dataDir: tmpdir() });
  const dpkg = await execOk(['dpkg', '--print-architecture']).then((s) => s.trim()).catch(() => undefined);
  const expected = dpkg === 'armhf' ? 'arm' : dpkg === 'amd64' ? 'amd64' : dpkg === 'arm64' ? 'arm64' : hw.architecture;
  assert.is(hw.architecture, expected);
  assert.is(hw.userlandBits, Number((await execOk(['getconf', 'LONG_BIT'])).trim()));
  const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
  assert.is(hw.osImage, pretty);
  assert.is(hw.bootID, readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
  assert.is(hw.kernelVersion, (await execOk(['uname', '-r'])).trim());
  const labels = nodeLabelsFrom(hw, 'Here');
  assert.is(labels['kubernetes.io/arch'], hw.architecture);
  assert.is(labels['kubernetes.io/hostname'], 'here');
  for (const v of Object.values(labels)) {
    assert.ok(v.length <= 63, v);
    assert.match(v, /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/);
  }
  // Cached: a second read is immediate and identical.
  const t0 = performance.now();
  assert.equal(await readHardware({ dataDir: tmpdir() }), hw);
  assert.ok(performance.now() - t0 < 50, 'second read is served from the cache');
});

test('host signals are read cheaply and give the pressure conditions', async () => {
  const t0 = performance.now();
  const signals = await readHostSignals({ dataDir: tmpdir() });
  assert.ok(performance.now() - t0 < 2_000);
  const memAvailable = Number(/^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]) * 1024;
  assert.ok(Math.abs(signals.memAvailableBytes - memAvailable) < 256 * 1024 * 1024, 'MemAvailable read from /proc/meminfo');
  const procCgroups = readFileSync('/proc/cgroups', 'utf8');
  const memoryLine = procCgroups.split('\n').find((l) => l.startsWith('memory'));
  if (memoryLine) assert.is(signals.memoryCgroupEnabled, memoryLine.trim().split(/\s+/)[3] === '1');
  const conditions = hostConditions(signals, { now: new Date().toISOString() });
  assert.ok(conditions.some((c) => c.type === 'MemoryPressure'));
  assert.ok(conditions.some((c) => c.type === 'CgroupMemoryDisabled'));
});

test('a binary found once is checked where it was; gone from there, PATH is searched again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-path-'));
  try {
    const [a, b] = [join(dir, 'a'), join(dir, 'b')];
    mkdirSync(a);
    mkdirSync(b);
    const name = `corral-test-tool-${process.pid}`;
    const pathEnv = `${a}:${b}`;
    assert.equal(missingFromPath([name], pathEnv), [name], 'not installed yet');
    writeFileSync(join(b, name), '#!/bin/sh\n');
    assert.equal(missingFromPath([name], pathEnv), [name], 'not executable: not a command');
    chmodSync(join(b, name), 0o755);
    assert.equal(missingFromPath([name], pathEnv), [], 'found in the second directory');
    assert.is(await findInPath(name, pathEnv), join(b, name));
    rmSync(join(b, name));
    assert.equal(missingFromPath([name], pathEnv), [name], 'removed: reported missing at the next check');
    mkdirSync(join(a, name));
    assert.equal(missingFromPath([name], pathEnv), [name], 'a directory of that name is not a command');
    rmSync(join(a, name), { recursive: true });
    writeFileSync(join(a, name), '#!/bin/sh\n', { mode: 0o755 });
    assert.equal(missingFromPath([name], pathEnv), [], 'installed again elsewhere in PATH: found');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
