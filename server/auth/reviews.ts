/**
 * The review kinds (create-only; nothing stored), as upstream answers them:
 * - authentication.k8s.io TokenReview (is this bearer token valid, for whom) and SelfSubjectReview
 *   (`kubectl auth whoami`);
 * - authorization.k8s.io SelfSubjectAccessReview (`kubectl auth can-i`), SubjectAccessReview and
 *   LocalSubjectAccessReview (may this user do this), and SelfSubjectRulesReview (`can-i --list`).
 */
import type { KubeObject } from '../../api/meta.js';
import { errors } from '../../api/status.js';
import type { PolicyRule } from '../../api/types.js';
import type { RequestKindContext, RequestKinds } from '../apiserver/request-kinds.js';
import type { RbacAuthorizer } from './rbac/authorizer.js';
import type { RequestAttributes, UserInfo } from './rbac/rules.js';

/** The user a request was made by, with what a TokenReview reports beyond name and groups. */
export interface ReviewedUser extends UserInfo {
  uid?: string;
  extra?: Record<string, string[]>;
}

export interface AccessDecision {
  allowed: boolean;
  denied?: boolean;
  reason?: string;
}

export interface ReviewOptions {
  /** Authenticates a bearer token for the given audiences (undefined: not valid). */
  authenticateToken(token: string, audiences: string[] | undefined): Promise<(ReviewedUser & { audiences?: string[] }) | undefined>;
  /** The whole authorizer chain. */
  authorize(a: RequestAttributes): Promise<AccessDecision>;
  rbac: RbacAuthorizer;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Obj : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** The requester as authenticated (a service account's uid and extra come along from its token). */
function requester(r: RequestKindContext): ReviewedUser {
  if (!r.user) throw errors.forbidden('the request has no user');
  return r.user;
}

function userInfoJson(u: ReviewedUser): Obj {
  return {
    username: u.name,
    ...(u.uid ? { uid: u.uid } : {}),
    groups: [...u.groups],
    ...(u.extra && Object.keys(u.extra).length > 0 ? { extra: u.extra } : {}),
  };
}

/** spec.resourceAttributes / spec.nonResourceAttributes → the authorizer's attributes. */
function attributesOf(user: UserInfo, spec: Obj): RequestAttributes {
  const ra = spec['resourceAttributes'];
  if (ra !== undefined && ra !== null) {
    const a = obj(ra);
    const resource = str(a['resource']);
    return {
      user, verb: str(a['verb']), resourceRequest: true, path: '', namespace: str(a['namespace']), apiGroup: str(a['group']),
      resource, subresource: str(a['subresource']), name: str(a['name']),
    };
  }
  const nra = obj(spec['nonResourceAttributes']);
  return { user, verb: str(nra['verb']), resourceRequest: false, path: str(nra['path']), namespace: '', apiGroup: '', resource: '', subresource: '', name: '' };
}

function invalidSpec(kind: string, field: string, value: string, detail: string): never {
  throw errors.invalid(kind, '', [{ reason: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(value)}: ${detail}` }], 'authorization.k8s.io');
}

function checkExactlyOneAttributes(kind: string, spec: Obj): void {
  const hasResource = spec['resourceAttributes'] !== undefined && spec['resourceAttributes'] !== null;
  const hasNonResource = spec['nonResourceAttributes'] !== undefined && spec['nonResourceAttributes'] !== null;
  if (hasResource && hasNonResource) {
    invalidSpec(kind, 'spec.nonResourceAttributes', '', 'cannot be specified in combination with resourceAttributes');
  }
  if (!hasResource && !hasNonResource) {
    invalidSpec(kind, 'spec.resourceAttributes', '', 'exactly one of nonResourceAttributes or resourceAttributes must be specified');
  }
}

function accessStatus(d: AccessDecision): Obj {
  return { allowed: d.allowed, ...(d.denied ? { denied: true } : {}), ...(d.reason ? { reason: d.reason } : {}) };
}

function reviewObject(r: RequestKindContext, spec: Obj, status: Obj): KubeObject {
  return { metadata: { ...obj(r.body.metadata), creationTimestamp: null } as never, spec, status };
}

function ruleJson(rule: PolicyRule): Obj {
  return {
    verbs: rule.verbs,
    ...(rule.apiGroups ? { apiGroups: rule.apiGroups } : {}),
    ...(rule.resources ? { resources: rule.resources } : {}),
    ...(rule.resourceNames ? { resourceNames: rule.resourceNames } : {}),
  };
}

export function registerReviews(kinds: RequestKinds, o: ReviewOptions): void {
  kinds.register('TokenReview', async (r) => {
    const spec = obj(r.body['spec']);
    const audiences = strings(spec['audiences']);
    const user = await o.authenticateToken(str(spec['token']), audiences.length > 0 ? audiences : undefined);
    const status: Obj = user
      ? { authenticated: true, user: userInfoJson(user), audiences: user.audiences ?? audiences }
      : { user: {}, error: 'invalid bearer token' };
    return reviewObject(r, spec, status);
  });

  kinds.register('SelfSubjectReview', async (r) => {
    const user = requester(r);
    return { metadata: { creationTimestamp: null } as never, status: { userInfo: userInfoJson(user) } };
  });

  kinds.register('SelfSubjectAccessReview', async (r) => {
    const spec = obj(r.body['spec']);
    checkExactlyOneAttributes('SelfSubjectAccessReview', spec);
    return reviewObject(r, spec, accessStatus(await o.authorize(attributesOf(requester(r), spec))));
  });

  const subjectAccessReview = (kind: string) => async (r: RequestKindContext): Promise<KubeObject> => {
    const spec = obj(r.body['spec']);
    checkExactlyOneAttributes(kind, spec);
    const user: UserInfo = { name: str(spec['user']), groups: strings(spec['groups']) };
    if (user.name === '' && user.groups.length === 0) invalidSpec(kind, 'spec.user', '', 'at least one of user or group must be specified');
    const attrs = attributesOf(user, spec);
    if (kind === 'LocalSubjectAccessReview') {
      if (!attrs.resourceRequest) invalidSpec(kind, 'spec.nonResourceAttributes', '', 'disallowed on this kind of request');
      if (attrs.namespace !== r.namespace) {
        invalidSpec(kind, 'spec.resourceAttributes.namespace', attrs.namespace, 'must match metadata.namespace');
      }
    }
    return reviewObject(r, spec, accessStatus(await o.authorize(attrs)));
  };
  kinds.register('SubjectAccessReview', subjectAccessReview('SubjectAccessReview'));
  kinds.register('LocalSubjectAccessReview', subjectAccessReview('LocalSubjectAccessReview'));

  kinds.register('SelfSubjectRulesReview', async (r) => {
    const spec = obj(r.body['spec']);
    const user = requester(r);
    const { rules, errors: problems } = o.rbac.rulesFor(user, str(spec['namespace']));
    const resourceRules = rules.filter((rule) => (rule.nonResourceURLs ?? []).length === 0).map(ruleJson);
    const nonResourceRules = rules.filter((rule) => (rule.nonResourceURLs ?? []).length > 0)
      .map((rule) => ({ verbs: rule.verbs, nonResourceURLs: rule.nonResourceURLs }));
    // The Node authorizer's grants are not rules: a node's list is incomplete, as upstream says.
    const incomplete = user.groups.includes('system:nodes') || problems.length > 0;
    return reviewObject(r, spec, {
      resourceRules, nonResourceRules, incomplete,
      ...(problems.length > 0 ? { evaluationError: problems.join(', ') } : {}),
    });
  });
}
