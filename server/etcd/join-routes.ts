/**
 * What a server with an embedded etcd member answers to a server joining it (`corral server --server
 * URL`), as k3s's servers do for theirs:
 *   GET  /v1-corral/server-join/hello?nonce=HEX   the cluster CA and a proof that this server knows
 *        the cluster secret (HMAC-SHA256 of nonce and CA under the secret): the joiner trusts the CA
 *        only when the proof checks, so it never shows its secret to a server that does not hold it.
 *   POST /v1-corral/server-join/member            with `Authorization: Bearer <cluster secret>` and
 *        {name, peerUrl}: adds the joiner as an etcd member (MemberAdd through this member) and
 *        answers the etcd CA (certificate and key; the joiner issues its own certificates and can
 *        admit later servers) and the members to start with.
 * A wrong secret gets 401 (and at most 10 tries per source address, then one every 6 s).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Context, Env, Hono } from 'hono';
import { KeyedRateLimiter } from '../../api/keyed-rate-limit.js';
import { log } from '../../api/log.js';
import type { CertifiedKey } from '../auth/pki.js';

export const JOIN_HELLO_PATH = '/v1-corral/server-join/hello';
export const JOIN_MEMBER_PATH = '/v1-corral/server-join/member';

/** The proof a server gives that it holds the cluster secret, for the joiner's nonce and the CA it presents. */
export function joinProof(secret: string, nonce: string, caPem: string): string {
  return createHmac('sha256', secret).update(`corral-server-join\n${nonce}\n${caPem}`).digest('hex');
}

export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export interface EtcdMember { id: string; name: string; peerUrls: string[] }

/** The etcd cluster's membership, as the join route needs it. */
export interface MemberAdmin {
  list(): Promise<EtcdMember[]>;
  /** Adds a member with `peerUrl`; returns every member afterwards (the new one with an empty name). */
  add(peerUrl: string): Promise<EtcdMember[]>;
}

export interface JoinRouteOptions {
  clusterCaPem: string;
  etcdCa: CertifiedKey;
  secret: string;
  members: MemberAdmin;
  sourceAddress: (c: Context) => string;
}

export interface JoinAnswer { etcdCa: CertifiedKey; members: { name: string; peerUrl: string }[] }

const MEMBER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/;

export function registerJoinRoutes<E extends Env>(app: Hono<E>, o: JoinRouteOptions): void {
  const failures = new KeyedRateLimiter({ burst: 10, refillMs: 6_000 });

  app.get(JOIN_HELLO_PATH, (c) => {
    const nonce = c.req.query('nonce') ?? '';
    if (!/^[0-9a-f]{32,128}$/.test(nonce)) return c.json({ message: 'nonce: 32 to 128 hex digits are required' }, 400);
    return c.json({ caPem: o.clusterCaPem, proof: joinProof(o.secret, nonce, o.clusterCaPem) });
  });

  app.post(JOIN_MEMBER_PATH, async (c) => {
    const source = o.sourceAddress(c);
    if (failures.retryAfterSeconds(source) > 0) {
      c.header('Retry-After', String(failures.retryAfterSeconds(source)));
      return c.json({ message: 'too many joins with a wrong cluster token from this address; try again later' }, 429);
    }
    const auth = c.req.header('authorization') ?? '';
    const presented = auth.startsWith('Bearer ') ? auth.slice('Bearer '.length).trim() : '';
    if (!presented || !sameSecret(presented, o.secret)) {
      failures.take(source);
      log.warn('server-join', 'refused a server join with a wrong cluster token', { source });
      return c.json({ message: 'the cluster token does not match this cluster\'s: start the joining server with the --token-file (or CORRAL_TOKEN) of the first server' }, 401);
    }
    let body: { name?: unknown; peerUrl?: unknown };
    try {
      body = await c.req.json();
    } catch {
      return c.json({ message: 'the body must be JSON: {"name": ..., "peerUrl": ...}' }, 400);
    }
    const name = typeof body.name === 'string' ? body.name : '';
    const peerUrl = typeof body.peerUrl === 'string' ? body.peerUrl : '';
    if (!MEMBER_NAME.test(name)) return c.json({ message: `invalid member name "${name}"` }, 400);
    if (!/^https:\/\/[^/\s]+:\d+$/.test(peerUrl)) return c.json({ message: `invalid peer URL "${peerUrl}": expected https://ADDRESS:PORT` }, 400);
    try {
      const current = await o.members.list();
      if (current.some((m) => m.name === name && !m.peerUrls.includes(peerUrl))) {
        return c.json({ message: `an etcd member named ${name} already exists with another address: remove it first (see "HA with embedded etcd" in docs/operations.md)` }, 409);
      }
      const holder = current.find((m) => m.peerUrls.includes(peerUrl));
      // A join that was interrupted after MemberAdd (holder not started yet, or started under this name) is taken up again.
      if (holder && holder.name !== '' && holder.name !== name) {
        return c.json({ message: `the peer URL ${peerUrl} belongs to etcd member ${holder.name}: remove it first (see "HA with embedded etcd" in docs/operations.md)` }, 409);
      }
      if (current.some((m) => m.name === '' && !m.peerUrls.includes(peerUrl))) {
        return c.json({ message: 'another server\'s join has not finished (an etcd member was added but has not started): try again when it has, or remove that member' }, 409);
      }
      const members = holder ? current : await o.members.add(peerUrl);
      log.info('server-join', holder ? 'a server takes up its interrupted join' : 'added an etcd member for a joining server', { name, peerUrl, source });
      const answer: JoinAnswer = {
        etcdCa: o.etcdCa,
        members: members.map((m) => ({ name: m.peerUrls.includes(peerUrl) ? name : m.name, peerUrl: m.peerUrls[0] ?? '' })),
      };
      return c.json(answer);
    } catch (err) {
      log.warn('server-join', 'adding an etcd member failed', { name, peerUrl, error: (err as Error).message });
      return c.json({ message: `adding the etcd member failed: ${(err as Error).message}` }, 503);
    }
  });
}
