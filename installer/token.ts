/**
 * Join tokens that pin the server's CA, in the shape k3s uses: `K10<sha256 of the CA cert DER>::<id>.<secret>`.
 * Whoever holds such a token can check that the server it talks to is the one that issued it, before
 * trusting anything the server says; the part after `::` is the bearer credential the API accepts.
 */

export interface JoinToken {
  /** sha256 (hex, lowercase) of the cluster CA certificate's DER; absent for a bare credential. */
  caHash?: string;
  /** `<id>.<secret>`: what goes into `Authorization: Bearer`. */
  credential: string;
  id: string;
}

const PINNED = /^K10([0-9a-fA-F]{64})::([^\s:]+)$/;
const CREDENTIAL = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;

/** Parses a pinned (`K10…::id.secret`) or bare (`id.secret`) token; throws with what is wrong. */
export function parseJoinToken(text: string): JoinToken {
  const t = text.trim();
  let caHash: string | undefined;
  let credential = t;
  if (t.startsWith('K10')) {
    const m = PINNED.exec(t);
    if (!m) throw new Error('invalid token: a K10 token is K10<64 hex digits of the CA hash>::<id>.<secret>');
    caHash = m[1]!.toLowerCase();
    credential = m[2]!;
  }
  const c = CREDENTIAL.exec(credential);
  if (!c) throw new Error('invalid token: expected <id>.<secret> (see `corral token create`)');
  return { ...(caHash !== undefined ? { caHash } : {}), credential, id: c[1]! };
}

/** Formats a credential pinned to a CA hash. */
export function formatJoinToken(caHash: string, credential: string): string {
  if (!/^[0-9a-f]{64}$/.test(caHash)) throw new Error('CA hash must be 64 lowercase hex digits');
  if (!CREDENTIAL.test(credential)) throw new Error('credential must be <id>.<secret>');
  return `K10${caHash}::${credential}`;
}

/**
 * What the installer needs of the server's token store. The server (or `corral`) hands its store in;
 * the installer does not import `server/`.
 */
export interface NodeTokenIssuer {
  authenticate(presented: string): { role: string } | undefined;
  create(role: 'join', options: { description: string }): { token: string };
  /** A credential bound to `node`, replacing the node's current one (one live credential per node). */
  mintNodeCredential(node: string, options: { description?: string; mintedBy?: string }): { token: string; replaced: string[] };
}

/** How the server answers a request's bearer token (the API's authentication, throttling included). */
export type RouteAuthOutcome =
  | { ok: true; user: { role: string; tokenId: string } }
  | { ok: false; code: 401 | 429; message: string; retryAfterSeconds?: number };
