/**
 * The joining side of `corral server --server URL[,URL...]`: asks a running server (the first that
 * answers) to add this server's etcd member. The server's CA is trusted only after the server proved it
 * holds the cluster secret (join-routes.ts); only then is the secret sent, over TLS pinned to that CA.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { Backoff, sleep } from '../../api/async-util.js';
import { log } from '../../api/log.js';
import { JOIN_HELLO_PATH, JOIN_MEMBER_PATH, joinProof, sameSecret, type JoinAnswer } from './join-routes.js';

interface Reply { status: number; body: string }

function send(url: string, o: { method: 'GET' | 'POST'; caPem?: string; headers?: Record<string, string>; body?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: o.method,
      timeout: 30_000,
      headers: { accept: 'application/json', ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers },
      ...(o.caPem ? { ca: o.caPem } : { rejectUnauthorized: false }),
    }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
    req.end(o.body);
  });
}

function messageOf(reply: Reply): string {
  try {
    return (JSON.parse(reply.body) as { message?: string }).message ?? reply.body;
  } catch {
    return reply.body.trim();
  }
}

/** Thrown when a server refuses the join for good (wrong token, conflicting member): trying another server will not help. */
export class JoinRefused extends Error {}

/** Joins through `serverUrl`: checks its proof, then asks for the member. */
export async function requestMembership(serverUrl: string, secret: string, member: { name: string; peerUrl: string }): Promise<JoinAnswer> {
  const base = serverUrl.replace(/\/+$/, '');
  const nonce = randomBytes(16).toString('hex');
  const hello = await send(`${base}${JOIN_HELLO_PATH}?nonce=${nonce}`, { method: 'GET' });
  if (hello.status === 404) throw new JoinRefused(`${base} runs no embedded etcd (start the first server with --cluster-init)`);
  if (hello.status !== 200) throw new Error(`${base} answered ${hello.status}: ${messageOf(hello)}`);
  const { caPem, proof } = JSON.parse(hello.body) as { caPem?: string; proof?: string };
  if (typeof caPem !== 'string' || typeof proof !== 'string') throw new Error(`${base} answered the join hello without a CA and proof`);
  if (!sameSecret(proof, joinProof(secret, nonce, caPem))) {
    throw new JoinRefused(`the server at ${base} does not hold this cluster token (or is not the server you meant): the --token-file (or CORRAL_TOKEN) must be the first server's`);
  }
  const reply = await send(`${base}${JOIN_MEMBER_PATH}`, {
    method: 'POST', caPem, headers: { authorization: `Bearer ${secret}` }, body: JSON.stringify(member),
  });
  if (reply.status === 401 || reply.status === 409 || reply.status === 400) throw new JoinRefused(`${base} refused the join: ${messageOf(reply)}`);
  if (reply.status !== 200) throw new Error(`${base} answered ${reply.status}: ${messageOf(reply)}`);
  return JSON.parse(reply.body) as JoinAnswer;
}

/**
 * Tries each server in turn, rounds after rounds with back-off until `timeoutMs` (etcd refuses a new
 * member for a few seconds after the last one joined: "unhealthy cluster"); a refusal ends it at once.
 */
export async function joinCluster(serverUrls: string[], secret: string, member: { name: string; peerUrl: string }, timeoutMs = 120_000): Promise<JoinAnswer> {
  const deadline = Date.now() + timeoutMs;
  const backoff = new Backoff({ initialMs: 1_000, maxMs: 5_000 });
  for (;;) {
    const failures: string[] = [];
    for (const url of serverUrls) {
      try {
        return await requestMembership(url, secret, member);
      } catch (err) {
        if (err instanceof JoinRefused) throw err;
        failures.push(`${url}: ${(err as Error).message}`);
      }
    }
    const delay = backoff.next();
    if (Date.now() + delay > deadline) throw new Error(`no server could add this member: ${failures.join('; ')}`);
    log.info('server-join', 'joining failed, will try again', { inMs: delay, failures });
    await sleep(delay);
  }
}
