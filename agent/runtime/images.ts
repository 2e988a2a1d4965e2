/**
 * Images through ctr: list, exists, import (air-gap tarballs), pull (credentials, plain HTTP) and the
 * image config (entrypoint, cmd, env, workdir, user) that Kubernetes `command`/`args` are resolved against.
 */
import type { Ctr, CallOptions } from './ctr.js';
import { RuntimeError } from './errors.js';

export interface ImageSummary {
  /** Fully qualified reference, e.g. docker.io/library/busybox:1.36. */
  ref: string;
  mediaType: string;
  /** Digest of the manifest or index the reference points to (the pod status `imageID`). */
  digest: string;
  /** Size as ctr prints it, e.g. "1.9 MiB". */
  size: string;
  platforms: string[];
}

/** The part of an OCI image config a container start needs. */
export interface ImageConfig {
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  user: string;
  diffIDs: string[];
}

export interface PullOptions extends CallOptions {
  /** `user:password` for the registry (from an imagePullSecret). */
  credentials?: { username: string; password: string } | undefined;
  /** The registry speaks plain HTTP (a local registry without TLS). */
  plainHttp?: boolean | undefined;
  /** Platform to pull, e.g. linux/arm/v7; default ctr's own. */
  platform?: string | undefined;
}

const INDEX_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);

/**
 * Normalises an image name the way Docker and Kubernetes do: `busybox` → `docker.io/library/busybox:latest`,
 * `me/app:1` → `docker.io/me/app:1`, `registry:5000/app` → `registry:5000/app:latest`. ctr only accepts
 * fully qualified references.
 */
export function normalizeImageRef(image: string): string {
  let name = image.trim();
  let digest = '';
  const at = name.indexOf('@');
  if (at >= 0) {
    digest = name.slice(at);
    name = name.slice(0, at);
  }
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  const hasDomain = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasDomain) name = `docker.io/${slash < 0 ? `library/${name}` : name}`;
  else if (first === 'index.docker.io') name = `docker.io${name.slice(first.length)}`;
  if (name.startsWith('docker.io/') && !name.slice('docker.io/'.length).includes('/')) {
    name = `docker.io/library/${name.slice('docker.io/'.length)}`;
  }
  const lastSegment = name.slice(name.lastIndexOf('/') + 1);
  if (!lastSegment.includes(':') && digest === '') name += ':latest';
  return name + digest;
}

/** Go's GOARCH for this Node.js process (what containerd would pick for the platform). */
export function goArch(arch: string = process.arch): string {
  switch (arch) {
    case 'x64': return 'amd64';
    case 'ia32': return '386';
    default: return arch; // arm64, arm, ppc64, s390x, riscv64 have the same names
  }
}

/** Parses `ctr image ls` (columns REF TYPE DIGEST SIZE(two words) PLATFORMS LABELS). */
export function parseImageList(stdout: string): ImageSummary[] {
  const images: ImageSummary[] = [];
  for (const line of stdout.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 6) continue;
    const [ref, mediaType, digest, sizeValue, sizeUnit, platforms] = cols as [string, string, string, string, string, string];
    images.push({ ref, mediaType, digest, size: `${sizeValue} ${sizeUnit}`, platforms: platforms === '-' ? [] : platforms.split(',') });
  }
  return images;
}

export class ImageService {
  /** Image configs by manifest/index digest: content is immutable, so this never goes stale. */
  private readonly configCache = new Map<string, ImageConfig>();
  /** platformMismatch() answers by `<digest> <arch>`: content is immutable. */
  private readonly platformCache = new Map<string, string | undefined>();
  /**
   * Images known to be present, by reference, for a short while: one container start asks three
   * times (pull policy, image config, imageID) and 30 pods of one image ask 90 times, each a
   * `ctr images ls`. Only presence is cached (an image that appears is seen at once); pulls, imports
   * and removals through this service update it; an image removed behind our back is noticed within
   * `presentTtlMs` (the start then fails and is retried).
   */
  private readonly present = new Map<string, { summary: ImageSummary; at: number }>();

  constructor(private readonly ctr: Ctr, private readonly presentTtlMs = 10_000) {}

  async list(opts: CallOptions = {}): Promise<ImageSummary[]> {
    const { stdout } = await this.ctr.call(['images', 'ls'], opts);
    return parseImageList(stdout);
  }

  /** The image with exactly this (normalised) reference, or undefined. */
  async get(image: string, opts: CallOptions = {}): Promise<ImageSummary | undefined> {
    const ref = normalizeImageRef(image);
    const cached = this.present.get(ref);
    if (cached && Date.now() - cached.at < this.presentTtlMs) return cached.summary;
    const { stdout } = await this.ctr.call(['images', 'ls', `name==${ref}`], opts);
    const found = parseImageList(stdout).find((i) => i.ref === ref);
    if (found) this.present.set(ref, { summary: found, at: Date.now() });
    else this.present.delete(ref);
    return found;
  }

  async exists(image: string, opts: CallOptions = {}): Promise<boolean> {
    return (await this.get(image, opts)) !== undefined;
  }

  /**
   * Imports an OCI or Docker image tarball (the air-gap directory). Returns the references it
   * brought in, as ctr reports them ("unpacking REF (sha256:...)").
   */
  async importTarball(path: string, opts: CallOptions = {}): Promise<string[]> {
    this.present.clear();
    const { stdout } = await this.ctr.call(['images', 'import', path], { timeoutMs: 300_000, ...opts });
    return [...stdout.matchAll(/unpacking (\S+) \(sha256:/g)].map((m) => m[1]!);
  }

  /**
   * Pulls (and unpacks) an image. Note that the download happens in this process's network
   * namespace, not containerd's.
   */
  async pull(image: string, opts: PullOptions = {}): Promise<ImageSummary> {
    const ref = normalizeImageRef(image);
    const args = ['images', 'pull'];
    if (opts.plainHttp) args.push('--plain-http');
    if (opts.platform) args.push('--platform', opts.platform);
    // The user name only: ctr asks for the password on its terminal (argv is world-readable in /proc).
    if (opts.credentials) args.push('--user', opts.credentials.username);
    args.push(ref);
    await this.ctr.call(args, {
      timeoutMs: 600_000, ...opts,
      ...(opts.credentials ? { secretPrompt: { secret: opts.credentials.password, prompt: /Password: ?/ } } : {}),
    });
    this.present.delete(ref);
    const pulled = await this.get(ref, opts);
    if (!pulled) throw new RuntimeError('NotFound', `image ${ref} not listed after a successful pull`, 'images pull');
    return pulled;
  }

  async remove(image: string, opts: CallOptions = {}): Promise<void> {
    this.present.delete(normalizeImageRef(image));
    await this.ctr.call(['images', 'rm', normalizeImageRef(image)], opts);
  }

  /**
   * Why the image cannot run on this node's platform (linux/<arch>), or undefined when it can: an index
   * without a linux/<arch> manifest, or a single manifest whose config names another architecture. Checked
   * before a container is created, so a foreign image fails with a reason instead of an exec format error
   * (or, on a machine with qemu-user in binfmt_misc, silently running emulated). Cached by digest.
   */
  async platformMismatch(image: string, opts: CallOptions = {}, arch: string = goArch()): Promise<string | undefined> {
    const summary = await this.get(image, opts);
    if (!summary) throw new RuntimeError('NotFound', `image ${normalizeImageRef(image)} not found`, 'images ls');
    const key = `${summary.digest} ${arch}`;
    if (this.platformCache.has(key)) return this.platformCache.get(key);
    const top = await this.contentJson(summary.digest, opts);
    let offered: string[];
    if (isIndex(top, summary)) {
      if (pickPlatformManifest(top, arch)) offered = [];
      else offered = indexPlatforms(top);
    } else {
      const raw = await this.contentJson(manifestConfigDigest(top, summary.ref), opts);
      const p = { os: String(raw['os'] ?? ''), architecture: String(raw['architecture'] ?? ''), variant: raw['variant'] };
      offered = p.os === 'linux' && p.architecture === arch ? [] : [platformName(p)];
    }
    const why = offered.length === 0 ? undefined
      : `no match for platform in manifest: the image has ${offered.join(', ') || 'no platform'}, this node is linux/${arch}`;
    this.platformCache.set(key, why);
    return why;
  }

  /** Reads the image config through the content store (index → manifest → config), cached by digest. */
  async config(image: string, opts: CallOptions = {}): Promise<ImageConfig> {
    const summary = await this.get(image, opts);
    if (!summary) throw new RuntimeError('NotFound', `image ${normalizeImageRef(image)} not found`, 'images ls');
    const cached = this.configCache.get(summary.digest);
    if (cached) return cached;
    let manifest = await this.contentJson(summary.digest, opts);
    if (isIndex(manifest, summary)) {
      const chosen = pickPlatformManifest(manifest, goArch());
      if (!chosen) throw new RuntimeError('NotFound', `image ${summary.ref} has no manifest for linux/${goArch()}`, 'content get');
      manifest = await this.contentJson(chosen, opts);
    }
    const raw = await this.contentJson(manifestConfigDigest(manifest, summary.ref), opts);
    const cfg = (raw['config'] ?? {}) as Record<string, unknown>;
    const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
    const result: ImageConfig = {
      entrypoint: strings(cfg['Entrypoint']),
      cmd: strings(cfg['Cmd']),
      env: strings(cfg['Env']),
      workingDir: typeof cfg['WorkingDir'] === 'string' ? cfg['WorkingDir'] : '',
      user: typeof cfg['User'] === 'string' ? cfg['User'] : '',
      diffIDs: strings((raw['rootfs'] as { diff_ids?: unknown } | undefined)?.diff_ids),
    };
    this.configCache.set(summary.digest, result);
    return result;
  }

  private async contentJson(digest: string, opts: CallOptions): Promise<Record<string, unknown>> {
    const { stdout } = await this.ctr.call(['content', 'get', digest], opts);
    try {
      return JSON.parse(stdout) as Record<string, unknown>;
    } catch (err) {
      throw new RuntimeError('Failed', `content ${digest} is not JSON`, 'content get', { cause: err });
    }
  }
}

function isIndex(doc: Record<string, unknown>, summary: ImageSummary): boolean {
  return INDEX_TYPES.has(String(doc['mediaType'] ?? summary.mediaType)) || Array.isArray(doc['manifests']);
}

function manifestConfigDigest(manifest: Record<string, unknown>, ref: string): string {
  const digest = (manifest['config'] as { digest?: string } | undefined)?.digest;
  if (!digest) throw new RuntimeError('Failed', `image ${ref}: manifest without config`, 'content get');
  return digest;
}

/** `os/arch[/variant]`, as containerd and docker print platforms. */
function platformName(p: { os?: unknown; architecture?: unknown; variant?: unknown }): string {
  return [p.os, p.architecture, p.variant].filter((x): x is string => typeof x === 'string' && x !== '').join('/');
}

/** The platforms an index offers (attestation manifests, platform unknown/unknown, left out). */
export function indexPlatforms(index: Record<string, unknown>): string[] {
  const manifests = (Array.isArray(index['manifests']) ? index['manifests'] : []) as { platform?: Record<string, unknown> }[];
  return [...new Set(manifests.map((m) => (m.platform ? platformName(m.platform) : '')).filter((n) => n !== '' && n !== 'unknown/unknown'))];
}

/** Chooses the linux/<arch> manifest of an index (for arm, any variant; v7 preferred). */
export function pickPlatformManifest(index: Record<string, unknown>, arch: string): string | undefined {
  const manifests = (Array.isArray(index['manifests']) ? index['manifests'] : []) as {
    digest?: string;
    platform?: { os?: string; architecture?: string; variant?: string };
  }[];
  const candidates = manifests.filter((m) => m.platform?.os === 'linux' && m.platform.architecture === arch && m.digest);
  const preferred = arch === 'arm' ? candidates.find((m) => m.platform?.variant === 'v7') : undefined;
  return (preferred ?? candidates[0])?.digest;
}
