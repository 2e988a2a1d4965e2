/**
 * Bound service-account tokens (upstream's TokenRequest tokens): RS256 JWTs signed with the server's
 * service-account key, carrying issuer, audiences, expiry, a token id, and under `kubernetes.io` the
 * namespace, the ServiceAccount and the object the token is bound to (a Pod, a Secret or a Node).
 * A token authenticates only while that ServiceAccount and bound object still exist with the uids it
 * names, so deleting the pod revokes its token. Users: `system:serviceaccount:<ns>:<name>` in
 * `system:serviceaccounts` and `system:serviceaccounts:<ns>`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import type { KubeObject } from '../../api/meta.js';
import type { ServiceAccountKey } from './service-account-key.js';

export const DEFAULT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
/** Upstream's lower bound on a requested expiry. */
export const MIN_EXPIRATION_SECONDS = 600;
export const DEFAULT_EXPIRATION_SECONDS = 3600;

export type BoundKind = 'Pod' | 'Secret' | 'Node';

export interface ObjectRef { name: string; uid: string }

export interface TokenClaims {
  namespace: string;
  serviceAccount: ObjectRef;
  pod?: ObjectRef;
  secret?: ObjectRef;
  node?: ObjectRef;
}

/** What a valid token says about its holder (TokenReview's status.user). */
export interface ServiceAccountUser {
  name: string;
  uid: string;
  groups: string[];
  extra: Record<string, string[]>;
  audiences: string[];
}

/** Reads current objects (the registry) to check that a token's ServiceAccount and bound object live on. */
export type ObjectLookup = (kind: 'ServiceAccount' | BoundKind, namespace: string | undefined, name: string) => Promise<KubeObject | undefined>;

export interface ServiceAccountTokenOptions {
  key: ServiceAccountKey;
  lookup: ObjectLookup;
  issuer?: string;
  /** Audiences the API itself accepts (upstream's --api-audiences; default: the issuer). */
  apiAudiences?: string[];
}

interface KubernetesClaim {
  namespace: string;
  serviceaccount: ObjectRef;
  pod?: ObjectRef;
  secret?: ObjectRef;
  node?: ObjectRef;
}

const VERIFIED_TTL_MS = 10_000;

/** The user without the cache's bookkeeping (a copy: callers may not change the cached one). */
function strip(user: (ServiceAccountUser & { expires: number }) | undefined): ServiceAccountUser | undefined {
  if (!user) return undefined;
  const { expires: _expires, ...rest } = user;
  return { ...rest, groups: [...rest.groups], extra: { ...rest.extra } };
}
const VERIFIED_CACHE_SIZE = 1000;

export class ServiceAccountTokens {
  readonly issuer: string;
  readonly apiAudiences: string[];
  /** Tokens found valid recently (by audiences + token hash, insertion order = age). */
  private readonly verified = new Map<string, { user: ServiceAccountUser & { expires: number }; until: number }>();

  constructor(private readonly o: ServiceAccountTokenOptions) {
    this.issuer = o.issuer ?? DEFAULT_ISSUER;
    this.apiAudiences = o.apiAudiences ?? [this.issuer];
  }

  /** Signs a token; `audiences` empty means the API's own. */
  async issue(claims: TokenClaims, o: { audiences?: string[]; expirationSeconds: number; now?: Date }): Promise<{ token: string; expires: Date }> {
    const now = Math.floor((o.now ?? new Date()).getTime() / 1000);
    const exp = now + o.expirationSeconds;
    const k8s: KubernetesClaim = { namespace: claims.namespace, serviceaccount: claims.serviceAccount };
    if (claims.pod) k8s.pod = claims.pod;
    if (claims.secret) k8s.secret = claims.secret;
    if (claims.node) k8s.node = claims.node;
    const audiences = o.audiences && o.audiences.length > 0 ? o.audiences : this.apiAudiences;
    const token = await new SignJWT({ 'kubernetes.io': k8s })
      .setProtectedHeader({ alg: 'RS256', kid: this.o.key.kid })
      .setIssuer(this.issuer)
      .setSubject(`system:serviceaccount:${claims.namespace}:${claims.serviceAccount.name}`)
      .setAudience(audiences)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(this.o.key.privateKey);
    return { token, expires: new Date(exp * 1000) };
  }

  /** Whether a bearer token looks like a JWT (so other authenticators need not be asked). */
  static looksLikeJwt(token: string): boolean {
    return /^eyJ[\w-]*\.[\w-]+\.[\w-]+$/.test(token);
  }

  /**
   * The user a token stands for, or undefined when it is not one of ours, is expired, is for another
   * audience, or names a ServiceAccount or bound object that no longer exists (or has another uid).
   */
  async authenticate(token: string, audiences: string[] = this.apiAudiences, o: { cached?: boolean } = {}): Promise<ServiceAccountUser | undefined> {
    if (!ServiceAccountTokens.looksLikeJwt(token)) return undefined;
    if (o.cached === false) return strip(await this.verify(token, audiences));
    // As kube-apiserver's token cache: a token found valid is trusted for 10 s (never past its expiry)
    // without verifying its signature and looking its account up again on every request; so a deleted
    // pod's or account's token may serve for up to 10 s more, as upstream.
    const cacheKey = `${audiences.join(',')}\n${createHash('sha256').update(token).digest('base64url')}`;
    const now = Date.now();
    const cached = this.verified.get(cacheKey);
    if (cached && cached.until > now) return strip(cached.user);
    const user = await this.verify(token, audiences);
    if (user) {
      if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(cacheKey, { user, until: Math.min(now + VERIFIED_TTL_MS, user.expires) });
    }
    return strip(user);
  }

  private async verify(token: string, audiences: string[]): Promise<(ServiceAccountUser & { expires: number }) | undefined> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.o.key.publicKey, { issuer: this.issuer, audience: audiences, algorithms: ['RS256'] }));
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) return undefined;
      throw err;
    }
    const k8s = payload['kubernetes.io'] as KubernetesClaim | undefined;
    if (!k8s || typeof k8s.namespace !== 'string' || typeof k8s.serviceaccount?.name !== 'string') return undefined;
    if (!(await this.alive('ServiceAccount', k8s.namespace, k8s.serviceaccount))) return undefined;
    const extra: Record<string, string[]> = {};
    if (k8s.pod) {
      if (!(await this.alive('Pod', k8s.namespace, k8s.pod))) return undefined;
      extra['authentication.kubernetes.io/pod-name'] = [k8s.pod.name];
      extra['authentication.kubernetes.io/pod-uid'] = [k8s.pod.uid];
    }
    if (k8s.secret && !(await this.alive('Secret', k8s.namespace, k8s.secret))) return undefined;
    if (k8s.node) {
      if (!(await this.alive('Node', undefined, k8s.node))) return undefined;
      extra['authentication.kubernetes.io/node-name'] = [k8s.node.name];
      extra['authentication.kubernetes.io/node-uid'] = [k8s.node.uid];
    }
    if (typeof payload.jti === 'string') extra['authentication.kubernetes.io/credential-id'] = [`JTI=${payload.jti}`];
    const aud = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    return {
      expires: (payload.exp ?? 0) * 1000,
      name: `system:serviceaccount:${k8s.namespace}:${k8s.serviceaccount.name}`,
      uid: k8s.serviceaccount.uid,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${k8s.namespace}`, 'system:authenticated'],
      extra,
      audiences: aud.filter((a) => audiences.includes(a)),
    };
  }

  /** The object exists with this uid; a ServiceAccount being deleted ends its tokens (a terminating pod keeps its token while it shuts down). */
  private async alive(kind: 'ServiceAccount' | BoundKind, namespace: string | undefined, ref: ObjectRef): Promise<boolean> {
    const obj = await this.o.lookup(kind, namespace, ref.name);
    if (!obj || obj.metadata.uid !== ref.uid) return false;
    return kind !== 'ServiceAccount' || !obj.metadata.deletionTimestamp;
  }
}
