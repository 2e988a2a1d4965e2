/**
 * Projected volumes (what `kube-api-access-*` is made of): service-account tokens requested from the
 * API (TokenRequest bound to the pod, as kubelet asks for them), ConfigMap and Secret items, and
 * downwardAPI fields, written into one directory. Tokens are refreshed once 80 % of their life has
 * passed (kubelet's rule), by `refreshProjectedTokens` on the pod's periodic sync; the token file is
 * replaced atomically so a reader never sees half a token.
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyToPath, Pod, ProjectedVolumeSource } from '../../api/types.js';
import { fieldRefValue } from './env.js';

/** Asks the API for a token of the pod's service account, bound to the pod. */
export type TokenSource = (pod: Pod, o: { audience?: string; expirationSeconds: number }) => Promise<{ token: string; expirationTimestamp: string }>;

export interface ProjectedSources {
  configMap(namespace: string, name: string): Promise<Record<string, Buffer> | undefined>;
  secret(namespace: string, name: string): Promise<Record<string, Buffer> | undefined>;
  serviceAccountToken: TokenSource;
}

/** kubelet's default and minimum for projected tokens. */
const DEFAULT_TOKEN_SECONDS = 3600;
const MIN_TOKEN_SECONDS = 600;
/** Next to the files: when each token was issued and when it expires. */
const TOKEN_STATE = '..token-state.json';

interface TokenState { [path: string]: { issued: number; expires: number } }

export class ProjectedVolumeError extends Error {
  override readonly name = 'ProjectedVolumeError';
}

function safeName(p: string): string {
  const parts = p.split('/');
  if (p === '' || p.startsWith('/') || parts.some((x) => x === '..' || x === '')) throw new ProjectedVolumeError(`path ${JSON.stringify(p)} is not a relative path inside the volume`);
  return p;
}

async function put(dir: string, path: string, data: Buffer | string, mode: number): Promise<void> {
  const file = join(dir, safeName(path));
  await mkdir(join(file, '..'), { recursive: true });
  const tmp = `${file}.tmp`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode);
  await rename(tmp, file);
}

async function readState(dir: string): Promise<TokenState | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, TOKEN_STATE), 'utf8')) as TokenState;
  } catch {
    return undefined;
  }
}

async function writeToken(dir: string, pod: Pod, src: TokenSource, t: { audience?: string; expirationSeconds?: number; path: string }, mode: number, state: TokenState, now: number): Promise<void> {
  const expirationSeconds = Math.max(t.expirationSeconds ?? DEFAULT_TOKEN_SECONDS, MIN_TOKEN_SECONDS);
  const issued = await src(pod, { ...(t.audience ? { audience: t.audience } : {}), expirationSeconds });
  await put(dir, t.path, issued.token, mode);
  state[t.path] = { issued: now, expires: Date.parse(issued.expirationTimestamp) };
}

/** Writes every source of the volume into `dir` (tokens included). */
export async function writeProjectedVolume(dir: string, pod: Pod, v: ProjectedVolumeSource, src: ProjectedSources, now = Date.now()): Promise<void> {
  await mkdir(dir, { recursive: true });
  const mode = v.defaultMode ?? 0o644;
  const namespace = pod.metadata.namespace ?? 'default';
  const state: TokenState = {};
  for (const s of v.sources ?? []) {
    if (s.serviceAccountToken) {
      await writeToken(dir, pod, src.serviceAccountToken, s.serviceAccountToken, mode, state, now);
    } else if (s.configMap || s.secret) {
      const isCm = s.configMap !== undefined;
      const ref = (s.configMap ?? s.secret)!;
      const data = isCm ? await src.configMap(namespace, ref.name) : await src.secret(namespace, ref.name);
      if (!data) {
        if (ref.optional) continue;
        throw new ProjectedVolumeError(`${isCm ? 'configmap' : 'secret'} "${ref.name}" not found`);
      }
      const items: KeyToPath[] = ref.items && ref.items.length > 0 ? ref.items : Object.keys(data).map((key) => ({ key, path: key }));
      for (const item of items) {
        const value = data[item.key];
        if (value === undefined) throw new ProjectedVolumeError(`key ${item.key} not found in ${isCm ? 'configmap' : 'secret'} ${ref.name}`);
        await put(dir, item.path, value, item.mode ?? mode);
      }
    } else if (s.downwardAPI) {
      for (const item of s.downwardAPI.items ?? []) {
        if (!item.fieldRef) throw new ProjectedVolumeError(`downwardAPI item ${item.path}: only fieldRef is supported`);
        await put(dir, item.path, fieldRefValue(pod, item.fieldRef.fieldPath, pod.status?.podIP ?? '', pod.status?.hostIP ?? ''), item.mode ?? mode);
      }
    }
  }
  await writeFile(join(dir, TOKEN_STATE), JSON.stringify(state), { mode: 0o600 });
}

/** Whether a token issued at `issued` and expiring at `expires` should be replaced now (80 % of its life gone). */
export function tokenNeedsRefresh(issued: number, expires: number, now: number): boolean {
  return now >= refreshAt(issued, expires);
}

/** When a token issued at `issued` and expiring at `expires` is due for replacement (80 % of its life). */
function refreshAt(issued: number, expires: number): number {
  return issued + (expires - issued) * 0.8;
}

/**
 * Replaces the tokens of the pod's projected volumes (under `volumesRoot/<volume name>`) that are past
 * 80 % of their life; volumes not written yet are left to the container start. Returns how many, and
 * when the next one is due (`nextAt`: Infinity without tokens, undefined while a volume is not written
 * yet), so the pod's sync reads the volumes' state files only then.
 */
export async function refreshProjectedTokens(pod: Pod, volumesRoot: string, src: TokenSource, now = Date.now()): Promise<{ refreshed: number; nextAt: number | undefined }> {
  let refreshed = 0;
  let nextAt: number | undefined = Infinity;
  for (const v of pod.spec.volumes ?? []) {
    if (!v.projected) continue;
    const dir = join(volumesRoot, v.name);
    const state = await readState(dir);
    if (state === undefined) {
      nextAt = undefined;
      continue;
    }
    let changed = false;
    for (const s of v.projected.sources ?? []) {
      const t = s.serviceAccountToken;
      if (!t) continue;
      const known = state[t.path];
      if (!known || tokenNeedsRefresh(known.issued, known.expires, now)) {
        await writeToken(dir, pod, src, t, v.projected.defaultMode ?? 0o644, state, now);
        changed = true;
        refreshed++;
      }
      const issued = state[t.path]!;
      if (nextAt !== undefined) nextAt = Math.min(nextAt, refreshAt(issued.issued, issued.expires));
    }
    if (changed) await writeFile(join(dir, TOKEN_STATE), JSON.stringify(state), { mode: 0o600 });
  }
  return { refreshed, nextAt };
}
