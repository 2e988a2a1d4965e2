/**
 * corral's built-in roles, by group, until RBAC arrives (then these become bootstrap bindings):
 * - `system:masters` (the admin token, the server's own controllers): everything;
 * - `corral:viewers`: read everything but Secrets, never an acting subresource (Kubernetes' `view`);
 * - `system:bootstrappers` (join tokens): find a Node, wait for it and record its identity annotation,
 *   which is what `corral join` and /install.sh do with one (the credential exchange is not an API call;
 *   NodeRestriction keeps it off a Node's spec);
 * - every authenticated user: discovery and OpenAPI (upstream's `system:discovery`).
 */
import type { PolicyRule } from '../../api/types.js';
import { ruleAllows } from './rbac/rules.js';
import { ALLOW, BOOTSTRAPPERS_GROUP, MASTERS_GROUP, NO_OPINION, READ_VERBS, type Authorizer, type Decision, type RequestAttributes } from './authorizer.js';

export const VIEWERS_GROUP = 'corral:viewers';
export const AUTHENTICATED_GROUP = 'system:authenticated';

/** Subresources that act even on GET (exec and attach upgrade a GET; proxy and portforward reach into workloads). */
const ACTING_SUBRESOURCES: ReadonlySet<string> = new Set(['exec', 'attach', 'portforward', 'proxy']);

const BOOTSTRAP_RULES: readonly PolicyRule[] = [
  { verbs: [...READ_VERBS, 'patch'], apiGroups: [''], resources: ['nodes'] },
];

/** Discovery and OpenAPI documents, readable by every authenticated user. */
function isDiscoveryPath(path: string): boolean {
  return path === '/api' || path === '/apis' || path === '/version' || path.startsWith('/api/') || path.startsWith('/apis/') || path === '/openapi/v3' || path.startsWith('/openapi/');
}

export class BuiltinRolesAuthorizer implements Authorizer {
  readonly name = 'BuiltinRoles';

  authorize(a: RequestAttributes): Decision {
    const groups = a.user.groups;
    if (groups.includes(MASTERS_GROUP)) return ALLOW;
    if (!a.resourceRequest) {
      return a.verb === 'get' && groups.includes(AUTHENTICATED_GROUP) && isDiscoveryPath(a.path) ? ALLOW : NO_OPINION;
    }
    if (groups.includes(VIEWERS_GROUP) && READ_VERBS.includes(a.verb) && a.resource !== 'secrets' && !ACTING_SUBRESOURCES.has(a.subresource)) {
      return ALLOW;
    }
    if (groups.includes(BOOTSTRAPPERS_GROUP) && BOOTSTRAP_RULES.some((r) => ruleAllows(a, r))) return ALLOW;
    return NO_OPINION;
  }
}
