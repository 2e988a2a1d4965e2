/**
 * Who may read the kubelet endpoint's metrics and stats besides the API server, decided as upstream's
 * kubelet does with webhook authentication and authorization: a TokenReview says who the bearer token
 * belongs to, and a SubjectAccessReview whether that user may `get` `nodes/metrics` (for /metrics) or
 * `nodes/stats` (for /stats/...) of this node. Answers are cached for a minute (kubelet caches 2 min /
 * 5 min), so a scraper costs the server two reviews a minute, not two per scrape.
 */
import { createHash } from 'node:crypto';
import type { ApiClient } from '../../api/client/client.js';
import type { KubeObject } from '../../api/meta.js';

export type Verdict = 'allowed' | 'unauthenticated' | 'forbidden';

const TTL_MS = 60_000;
/** Unknown tokens and refusals are kept shorter, so a new token or a new RoleBinding works soon (kubelet: 30 s for refusals). */
const UNAUTHENTICATED_TTL_MS = 5_000;
const FORBIDDEN_TTL_MS = 10_000;
const MAX_ENTRIES = 1_000;

interface TokenReviewStatus { authenticated?: boolean; user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> }; error?: string }

export class DelegatedAuth {
  private readonly cache = new Map<string, { verdict: Verdict; until: number }>();

  constructor(private readonly client: ApiClient, private readonly nodeName: string) {}

  /** Throws when the server cannot be asked (the caller answers 503). */
  async check(token: string, subresource: 'metrics' | 'stats'): Promise<Verdict> {
    const key = `${subresource}:${createHash('sha256').update(token).digest('base64url')}`;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.verdict;
    const verdict = await this.ask(token, subresource);
    if (this.cache.size >= MAX_ENTRIES) {
      for (const [k, v] of this.cache) if (v.until <= now) this.cache.delete(k);
      if (this.cache.size >= MAX_ENTRIES) this.cache.clear();
    }
    const ttl = verdict === 'allowed' ? TTL_MS : verdict === 'forbidden' ? FORBIDDEN_TTL_MS : UNAUTHENTICATED_TTL_MS;
    this.cache.set(key, { verdict, until: now + ttl });
    return verdict;
  }

  private async ask(token: string, subresource: string): Promise<Verdict> {
    const review = await this.client.create<KubeObject & { status?: TokenReviewStatus }>('TokenReview', undefined, {
      apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token },
    });
    const user = review.status?.authenticated ? review.status.user : undefined;
    if (!user?.username) return 'unauthenticated';
    const access = await this.client.create<KubeObject & { status?: { allowed?: boolean } }>('SubjectAccessReview', undefined, {
      apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview',
      spec: {
        user: user.username, groups: user.groups ?? [], ...(user.uid ? { uid: user.uid } : {}), ...(user.extra ? { extra: user.extra } : {}),
        resourceAttributes: { verb: 'get', group: '', version: 'v1', resource: 'nodes', subresource, name: this.nodeName },
      },
    });
    return access.status?.allowed ? 'allowed' : 'forbidden';
  }
}
