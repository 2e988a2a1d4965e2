/**
 * Wires RBAC into a server: the informer-backed policy cache the authorizer reads, the authorizer,
 * and the escalation check on writes of roles and bindings.
 */
import type { ApiClient } from '../../../api/client/client.js';
import type { Registry } from '../../apiserver/registry.js';
import { RbacAuthorizer } from './authorizer.js';
import { rbacEscalationPlugin } from './escalation.js';
import { PolicyCache } from './policy-cache.js';
import type { RequestAttributes } from './rules.js';

export interface Rbac {
  authorizer: RbacAuthorizer;
  policy: PolicyCache;
}

export interface RbacOptions {
  registry: Registry;
  /** An in-process client with full authority (the policy cache's informers use it). */
  client: ApiClient;
  signal: AbortSignal;
  /** The server's whole authorizer chain, for the `escalate` and `bind` checks. */
  authorize: (a: RequestAttributes) => boolean | Promise<boolean>;
}

export async function startRbac(o: RbacOptions): Promise<Rbac> {
  const policy = new PolicyCache(o.client);
  const authorizer = new RbacAuthorizer(policy);
  o.registry.addPlugin(rbacEscalationPlugin({ registry: o.registry, rbac: authorizer, authorize: o.authorize }));
  policy.start(o.signal);
  await policy.waitForSync();
  return { authorizer, policy };
}
