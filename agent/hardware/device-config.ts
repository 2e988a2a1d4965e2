/**
 * The devices file (`/etc/corral/devices.yaml`, or `--devices-config FILE`): resources defined by match
 * rules, in the shape generic-device-plugin users know:
 *
 *   devices:
 *   - name: serial-rig                       # the resource devices.corral.io/serial-rig
 *     match:
 *       path: /dev/serial/by-id/usb-FTDI_*   # a glob on device paths, or
 *       usb: {vendor: "0403", product: "6001", serial: "A1"}
 *     count: 1                               # pods that may share one matched device (default 1)
 *
 * Parsing is strict: every mistake is reported with where it is (`devices[1].match.usb.vendor: ...`),
 * all at once, and a file with any mistake is refused as a whole.
 */
import { readFile } from 'node:fs/promises';

export const DEFAULT_DEVICES_CONFIG = '/etc/corral/devices.yaml';
import { DEVICE_RESOURCE_PREFIX } from '../../api/device-resources.js';

export { DEVICE_RESOURCE_PREFIX };

export interface UsbMatch {
  vendor: string;
  product: string;
  serial?: string | undefined;
}

export interface DeviceRule {
  name: string;
  match: { path: string; usb?: undefined } | { usb: UsbMatch; path?: undefined };
  count: number;
}

export class DevicesConfigError extends Error {
  constructor(readonly file: string, readonly problems: string[]) {
    super(`invalid devices config ${file}: ${problems.join('; ')}`);
    this.name = 'DevicesConfigError';
  }
}

/** The name part of an extended resource: a DNS-1123-ish qualified name of at most 63 characters. */
const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const HEX4 = /^[0-9a-fA-F]{4}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function unknownKeys(where: string, obj: Record<string, unknown>, allowed: readonly string[], problems: string[]): void {
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) problems.push(`${where}.${k}: unknown field (allowed: ${allowed.join(', ')})`);
}

/** USB ids are written as 4 hex digits; YAML turns an unquoted 6001 into a number, which is accepted too. */
function hexId(where: string, v: unknown, problems: string[]): string | undefined {
  const s = typeof v === 'number' && Number.isInteger(v) ? String(v).padStart(4, '0') : v;
  if (typeof s !== 'string' || !HEX4.test(s)) {
    problems.push(`${where}: must be 4 hex digits, e.g. "0403" (got ${JSON.stringify(v)})`);
    return undefined;
  }
  return s.toLowerCase();
}

function parseRule(i: number, raw: unknown, problems: string[]): DeviceRule | undefined {
  const at = `devices[${i}]`;
  if (!isRecord(raw)) {
    problems.push(`${at}: must be a mapping with name, match and count`);
    return undefined;
  }
  unknownKeys(at, raw, ['name', 'match', 'count'], problems);
  const before = problems.length;
  const name = raw['name'];
  if (typeof name !== 'string' || name === '') problems.push(`${at}.name: required`);
  else if (name.length > 63 || !NAME.test(name)) {
    problems.push(`${at}.name: "${name}" must be lower-case letters, digits, '-' and '.', start and end alphanumeric, at most 63 characters (it becomes ${DEVICE_RESOURCE_PREFIX}${name})`);
  }
  let count = 1;
  if (raw['count'] !== undefined) {
    const c = raw['count'];
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 1 || c > 1000) problems.push(`${at}.count: must be a whole number from 1 to 1000 (got ${JSON.stringify(c)})`);
    else count = c;
  }
  const match = raw['match'];
  let parsed: DeviceRule['match'] | undefined;
  if (!isRecord(match)) problems.push(`${at}.match: required, with either path or usb`);
  else {
    unknownKeys(`${at}.match`, match, ['path', 'usb'], problems);
    const hasPath = match['path'] !== undefined;
    const hasUsb = match['usb'] !== undefined;
    if (hasPath === hasUsb) problems.push(`${at}.match: give exactly one of path and usb`);
    else if (hasPath) {
      const p = match['path'];
      if (typeof p !== 'string' || !p.startsWith('/dev/') || p.includes('..')) problems.push(`${at}.match.path: must be a glob under /dev/, e.g. /dev/serial/by-id/usb-FTDI_* (got ${JSON.stringify(p)})`);
      else parsed = { path: p };
    } else {
      const u = match['usb'];
      if (!isRecord(u)) problems.push(`${at}.match.usb: must be a mapping with vendor, product and optionally serial`);
      else {
        unknownKeys(`${at}.match.usb`, u, ['vendor', 'product', 'serial'], problems);
        const vendor = hexId(`${at}.match.usb.vendor`, u['vendor'], problems);
        const product = hexId(`${at}.match.usb.product`, u['product'], problems);
        const serial = u['serial'];
        if (serial !== undefined && (typeof serial !== 'string' || serial === '')) problems.push(`${at}.match.usb.serial: must be a non-empty string`);
        if (vendor && product) parsed = { usb: { vendor, product, ...(typeof serial === 'string' && serial ? { serial } : {}) } };
      }
    }
  }
  if (problems.length > before || !parsed || typeof name !== 'string') return undefined;
  return { name, match: parsed, count };
}

/** Parses and validates the file's text; throws DevicesConfigError listing every problem. */
export async function parseDevicesConfig(textValue: string, file = 'devices.yaml'): Promise<DeviceRule[]> {
  // yaml (~9 MiB resident) loads only on a node that has a devices file.
  const { parse: parseYaml } = await import('yaml');
  let doc: unknown;
  try {
    doc = parseYaml(textValue);
  } catch (err) {
    throw new DevicesConfigError(file, [`not valid YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  if (doc === null || doc === undefined) return [];
  const problems: string[] = [];
  if (!isRecord(doc)) throw new DevicesConfigError(file, ['the top level must be a mapping with a devices list']);
  unknownKeys('', doc, ['devices'], problems);
  const devices = doc['devices'] ?? [];
  if (!Array.isArray(devices)) throw new DevicesConfigError(file, ['devices: must be a list']);
  const rules: DeviceRule[] = [];
  const seen = new Set<string>();
  devices.forEach((raw, i) => {
    const rule = parseRule(i, raw, problems);
    if (!rule) return;
    if (seen.has(rule.name)) problems.push(`devices[${i}].name: "${rule.name}" is defined twice`);
    seen.add(rule.name);
    rules.push(rule);
  });
  if (problems.length > 0) throw new DevicesConfigError(file, problems.map((p) => p.replace(/^\./, '')));
  return rules;
}

/**
 * Reads the file. The default file may be absent (no rules); a file named explicitly must exist.
 */
export async function loadDevicesConfig(file: string | undefined): Promise<DeviceRule[]> {
  const path = file ?? DEFAULT_DEVICES_CONFIG;
  let body: string;
  try {
    body = await readFile(path, 'utf8');
  } catch (err) {
    if (file === undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new DevicesConfigError(path, [`cannot read it: ${(err as Error).message}`]);
  }
  return parseDevicesConfig(body, path);
}
