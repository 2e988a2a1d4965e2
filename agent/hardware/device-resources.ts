/**
 * Inventory + rules → what the Node publishes (pure): extended resources `devices.corral.io/<name>`,
 * each a list of units (one physical device and the /dev paths a pod given it gets) and how many pods
 * may share a unit, plus the feature labels NFD-style (`feature.corral.io/usb-<vid>-<pid>=true`,
 * `feature.corral.io/cpu-<flag>=true`).
 *
 * Built-in resources, one per kind of device found: `usb-<vid>-<pid>` (every adapter of that model),
 * `serial-<by-id name or tty>`, `gpio-<n>`, `i2c-<n>`, `spi-<bus.cs>`, `video-<n>`. The devices file
 * adds named resources matched by path glob or USB ids (device-config.ts).
 *
 * A unit's id is the physical device (a USB adapter's tty belongs to the adapter), so resources that
 * overlap — `usb-0403-6001` and a `serial-rig` rule matching the same adapter's by-id link — share
 * units, and the allocator never gives one device to two pods through two names.
 */
import { createHash } from 'node:crypto';
import type { HostDevice } from './device-inventory.js';
import { DEVICE_RESOURCE_PREFIX, type DeviceRule } from './device-config.js';

export const FEATURE_LABEL_PREFIX = 'feature.corral.io/';

export interface DeviceUnit {
  /** The physical device: the same id in every resource that contains it. */
  id: string;
  /** Container paths of its device nodes and links. */
  paths: string[];
}

export interface DeviceResource {
  /** The full resource name, `devices.corral.io/serial-rig`. */
  name: string;
  /** Pods that may share one unit. */
  count: number;
  units: DeviceUnit[];
  /** Defined in the devices file: published (with 0) even when nothing matches. */
  configured: boolean;
}

/** A path under /dev and the device node it resolves to (itself unless it is a link). */
export interface DevPath {
  path: string;
  node: string;
}

/** A resource name's part after the prefix: qualified-name characters, at most 63 (long ones keep a hash). */
export function resourceSuffix(raw: string): string {
  let s = raw.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[^A-Za-z0-9]+/, '').replace(/[^A-Za-z0-9]+$/, '');
  if (s.length > 63) s = `${s.slice(0, 54).replace(/[^A-Za-z0-9]+$/, '')}-${createHash('sha256').update(raw).digest('hex').slice(0, 8)}`;
  return s || 'device';
}

/** A glob on paths: `*` and `?` within one segment, `**` across segments, `[...]` classes. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = end;
      }
    } else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function unitOf(device: HostDevice): DeviceUnit {
  return { id: device.parent ?? device.id, paths: [...device.paths] };
}

function builtInName(d: HostDevice): string | undefined {
  switch (d.class) {
    case 'usb': return d.usb && d.paths.length > 0 ? `usb-${d.usb.vendor}-${d.usb.product}` : undefined;
    case 'serial': return resourceSuffix(`serial-${d.byId ?? d.name}`);
    case 'gpio': return `gpio-${d.name.replace(/^gpiochip/, '')}`;
    case 'i2c': return d.name;
    case 'spi': return `spi-${d.name.replace(/^spidev/, '')}`;
    case 'video': return `video-${d.name.replace(/^video/, '')}`;
  }
}

function addUnit(map: Map<string, DeviceResource>, name: string, unit: DeviceUnit, count: number, configured: boolean): void {
  const full = `${DEVICE_RESOURCE_PREFIX}${name}`;
  let r = map.get(full);
  if (!r) map.set(full, (r = { name: full, count, units: [], configured }));
  const same = r.units.find((u) => u.id === unit.id);
  if (same) {
    for (const p of unit.paths) if (!same.paths.includes(p)) same.paths.push(p);
  } else r.units.push(unit);
}

/** Units of a path rule: matched paths grouped by the physical device they belong to. */
function pathUnits(glob: string, devices: readonly HostDevice[], devPaths: readonly DevPath[]): DeviceUnit[] {
  const re = globToRegExp(glob);
  const units: DeviceUnit[] = [];
  for (const p of devPaths) {
    if (!re.test(p.path)) continue;
    const owner = devices.find((d) => d.paths.includes(p.path) || d.paths.includes(p.node));
    // Only the matched path and the node it names: exactly what the rule selects.
    const id = owner ? (owner.parent ?? owner.id) : `node${p.node.replace(/\//g, '-')}`;
    const paths = p.path === p.node ? [p.node] : [p.node, p.path];
    const unit = units.find((u) => u.id === id);
    if (unit) for (const x of paths) { if (!unit.paths.includes(x)) unit.paths.push(x); }
    else units.push({ id, paths });
  }
  return units;
}

export function deviceResources(devices: readonly HostDevice[], rules: readonly DeviceRule[], devPaths: readonly DevPath[]): DeviceResource[] {
  const map = new Map<string, DeviceResource>();
  for (const d of devices) {
    const name = builtInName(d);
    if (name) addUnit(map, name, unitOf(d), 1, false);
  }
  for (const rule of rules) {
    const full = `${DEVICE_RESOURCE_PREFIX}${rule.name}`;
    // A rule named like a built-in resource replaces it.
    map.set(full, { name: full, count: rule.count, units: [], configured: true });
    if (rule.match.usb) {
      const m = rule.match.usb;
      for (const d of devices) {
        if (d.class !== 'usb' || d.usb?.vendor !== m.vendor || d.usb.product !== m.product) continue;
        if (m.serial !== undefined && d.usb.serial !== m.serial) continue;
        addUnit(map, rule.name, unitOf(d), rule.count, true);
      }
    } else {
      for (const u of pathUnits(rule.match.path, devices, devPaths)) addUnit(map, rule.name, u, rule.count, true);
    }
  }
  return [...map.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** CPU flags worth scheduling on (x86 /proc/cpuinfo `flags`, ARM `Features`). */
const CPU_FEATURES = new Set([
  'sse4_1', 'sse4_2', 'avx', 'avx2', 'avx512f', 'aes', 'sha_ni', 'vmx', 'svm', 'fma', 'f16c', 'popcnt',
  'neon', 'vfpv4', 'asimd', 'sha1', 'sha2', 'crc32', 'atomics', 'fphp', 'asimdhp', 'sve', 'pmull',
]);

export function cpuFeatureLabels(cpuinfo: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const line of cpuinfo.split('\n')) {
    const m = /^(flags|Features)\s*:\s*(.*)$/.exec(line);
    if (!m) continue;
    for (const f of m[2]!.split(/\s+/)) if (CPU_FEATURES.has(f)) labels[`${FEATURE_LABEL_PREFIX}cpu-${f.replace(/_/g, '-')}`] = 'true';
  }
  return labels;
}

/** `feature.corral.io/usb-<vid>-<pid>=true` for every USB device model attached. */
export function usbFeatureLabels(devices: readonly HostDevice[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const d of devices) if (d.usb) labels[`${FEATURE_LABEL_PREFIX}usb-${d.usb.vendor}-${d.usb.product}`] = 'true';
  return labels;
}
