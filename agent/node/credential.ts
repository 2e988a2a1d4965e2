/**
 * The agent's own credential. An agent started with a join token (`corral token create`, as k3s
 * agents start with the cluster token) trades it once for a credential of its node (POST
 * /join/node-token?node=NAME, what /install.sh and `corral join` do before the agent starts), keeps
 * that in `<data-dir>/agent/node-credential` (0600) and uses it from then on: the Node authorizer
 * lets a node credential touch only its own node, and a join token acts for no node. An agent
 * started with its node credential keeps it (the server refuses to mint from one: 403).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Backoff, sleep } from '../../api/async-util.js';
import type { Transport } from '../../api/client/transport.js';
import { log } from '../../api/log.js';

export interface NodeCredentialOptions {
  transport: Transport & { setToken(token: string): void };
  /** The token the agent was configured with (join token or node credential). */
  configured: string;
  nodeName: string;
  /** Where a traded credential is kept. */
  file: string;
  signal: AbortSignal;
}

const credentialOf = (text: string): string => {
  const t = text.trim();
  return t.includes('::') ? t.slice(t.indexOf('::') + 2) : t;
};

async function answers(o: NodeCredentialOptions, token: string, method: string, path: string): Promise<{ status: number; text: string; retryAfter: number }> {
  o.transport.setToken(token);
  const res = await o.transport.request({ method, path, signal: o.signal });
  const text = await res.text();
  return { status: res.status, text, retryAfter: Number(res.headers['retry-after'] ?? '') || 1 };
}

/**
 * Settles the transport's token: the kept credential if the server still accepts it, else a freshly
 * traded one, else the configured token. Retries (backing off) while the server cannot be reached.
 */
export async function useNodeCredential(o: NodeCredentialOptions): Promise<void> {
  const kept = credentialOf(await readFile(o.file, 'utf8').catch(() => ''));
  const nodePath = `/api/v1/nodes/${encodeURIComponent(o.nodeName)}`;
  const backoff = new Backoff({ initialMs: 500, maxMs: 10_000 });
  while (!o.signal.aborted) {
    try {
      if (kept && (await answers(o, kept, 'GET', nodePath)).status !== 401) return;
      const minted = await answers(o, o.configured, 'POST', `/join/node-token?node=${encodeURIComponent(o.nodeName)}`);
      if (minted.status === 200) {
        const credential = credentialOf(minted.text);
        await mkdir(dirname(o.file), { recursive: true, mode: 0o700 });
        await writeFile(`${o.file}.new`, `${credential}\n`, { mode: 0o600 });
        await rename(`${o.file}.new`, o.file);
        o.transport.setToken(credential);
        log.info('agent', 'traded the join token for this node\'s own credential', { node: o.nodeName });
        return;
      }
      if (minted.status === 429) {
        await sleep(minted.retryAfter * 1000, { signal: o.signal });
        continue;
      }
      // 403: the configured token is a node credential already (or cannot mint): use it as it is.
      o.transport.setToken(o.configured);
      if (minted.status !== 403) log.warn('agent', 'the server did not accept the agent\'s token', { status: minted.status, answer: minted.text.trim().slice(0, 200) });
      return;
    } catch (err) {
      if (o.signal.aborted) return;
      log.warn('agent', 'cannot reach the server to settle the node credential, retrying', { error: (err as Error).message });
      o.transport.setToken(kept || o.configured);
      await sleep(backoff.next(), { signal: o.signal });
    }
  }
}
