/**
 * Subresources: status, scale (autoscaling/v1 Scale), pods/binding, pods/eviction (policy/v1),
 * namespaces/finalize, and pods/log, pods/exec and pods/portforward relayed to the node's agent
 * through a PodConnector.
 */
import type { Context } from 'hono';
import type { KubeObject } from '../../api/meta.js';
import { rfc3339 } from '../../api/meta.js';
import type { Pod, PodDisruptionBudget, Scale } from '../../api/types.js';
import { apiVersionOf, resourceForKind, type ResourceInfo } from '../../api/resources.js';
import { errors, StatusError } from '../../api/status.js';
import { labelSelectorFromObject, labelSelectorToString, matchesLabels } from '../../api/selectors.js';
import { decodeObject, isPlainObject, mediaType, readBody } from './body.js';
import type { Registry, RequestUser, WriteOptions } from './registry.js';
import type { RequestTarget } from './request-info.js';
import { applyPatch, patchTypeOf, refuseStrategicForCustom } from './patch.js';
import { customScale, scaleOf, withCustomReplicas } from './crd/custom-scale.js';
import { checkDeleteOptionsTypes } from './schema.js';
import { createTokenRequest } from './token-request.js';
import type { ServiceAccountTokens } from '../auth/service-account-tokens.js';
import { sendObject } from './negotiate.js';

/** Streams container logs and runs exec sessions on the node that runs a pod (the agent does it). */
export interface PodConnector {
  logs(c: Context, pod: Pod, container: string, q: URLSearchParams): Promise<Response>;
  exec(c: Context, pod: Pod, container: string, q: URLSearchParams, kind: 'exec' | 'attach'): Promise<Response>;
  portForward(c: Context, pod: Pod): Promise<Response>;
}

export interface SubresourceRequest {
  target: RequestTarget;
  name: string;
  q: URLSearchParams;
  user: RequestUser | undefined;
}

const SCALABLE = new Set(['Deployment', 'ReplicaSet', 'ReplicationController', 'StatefulSet']);
/** The kinds subresource bodies carry, for the protobuf decoder. */
const SCALE_KIND = { group: 'autoscaling', version: 'v1', kind: 'Scale' };
const BINDING_KIND = { group: '', version: 'v1', kind: 'Binding' };
/** The answer to a binding (upstream's). */
export const BINDING_DONE = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 } as const;
const EVICTION_KIND = { group: 'policy', version: 'v1', kind: 'Eviction' };
const TOKEN_REQUEST_KIND = { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' };

export class Subresources {
  private tokenIssuer: ServiceAccountTokens | undefined;

  constructor(private readonly registry: Registry, private connector?: PodConnector) {}

  setConnector(connector: PodConnector): void {
    this.connector = connector;
  }

  /** Enables serviceaccounts/token (TokenRequest). */
  setTokenIssuer(issuer: ServiceAccountTokens): void {
    this.tokenIssuer = issuer;
  }

  private opts(q: URLSearchParams, user: RequestUser | undefined, userAgent?: string): WriteOptions {
    // The field manager defaults to the User-Agent's program name, as upstream derives it.
    const fieldManager = q.get('fieldManager') || (userAgent ?? '').split('/')[0]!.trim();
    return { ...(q.getAll('dryRun').length > 0 ? { dryRun: true } : {}), ...(user ? { user } : {}), ...(fieldManager ? { fieldManager } : {}) };
  }

  async handle(c: Context, r: SubresourceRequest): Promise<Response> {
    const { info, namespace, subresource } = r.target;
    const method = c.req.method;
    const sub = subresource!;
    if (!info.subresources.some((s) => s.name === sub)) {
      // No such route upstream: the generic 404, whatever the object.
      throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    }
    switch (sub) {
      case 'status':
        return this.status(c, info, namespace, r);
      case 'scale':
        if (info.custom ? !info.custom.scale : !SCALABLE.has(info.kind)) break;
        return this.scale(c, info, namespace, r);
      case 'binding':
        if (method !== 'POST') break;
        return this.bind(c, namespace!, r);
      case 'eviction':
        if (method !== 'POST') break;
        return this.evict(c, namespace!, r);
      case 'finalize':
        if (method !== 'PUT') break;
        return this.finalize(c, r);
      case 'token': {
        if (method !== 'POST' || !this.tokenIssuer) break;
        const body = decodeObject(await readBody(c.req.raw), mediaType(c.req.raw), TOKEN_REQUEST_KIND);
        const answer = await createTokenRequest({
          registry: this.registry, tokens: this.tokenIssuer, namespace: namespace!, serviceAccount: r.name, body, dryRun: r.q.getAll('dryRun').length > 0,
        });
        return sendObject(c, answer, 201);
      }
      case 'portforward':
        return this.portForward(c, namespace!, r);
      case 'log':
      case 'exec':
      case 'attach':
        return this.toAgent(c, sub, namespace!, r);
    }
    throw errors.methodNotAllowed(`the server does not allow ${method} on ${info.plural}/${sub}`);
  }

  private async status(c: Context, info: ResourceInfo, namespace: string | undefined, r: SubresourceRequest): Promise<Response> {
    const typed = (o: KubeObject): KubeObject => ({ apiVersion: apiVersionOf(info), kind: info.kind, ...o });
    switch (c.req.method) {
      case 'GET':
        return sendObject(c, typed(await this.registry.get(info, namespace, r.name)));
      case 'PUT': {
        const body = decodeObject(await readBody(c.req.raw), mediaType(c.req.raw), info);
        return sendObject(c, typed(await this.registry.update(info, namespace, r.name, body, { ...this.opts(r.q, r.user), subresource: 'status' })));
      }
      case 'PATCH': {
        const type = patchTypeOf(mediaType(c.req.raw));
        refuseStrategicForCustom(type, info);
        const raw = await readBody(c.req.raw);
        const obj = await this.registry.guaranteedUpdate(info, namespace, r.name, (cur) => applyPatch(type, cur, raw, info, true), {
          ...this.opts(r.q, r.user), subresource: 'status',
        });
        return sendObject(c, typed(obj));
      }
    }
    throw errors.methodNotAllowed(`the server does not allow ${c.req.method} on ${info.plural}/status`);
  }

  private toScale(info: ResourceInfo, obj: KubeObject): Scale {
    if (info.custom?.scale) return customScale(info.custom.scale, obj);
    const spec = (obj.spec ?? {}) as { replicas?: number; selector?: unknown };
    const status = (obj.status ?? {}) as { replicas?: number };
    const selector = info.kind === 'ReplicationController'
      ? labelSelectorToString({ matchLabels: (spec.selector ?? {}) as Record<string, string> })
      : labelSelectorToString(spec.selector as never);
    return scaleOf(obj, spec.replicas ?? 0, status.replicas ?? 0, selector);
  }


  private async scale(c: Context, info: ResourceInfo, namespace: string | undefined, r: SubresourceRequest): Promise<Response> {
    if (c.req.method === 'GET') return sendObject(c, this.toScale(info, await this.registry.get(info, namespace, r.name)));
    if (c.req.method !== 'PUT' && c.req.method !== 'PATCH') throw errors.methodNotAllowed(`the server does not allow ${c.req.method} on ${info.plural}/scale`);
    const raw = await readBody(c.req.raw);
    const isPut = c.req.method === 'PUT';
    const type = isPut ? undefined : patchTypeOf(mediaType(c.req.raw));
    let expected: string | undefined;
    let putReplicas: number | undefined;
    if (isPut) {
      const body = decodeObject(raw, mediaType(c.req.raw), SCALE_KIND);
      if (!isPlainObject(body)) throw errors.badRequest('the Scale body must be an object');
      const scaleBody = body as unknown as Scale;
      putReplicas = scaleBody.spec?.replicas;
      expected = scaleBody.metadata?.resourceVersion || undefined;
    }
    const obj = await this.registry.guaranteedUpdate(info, namespace, r.name, (cur) => {
      let replicas = putReplicas;
      if (!isPut) {
        const patched = applyPatch(type!, this.toScale(info, cur), raw, info) as unknown as Scale;
        replicas = patched.spec?.replicas;
      }
      if (replicas === undefined || !Number.isInteger(replicas) || replicas < 0) {
        throw errors.invalid('Scale', r.name, [{ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`, field: 'spec.replicas' }], 'autoscaling');
      }
      if (info.custom?.scale) return withCustomReplicas(info.custom.scale, cur, replicas);
      const spec = { ...((cur.spec ?? {}) as Record<string, unknown>), replicas };
      return { ...cur, spec };
    }, { ...this.opts(r.q, r.user, c.req.header('user-agent')), subresource: 'scale', ...(expected ? { expectedResourceVersion: expected } : {}) });
    return sendObject(c, this.toScale(info, obj));
  }

  private async bind(c: Context, namespace: string, r: SubresourceRequest): Promise<Response> {
    await this.bindPod(namespace, r, decodeObject(await readBody(c.req.raw), mediaType(c.req.raw), BINDING_KIND));
    return sendObject(c, BINDING_DONE, 201);
  }

  /** pods/binding once its body is decoded: sets the pod's node and its PodScheduled condition. */
  async bindPod(namespace: string, r: Pick<SubresourceRequest, 'name' | 'q' | 'user'>, decoded: unknown): Promise<void> {
    const body = decoded as { target?: { name?: string; kind?: string } };
    const nodeName = body?.target?.name;
    if (!nodeName) throw errors.invalid('Binding', r.name, [{ reason: 'FieldValueRequired', message: 'Required value', field: 'target.name' }]);
    const podInfo = resourceForKind('Pod')!;
    await this.registry.guaranteedUpdate(podInfo, namespace, r.name, (cur) => {
      const pod = cur as Pod;
      if (pod.metadata.deletionTimestamp) throw errors.conflict('pods', r.name, 'pod is being deleted, cannot be assigned to a host');
      if (pod.spec.nodeName) throw errors.conflict('pods', r.name, `pod ${r.name} is already assigned to node "${pod.spec.nodeName}"`);
      pod.spec.nodeName = nodeName;
      const conditions = (pod.status?.conditions ?? []).filter((cd) => cd.type !== 'PodScheduled');
      conditions.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: rfc3339() });
      pod.status = { ...(pod.status ?? {}), conditions };
      return pod;
    }, { ...this.opts(r.q, r.user), subresource: 'binding' });
  }

  private async evict(c: Context, namespace: string, r: SubresourceRequest): Promise<Response> {
    const body = decodeObject(await readBody(c.req.raw), mediaType(c.req.raw), EVICTION_KIND) as { deleteOptions?: Record<string, unknown> };
    const podInfo = resourceForKind('Pod')!;
    const pod = (await this.registry.get(podInfo, namespace, r.name)) as Pod;
    const opts = isPlainObject(body?.deleteOptions) ? body.deleteOptions : {};
    checkDeleteOptionsTypes(opts);
    const dryRun = Array.isArray(opts['dryRun']) && opts['dryRun'].includes('All');
    const writeOpts = { ...this.opts(r.q, r.user), ...(dryRun ? { dryRun: true } : {}) };
    // Pods that are finished, terminating or not yet started are no disruption (upstream's canIgnorePDB).
    const phase = pod.status?.phase;
    const ignoresBudget = phase === 'Succeeded' || phase === 'Failed' || phase === 'Pending' || !!pod.metadata.deletionTimestamp;
    if (!ignoresBudget) await this.chargeDisruptionBudget(namespace, pod, writeOpts);
    await this.registry.delete(podInfo, namespace, r.name, opts, writeOpts);
    return sendObject(c, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 }, 201);
  }

  /**
   * Takes one disruption from the budget that covers `pod`, or refuses with 429. The check and the
   * decrement are one guaranteedUpdate of the budget's status (the pod is recorded in disruptedPods
   * so the disruption controller does not count it healthy again), so two concurrent evictions
   * cannot both spend the last allowed disruption.
   */
  private async chargeDisruptionBudget(namespace: string, pod: Pod, writeOpts: WriteOptions): Promise<void> {
    const pdbInfo = resourceForKind('PodDisruptionBudget')!;
    const pdbs = (await this.registry.list(pdbInfo, namespace)).items as PodDisruptionBudget[];
    const covering = pdbs.filter((item) => item.spec?.selector && matchesLabels(labelSelectorFromObject(item.spec.selector), pod.metadata.labels));
    if (covering.length === 0) return;
    if (covering.length > 1) throw errors.internal('This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.');
    const name = covering[0]!.metadata.name!;
    const refuse = (cause: string): StatusError =>
      new StatusError(429, 'TooManyRequests', `Cannot evict pod as it would violate the pod's disruption budget.`, { causes: [{ reason: 'DisruptionBudget', message: cause }] });
    const podReady = pod.status?.conditions?.some((cd) => cd.type === 'Ready' && cd.status === 'True') === true;
    await this.registry.guaranteedUpdate(pdbInfo, namespace, name, (cur) => {
      const pdb = cur as PodDisruptionBudget;
      const status = pdb.status;
      if (!status || (status.observedGeneration ?? 0) < (pdb.metadata.generation ?? 1)) {
        // Not computed yet for this spec: neither allowed nor refused; the client should retry.
        throw new StatusError(429, 'TooManyRequests', `The disruption budget ${name} is still being processed by the server; retry the eviction.`, {
          causes: [{ reason: 'DisruptionBudget', message: `The disruption budget ${name} is still being processed by the server.` }],
        });
      }
      // An unready pod is no loss while the budget is met (unhealthyPodEvictionPolicy IfHealthyBudget/AlwaysAllow).
      const policy = (pdb.spec as { unhealthyPodEvictionPolicy?: string }).unhealthyPodEvictionPolicy;
      if (!podReady && (policy === 'AlwaysAllow' || status.currentHealthy >= status.desiredHealthy)) return pdb;
      if (status.disruptionsAllowed <= 0) {
        throw refuse(`The disruption budget ${name} needs ${status.desiredHealthy} healthy pods and has ${status.currentHealthy} currently`);
      }
      pdb.status = {
        ...status,
        disruptionsAllowed: status.disruptionsAllowed - 1,
        disruptedPods: { ...(status.disruptedPods ?? {}), [pod.metadata.name!]: rfc3339() },
      };
      return pdb;
    }, { ...writeOpts, subresource: 'status' });
  }

  private async finalize(c: Context, r: SubresourceRequest): Promise<Response> {
    const body = decodeObject(await readBody(c.req.raw), mediaType(c.req.raw), resourceForKind('Namespace')) as { spec?: { finalizers?: string[] } };
    const nsInfo = resourceForKind('Namespace')!;
    const obj = await this.registry.guaranteedUpdate(nsInfo, undefined, r.name, (cur) => {
      const spec = { ...((cur.spec ?? {}) as Record<string, unknown>) };
      // An empty list, not a missing one: defaulting would put `kubernetes` back into a missing list.
      spec['finalizers'] = body?.spec?.finalizers ?? [];
      return { ...cur, spec };
    }, { ...this.opts(r.q, r.user), subresource: 'finalize' });
    return sendObject(c, { apiVersion: 'v1', kind: 'Namespace', ...obj });
  }

  /** Upstream forwards to any pod with a node; kubectl itself refuses pods that are not Running. */
  private async portForward(c: Context, namespace: string, r: SubresourceRequest): Promise<Response> {
    const pod = (await this.registry.get(resourceForKind('Pod')!, namespace, r.name)) as Pod;
    if (!pod.spec.nodeName) throw errors.badRequest(`pod ${r.name} does not have a host assigned`);
    if (!this.connector) throw errors.unavailable(`no agent connection is available for node "${pod.spec.nodeName}"`);
    return this.connector.portForward(c, pod);
  }

  private async toAgent(c: Context, sub: 'log' | 'exec' | 'attach', namespace: string, r: SubresourceRequest): Promise<Response> {
    const pod = (await this.registry.get(resourceForKind('Pod')!, namespace, r.name)) as Pod;
    const names = pod.spec.containers.map((ct) => ct.name);
    const initNames = (pod.spec.initContainers ?? []).map((ct) => ct.name);
    const container = r.q.get('container') ?? (names.length === 1 ? names[0]! : '');
    if (!container) {
      throw errors.badRequest(`a container name must be specified for pod ${r.name}, choose one of: [${names.join(' ')}]`);
    }
    if (!names.includes(container) && !initNames.includes(container)) {
      throw errors.badRequest(`container ${container} is not valid for pod ${r.name}`);
    }
    if (!pod.spec.nodeName) throw errors.badRequest(`pod ${r.name} does not have a host assigned`);
    if (!this.connector) throw errors.unavailable(`no agent connection is available for node "${pod.spec.nodeName}"`);
    if (sub === 'log') return this.connector.logs(c, pod, container, r.q);
    return this.connector.exec(c, pod, container, r.q, sub);
  }
}
