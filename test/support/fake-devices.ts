/**
 * A fake sysfs + /dev tree in the kernel's and udev's layout, for the device inventory: a USB serial
 * adapter (its USB device under /sys/devices, the bus and class links pointing there, the tty under
 * its interface, /dev/bus/usb/BBB/DDD, /dev/ttyUSBn and the /dev/serial/by-id link), GPIO, I2C and a
 * placeholder 8250 port. Device nodes are made by `makeNode`: plain files for unit tests, real nodes
 * (mknod) in the lab.
 */
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';

export type MakeNode = (path: string) => Promise<void>;

export const plainFile: MakeNode = (path) => writeFile(path, '');

export interface FakeUsbSerial {
  /** USB port path, e.g. 1-1. */
  port: string;
  busnum: number;
  devnum: number;
  vendor: string;
  product: string;
  serial?: string;
  manufacturer: string;
  model: string;
  tty: string;
}

export const FTDI: FakeUsbSerial = { port: '1-1', busnum: 1, devnum: 2, vendor: '0403', product: '6001', serial: 'A1', manufacturer: 'FTDI', model: 'FT232R USB UART', tty: 'ttyUSB0' };

const PCI = 'devices/pci0000:00/0000:00:14.0/usb1';

async function link(target: string, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await rm(path, { force: true });
  await symlink(relative(dirname(path), target), path);
}

async function files(dir: string, values: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [k, v] of Object.entries(values)) await writeFile(join(dir, k), `${v}\n`);
}

/** The udev by-id name of an adapter's first port. */
export function byIdName(a: FakeUsbSerial): string {
  return `usb-${a.manufacturer}_${a.model.replace(/ /g, '_')}${a.serial ? `_${a.serial}` : ''}-if00-port0`;
}

export async function plugUsbSerial(sys: string, dev: string, a: FakeUsbSerial, makeNode: MakeNode): Promise<void> {
  const usbDir = join(sys, PCI, a.port);
  await files(usbDir, {
    idVendor: a.vendor, idProduct: a.product, manufacturer: a.manufacturer, product: a.model,
    busnum: String(a.busnum), devnum: String(a.devnum), ...(a.serial ? { serial: a.serial } : {}),
  });
  const ttyDir = join(usbDir, `${a.port}:1.0`, a.tty, 'tty', a.tty);
  await mkdir(ttyDir, { recursive: true });
  await link(join(usbDir, `${a.port}:1.0`, a.tty), join(ttyDir, 'device'));
  await link(usbDir, join(sys, 'bus/usb/devices', a.port));
  await link(join(usbDir, `${a.port}:1.0`), join(sys, 'bus/usb/devices', `${a.port}:1.0`));
  await link(ttyDir, join(sys, 'class/tty', a.tty));
  const usbNode = join(dev, 'bus/usb', String(a.busnum).padStart(3, '0'), String(a.devnum).padStart(3, '0'));
  await mkdir(dirname(usbNode), { recursive: true });
  await makeNode(usbNode);
  await makeNode(join(dev, a.tty));
  await link(join(dev, a.tty), join(dev, 'serial/by-id', byIdName(a)));
}

/** Hot-unplug: what the kernel and udev remove, in their order (links first, then the nodes, then sysfs). */
export async function unplugUsbSerial(sys: string, dev: string, a: FakeUsbSerial): Promise<void> {
  await rm(join(dev, 'serial/by-id', byIdName(a)), { force: true });
  await rm(join(dev, a.tty), { force: true });
  await rm(join(dev, 'bus/usb', String(a.busnum).padStart(3, '0'), String(a.devnum).padStart(3, '0')), { force: true });
  await rm(join(sys, 'class/tty', a.tty), { force: true });
  await rm(join(sys, 'bus/usb/devices', a.port), { force: true });
  await rm(join(sys, 'bus/usb/devices', `${a.port}:1.0`), { force: true });
  await rm(join(sys, PCI, a.port), { recursive: true, force: true });
}

/** The rest of a small board: a root hub, a placeholder ttyS0, a virtual console tty1, gpiochip0 and i2c-1. */
export async function buildBoard(sys: string, dev: string, makeNode: MakeNode): Promise<void> {
  await files(join(sys, PCI), { idVendor: '1d6b', idProduct: '0002', busnum: '1', devnum: '1' });
  await link(join(sys, PCI), join(sys, 'bus/usb/devices/usb1'));
  const s8250 = join(sys, 'devices/platform/serial8250');
  await mkdir(join(s8250, 'tty/ttyS0'), { recursive: true });
  await link(s8250, join(s8250, 'tty/ttyS0/device'));
  await link(join(s8250, 'tty/ttyS0'), join(sys, 'class/tty/ttyS0'));
  // A virtual console, as every host has dozens of: no device behind it, never a serial port.
  await mkdir(join(sys, 'devices/virtual/tty/tty1'), { recursive: true });
  await link(join(sys, 'devices/virtual/tty/tty1'), join(sys, 'class/tty/tty1'));
  await mkdir(join(sys, 'bus/gpio/devices/gpiochip0'), { recursive: true });
  await mkdir(join(sys, 'class/i2c-dev/i2c-1'), { recursive: true });
  await mkdir(dev, { recursive: true });
  for (const n of ['ttyS0', 'tty1', 'gpiochip0', 'i2c-1']) await makeNode(join(dev, n));
}
