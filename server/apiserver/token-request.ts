/**
 * `POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token` (TokenRequest, `kubectl create token`):
 * validates the request as upstream (expiry of at least 10 minutes, a bound object that is a Pod,
 * Secret or Node and exists with the given uid), signs a token and answers the TokenRequest with
 * status.token and status.expirationTimestamp.
 */
import { rfc3339, type KubeObject } from '../../api/meta.js';
import { resourceForKind } from '../../api/resources.js';
import { errors, StatusError } from '../../api/status.js';
import type { Pod } from '../../api/types.js';
import {
  DEFAULT_EXPIRATION_SECONDS, MIN_EXPIRATION_SECONDS, type BoundKind, type ServiceAccountTokens, type TokenClaims,
} from '../auth/service-account-tokens.js';
import type { Registry } from './registry.js';

interface TokenRequestSpec {
  audiences?: string[];
  expirationSeconds?: number;
  boundObjectRef?: { kind?: string; apiVersion?: string; name?: string; uid?: string };
}

const BOUND_KINDS: ReadonlySet<string> = new Set(['Pod', 'Secret', 'Node']);
const MAX_EXPIRATION_SECONDS = 2 ** 32;

export async function createTokenRequest(o: {
  registry: Registry;
  tokens: ServiceAccountTokens;
  namespace: string;
  serviceAccount: string;
  body: unknown;
  dryRun: boolean;
}): Promise<KubeObject> {
  const sa = await o.registry.get(resourceForKind('ServiceAccount')!, o.namespace, o.serviceAccount);
  const request = (typeof o.body === 'object' && o.body !== null ? o.body : {}) as { spec?: TokenRequestSpec };
  const spec: TokenRequestSpec = { ...(request.spec ?? {}) };
  const expirationSeconds = spec.expirationSeconds ?? DEFAULT_EXPIRATION_SECONDS;
  if (!Number.isInteger(expirationSeconds) || expirationSeconds < MIN_EXPIRATION_SECONDS) {
    throw errors.invalid('TokenRequest', o.serviceAccount, [{
      reason: 'FieldValueInvalid', field: 'spec.expirationSeconds',
      message: `Invalid value: ${expirationSeconds}: may not specify a duration less than 10 minutes`,
    }], 'authentication.k8s.io');
  }
  if (expirationSeconds > MAX_EXPIRATION_SECONDS) {
    throw errors.invalid('TokenRequest', o.serviceAccount, [{
      reason: 'FieldValueInvalid', field: 'spec.expirationSeconds',
      message: `Invalid value: ${expirationSeconds}: may not specify a duration larger than 2^32 seconds`,
    }], 'authentication.k8s.io');
  }
  const claims: TokenClaims = { namespace: o.namespace, serviceAccount: { name: sa.metadata.name!, uid: sa.metadata.uid! } };
  const ref = spec.boundObjectRef;
  if (ref) {
    const kind = ref.kind ?? '';
    if (!BOUND_KINDS.has(kind)) throw errors.badRequest(`cannot bind token to object of type ${ref.apiVersion ?? 'v1'}, Kind=${kind}`);
    const info = resourceForKind(kind)!;
    const obj = await o.registry.get(info, kind === 'Node' ? undefined : o.namespace, ref.name ?? '');
    if (ref.uid && ref.uid !== obj.metadata.uid) {
      throw new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${kind} "${ref.name}": the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`);
    }
    const bound = { name: obj.metadata.name!, uid: obj.metadata.uid! };
    spec.boundObjectRef = { kind, apiVersion: 'v1', name: bound.name, uid: bound.uid };
    claims[kind.toLowerCase() as Lowercase<BoundKind>] = bound;
    const nodeName = kind === 'Pod' ? (obj as Pod).spec?.nodeName : undefined;
    if (nodeName) {
      // A pod-bound token also names the pod's node (upstream's ServiceAccountTokenPodNodeInfo).
      const node = await o.registry.tryGet(resourceForKind('Node')!, undefined, nodeName);
      if (node) claims.node = { name: nodeName, uid: node.metadata.uid! };
    }
  }
  const audiences = spec.audiences && spec.audiences.length > 0 ? spec.audiences : o.tokens.apiAudiences;
  const issued = o.dryRun
    ? { token: '', expires: new Date(Date.now() + expirationSeconds * 1000) }
    : await o.tokens.issue(claims, { audiences, expirationSeconds });
  return {
    kind: 'TokenRequest',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { name: o.serviceAccount, namespace: o.namespace, creationTimestamp: rfc3339() },
    spec: { ...spec, audiences, expirationSeconds },
    status: { token: issued.token, expirationTimestamp: rfc3339(issued.expires) },
  };
}
