/**
 * Service-account issuer discovery (upstream's ServiceAccountIssuerDiscovery): the OpenID provider
 * configuration and the JWKS holding the public key that verifies service-account tokens, so other
 * systems (a Vault, an OIDC-federated cloud) can check corral's tokens. Public keys only.
 */
import type { Hono } from 'hono';
import type { ServiceAccountTokens } from './service-account-tokens.js';
import type { JWK } from 'jose';
import type { Env } from '../apiserver/app.js';

export function openIdConfiguration(issuer: string): Record<string, unknown> {
  return {
    issuer,
    jwks_uri: `${issuer}/openid/v1/jwks`,
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
  };
}

export function registerOidcDiscovery(app: Hono<Env>, tokens: ServiceAccountTokens, jwk: JWK): void {
  const config = JSON.stringify(openIdConfiguration(tokens.issuer));
  const jwks = JSON.stringify({ keys: [jwk] });
  const headers = { 'cache-control': 'public, max-age=3600' };
  app.get('/.well-known/openid-configuration', (c) => c.body(config, 200, { ...headers, 'content-type': 'application/json' }));
  app.get('/openid/v1/jwks', (c) => c.body(jwks, 200, { ...headers, 'content-type': 'application/jwk-set+json' }));
}
