/**
 * Create-only request kinds (TokenReview, SubjectAccessReview, SelfSubjectReview, ...): a POST is
 * answered by a handler that fills in the object's status; nothing is stored. Handlers register by
 * kind once the server has what they need (the token verifier, the authorizer).
 */
import type { KubeObject } from '../../api/meta.js';
import type { ResourceInfo } from '../../api/resources.js';
import { errors } from '../../api/status.js';
import type { RequestUser } from './registry.js';

export interface RequestKindContext {
  info: ResourceInfo;
  /** For namespaced kinds (LocalSubjectAccessReview): the namespace of the URL. */
  namespace: string | undefined;
  body: KubeObject;
  user: RequestUser | undefined;
}

export type RequestKindHandler = (r: RequestKindContext) => Promise<KubeObject>;

export class RequestKinds {
  private readonly handlers = new Map<string, RequestKindHandler>();

  register(kind: string, handler: RequestKindHandler): void {
    this.handlers.set(kind, handler);
  }

  async create(r: RequestKindContext): Promise<KubeObject> {
    const handler = this.handlers.get(r.info.kind);
    if (!handler) throw errors.unavailable(`${r.info.plural}.${r.info.group} cannot be answered by this server yet`);
    return handler(r);
  }
}
