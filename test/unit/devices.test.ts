/**
 * The device inventory over a fake sysfs + /dev tree, the devices file's validation, resources from
 * both, and the leases (allocation derived from pods, exclusive across overlapping resource names).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pod } from '../../api/types.js';
import { readDeviceInventory } from '../../agent/hardware/device-inventory.js';
import { DevicesConfigError, parseDevicesConfig } from '../../agent/hardware/device-config.js';
import { cpuFeatureLabels, deviceResources, globToRegExp, usbFeatureLabels } from '../../agent/hardware/device-resources.js';
import {
  allocatableCounts, allocateDevices, allocationCondition, containerDevicePaths, DEVICES_CONDITION, holdsDevices, missingUnits,
  podDeviceRequests, recordedAllocation,
} from '../../agent/hardware/device-allocation.js';
import { listDevPaths } from '../../agent/hardware/device-manager.js';
import { buildBoard, byIdName, FTDI, plainFile, plugUsbSerial, unplugUsbSerial } from '../support/fake-devices.js';

const SECOND = { ...FTDI, port: '1-2', devnum: 3, serial: 'B2', tty: 'ttyUSB1' };

async function tree(): Promise<{ root: string; sys: string; dev: string }> {
  const root = await mkdtemp(join(tmpdir(), 'corral-devices-'));
  const sys = join(root, 'sys');
  const dev = join(root, 'dev');
  await buildBoard(sys, dev, plainFile);
  await plugUsbSerial(sys, dev, FTDI, plainFile);
  return { root, sys, dev };
}

test('the inventory finds the USB adapter with its tty and by-id link, GPIO and I2C, and skips placeholder 8250 ports', async () => {
  const t = await tree();
  try {
    const devices = await readDeviceInventory({ sysRoot: t.sys, devRoot: t.dev });
    const usb = devices.filter((d) => d.class === 'usb');
    assert.equal(usb.map((d) => d.id), ['usb-0403-6001-A1'], 'root hubs and interfaces are not devices');
    assert.equal(usb[0]!.usb, { vendor: '0403', product: '6001', serial: 'A1', manufacturer: 'FTDI', model: 'FT232R USB UART' });
    assert.equal(usb[0]!.paths, ['/dev/bus/usb/001/002', '/dev/ttyUSB0', `/dev/serial/by-id/${byIdName(FTDI)}`]);
    const serial = devices.filter((d) => d.class === 'serial');
    assert.equal(serial.map((d) => d.name), ['ttyUSB0'], 'ttyS0 behind serial8250 is a placeholder, tty1 a virtual console');
    assert.is(serial[0]!.parent, 'usb-0403-6001-A1');
    assert.is(serial[0]!.byId, byIdName(FTDI));
    assert.equal(devices.filter((d) => d.class === 'gpio' || d.class === 'i2c').map((d) => d.paths[0]), ['/dev/gpiochip0', '/dev/i2c-1']);

    // Hot-unplug: gone from the next read.
    await unplugUsbSerial(t.sys, t.dev, FTDI);
    const after = await readDeviceInventory({ sysRoot: t.sys, devRoot: t.dev });
    assert.equal(after.filter((d) => d.class === 'usb' || d.class === 'serial'), []);
  } finally {
    await rm(t.root, { recursive: true, force: true });
  }
});

test('built-in resources and labels: usb-<vid>-<pid> counts adapters, serial-<by-id>, gpio-N, i2c-N; CPU flags', async () => {
  const t = await tree();
  try {
    await plugUsbSerial(t.sys, t.dev, SECOND, plainFile);
    const devices = await readDeviceInventory({ sysRoot: t.sys, devRoot: t.dev });
    const resources = deviceResources(devices, [], []);
    const byName = new Map(resources.map((r) => [r.name, r]));
    assert.is(byName.get('devices.corral.io/usb-0403-6001')?.units.length, 2);
    assert.ok(byName.has(`devices.corral.io/serial-${byIdName(FTDI)}`));
    assert.ok(byName.has('devices.corral.io/gpio-0'));
    assert.ok(byName.has('devices.corral.io/i2c-1'));
    for (const r of resources) assert.ok(r.name.split('/')[1]!.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(r.name.split('/')[1]!), r.name);
    assert.equal(usbFeatureLabels(devices), { 'feature.corral.io/usb-0403-6001': 'true' });
    assert.equal(cpuFeatureLabels('processor\t: 0\nflags\t\t: fpu sse4_2 avx2 aes hypervisor\n'), {
      'feature.corral.io/cpu-sse4-2': 'true', 'feature.corral.io/cpu-avx2': 'true', 'feature.corral.io/cpu-aes': 'true',
    });
    assert.equal(cpuFeatureLabels('Features\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt\n'), {
      'feature.corral.io/cpu-neon': 'true', 'feature.corral.io/cpu-vfpv4': 'true',
    });
  } finally {
    await rm(t.root, { recursive: true, force: true });
  }
});

test('rules: a path glob and usb ids; the matched adapter is one unit shared with the built-in resource', async () => {
  const t = await tree();
  try {
    const rules = await parseDevicesConfig(`devices:
- name: serial-rig
  match:
    path: /dev/serial/by-id/usb-FTDI_*
  count: 1
- name: ftdi-a1
  match:
    usb: {vendor: "0403", product: 6001, serial: "A1"}
  count: 2
- name: nothing-here
  match:
    usb: {vendor: "dead", product: "beef"}
`);
    const devices = await readDeviceInventory({ sysRoot: t.sys, devRoot: t.dev });
    assert.equal(await listDevPaths(t.dev), [], 'plain files are not device nodes (the lab test walks real ones)');
    const resources = deviceResources(devices, rules, [
      { path: `/dev/serial/by-id/${byIdName(FTDI)}`, node: '/dev/ttyUSB0' }, { path: '/dev/ttyUSB0', node: '/dev/ttyUSB0' },
    ]);
    const rig = resources.find((r) => r.name === 'devices.corral.io/serial-rig')!;
    assert.equal(rig.units, [{ id: 'usb-0403-6001-A1', paths: ['/dev/ttyUSB0', `/dev/serial/by-id/${byIdName(FTDI)}`] }], 'only the matched link and the node it names');
    const a1 = resources.find((r) => r.name === 'devices.corral.io/ftdi-a1')!;
    assert.is(a1.count, 2);
    assert.is(a1.units[0]!.id, 'usb-0403-6001-A1');
    const none = resources.find((r) => r.name === 'devices.corral.io/nothing-here')!;
    assert.equal(none.units, [], 'a rule that matches nothing is still published (with 0)');
    assert.ok(globToRegExp('/dev/serial/by-id/usb-FTDI_*').test(`/dev/serial/by-id/${byIdName(FTDI)}`));
    assert.not.ok(globToRegExp('/dev/tty*').test('/dev/serial/by-id/x'), '* stays within a segment');
  } finally {
    await rm(t.root, { recursive: true, force: true });
  }
});

test('the devices file is validated with every mistake named', async () => {
  try {
    await parseDevicesConfig(`devices:
- name: Serial_Rig
  match: {path: /dev/ttyUSB*, usb: {vendor: "0403", product: "6001"}}
- name: ok
  match: {usb: {vendor: "04x3", product: "6001", bogus: 1}}
  count: 0
- name: ok
  match: {path: "relative/*"}
- {}
`, '/etc/corral/devices.yaml');
    assert.unreachable('accepted');
  } catch (err) {
    assert.instance(err, DevicesConfigError);
    const m = (err as Error).message;
    for (const want of [
      'invalid devices config /etc/corral/devices.yaml',
      'devices[0].name: "Serial_Rig" must be lower-case',
      'devices[0].match: give exactly one of path and usb',
      'devices[1].match.usb.bogus: unknown field',
      'devices[1].match.usb.vendor: must be 4 hex digits',
      'devices[1].count: must be a whole number from 1 to 1000',
      'devices[2].match.path: must be a glob under /dev/',
      'devices[3].name: required',
    ]) assert.ok(m.includes(want), `missing "${want}" in: ${m}`);
  }
  const rejection = (p: Promise<unknown>): Promise<string> => p.then(() => 'accepted', (err: unknown) => (err as Error).message);
  assert.match(await rejection(parseDevicesConfig('devices: [\n')), /not valid YAML/);
  assert.match(await rejection(parseDevicesConfig('devices:\n- name: a\n  match: {path: /dev/a}\n- name: a\n  match: {path: /dev/b}\n')), /"a" is defined twice/);
  assert.equal(await parseDevicesConfig(''), []);
  assert.equal(await parseDevicesConfig('devices:\n- name: serial-rig\n  match:\n    path: /dev/serial/by-id/usb-FTDI_*\n'), [
    { name: 'serial-rig', match: { path: '/dev/serial/by-id/usb-FTDI_*' }, count: 1 },
  ]);
});

function pod(uid: string, limits: Record<string, string>, phase = 'Running', allocation?: Parameters<typeof allocationCondition>[0]): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: uid, namespace: 'default', uid },
    spec: { containers: [{ name: 'c', image: 'busybox', resources: { limits } }, { name: 'side', image: 'busybox' }] },
    status: { phase: phase as 'Running', conditions: allocation ? [allocationCondition(allocation, undefined, '2026-01-01T00:00:00Z')] : [] },
  } as Pod;
}

test('leases: exclusive per unit, count shares, overlapping names never give one adapter twice, recorded and read back', () => {
  const unit = { id: 'usb-0403-6001-A1', paths: ['/dev/bus/usb/001/002', '/dev/ttyUSB0'] };
  const resources = [
    { name: 'devices.corral.io/usb-0403-6001', count: 1, units: [unit], configured: false },
    { name: 'devices.corral.io/serial-rig', count: 1, units: [{ id: unit.id, paths: ['/dev/ttyUSB0'] }], configured: true },
    { name: 'devices.corral.io/shared', count: 2, units: [{ id: 'gpiochip0', paths: ['/dev/gpiochip0'] }], configured: true },
  ];
  const a = pod('a', { 'devices.corral.io/usb-0403-6001': '1' });
  assert.equal([...podDeviceRequests(a)], [['devices.corral.io/usb-0403-6001', 1]]);
  const first = allocateDevices('a', podDeviceRequests(a), resources, []);
  assert.ok('allocation' in first);
  const allocation = (first as { allocation: Record<string, typeof unit[]> }).allocation;
  assert.equal(allocation['devices.corral.io/usb-0403-6001'], [unit]);

  // Recorded in the pod's status and read back exactly (what an agent restart sees).
  const held = pod('a', { 'devices.corral.io/usb-0403-6001': '1' }, 'Running', allocation);
  assert.is(held.status!.conditions![0]!.type, DEVICES_CONDITION);
  assert.equal(recordedAllocation(held), allocation);
  assert.equal(containerDevicePaths(held.spec.containers[0]!, allocation), ['/dev/bus/usb/001/002', '/dev/ttyUSB0']);
  assert.equal(containerDevicePaths(held.spec.containers[1]!, allocation), [], 'a container that asks for nothing gets nothing');

  const holders = [{ podUid: 'a', allocation }];
  const second = allocateDevices('b', podDeviceRequests(pod('b', { 'devices.corral.io/usb-0403-6001': '1' })), resources, holders);
  assert.equal(second, { error: 'Allocate failed due to requested number of devices unavailable for devices.corral.io/usb-0403-6001. Requested: 1, Available: 0, which is unexpected' });
  const other = allocateDevices('c', podDeviceRequests(pod('c', { 'devices.corral.io/serial-rig': '1' })), resources, holders);
  assert.ok('error' in other, 'the same adapter under another name is taken too');
  assert.equal(allocatableCounts(resources, holders), {
    'devices.corral.io/usb-0403-6001': 1, 'devices.corral.io/serial-rig': 0, 'devices.corral.io/shared': 2,
  }, 'own-name use is subtracted by the scheduler; use under another name lowers allocatable');

  // count: 2 → two pods share one gpio chip, a third does not fit.
  const s1 = allocateDevices('s1', new Map([['devices.corral.io/shared', 1]]), resources, []);
  const s2 = allocateDevices('s2', new Map([['devices.corral.io/shared', 1]]), resources, [{ podUid: 's1', allocation: (s1 as { allocation: never }).allocation }]);
  assert.ok('allocation' in s2);
  const s3 = allocateDevices('s3', new Map([['devices.corral.io/shared', 1]]), resources, [
    { podUid: 's1', allocation: (s1 as { allocation: never }).allocation }, { podUid: 's2', allocation: (s2 as { allocation: never }).allocation },
  ]);
  assert.ok('error' in s3);

  // A lease ends with the pod; a vanished unit is reported.
  assert.not.ok(holdsDevices(pod('a', {}, 'Succeeded')));
  assert.not.ok(holdsDevices(pod('a', {}, 'Failed')));
  assert.ok(holdsDevices(pod('a', {}, 'Pending')));
  assert.equal([...missingUnits(allocation, [])], [['devices.corral.io/usb-0403-6001', ['usb-0403-6001-A1']]]);
  assert.equal([...missingUnits(allocation, resources)], []);
});

test.run();
