/**
 * Pure helpers of the Deployment controller, with Kubernetes' arithmetic: pod-template-hash, template
 * equality ignoring that hash, maxSurge/maxUnavailable resolution (surge rounds up, unavailable down),
 * revisions, proportional scaling shares, and the rollout conditions.
 */
import type { Condition } from '../../api/meta.js';
import type { Deployment, DeploymentStatus, IntOrString, PodTemplateSpec, ReplicaSet } from '../../api/types.js';

export const POD_TEMPLATE_HASH = 'pod-template-hash';
export const REVISION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';

/** Deployment annotations that are not copied onto its ReplicaSets. */
const NOT_COPIED = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION,
  REVISION_HISTORY,
  DESIRED_REPLICAS,
  MAX_REPLICAS,
  'deprecated.deployment.rollback.to',
]);

export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;
export const DEFAULT_REVISION_HISTORY_LIMIT = 10;

// ------------------------------------------------------------------ template hash and equality

/**
 * JSON with sorted keys, without nulls and empty maps/lists: nil, zero-time and empty compare equal, as
 * with upstream's semantic equality (kubectl sends `creationTimestamp: null` and `resources: {}`).
 */
function canonical(value: unknown): unknown {
  if (value === null) return undefined;
  if (Array.isArray(value)) return value.length === 0 ? undefined : value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = canonical((value as Record<string, unknown>)[k]);
      if (v !== undefined) out[k] = v;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  return value;
}

function withoutHashLabel(template: PodTemplateSpec | undefined): unknown {
  if (!template) return undefined;
  const labels = { ...(template.metadata?.labels ?? {}) };
  delete labels[POD_TEMPLATE_HASH];
  return canonical({ ...template, metadata: { ...(template.metadata ?? {}), labels } });
}

/** Whether two templates are the same apart from the pod-template-hash label. */
export function templatesEqualIgnoringHash(a: PodTemplateSpec | undefined, b: PodTemplateSpec | undefined): boolean {
  return JSON.stringify(withoutHashLabel(a)) === JSON.stringify(withoutHashLabel(b));
}

/** Upstream's rand.SafeEncodeString alphabet: no vowels, no confusable digits. */
const SAFE = 'bcdfghjklmnpqrstvwxz2456789';

/** The pod-template-hash: FNV-1a 32 over the canonical template (+ collisionCount), safe-encoded. */
export function podTemplateHash(template: PodTemplateSpec, collisionCount?: number): string {
  let text = JSON.stringify(withoutHashLabel(template)) ?? '';
  if (collisionCount !== undefined && collisionCount > 0) text += `#${collisionCount}`;
  let h = 0x811c9dc5;
  const bytes = Buffer.from(text, 'utf8');
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193);
  }
  const digits = String(h >>> 0);
  let out = '';
  for (const c of digits) out += SAFE[c.charCodeAt(0) % SAFE.length];
  return out;
}

/** Deployment annotations that its new ReplicaSet carries. */
export function copiedAnnotations(d: Deployment): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) if (!NOT_COPIED.has(k)) out[k] = v;
  return out;
}

// ------------------------------------------------------------------ numbers

export function replicasOf(obj: { spec: { replicas?: number } }): number {
  return obj.spec.replicas ?? 1;
}

/** Sum of spec.replicas over ReplicaSets. */
export function specReplicas(rss: readonly ReplicaSet[]): number {
  return rss.reduce((n, rs) => n + (rs.spec.replicas ?? 0), 0);
}

export function statusSum(rss: readonly ReplicaSet[], field: 'replicas' | 'readyReplicas' | 'availableReplicas'): number {
  return rss.reduce((n, rs) => n + (rs.status?.[field] ?? 0), 0);
}

/** An int or a percentage of `total`, rounded up or down (upstream GetScaledValueFromIntOrPercent). */
export function scaledValue(value: IntOrString | undefined, total: number, roundUp: boolean, fallback: string): number {
  const v = value ?? fallback;
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (!m) {
    const n = Number(v);
    return Number.isInteger(n) ? n : 0;
  }
  const scaled = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(scaled) : Math.floor(scaled);
}

/** maxSurge and maxUnavailable for a RollingUpdate deployment; both 0 becomes unavailable 1. */
export function resolveFenceposts(d: Deployment): { maxSurge: number; maxUnavailable: number } {
  const desired = replicasOf(d);
  const ru = d.spec.strategy?.rollingUpdate;
  const maxSurge = scaledValue(ru?.maxSurge, desired, true, '25%');
  let maxUnavailable = scaledValue(ru?.maxUnavailable, desired, false, '25%');
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable: Math.min(maxUnavailable, desired) };
}

export function isRollingUpdate(d: Deployment): boolean {
  return (d.spec.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
}

/** What `max-replicas` should say: desired + surge for RollingUpdate, desired otherwise. */
export function maxReplicas(d: Deployment): number {
  return replicasOf(d) + (isRollingUpdate(d) ? resolveFenceposts(d).maxSurge : 0);
}

const INT64_MAX = 2n ** 63n - 1n;

/**
 * A ReplicaSet's revision as an exact integer: upstream parses it as an int64, and revisions above
 * 2^53 exist (a JS number would lose the low digits, so `n + 1` would equal `n`). Missing or not an
 * int64: 0.
 */
export function revisionOf(rs: ReplicaSet): bigint {
  const text = rs.metadata.annotations?.[REVISION] ?? '0';
  if (!/^[+-]?\d{1,19}$/.test(text)) return 0n;
  const v = BigInt(text);
  return v > INT64_MAX || v < -INT64_MAX - 1n ? 0n : v;
}

export function maxRevision(rss: readonly ReplicaSet[]): bigint {
  return rss.reduce((m, rs) => { const r = revisionOf(rs); return r > m ? r : m; }, 0n);
}

/** Orders ReplicaSets by revision, lowest first (for sort). */
export function compareRevisions(a: ReplicaSet, b: ReplicaSet): number {
  const ra = revisionOf(a);
  const rb = revisionOf(b);
  return ra < rb ? -1 : ra > rb ? 1 : 0;
}

function created(rs: ReplicaSet): number {
  return Date.parse(rs.metadata.creationTimestamp ?? '') || 0;
}

export function byCreationOldestFirst(a: ReplicaSet, b: ReplicaSet): number {
  return created(a) - created(b) || ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1);
}

/** Largest first; ties: newer first when scaling up, older first when scaling down. */
export function bySizeThenAge(scalingUp: boolean): (a: ReplicaSet, b: ReplicaSet) => number {
  return (a, b) => {
    const size = (b.spec.replicas ?? 0) - (a.spec.replicas ?? 0);
    if (size !== 0) return size;
    return scalingUp ? -byCreationOldestFirst(a, b) : byCreationOldestFirst(a, b);
  };
}

/**
 * How many replicas an RS gains or loses when the deployment scales by `toAdd` while mid-rollout:
 * its share by size, relative to the size it was annotated for (upstream GetProportion).
 */
export function proportion(rs: ReplicaSet, d: Deployment, toAdd: number, added: number): number {
  const current = rs.spec.replicas ?? 0;
  if (current === 0 || toAdd === 0 || toAdd === added) return 0;
  let fraction: number;
  if (replicasOf(d) === 0) {
    fraction = -current;
  } else {
    const deploymentReplicas = maxReplicas(d);
    const annotated = Number(rs.metadata.annotations?.[MAX_REPLICAS]);
    const base = Number.isInteger(annotated) && annotated > 0 ? annotated : (d.status?.replicas ?? 0);
    fraction = base > 0 ? Math.round((current * deploymentReplicas) / base) - current : 0;
  }
  const allowed = toAdd - added;
  return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
}

// ------------------------------------------------------------------ conditions

export function getCondition(status: DeploymentStatus | undefined, type: string): Condition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

export function newCondition(type: string, status: Condition['status'], reason: string, message: string, now: string): Condition {
  return { type, status, reason, message, lastUpdateTime: now, lastTransitionTime: now };
}

/** Upstream SetDeploymentCondition: same status and reason is a no-op; same status keeps the transition time. */
export function setCondition(status: DeploymentStatus, cond: Condition): void {
  const list = status.conditions ?? [];
  const current = list.find((c) => c.type === cond.type);
  if (current && current.status === cond.status && current.reason === cond.reason) return;
  const next = { ...cond };
  if (current && current.status === cond.status && current.lastTransitionTime) next.lastTransitionTime = current.lastTransitionTime;
  status.conditions = [...list.filter((c) => c.type !== cond.type), next];
}

export function removeCondition(status: DeploymentStatus, type: string): void {
  if (status.conditions) status.conditions = status.conditions.filter((c) => c.type !== type);
}

export function progressDeadlineSeconds(d: Deployment): number | undefined {
  const v = d.spec.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS;
  // math.MaxInt32 means "no deadline" upstream.
  return v >= 2147483647 ? undefined : v;
}

/** All replicas updated and available, and the latest spec observed. */
export function deploymentComplete(d: Deployment, s: DeploymentStatus): boolean {
  const want = replicasOf(d);
  return (s.updatedReplicas ?? 0) === want && (s.replicas ?? 0) === want && (s.availableReplicas ?? 0) === want &&
    (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 1);
}

/** Any measurable progress since the last status. */
export function deploymentProgressing(d: Deployment, s: DeploymentStatus): boolean {
  const old = d.status ?? {};
  const oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
  const newOld = (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
  return (s.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) || newOld < oldOld ||
    (s.readyReplicas ?? 0) > (old.readyReplicas ?? 0) || (s.availableReplicas ?? 0) > (old.availableReplicas ?? 0);
}

/** Milliseconds left before the progress deadline passes (≤ 0: passed), or undefined when not tracked. */
export function msUntilDeadline(d: Deployment, s: DeploymentStatus, nowMs: number): number | undefined {
  const deadline = progressDeadlineSeconds(d);
  if (deadline === undefined) return undefined;
  const cond = getCondition(s, 'Progressing');
  if (!cond || cond.reason === 'NewReplicaSetAvailable' || cond.reason === 'ProgressDeadlineExceeded') return undefined;
  if (cond.reason === 'DeploymentPaused') return undefined;
  const from = Date.parse(cond.lastUpdateTime ?? cond.lastTransitionTime ?? '');
  if (!Number.isFinite(from)) return undefined;
  return from + deadline * 1000 - nowMs;
}
