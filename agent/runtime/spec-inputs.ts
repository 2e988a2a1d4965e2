/**
 * What the OCI spec (spec.ts) needs from the host and the image: the image USER resolved against the
 * rootfs' passwd/group files, the capability bounding set containerd and runc share, device nodes.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { RuntimeError } from './errors.js';
import { capabilitiesFromMask, type DeviceNode } from './spec.js';

/** Resolves an image USER ("1000", "1000:50", "app", "app:staff") against the rootfs' passwd/group files. */
export async function resolveImageUser(user: string, rootfs: string): Promise<{ uid: number; gid: number }> {
  if (!user) return { uid: 0, gid: 0 };
  const [u = '', g] = user.split(':');
  const passwd = await readFile(join(rootfs, 'etc/passwd'), 'utf8').catch(() => '');
  const group = await readFile(join(rootfs, 'etc/group'), 'utf8').catch(() => '');
  let uid: number;
  let gid: number | undefined;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    const entry = passwd.split('\n').map((l) => l.split(':')).find((f) => f[2] === u);
    if (entry?.[3] !== undefined) gid = Number(entry[3]);
  } else {
    const entry = passwd.split('\n').map((l) => l.split(':')).find((f) => f[0] === u);
    if (!entry || entry[2] === undefined) throw new RuntimeError('InvalidArgument', `image user ${u} is not in the image's /etc/passwd`, 'run');
    uid = Number(entry[2]);
    gid = entry[3] === undefined ? undefined : Number(entry[3]);
  }
  if (g !== undefined && g !== '') {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const entry = group.split('\n').map((l) => l.split(':')).find((f) => f[0] === g);
      if (!entry || entry[2] === undefined) throw new RuntimeError('InvalidArgument', `image group ${g} is not in the image's /etc/group`, 'run');
      gid = Number(entry[2]);
    }
  }
  return { uid, gid: gid ?? 0 };
}

let hostCaps: Promise<string[] | undefined> | undefined;

/**
 * The capability bounding set of this process, which containerd and runc share on a normal install
 * (a container cannot be given more); undefined if it cannot be read.
 */
export function hostCapabilities(): Promise<string[] | undefined> {
  hostCaps ??= readFile('/proc/self/status', 'utf8').then(
    (text) => {
      const m = /^CapBnd:\s+([0-9a-f]+)$/m.exec(text);
      return m ? capabilitiesFromMask(m[1]!) : undefined;
    },
    () => undefined,
  );
  return hostCaps;
}

/** Reads a host device node's type and numbers for the spec (links followed); `containerPath` names it inside. */
export async function deviceNode(path: string, containerPath = path): Promise<DeviceNode> {
  let st;
  try {
    st = await stat(path, { bigint: true });
  } catch (err) {
    throw new RuntimeError('InvalidArgument', `device ${path} does not exist`, 'run', { cause: err });
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice()) throw new RuntimeError('InvalidArgument', `${path} is not a device node`, 'run');
  const rdev = st.rdev;
  // glibc's gnu_dev_major/minor encoding.
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return {
    path: containerPath,
    type: st.isCharacterDevice() ? 'c' : 'b',
    major,
    minor,
    fileMode: Number(st.mode & 0o777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
}
