/**
 * User impersonation (`kubectl --as`, `--as-group`, `--as-uid`; upstream's Impersonate-* headers):
 * the requester must be allowed `impersonate` on each thing it asks to become — `users` or
 * `serviceaccounts` (core group) for the user, `groups` for each group, `uids` and
 * `userextras/<key>` (authentication.k8s.io) — otherwise 403 with upstream's message. The request then
 * runs as that user, who is authenticated (`system:authenticated`) and, for a service account, in
 * its service-account groups when no groups were named.
 */
import { errors, StatusError } from '../../api/status.js';
import type { RequestAttributes, UserInfo } from './rbac/rules.js';

export interface ImpersonatedUser extends UserInfo {
  uid?: string;
  extra?: Record<string, string[]>;
}

export interface ImpersonationHeaders {
  user: string | undefined;
  groups: string[];
  uid: string | undefined;
  extra: Record<string, string[]>;
}

/** Reads the Impersonate-* headers (`Impersonate-Extra-<key>` keys are percent-decoded, lower-cased). */
export function impersonationHeaders(headers: Headers): ImpersonationHeaders | undefined {
  const user = headers.get('impersonate-user') ?? undefined;
  const groups: string[] = [];
  const extra: Record<string, string[]> = {};
  headers.forEach((value, name) => {
    const lower = name.toLowerCase();
    if (lower === 'impersonate-group') groups.push(...value.split(',').map((g) => g.trim()).filter((g) => g !== ''));
    else if (lower.startsWith('impersonate-extra-')) {
      const key = decodeURIComponent(lower.slice('impersonate-extra-'.length));
      (extra[key] ??= []).push(...value.split(',').map((v) => v.trim()));
    }
  });
  const uid = headers.get('impersonate-uid') ?? undefined;
  if (user === undefined && groups.length === 0 && uid === undefined && Object.keys(extra).length === 0) return undefined;
  return { user, groups, uid, extra };
}

const SA_PREFIX = 'system:serviceaccount:';

function attributes(requester: UserInfo, resource: string, name: string, o: { group?: string; namespace?: string; subresource?: string } = {}): RequestAttributes {
  return {
    user: requester, verb: 'impersonate', resourceRequest: true, path: '', apiGroup: o.group ?? '', resource,
    subresource: o.subresource ?? '', namespace: o.namespace ?? '', name,
  };
}

/** upstream's Forbidden for an impersonation: `users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope`. */
function refuse(a: RequestAttributes): StatusError {
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  const qualified = a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource;
  return errors.forbidden(`${qualified} "${a.name}" is forbidden: User "${a.user.name}" cannot impersonate resource "${resource}" in API group "${a.apiGroup}" ${scope}`,
    { name: a.name, group: a.apiGroup, kind: a.resource });
}

/** The user the request runs as, after checking that `requester` may impersonate every part of it. */
export async function impersonate(
  requester: UserInfo,
  h: ImpersonationHeaders,
  authorize: (a: RequestAttributes) => boolean | Promise<boolean>,
): Promise<ImpersonatedUser> {
  if (h.user === undefined || h.user === '') {
    throw errors.badRequest('impersonating user extras, groups or uid without impersonating a user is not allowed');
  }
  const checks: RequestAttributes[] = [];
  const isServiceAccount = h.user.startsWith(SA_PREFIX) && h.user.split(':').length === 4;
  if (isServiceAccount) {
    const [, , namespace, name] = h.user.split(':') as [string, string, string, string];
    checks.push(attributes(requester, 'serviceaccounts', name, { namespace }));
  } else {
    checks.push(attributes(requester, 'users', h.user));
  }
  for (const g of h.groups) checks.push(attributes(requester, 'groups', g));
  if (h.uid !== undefined) checks.push(attributes(requester, 'uids', h.uid, { group: 'authentication.k8s.io' }));
  for (const [key, values] of Object.entries(h.extra)) {
    for (const v of values) checks.push(attributes(requester, 'userextras', v, { group: 'authentication.k8s.io', subresource: key }));
  }
  for (const a of checks) if (!(await authorize(a))) throw refuse(a);

  const groups = [...h.groups];
  if (isServiceAccount && groups.length === 0) groups.push('system:serviceaccounts', `system:serviceaccounts:${h.user.split(':')[2]}`);
  if (h.user !== 'system:anonymous' && !groups.includes('system:authenticated')) groups.push('system:authenticated');
  return {
    name: h.user, groups,
    ...(h.uid !== undefined ? { uid: h.uid } : {}),
    ...(Object.keys(h.extra).length > 0 ? { extra: h.extra } : {}),
  };
}
