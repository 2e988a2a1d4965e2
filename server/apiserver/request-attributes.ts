/**
 * The authorization attributes of an HTTP request (upstream's RequestInfo + user): the verb from the
 * method and the URL (GET is get, list or watch; DELETE without a name is deletecollection), and
 * what the URL addresses.
 */
import type { RequestAttributes, UserInfo } from '../auth/authorizer.js';
import type { ParseResult } from './request-info.js';
import { queryBool } from '../../api/query-bool.js';

function resourceVerb(method: string, hasName: boolean, watch: boolean): string {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return watch ? 'watch' : hasName ? 'get' : 'list';
    case 'POST': return 'create';
    case 'PUT': return 'update';
    case 'PATCH': return 'patch';
    case 'DELETE': return hasName ? 'delete' : 'deletecollection';
    default: return method.toLowerCase();
  }
}

export function requestAttributes(user: UserInfo, method: string, path: string, query: URLSearchParams, parsed: ParseResult): RequestAttributes {
  if (parsed.kind !== 'resource') {
    return {
      user, verb: method === 'HEAD' ? 'get' : method.toLowerCase(), resourceRequest: false,
      apiGroup: '', resource: '', subresource: '', namespace: '', name: '', path,
    };
  }
  const t = parsed.target;
  const watch = t.legacyWatch || queryBool(query, 'watch');
  return {
    user,
    verb: resourceVerb(method, t.name !== undefined, watch && t.subresource === undefined),
    resourceRequest: true,
    apiGroup: t.info.group,
    resource: t.info.plural,
    subresource: t.subresource ?? '',
    namespace: t.namespace ?? '',
    name: t.name ?? '',
    path,
  };
}
