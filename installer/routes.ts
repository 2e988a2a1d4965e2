/**
 * What the server serves for installs from the LAN, mounted through createApiApp's extraRoutes:
 *   GET /cacerts                       the cluster CA (public; a K10 token pins its hash)
 *   GET /install.sh                    the node install script (public; it trusts nothing it has not checked)
 *   GET /bundle/corral-agent.mjs       the agent bundle, for a valid node or admin token only
 *   GET /bundle/corral-agent.mjs.sha256
 */
import type { Hono } from 'hono';
import type { Env } from '../server/apiserver/app.js';
import type { TokenStore } from '../server/auth/tokens.js';
import { agentBundle, type AgentBundle } from './bundle.js';
import { renderNodeInstallScript } from './node-install-script.js';
import { readFile } from 'node:fs/promises';

export const BUNDLE_NAME = 'corral-agent.mjs';

export function registerInstallRoutes(app: Hono<Env>, o: { caPem: string; caHash: string; tokens: TokenStore; port: number }): void {
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
