/**
 * The attached hardware, read from sysfs and udev's /dev links the way Node Feature Discovery and
 * generic-device-plugin look at it: USB devices (vendor:product, serial) with the serial ports they
 * carry, other serial ports, GPIO chips, I2C and SPI buses and video devices, each with the device
 * nodes a container needs (`/dev/...` names, including udev's stable `/dev/serial/by-id` links).
 *
 * Both roots are configurable so a test can hand it a fake tree: `sysRoot` stands for /sys, `devRoot`
 * for /dev. Paths in the result are the names inside a container (always `/dev/...`); `hostPath`
 * maps one back to the file under `devRoot`. Only directory listings and small file reads, made
 * synchronously: sysfs and /dev answer from kernel memory in microseconds, while a promise-based call
 * is a thread-pool round trip; a PC's ~70 ttys made a pass ~100 of them, every 10 s resync. A file or
 * directory that may be absent is checked first, so an absent one costs no Error with a stack trace.
 */
import { existsSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { readTextIfPresent } from '../kernel-files.js';
import { basename, join, resolve } from 'node:path';

export type DeviceClass = 'usb' | 'serial' | 'gpio' | 'i2c' | 'spi' | 'video';

/** One attached device, with every node a pod that is given it gets. */
export interface HostDevice {
  /** Stable identity: a USB device keeps it across re-plugs when it has a serial number. */
  id: string;
  class: DeviceClass;
  /** The kernel name: `1-1.2` (USB), `ttyUSB0`, `gpiochip0`, `i2c-1`, `spidev0.0`, `video0`. */
  name: string;
  /** Container paths (`/dev/...`): the device nodes, then their stable links. */
  paths: string[];
  usb?: { vendor: string; product: string; serial?: string | undefined; manufacturer?: string | undefined; model?: string | undefined } | undefined;
  /** The USB device this one hangs off (a USB serial adapter's tty), by id. */
  parent?: string | undefined;
  /** udev's /dev/serial/by-id name of a serial port. */
  byId?: string | undefined;
}

export interface InventoryRoots {
  /** Default /sys. */
  sysRoot?: string | undefined;
  /** Default /dev. */
  devRoot?: string | undefined;
}

/** The file under devRoot that a container path `/dev/...` names. */
export function hostPath(containerPath: string, devRoot = '/dev'): string {
  return devRoot === '/dev' ? containerPath : join(devRoot, containerPath.replace(/^\/dev\/?/, ''));
}

function text(path: string): string | undefined {
  return readTextIfPresent(path)?.trim();
}

function list(dir: string): string[] {
  if (!existsSync(dir)) return [];
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function exists(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false }) !== undefined;
}

/** realpath(3) in one call (the JavaScript one lstat's every component); undefined when it fails. */
function realPath(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return realpathSync.native(path);
  } catch {
    return undefined;
  }
}

/** The link's target, or undefined when it is not a link. */
function linkTarget(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** A serial number as a safe id part (`[A-Za-z0-9._-]`). */
function idPart(value: string): string {
  return value.replace(/[^A-Za-z0-9._-]+/g, '_');
}

interface UsbEntry { device: HostDevice; realDir: string }

function readUsb(sysRoot: string, devRoot: string): UsbEntry[] {
  const base = join(sysRoot, 'bus/usb/devices');
  const out: UsbEntry[] = [];
  for (const name of list(base).sort()) {
    // Interfaces (`1-1:1.0`) and root hubs (`usb1`) are not devices a pod asks for.
    if (name.includes(':') || name.startsWith('usb')) continue;
    const dir = join(base, name);
    const [vendor, product, serial, manufacturer, model, busnum, devnum] =
      ['idVendor', 'idProduct', 'serial', 'manufacturer', 'product', 'busnum', 'devnum'].map((f) => text(join(dir, f)));
    if (!vendor || !product || !/^[0-9a-fA-F]{4}$/.test(vendor) || !/^[0-9a-fA-F]{4}$/.test(product)) continue;
    const vid = vendor.toLowerCase();
    const pid = product.toLowerCase();
    const paths: string[] = [];
    if (busnum && devnum) {
      const node = `/dev/bus/usb/${busnum.padStart(3, '0')}/${devnum.padStart(3, '0')}`;
      if (exists(hostPath(node, devRoot))) paths.push(node);
    }
    const id = serial ? `usb-${vid}-${pid}-${idPart(serial)}` : `usb-${vid}-${pid}-port-${name}`;
    out.push({
      device: { id, class: 'usb', name, paths, usb: { vendor: vid, product: pid, serial, manufacturer, model } },
      realDir: realPath(dir) ?? resolve(dir),
    });
  }
  return out;
}

/** by-id link name → the tty it points to (`usb-FTDI_FT232R_USB_UART_A1-if00-port0` → ttyUSB0). */
function serialLinks(devRoot: string): Map<string, string[]> {
  const dir = join(devRoot, 'serial/by-id');
  const byTty = new Map<string, string[]>();
  for (const link of list(dir).sort()) {
    const target = linkTarget(join(dir, link));
    if (!target) continue;
    const tty = basename(target);
    byTty.set(tty, [...(byTty.get(tty) ?? []), link]);
  }
  return byTty;
}

/**
 * Serial ports: ttys with a real device behind them. The kernel registers placeholder 8250 ports
 * (ttyS0…ttyS31) on every PC whether or not a UART exists; their device is the `serial8250` platform
 * device, and they are left out.
 */
function readSerial(sysRoot: string, devRoot: string, usb: UsbEntry[]): HostDevice[] {
  const base = join(sysRoot, 'class/tty');
  const links = serialLinks(devRoot);
  const out: HostDevice[] = [];
  for (const name of list(base).sort()) {
    // Virtual ttys (tty0…tty63, console, ptmx: most of the list) have no device behind them. Told from their
    // class link, not from a failing realpath: the agent rereads this list every 10 s, and each failure
    // was an Error with its stack trace and a rejected promise, a large part of an idle agent's allocation.
    if ((linkTarget(join(base, name)) ?? '').includes('/devices/virtual/')) continue;
    const deviceLink = realPath(join(base, name, 'device'));
    if (!deviceLink || basename(deviceLink) === 'serial8250') continue;
    const node = `/dev/${name}`;
    if (!exists(hostPath(node, devRoot))) continue;
    const real = realPath(join(base, name)) ?? '';
    const parent = usb.find((u) => real.startsWith(`${u.realDir}/`));
    const byIds = links.get(name) ?? [];
    const byId = byIds[0];
    out.push({
      id: byId ? `serial-${byId}` : `serial-${name}`,
      class: 'serial',
      name,
      paths: [node, ...byIds.map((l) => `/dev/serial/by-id/${l}`)],
      parent: parent?.device.id,
      byId,
    });
  }
  return out;
}

/** Character devices of one sysfs class whose node exists: `/sys/class/i2c-dev/i2c-1` → /dev/i2c-1. */
function readClass(sysRoot: string, devRoot: string, sysDir: string, cls: DeviceClass, pattern: RegExp): HostDevice[] {
  const out: HostDevice[] = [];
  for (const name of list(join(sysRoot, sysDir)).sort()) {
    if (!pattern.test(name)) continue;
    const node = `/dev/${name}`;
    if (!exists(hostPath(node, devRoot))) continue;
    out.push({ id: name, class: cls, name, paths: [node] });
  }
  return out;
}

/** Reads every device this node has (USB first, then what hangs off them, then the buses). */
export async function readDeviceInventory(roots: InventoryRoots = {}): Promise<HostDevice[]> {
  const sysRoot = roots.sysRoot ?? '/sys';
  const devRoot = roots.devRoot ?? '/dev';
  const usb = readUsb(sysRoot, devRoot);
  const serial = readSerial(sysRoot, devRoot, usb);
  // A USB adapter's ports are part of it: a pod given the adapter gets its ttys too.
  for (const s of serial) {
    const owner = usb.find((u) => u.device.id === s.parent);
    if (owner) owner.device.paths.push(...s.paths);
  }
  const gpio = readClass(sysRoot, devRoot, 'bus/gpio/devices', 'gpio', /^gpiochip\d+$/);
  const i2c = readClass(sysRoot, devRoot, 'class/i2c-dev', 'i2c', /^i2c-\d+$/);
  const spi = readClass(sysRoot, devRoot, 'class/spidev', 'spi', /^spidev\d+\.\d+$/);
  const video = readClass(sysRoot, devRoot, 'class/video4linux', 'video', /^video\d+$/);
  return [...usb.map((u) => u.device), ...serial, ...gpio, ...i2c, ...spi, ...video];
}

/** The sysfs and /dev directories whose changes mean a device came or went (for fs.watch). */
export function watchedDirectories(roots: InventoryRoots = {}): string[] {
  const sysRoot = roots.sysRoot ?? '/sys';
  const devRoot = roots.devRoot ?? '/dev';
  return [devRoot, join(devRoot, 'serial/by-id'), join(sysRoot, 'bus/usb/devices'), join(sysRoot, 'class/tty')];
}
