/**
 * What the server serves for installs from the LAN, mounted by `corral server` through startServer's
 * extraRoutes hook (the server does not import the installer):
 *   GET /cacerts                       the cluster CA (public; a K10 token pins its hash)
 *   GET /install.sh                    the node install script (public; it trusts nothing it has not checked)
 *   GET /bundle/corral-agent.mjs       the agent bundle, for a valid node or admin token only
 *   GET /bundle/corral-agent.mjs.sha256
 *   POST /join/node-token?node=NAME    a node's own credential, for a valid join (node) or admin token
 *
 * A join token may expire (`corral token create --ttl 1h`); what a node keeps must not. So a joining
 * node trades the join token for a credential of its own that never expires and can be revoked alone,
 * like k3s's bootstrap token → node credentials.
 */
import type { Env, Hono } from 'hono';
import { agentBundle, type AgentBundle } from './bundle.js';
import { renderNodeInstallScript } from './node-install-script.js';
import { readFile } from 'node:fs/promises';
import { formatJoinToken, type NodeTokenIssuer } from './token.js';

export const BUNDLE_NAME = 'corral-agent.mjs';

export function registerInstallRoutes<E extends Env>(app: Hono<E>, o: { caPem: string; caHash: string; tokens: NodeTokenIssuer; port: number }): void {
  let bundle: Promise<AgentBundle> | undefined;
  const getBundle = (): Promise<AgentBundle> => {
    bundle ??= agentBundle().catch((err: unknown) => { bundle = undefined; throw err; });
    return bundle;
  };
  const authorized = (header: string | undefined): boolean => {
    const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    const user = m ? o.tokens.authenticate(m[1]!) : undefined;
    return user?.role === 'node' || user?.role === 'admin';
  };

  app.post('/join/node-token', (c) => {
    if (!authorized(c.req.header('authorization'))) return c.text('a node token is required\n', 401);
    const node = c.req.query('node') ?? '';
    if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(node)) return c.text('?node=NAME (a Kubernetes node name) is required\n', 400);
    const { token } = o.tokens.create('node', { description: `node ${node}` });
    return c.text(`${formatJoinToken(o.caHash, token)}\n`);
  });
  app.get('/cacerts', (c) => c.body(o.caPem, 200, { 'content-type': 'application/x-pem-file' }));
  app.get('/install.sh', (c) => {
    const host = c.req.header('host') ?? `127.0.0.1:${o.port}`;
    return c.body(renderNodeInstallScript({ serverUrl: `https://${host}` }), 200, { 'content-type': 'text/x-shellscript; charset=utf-8' });
  });
  app.get(`/bundle/${BUNDLE_NAME}.sha256`, async (c) => {
    if (!authorized(c.req.header('authorization'))) return c.text('a node token is required\n', 401);
    const b = await getBundle();
    return c.text(`${b.sha256}  ${BUNDLE_NAME}\n`);
  });
  app.get(`/bundle/${BUNDLE_NAME}`, async (c) => {
    if (!authorized(c.req.header('authorization'))) return c.text('a node token is required\n', 401);
    const b = await getBundle();
    return c.body(new Uint8Array(await readFile(b.path)), 200, { 'content-type': 'text/javascript', 'x-content-sha256': b.sha256 });
  });
}
