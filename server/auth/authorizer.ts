/**
 * Authorization as upstream's apiserver does it: every request becomes one attributes record (who,
 * which verb, on what), and a chain of authorizers answers it. Each authorizer allows, denies, or has
 * no opinion; the first allow or deny wins, and a request nobody allowed is forbidden. Upstream's
 * default chain is `Node,RBAC`: corral's is the Node authorizer, then its built-in roles, and an RBAC
 * authorizer can be appended without changing the others.
 */

import type { RequestAttributes, UserInfo } from './rbac/rules.js';

export type { RequestAttributes, UserInfo } from './rbac/rules.js';

/** The group of every node credential; a node's user name is `system:node:<node name>`. */
export const NODES_GROUP = 'system:nodes';
export const NODE_USER_PREFIX = 'system:node:';
/** The group whose members may do anything (upstream's privileged group). */
export const MASTERS_GROUP = 'system:masters';
/** Join tokens, as upstream's bootstrap tokens: `system:bootstrap:<token id>`. */
export const BOOTSTRAPPERS_GROUP = 'system:bootstrappers';

/** The node a user acts for, if it is a node credential (upstream's NodeIdentifier). */
export function nodeNameOf(user: UserInfo): string | undefined {
  if (!user.name.startsWith(NODE_USER_PREFIX) || !user.groups.includes(NODES_GROUP)) return undefined;
  const name = user.name.slice(NODE_USER_PREFIX.length);
  return name === '' ? undefined : name;
}

export type Decision =
  | { decision: 'allow'; reason?: string }
  | { decision: 'deny'; reason: string }
  | { decision: 'no-opinion'; reason?: string };

export const ALLOW: Decision = { decision: 'allow' };
export const NO_OPINION: Decision = { decision: 'no-opinion' };

export interface Authorizer {
  /** For logs and the Forbidden message. */
  readonly name: string;
  authorize(a: RequestAttributes): Decision | Promise<Decision>;
}

/**
 * Upstream's union authorizer: asks each in turn until one allows or denies. The reasons of those
 * without an opinion are kept, so a Forbidden can say why (e.g. "no relationship found between node
 * 'n1' and this object").
 */
export class AuthorizerChain implements Authorizer {
  readonly name = 'chain';
  private readonly authorizers: Authorizer[];

  constructor(authorizers: readonly Authorizer[]) {
    this.authorizers = [...authorizers];
  }

  /** Adds an authorizer at the end of the chain (RBAC comes after the Node authorizer). */
  append(authorizer: Authorizer): void {
    this.authorizers.push(authorizer);
  }

  async authorize(a: RequestAttributes): Promise<Decision> {
    const reasons: string[] = [];
    for (const authorizer of this.authorizers) {
      const d = await authorizer.authorize(a);
      if (d.decision !== 'no-opinion') return d;
      if (d.reason) reasons.push(d.reason);
    }
    return reasons.length > 0 ? { decision: 'no-opinion', reason: reasons.join(', ') } : NO_OPINION;
  }
}

/**
 * Upstream's Forbidden message: `User "u" cannot get resource "pods" in API group "" in the namespace
 * "default"` (or `... cannot get path "/x"` for non-resource URLs), then `: reason` if there is one.
 */
export function forbiddenMessage(a: RequestAttributes, reason?: string): string {
  let msg: string;
  if (!a.resourceRequest) {
    msg = `User "${a.user.name}" cannot ${a.verb} path "${a.path}"`;
  } else {
    const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
    msg = `User "${a.user.name}" cannot ${a.verb} resource "${resource}" in API group "${a.apiGroup}"`;
    msg += a.namespace ? ` in the namespace "${a.namespace}"` : ' at the cluster scope';
  }
  const subject = !a.resourceRequest ? 'forbidden' : a.name ? `${a.resource} "${a.name}" is forbidden` : `${a.resource} is forbidden`;
  return `${subject}: ${msg}${reason ? `: ${reason}` : ''}`;
}

export const READ_VERBS = ['get', 'list', 'watch'];
