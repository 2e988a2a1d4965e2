/**
 * A container image without a registry: an OCI image-layout tarball built from the machine's static
 * busybox, which `ctr images import` accepts. Test workloads get `sh`, `httpd`, `sleep`, `nc`, `wget`
 * and the other busybox applets. The default name is what `image: busybox` normalises to, so pod specs
 * written for a real cluster resolve to it. Built tarballs are cached by content.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execOk } from './exec.js';

export const BUSYBOX_BINARY = '/bin/busybox';
export const DEFAULT_IMAGE_REF = 'docker.io/library/busybox:latest';

/** Bump when the image layout changes, so cached tarballs from older builders are not reused. */
const BUILDER_VERSION = 1;

export interface OciPlatform { architecture: string; os: 'linux'; variant?: string }

/** The OCI platform for a Debian architecture name (`dpkg --print-architecture`). */
export function platformForDebianArch(dpkgArch: string): OciPlatform {
  switch (dpkgArch) {
    case 'amd64': return { architecture: 'amd64', os: 'linux' };
    case 'arm64': return { architecture: 'arm64', os: 'linux', variant: 'v8' };
    case 'armhf': return { architecture: 'arm', os: 'linux', variant: 'v7' };
    case 'armel': return { architecture: 'arm', os: 'linux', variant: 'v5' };
    default: throw new Error(`no OCI platform known for Debian architecture ${dpkgArch}`);
  }
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Deterministic tar: same input tree, same bytes, so digests and the cache key are stable. */
function tarArgv(out: string, cwd: string, entries: readonly string[]): string[] {
  return ['tar', '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--format=gnu', '-C', cwd, '-cf', out, ...entries];
}

interface Blob { digest: string; size: number }

function writeBlob(blobsDir: string, data: Buffer): Blob {
  const hex = sha256(data);
  writeFileSync(join(blobsDir, hex), data);
  return { digest: `sha256:${hex}`, size: data.length };
}

/** The root filesystem: busybox, a symlink per applet, and the few files tools expect. */
async function stageRootfs(rootfs: string, busybox: string): Promise<void> {
  for (const d of ['bin', 'etc', 'root', 'proc', 'sys', 'dev', 'var', 'tmp']) mkdirSync(join(rootfs, d), { recursive: true });
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  copyFileSync(busybox, join(rootfs, 'bin', 'busybox'));
  chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
  // The machine's busybox lists the applets: a foreign one would need emulation just to say the same.
  const applets = (await execOk([BUSYBOX_BINARY, '--list'])).split('\n').map((a) => a.trim()).filter((a) => /^[\w.[-]+$/.test(a) && a !== 'busybox');
  for (const a of new Set(applets)) symlinkSync('busybox', join(rootfs, 'bin', a));
  writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(join(rootfs, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
}

export interface BuildImageOptions {
  /** Where the tarball (and the cache of earlier builds) is written. */
  dir: string;
  /** Image name recorded in the tarball; default docker.io/library/busybox:latest. */
  ref?: string;
  /** Extra files in the image (absolute paths), e.g. a stand-in program; part of the cache key. */
  files?: readonly { path: string; content: string; mode: number }[];
  /** The image's Cmd (default ["sh"]). */
  cmd?: readonly string[];
  /**
   * The image's variants, each a static busybox for one platform (default: the machine's /bin/busybox
   * for its own platform). One variant makes a plain image manifest; several make a multi-arch image
   * (an OCI index with one manifest per platform), each variant with `/platform` naming its own.
   */
  variants?: readonly ImageVariant[];
}

export interface ImageVariant { busybox: string; platform: OciPlatform }

/** `os/arch[/variant]`, as registries and containerd print platforms. */
export const platformName = (p: OciPlatform): string => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

/** Builds one variant's layer, config and manifest into blobs; returns the manifest's descriptor. */
async function buildVariant(work: string, blobs: string, v: ImageVariant, opts: BuildImageOptions, multi: boolean): Promise<Blob> {
  const rootfs = mkdtempSync(join(work, 'rootfs-'));
  await stageRootfs(rootfs, v.busybox);
  const files = [...(opts.files ?? []), ...(multi ? [{ path: '/platform', content: `${platformName(v.platform)}\n`, mode: 0o644 }] : [])];
  for (const f of files) {
    const target = join(rootfs, f.path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, f.content);
    chmodSync(target, f.mode);
  }
  const layerTar = join(work, 'layer.tar');
  await execOk(tarArgv(layerTar, rootfs, ['.']));
  // Uncompressed layer: its digest is also its diff_id.
  const layer = writeBlob(blobs, readFileSync(layerTar));
  rmSync(layerTar);
  const config = writeBlob(blobs, Buffer.from(JSON.stringify({
    ...v.platform,
    created: '1970-01-01T00:00:00Z',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: opts.cmd ?? ['sh'], WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
    history: [{ created: '1970-01-01T00:00:00Z', created_by: 'corral test/lab/image.ts from a static busybox' }],
  })));
  return writeBlob(blobs, Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_TYPE,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
  })));
}

const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const INDEX_TYPE = 'application/vnd.oci.image.index.v1+json';

/** Builds (or reuses a cached) OCI image tarball of busybox and returns its path. */
export async function buildBusyboxImage(opts: BuildImageOptions): Promise<string> {
  const ref = opts.ref ?? DEFAULT_IMAGE_REF;
  const variants = opts.variants ?? [{ busybox: BUSYBOX_BINARY, platform: platformForDebianArch((await execOk(['dpkg', '--print-architecture'])).trim()) }];
  if (variants.length === 0) throw new Error('an image needs at least one variant');
  const multi = variants.length > 1;
  const keyed = variants.map((v) => ({ platform: v.platform, busybox: sha256(readFileSync(v.busybox)) }));
  const key = sha256(JSON.stringify({ v: BUILDER_VERSION, ref, variants: multi ? keyed : keyed.map((k) => ({ ...k, single: true })), files: opts.files ?? [], cmd: opts.cmd ?? ['sh'] }));
  const out = join(opts.dir, `busybox-${key.slice(0, 20)}.oci.tar`);
  if (existsSync(out)) return out;

  mkdirSync(opts.dir, { recursive: true });
  const work = mkdtempSync(join(opts.dir, '.build-'));
  try {
    const layout = join(work, 'oci');
    const blobs = join(layout, 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    const manifests: Blob[] = [];
    for (const v of variants) manifests.push(await buildVariant(work, blobs, v, opts, multi));
    // A multi-arch image is an index (a blob of its own) that the layout's index.json names.
    const top = multi
      ? { mediaType: INDEX_TYPE, ...writeBlob(blobs, Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: INDEX_TYPE,
        manifests: manifests.map((m, i) => ({ mediaType: MANIFEST_TYPE, ...m, platform: variants[i]!.platform })),
      }))) }
      : { mediaType: MANIFEST_TYPE, ...manifests[0]!, platform: variants[0]!.platform };
    const lastPart = ref.slice(ref.lastIndexOf('/') + 1);
    const tag = lastPart.includes(':') ? lastPart.slice(lastPart.indexOf(':') + 1) : 'latest';
    writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(join(layout, 'index.json'), JSON.stringify({
      schemaVersion: 2,
      mediaType: INDEX_TYPE,
      manifests: [{ ...top, annotations: { 'io.containerd.image.name': ref, 'org.opencontainers.image.ref.name': tag } }],
    }));
    const tmp = join(work, 'image.tar');
    await execOk(tarArgv(tmp, layout, ['oci-layout', 'index.json', 'blobs']));
    renameSync(tmp, out);
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
