/**
 * What the server serves for installs from the LAN, mounted by `corral server` through startServer's
 * extraRoutes hook (the server does not import the installer):
 *   GET /cacerts                       the cluster CA (public; a K10 token pins its hash)
 *   GET /install.sh                    the node install script (public; it trusts nothing it has not checked)
 *   GET /bundle/corral-agent.cjs       the agent bundle, for a valid join, node or admin token only
 *   GET /bundle/corral-agent.cjs.sha256
 *   POST /join/node-token?node=NAME    a node's own credential, for a join token (or an admin)
 *
 * A join token may expire (`corral token create --ttl 1h`); what a node keeps must not. So a joining
 * node trades the join token for a credential of its own that never expires and can be revoked alone,
 * like k3s's bootstrap token → node credentials. The credential is bound to the node name: one live
 * per node (a re-join replaces it), minted only from a join token (a node credential cannot mint
 * more), at a bounded rate per join token, and remembered as the join token's offspring so that
 * `corral token revoke --cascade` takes both.
 */
import type { Context, Env, Hono } from 'hono';
import { KeyedRateLimiter } from '../api/keyed-rate-limit.js';
import { log } from '../api/log.js';
import { agentBundle, type AgentBundle } from './bundle.js';
import { renderNodeInstallScript } from './node-install-script.js';
import { readFile } from 'node:fs/promises';
import { formatJoinToken, type NodeTokenIssuer, type RouteAuthOutcome } from './token.js';

export const BUNDLE_NAME = 'corral-agent.cjs';

/** Mints per join token: a burst for joining a rack of Pis at once, then one every 2 s. */
export const MINT_BURST = 30;
export const MINT_REFILL_MS = 2_000;

export interface InstallRouteContext {
  caPem: string;
  caHash: string;
  tokens: NodeTokenIssuer;
  port: number;
  authenticate: (c: Context) => RouteAuthOutcome;
}

export function registerInstallRoutes<E extends Env>(app: Hono<E>, o: InstallRouteContext): void {
  let bundle: Promise<AgentBundle> | undefined;
  const getBundle = (): Promise<AgentBundle> => {
    bundle ??= agentBundle().catch((err: unknown) => { bundle = undefined; throw err; });
    return bundle;
  };
  const mints = new KeyedRateLimiter({ burst: MINT_BURST, refillMs: MINT_REFILL_MS });
  /** A join, node or admin credential (what fetching the agent bundle needs), or the failure to answer. */
  const authorized = (c: Context): Response | undefined => {
    const outcome = o.authenticate(c);
    if (!outcome.ok) {
      if (outcome.code === 429) c.header('Retry-After', String(outcome.retryAfterSeconds ?? 1));
      return c.text(outcome.code === 429 ? `${outcome.message}\n` : 'a join or node token is required\n', outcome.code);
    }
    return ['join', 'node', 'admin'].includes(outcome.user.role) ? undefined : c.text('a join or node token is required\n', 403);
  };

  app.post('/join/node-token', (c) => {
    const outcome = o.authenticate(c);
    if (!outcome.ok) {
      if (outcome.code === 429) c.header('Retry-After', String(outcome.retryAfterSeconds ?? 1));
      return c.text(outcome.code === 429 ? `${outcome.message}\n` : 'a join token is required\n', outcome.code);
    }
    const user = outcome.user;
    if (user.role !== 'join' && user.role !== 'admin') {
      return c.text(`only a join token may mint node credentials; this is a ${user.role} token\n`, 403);
    }
    const node = c.req.query('node') ?? '';
    if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(node)) return c.text('?node=NAME (a Kubernetes node name) is required\n', 400);
    if (!mints.take(user.tokenId)) {
      const retry = mints.retryAfterSeconds(user.tokenId);
      c.header('Retry-After', String(retry));
      return c.text(`too many node credentials minted with this join token; retry after ${retry}s\n`, 429);
    }
    const { token, replaced } = o.tokens.mintNodeCredential(node, user.role === 'join' ? { mintedBy: user.tokenId } : {});
    log.info('auth', 'minted a node credential', { node, joinToken: user.tokenId, replaced });
    return c.text(`${formatJoinToken(o.caHash, token)}\n`);
  });
  app.get('/cacerts', (c) => c.body(o.caPem, 200, { 'content-type': 'application/x-pem-file' }));
  app.get('/install.sh', (c) => {
    // HTTP/2 (curl offers it) names the host in :authority, which the request URL carries.
    const host = c.req.header('host') ?? (new URL(c.req.url).host || `127.0.0.1:${o.port}`);
    return c.body(renderNodeInstallScript({ serverUrl: `https://${host}` }), 200, { 'content-type': 'text/x-shellscript; charset=utf-8' });
  });
  app.get(`/bundle/${BUNDLE_NAME}.sha256`, async (c) => {
    const refused = authorized(c);
    if (refused) return refused;
    const b = await getBundle();
    return c.text(`${b.sha256}  ${BUNDLE_NAME}\n`);
  });
  app.get(`/bundle/${BUNDLE_NAME}`, async (c) => {
    const refused = authorized(c);
    if (refused) return refused;
    const b = await getBundle();
    return c.body(new Uint8Array(await readFile(b.path)), 200, { 'content-type': 'text/javascript', 'x-content-sha256': b.sha256 });
  });
}
