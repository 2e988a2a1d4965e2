/**
 * Images for pods: imagePullPolicy (Always / IfNotPresent / Never, with kubelet's default of Always
 * for `:latest`), registry credentials from imagePullSecrets (dockerconfigjson / dockercfg), and the
 * air-gap directory whose image tarballs are imported at start and whenever a new one appears.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Container, Pod } from '../../api/types.js';
import { log } from '../../api/log.js';
import { goArch, normalizeImageRef, type ContainerdRuntime } from '../runtime/index.js';

export class ImageError extends Error {
  override readonly name = 'ImageError';
  /** ErrImagePull, ErrImageNeverPull, InvalidImageName */
  constructor(readonly reason: string, message: string) {
    super(message);
  }
}

/**
 * What went wrong in a failed `ctr images pull`, without its progress and timestamped log lines (the
 * last line says it, e.g. `failed to resolve reference "…": … connection refused`): the same failure
 * then reads the same every time, so its Event is counted instead of written again.
 */
export function pullFailure(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^(ctr images pull: )?time="/.test(l));
  return (lines[lines.length - 1] ?? output.trim()).replace(/^ctr: /, '');
}

export type SecretReader = (namespace: string, name: string) => Promise<Record<string, Buffer> | undefined>;

export function effectivePullPolicy(c: Container): 'Always' | 'IfNotPresent' | 'Never' {
  if (c.imagePullPolicy) return c.imagePullPolicy;
  const ref = normalizeImageRef(c.image ?? '');
  return ref.endsWith(':latest') && !ref.includes('@') ? 'Always' : 'IfNotPresent';
}

/** The registry host of a normalised reference (docker.io for Docker Hub). */
export function registryOf(ref: string): string {
  return normalizeImageRef(ref).split('/')[0]!;
}

/** Credentials for `registry` from a dockerconfigjson / dockercfg secret's data. */
export function credentialsFor(data: Record<string, Buffer>, registry: string): { username: string; password: string } | undefined {
  let auths: Record<string, { auth?: string; username?: string; password?: string }> = {};
  try {
    if (data['.dockerconfigjson']) auths = (JSON.parse(data['.dockerconfigjson'].toString('utf8')) as { auths?: typeof auths }).auths ?? {};
    else if (data['.dockercfg']) auths = JSON.parse(data['.dockercfg'].toString('utf8')) as typeof auths;
  } catch {
    return undefined;
  }
  const wanted = registry === 'docker.io' ? ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'https://index.docker.io/v1/'] : [registry];
  for (const [key, entry] of Object.entries(auths)) {
    const host = key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    if (!wanted.includes(host) && !wanted.includes(key)) continue;
    if (entry.username && entry.password) return { username: entry.username, password: entry.password };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i > 0) return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
    }
  }
  return undefined;
}

export class ImageManager {
  /** Pulls in flight by reference: pods sharing an image wait for one pull. */
  private readonly pulls = new Map<string, Promise<void>>();
  private readonly imported = new Map<string, string>();

  constructor(
    private readonly runtime: ContainerdRuntime,
    private readonly secrets: SecretReader,
    /** Registries reached over plain HTTP (a LAN registry without TLS). */
    private readonly plainHttpRegistries: readonly string[] = [],
  ) {}

  /** Whether the container's image is in containerd now (no pull); warms the runtime's presence cache. */
  async present(c: Container): Promise<boolean> {
    return c.image ? this.runtime.images.exists(normalizeImageRef(c.image)) : false;
  }

  /**
   * Makes the container's image present according to its pull policy: `present` when it was there
   * already, `pulled` (with the time it took) after a pull. `onPulling` is told before a pull starts.
   */
  async ensure(pod: Pod, c: Container, o: { signal?: AbortSignal; onPulling?: () => void } = {}): Promise<{ outcome: 'present' } | { outcome: 'pulled'; ms: number }> {
    if (!c.image) throw new ImageError('InvalidImageName', `container ${c.name} has no image`);
    const ref = normalizeImageRef(c.image);
    const policy = effectivePullPolicy(c);
    const present = await this.runtime.images.exists(ref);
    if (policy === 'Never') {
      if (!present) throw new ImageError('ErrImageNeverPull', `Container image "${c.image}" is not present with pull policy of Never`);
      await this.checkPlatform(ref);
      return { outcome: 'present' };
    }
    if (policy === 'IfNotPresent' && present) {
      await this.checkPlatform(ref);
      return { outcome: 'present' };
    }
    o.onPulling?.();
    const t0 = performance.now();
    try {
      await this.pull(pod, ref, o.signal);
    } catch (err) {
      // An image imported from the air-gap directory (or pulled before) serves when the registry cannot.
      if (!present) throw err;
      log.warn('agent', 'image pull failed, using the image already present', { image: ref, error: (err as Error).message });
      await this.checkPlatform(ref);
      return { outcome: 'present' };
    }
    await this.checkPlatform(ref);
    return { outcome: 'pulled', ms: performance.now() - t0 };
  }

  /**
   * An image without a variant for this node's architecture fails like upstream's pull does (naming
   * the platforms), before any container exists: never an exec format error in a crash loop.
   */
  private async checkPlatform(ref: string): Promise<void> {
    const why = await this.runtime.images.platformMismatch(ref);
    if (why) throw new ImageError('ErrImagePull', `Failed to pull image "${ref}": ${why}`);
  }

  private pull(pod: Pod, ref: string, signal?: AbortSignal): Promise<void> {
    let p = this.pulls.get(ref);
    if (!p) {
      p = (async () => {
        const registry = registryOf(ref);
        let credentials: { username: string; password: string } | undefined;
        for (const s of pod.spec.imagePullSecrets ?? []) {
          const data = await this.secrets(pod.metadata.namespace ?? 'default', s.name).catch(() => undefined);
          credentials = data ? credentialsFor(data, registry) : undefined;
          if (credentials) break;
        }
        try {
          await this.runtime.images.pull(ref, {
            ...(credentials ? { credentials } : {}),
            plainHttp: this.plainHttpRegistries.includes(registry),
            ...(signal ? { signal } : {}),
          });
        } catch (err) {
          const why = pullFailure((err as Error).message);
          // containerd's own words name no platform: say which one this node wanted.
          const platform = /no match for platform/.test(why) ? ` (this node is linux/${goArch()})` : '';
          throw new ImageError('ErrImagePull', `Failed to pull image "${ref}": ${why}${platform}`);
        }
      })().finally(() => this.pulls.delete(ref));
      this.pulls.set(ref, p);
    }
    return p;
  }

  /** Imports tarballs of the air-gap directory not imported before (by name, size and mtime). */
  async importAirGap(dir: string): Promise<string[]> {
    const names = await readdir(dir).catch(() => [] as string[]);
    const refs: string[] = [];
    for (const name of names.sort()) {
      if (!/\.(tar|tar\.gz|tgz|tar\.zst)$/.test(name)) continue;
      const path = join(dir, name);
      const st = await stat(path).catch(() => undefined);
      if (!st?.isFile()) continue;
      const key = `${st.size}:${st.mtimeMs}`;
      if (this.imported.get(path) === key) continue;
      try {
        const got = await this.runtime.images.importTarball(path);
        this.imported.set(path, key);
        refs.push(...got);
        log.info('agent', 'imported air-gap image tarball', { file: path, images: got });
      } catch (err) {
        log.warn('agent', 'cannot import air-gap image tarball', { file: path, error: (err as Error).message });
      }
    }
    return refs;
  }
}
