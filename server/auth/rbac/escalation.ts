/**
 * RBAC escalation prevention (upstream's rbac registry checks): a user may write a Role or
 * ClusterRole only with rules they already hold, and bind a role only if they hold its rules — unless
 * they may `escalate` (roles) or `bind` (bindings) it. system:masters may do anything. Aggregated
 * ClusterRoles need full authority. Internal writes (no user: the server's own start-up) are trusted.
 */
import type { KubeObject } from '../../../api/meta.js';
import { qualifiedResource, RBAC_GROUP, resourceForKind, type ResourceInfo } from '../../../api/resources.js';
import { errors, type StatusError } from '../../../api/status.js';
import type { ClusterRole, PolicyRule, Role, RoleBinding } from '../../../api/types.js';
import type { AdmissionPlugin, Registry, WriteOptions } from '../../apiserver/registry.js';
import type { RbacAuthorizer } from './authorizer.js';
import { compactString, uncoveredRules, type RequestAttributes, type UserInfo } from './rules.js';

const MASTERS = 'system:masters';
const FULL_AUTHORITY: PolicyRule[] = [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, { verbs: ['*'], nonResourceURLs: ['*'] }];

export interface EscalationOptions {
  registry: Registry;
  rbac: RbacAuthorizer;
  /** The whole authorizer chain: may this user `escalate`/`bind` this role? */
  authorize(a: RequestAttributes): boolean | Promise<boolean>;
}

/** `user "x" (groups=["a" "b"]) is attempting to grant RBAC permissions not currently held:\n{...}` */
export function notHeldMessage(user: UserInfo, missing: readonly PolicyRule[], resolutionErrors: readonly string[]): string {
  const groups = `[${user.groups.map((g) => JSON.stringify(g)).join(' ')}]`;
  const lines = [...new Set(missing.map(compactString))].sort().join('\n');
  let msg = `user ${JSON.stringify(user.name)} (groups=${groups}) is attempting to grant RBAC permissions not currently held:\n${lines}`;
  if (resolutionErrors.length > 0) msg += `; resolution errors: [${resolutionErrors.join(' ')}]`;
  return msg;
}

function forbidden(info: ResourceInfo, name: string, why: string): StatusError {
  return errors.forbidden(`${qualifiedResource(info)} "${name}" is forbidden: ${why}`, { name, group: info.group, kind: info.plural });
}

export function rbacEscalationPlugin(o: EscalationOptions): AdmissionPlugin {
  const verbAllowed = (user: UserInfo, verb: string, resource: string, namespace: string, name: string): boolean | Promise<boolean> =>
    o.authorize({ user, verb, resourceRequest: true, path: '', apiGroup: RBAC_GROUP, resource, subresource: '', namespace, name });

  /** Refuses unless `user` holds every rule of `wanted` in `namespace`. */
  function confirmNoEscalation(info: ResourceInfo, name: string, user: UserInfo, namespace: string, wanted: readonly PolicyRule[]): void {
    const held = o.rbac.rulesFor(user, namespace);
    const missing = uncoveredRules(held.rules, wanted);
    if (missing.length > 0) throw forbidden(info, name, notHeldMessage(user, missing, held.errors));
  }

  async function checkRole(info: ResourceInfo, obj: KubeObject, user: UserInfo, old?: KubeObject): Promise<void> {
    const namespace = obj.metadata.namespace ?? '';
    const name = obj.metadata.name ?? '';
    const role = obj as ClusterRole;
    if (info.kind === 'ClusterRole' && (role.aggregationRule || (old as ClusterRole | undefined)?.aggregationRule)) {
      if (uncoveredRules(o.rbac.rulesFor(user, '').rules, FULL_AUTHORITY).length > 0) {
        throw forbidden(info, name, 'must have cluster-admin privileges to use the aggregationRule');
      }
      return;
    }
    if (await verbAllowed(user, 'escalate', info.plural, namespace, name)) return;
    confirmNoEscalation(info, name, user, namespace, (obj as Role).rules ?? []);
  }

  async function checkBinding(info: ResourceInfo, obj: KubeObject, user: UserInfo): Promise<void> {
    const binding = obj as RoleBinding;
    const namespace = binding.metadata.namespace ?? '';
    const name = binding.metadata.name ?? '';
    const ref = binding.roleRef;
    const refResource = ref.kind === 'Role' ? 'roles' : 'clusterroles';
    if (await verbAllowed(user, 'bind', refResource, namespace, ref.name)) return;
    const refInfo = resourceForKind(ref.kind === 'Role' ? 'Role' : 'ClusterRole')!;
    const role = (await o.registry.tryGet(refInfo, ref.kind === 'Role' ? namespace : undefined, ref.name)) as Role | undefined;
    if (!role) throw forbidden(info, name, `${ref.kind.toLowerCase()}.${RBAC_GROUP} "${ref.name}" not found`);
    confirmNoEscalation(info, name, user, namespace, role.rules ?? []);
  }

  async function admit(info: ResourceInfo, obj: KubeObject, opts: WriteOptions, old?: KubeObject): Promise<void> {
    const user = opts.user;
    if (!user || user.groups.includes(MASTERS)) return;
    if (info.group !== RBAC_GROUP) return;
    if (info.kind === 'Role' || info.kind === 'ClusterRole') await checkRole(info, obj, user, old);
    else await checkBinding(info, obj, user);
  }

  return {
    name: 'RBACEscalation',
    admitCreate: async (info, obj, opts) => { await admit(info, obj, opts); },
    admitUpdate: async (info, obj, old, opts) => { await admit(info, obj, opts, old); },
  };
}
