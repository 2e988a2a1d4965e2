/**
 * corral's built-in roles, by group, ahead of RBAC in the chain:
 * - `system:masters` (the admin token, the server's own controllers): everything (upstream's
 *   privileged group, which no RBAC policy can lock out);
 * - `system:bootstrappers` (join tokens): find a Node, wait for it and record its identity annotation,
 *   which is what `corral join` and /install.sh do with one (the credential exchange is not an API call;
 *   NodeRestriction keeps it off a Node's spec).
 * Viewers (`corral:viewers`, bound to `view`) and discovery for every authenticated user
 * (`system:discovery`) are RBAC's default bindings (server/auth/rbac/bootstrap-policy.ts).
 */
import type { PolicyRule } from '../../api/types.js';
import { ruleAllows } from './rbac/rules.js';
import { ALLOW, BOOTSTRAPPERS_GROUP, MASTERS_GROUP, NO_OPINION, READ_VERBS, type Authorizer, type Decision, type RequestAttributes } from './authorizer.js';

export const VIEWERS_GROUP = 'corral:viewers';
export const AUTHENTICATED_GROUP = 'system:authenticated';

const BOOTSTRAP_RULES: readonly PolicyRule[] = [
  { verbs: [...READ_VERBS, 'patch'], apiGroups: [''], resources: ['nodes'] },
];

export class BuiltinRolesAuthorizer implements Authorizer {
  readonly name = 'BuiltinRoles';

  authorize(a: RequestAttributes): Decision {
    const groups = a.user.groups;
    if (groups.includes(MASTERS_GROUP)) return ALLOW;
    if (groups.includes(BOOTSTRAPPERS_GROUP) && BOOTSTRAP_RULES.some((r) => ruleAllows(a, r))) return ALLOW;
    return NO_OPINION;
  }
}
