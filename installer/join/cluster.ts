/**
 * The server side of a join: where the server is, which CA it must present (pinned by the token's
 * hash: the CA is fetched, hashed and compared before anything else is trusted), a credential for the
 * new node, and the API calls the installer needs (find a Node, wait for Ready, record the identity).
 */
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { ApiClient } from '../../api/client/client.js';
import { HttpsTransport } from '../../api/client/transport.js';
import type { Node } from '../../api/types.js';
import { formatJoinToken, parseJoinToken } from '../token.js';
import { sleep } from '../../api/async-util.js';

/** Annotation on a Node: sha256 of the secret stored on the node (its identity across re-joins). */
export const NODE_PASSWORD_ANNOTATION = 'corral.io/node-password-sha256';

export interface ServerAccess {
  /** `https://host:port` as the installer reaches it. */
  url: string;
  port: number;
  /** Host part of url; nodes may need another address (see nodeServerUrl). */
  host: string;
  caPem: string;
  caHash: string;
  /** Bearer credential for the installer's own API calls. */
  apiCredential: string;
  /** A credential of the node's own that never expires (K10 form); a join token may expire. */
  nodeToken(nodeName: string): Promise<string>;
  /** Called once the node runs with `token` (or was removed: ''): its other credentials may be revoked. */
  retireOldNodeTokens?(nodeName: string, token: string): void;
  /** True when the server addresses were given explicitly (then nodes use them too). */
  explicitUrl: boolean;
  /** Every server the nodes are told about (`--server a,b,c`), `url` among them; the agent fails over between them. */
  urls: string[];
  /** Server clock minus this machine's, ms (from the server's Date header; 0 on the server machine). */
  clockOffsetMs: number;
}

export function caHashOfPem(caPem: string): string {
  return createHash('sha256').update(new X509Certificate(caPem).raw).digest('hex');
}

/** Trades a join token for the node's own non-expiring credential (POST /join/node-token, TLS checked against caPem). */
export function exchangeJoinToken(url: string, caPem: string, credential: string, nodeName: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(`/join/node-token?node=${encodeURIComponent(nodeName)}`, url), {
      method: 'POST', ca: caPem, headers: { authorization: `Bearer ${credential}` }, timeout: 10_000,
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => (res.statusCode === 200 ? resolve(body.trim()) : reject(new Error(`getting a node credential from ${url}: HTTP ${res.statusCode} ${body.trim()}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`POST ${url}/join/node-token timed out`)));
    req.on('error', (e) => reject(new Error(`getting a node credential from ${url}: ${e.message}`)));
    req.end();
  });
}

/**
 * GET /cacerts without trusting the server yet (the caller compares the hash), with the server's clock
 * offset from its Date header (second resolution, enough for a skew check).
 */
export function fetchCaUnverified(url: string, timeoutMs = 10_000): Promise<{ caPem: string; clockOffsetMs: number }> {
  return new Promise((resolve, reject) => {
    const sent = Date.now();
    const req = request(new URL('/cacerts', url), { rejectUnauthorized: false, timeout: timeoutMs }, (res) => {
      const serverNow = Date.parse(res.headers.date ?? '');
      const offset = Number.isNaN(serverNow) ? 0 : serverNow + 500 - (sent + Date.now()) / 2;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => (res.statusCode === 200 ? resolve({ caPem: body, clockOffsetMs: Math.round(offset) }) : reject(new Error(`GET ${url}/cacerts: HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}/cacerts timed out`)));
    req.on('error', (e) => reject(new Error(`cannot reach the server at ${url}: ${e.message}`)));
    req.end();
  });
}

/**
 * Server access from `--server URL[,URL...] --token K10…` (or a bare token plus `--ca-file`): the first
 * server that answers with the pinned CA is the one the installer talks to; nodes get them all. A
 * server presenting another CA stops the join (a wrong pin is not a reason to try the next one).
 */
export async function accessFromToken(urlList: string, tokenText: string, caFile?: string): Promise<ServerAccess> {
  const token = parseJoinToken(tokenText);
  const urls = urlList.split(',').map((u) => u.trim()).filter((u) => u !== '').map((u) => new URL(u).origin);
  if (urls.length === 0) throw new Error('--server names no server');
  const pinnedPem = caFile ? readFileSync(caFile, 'utf8') : undefined;
  if (pinnedPem !== undefined && token.caHash && caHashOfPem(pinnedPem) !== token.caHash) throw new Error(`${caFile} is not the CA the token pins (hash mismatch)`);
  if (pinnedPem === undefined && !token.caHash) throw new Error('the token does not pin the server CA: use a K10… token from `corral token create`, or pass --ca-file');
  const pin = pinnedPem !== undefined ? caHashOfPem(pinnedPem) : token.caHash!;
  const unreachable: string[] = [];
  for (const url of urls) {
    let fetched: { caPem: string; clockOffsetMs: number };
    try {
      fetched = await fetchCaUnverified(url);
    } catch (err) {
      // With one server and its CA file at hand, a server that cannot be reached yet is no reason to stop here.
      if (pinnedPem !== undefined && urls.length === 1) fetched = { caPem: pinnedPem, clockOffsetMs: 0 };
      else {
        unreachable.push((err as Error).message);
        continue;
      }
    }
    const got = caHashOfPem(fetched.caPem);
    if (got !== pin) {
      throw new Error(`the server at ${url} presents CA ${got.slice(0, 16)}…, but the token pins ${pin.slice(0, 16)}…: refusing to trust it (wrong server, or a man in the middle)`);
    }
    const caPem = pinnedPem ?? fetched.caPem;
    const u = new URL(url);
    return {
      url: u.origin, port: Number(u.port || 443), host: u.hostname, caPem, caHash: pin, apiCredential: token.credential,
      nodeToken: (nodeName) => exchangeJoinToken(u.origin, caPem, token.credential, nodeName),
      explicitUrl: true, urls, clockOffsetMs: fetched.clockOffsetMs,
    };
  }
  throw new Error(unreachable.join('; '));
}

/** Node credentials on the server machine: one per node; a re-join replaces (then revokes) the old one. */
export interface NodeTokenIssuer {
  issue(nodeName: string): string;
  /** Revokes the node's credentials other than keepId. */
  retire(nodeName: string, keepId: string): void;
}

/**
 * Server access on the server machine, from its data dir: the CA, the admin token for the installer's
 * own calls, the port from the admin kubeconfig, and a fresh node token (1 h expiry) per joined host.
 */
export async function accessFromDataDir(dataDir: string, tokens: NodeTokenIssuer): Promise<ServerAccess> {
  const caFile = join(dataDir, 'server', 'tls', 'ca.crt');
  const adminFile = join(dataDir, 'server', 'admin-token');
  const kubeconfigFile = join(dataDir, 'kubeconfig.yaml');
  for (const f of [caFile, adminFile, kubeconfigFile]) {
    if (!existsSync(f)) throw new Error(`no corral server in ${dataDir} (${f} is missing): run this on the server machine, or pass --server URL --token TOKEN`);
  }
  const caPem = readFileSync(caFile, 'utf8');
  // yaml loads here, on the server machine, not in every agent that imports this module.
  const { parse: parseYaml } = await import('yaml');
  const kubeconfig = parseYaml(readFileSync(kubeconfigFile, 'utf8')) as { clusters?: { cluster?: { server?: string } }[] };
  const url = kubeconfig.clusters?.[0]?.cluster?.server ?? 'https://127.0.0.1:6443';
  const u = new URL(url);
  const caHash = caHashOfPem(caPem);
  return {
    url: u.origin, port: Number(u.port || 443), host: u.hostname, caPem, caHash,
    apiCredential: readFileSync(adminFile, 'utf8').trim(),
    nodeToken: async (nodeName) => formatJoinToken(caHash, tokens.issue(nodeName)),
    retireOldNodeTokens: (nodeName, token) => tokens.retire(nodeName, token ? parseJoinToken(token).id : ''),
    explicitUrl: false, urls: [u.origin], clockOffsetMs: 0,
  };
}

/** The URL a node uses: the explicit one, or the server's port on the address the SSH connection came from. */
export function nodeServerUrl(access: ServerAccess, localAddressSeenByNode: string): string {
  if (access.explicitUrl) return access.urls.join(',');
  const host = localAddressSeenByNode.includes(':') ? `[${localAddressSeenByNode}]` : localAddressSeenByNode;
  return `https://${host}:${access.port}`;
}

export function apiClient(access: ServerAccess): ApiClient {
  return new ApiClient(new HttpsTransport({ server: access.url, caPem: access.caPem, token: access.apiCredential, timeoutMs: 10_000 }));
}

export function nodeReady(node: Node | undefined): boolean {
  return node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export function nodeInternalIp(node: Node): string | undefined {
  return node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
}

/**
 * Waits until the Node is Ready in a status written after `afterResourceVersion` (the Node's version
 * once the old agent was stopped), so a re-join waits for the new agent, not the Ready state the old
 * one left behind. Undefined means there was no Node yet: any Ready counts.
 */
export async function waitNodeReady(client: ApiClient, name: string, afterResourceVersion: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<Node> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no Node yet';
  while (Date.now() < deadline && !signal?.aborted) {
    try {
      const node = await client.tryGet<Node>('Node', undefined, name);
      if (node) {
        const fresh = afterResourceVersion === undefined || Number(node.metadata.resourceVersion) > Number(afterResourceVersion);
        const ready = nodeReady(node);
        if (ready && fresh) return node;
        const why = node.status?.conditions?.find((c) => c.type === 'Ready')?.message;
        last = !fresh ? 'waiting for the new agent to report' : `registered, not Ready${why ? `: ${why}` : ''}`;
      }
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(300);
  }
  throw new Error(`Node ${name} not Ready after ${Math.round(timeoutMs / 1000)} s (${last}); see /var/lib/corral/agent.log on the host`);
}
