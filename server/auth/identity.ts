/**
 * Wires service-account identity into a server: the signing key from the data dir, the token
 * issuer/verifier (looking up ServiceAccounts and bound objects in the registry), TokenRequest, and
 * the review kinds (TokenReview, SelfSubjectReview, the access reviews, SelfSubjectRulesReview).
 */
import { resourceForKind } from '../../api/resources.js';
import type { ApiApp } from '../apiserver/app.js';
import type { Registry } from '../apiserver/registry.js';
import type { RbacAuthorizer } from './rbac/authorizer.js';
import type { RequestAttributes } from './rbac/rules.js';
import { registerReviews, type AccessDecision, type ReviewedUser } from './reviews.js';
import { loadOrCreateServiceAccountKey } from './service-account-key.js';
import { ServiceAccountTokens } from './service-account-tokens.js';
import type { TokenStore } from './tokens.js';
import type { JWK } from 'jose';

/** The token issuer/verifier with the key kept in `keyFile` (created on first start). */
export async function loadServiceAccountTokens(registry: Registry, keyFile: string): Promise<{ tokens: ServiceAccountTokens; jwk: JWK }> {
  const key = await loadOrCreateServiceAccountKey(keyFile);
  const tokens = new ServiceAccountTokens({ key, lookup: (kind, namespace, name) => registry.tryGet(resourceForKind(kind)!, namespace, name) });
  return { tokens, jwk: key.jwk };
}

export interface IdentityOptions {
  api: ApiApp;
  tokens: TokenStore;
  serviceAccountTokens: ServiceAccountTokens;
  rbac: RbacAuthorizer;
  authorize(a: RequestAttributes): Promise<AccessDecision>;
}

/** TokenRequest and the review kinds on the API. */
export function registerIdentityApi(o: IdentityOptions): void {
  const { serviceAccountTokens } = o;
  o.api.subresources.setTokenIssuer(serviceAccountTokens);
  registerReviews(o.api.requestKinds, {
    rbac: o.rbac,
    authorize: o.authorize,
    async authenticateToken(token, audiences): Promise<(ReviewedUser & { audiences?: string[] }) | undefined> {
      // A review answers for now: no cache.
      if (ServiceAccountTokens.looksLikeJwt(token)) return serviceAccountTokens.authenticate(token, audiences, { cached: false });
      // corral's own tokens are for the API only.
      if (audiences && !audiences.some((a) => serviceAccountTokens.apiAudiences.includes(a))) return undefined;
      const user = o.tokens.authenticate(token);
      return user ? { name: user.name, groups: user.groups, audiences: serviceAccountTokens.apiAudiences } : undefined;
    },
  });
}
