/**
 * Bearer-token authentication of HTTP requests with throttling of failed attempts per source address:
 * each source may present `burst` bad tokens, then one per `refillMs`; beyond that it is answered 429
 * before its token is even looked at. Failures are logged (source, path and why; never the token) at
 * most once a minute per source, with how many were not logged.
 */
import { log } from '../../api/log.js';
import { KeyedRateLimiter } from '../../api/keyed-rate-limit.js';
import { TokenStore, type AuthenticatedUser } from './tokens.js';
import type { UserInfo } from './rbac/rules.js';
import { ServiceAccountTokens } from './service-account-tokens.js';

export type AuthOutcome =
  | { ok: true; user: AuthenticatedUser }
  | { ok: false; code: 401; message: string }
  | { ok: false; code: 429; message: string; retryAfterSeconds: number };

/** Who a request is from: a corral token's user or a service account (uid and extra from its token). */
export interface RequestUserInfo extends UserInfo {
  uid?: string;
  extra?: Record<string, string[]>;
}

export type RequestAuthOutcome = { ok: true; user: RequestUserInfo } | Exclude<AuthOutcome, { ok: true }>;

export interface RequestAuthenticatorOptions {
  burst?: number;
  refillMs?: number;
  logIntervalMs?: number;
}

interface LogState { at: number; unlogged: number }

export class RequestAuthenticator {
  private readonly failures: KeyedRateLimiter;
  private readonly logged = new Map<string, LogState>();
  private readonly logIntervalMs: number;

  constructor(private readonly tokens: TokenStore, o: RequestAuthenticatorOptions = {}) {
    this.failures = new KeyedRateLimiter({ burst: o.burst ?? 20, refillMs: o.refillMs ?? 3_000 });
    this.logIntervalMs = o.logIntervalMs ?? 60_000;
  }

  /** `header` is the Authorization header; `source` the client's address. corral tokens only. */
  authenticate(header: string | undefined, source: string, path: string, now = Date.now()): AuthOutcome {
    const checked = this.precheck(header, source, path, now);
    if ('outcome' in checked) return checked.outcome;
    const user = this.tokens.authenticate(checked.token, now);
    if (user) return { ok: true, user };
    return this.failed(source, path, TokenStore.idOf(checked.token) === undefined ? 'malformed token' : 'unknown, expired or revoked token', now);
  }

  /**
   * As authenticate, and a bearer that is a JWT goes to `verifyJwt` (service-account tokens), which
   * the same throttling of failures covers.
   */
  async authenticateRequest(
    header: string | undefined, source: string, path: string,
    verifyJwt: ((token: string) => Promise<RequestUserInfo | undefined>) | undefined, now = Date.now(),
  ): Promise<RequestAuthOutcome> {
    const checked = this.precheck(header, source, path, now);
    if ('outcome' in checked) return checked.outcome;
    if (verifyJwt && ServiceAccountTokens.looksLikeJwt(checked.token)) {
      const user = await verifyJwt(checked.token);
      return user ? { ok: true, user } : this.failed(source, path, 'invalid, expired or revoked service-account token', now);
    }
    return this.authenticate(header, source, path, now);
  }

  /** The bearer token, or the outcome when there is none or the source is throttled. */
  private precheck(header: string | undefined, source: string, path: string, now: number): { token: string } | { outcome: Exclude<AuthOutcome, { ok: true }> } {
    const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (!m) return { outcome: { ok: false, code: 401, message: 'Unauthorized' } };
    const retryAfterSeconds = this.failures.retryAfterSeconds(source, now);
    if (retryAfterSeconds > 0) {
      this.note(source, path, 'throttled', now);
      return { outcome: { ok: false, code: 429, message: `too many failed authentication attempts from ${source}, retry after ${retryAfterSeconds}s`, retryAfterSeconds } };
    }
    return { token: m[1]! };
  }

  private failed(source: string, path: string, reason: string, now: number): { ok: false; code: 401; message: string } {
    this.failures.take(source, now);
    this.note(source, path, reason, now);
    return { ok: false, code: 401, message: 'Unauthorized' };
  }

  private note(source: string, path: string, reason: string, now: number): void {
    const s = this.logged.get(source);
    if (s && now - s.at < this.logIntervalMs) {
      s.unlogged++;
      return;
    }
    if (this.logged.size > 10_000) this.logged.clear();
    this.logged.set(source, { at: now, unlogged: 0 });
    log.warn('auth', 'authentication failed', { source, path: path.slice(0, 200), reason, ...(s?.unlogged ? { notLoggedSinceLast: s.unlogged } : {}) });
  }
}
