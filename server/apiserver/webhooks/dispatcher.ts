/**
 * Admission webhooks, as upstream's MutatingAdmissionWebhook and ValidatingAdmissionWebhook plugins:
 * for every create, update and delete, the webhooks whose rules (operation, group, version, resource
 * or `resource/subresource`, scope), namespaceSelector and objectSelector match are called with an
 * admission.k8s.io/v1 AdmissionReview. Mutating webhooks run first, in configuration-name order, and
 * their JSON patches are applied (then the object is validated again); validating webhooks run after
 * every built-in admission step. A denial is the webhook's Status (at least 400) with upstream's
 * message; a webhook that cannot be reached fails the request with 500 under `failurePolicy: Fail`
 * and is skipped under `Ignore`. The configurations themselves never go to webhooks, so a broken one
 * can always be fixed.
 */
import { randomUUID } from 'node:crypto';
import type {
  AdmissionRequest, AdmissionResponse, MutatingWebhookConfiguration, RuleWithOperations, ValidatingWebhook,
  ValidatingWebhookConfiguration,
} from '../../../api/admission-types.js';
import { log } from '../../../api/log.js';
import type { KubeObject } from '../../../api/meta.js';
import { applyJsonPatch } from '../../../api/patch/json-patch.js';
import { resourceForKind, type ResourceInfo } from '../../../api/resources.js';
import { labelSelectorFromObject, matchesLabels } from '../../../api/selectors.js';
import { errors, StatusError, type StatusReason } from '../../../api/status.js';
import type { AdmissionPlugin, Registry, WriteOptions } from '../registry.js';
import { callWebhook, WebhookCallError } from './webhook-client.js';
import { compareStrings } from '../../../api/object-util.js';

const VALIDATING = resourceForKind('ValidatingWebhookConfiguration')!;
const MUTATING = resourceForKind('MutatingWebhookConfiguration')!;
const NAMESPACE = resourceForKind('Namespace')!;

type Operation = AdmissionRequest['operation'];

interface Attributes {
  info: ResourceInfo;
  subresource: string | undefined;
  operation: Operation;
  namespace: string | undefined;
  name: string | undefined;
  object: KubeObject | null;
  oldObject: KubeObject | null;
  opts: WriteOptions;
}

function listMatches(list: readonly string[] | undefined, value: string): boolean {
  return (list ?? []).some((x) => x === '*' || x === value);
}

/** `pods`, `pods/status`, `*`, `*\/*`, `pods/*`, `*\/status` against a resource and subresource. */
function resourceMatches(patterns: readonly string[] | undefined, resource: string, subresource: string | undefined): boolean {
  return (patterns ?? []).some((p) => {
    const [res, sub] = p.split('/', 2) as [string, string | undefined];
    if (res !== '*' && res !== resource) return false;
    if (sub === undefined) return subresource === undefined;
    return sub === '*' || sub === subresource;
  });
}

function ruleMatches(rule: RuleWithOperations, a: Attributes): boolean {
  if (!listMatches(rule.operations, a.operation)) return false;
  if (!listMatches(rule.apiGroups, a.info.group)) return false;
  if (!listMatches(rule.apiVersions, a.info.version)) return false;
  if (!resourceMatches(rule.resources, a.info.plural, a.subresource)) return false;
  const scope = rule.scope ?? '*';
  return scope === '*' || (scope === 'Namespaced') === a.info.namespaced;
}

function selects(selector: ValidatingWebhook['objectSelector'], labels: Record<string, string> | undefined): boolean {
  if (!selector) return true;
  try {
    return matchesLabels(labelSelectorFromObject(selector), labels ?? {});
  } catch {
    return false;
  }
}

/** Upstream's ToStatusErr: the webhook's own Status, never below 400, with who denied it. */
function denial(webhook: string, response: AdmissionResponse): StatusError {
  const s = response.status ?? {};
  const code = s.code !== undefined && s.code >= 400 ? s.code : 400;
  const deniedBy = `admission webhook "${webhook}" denied the request`;
  const message = s.message ? `${deniedBy}: ${s.message}` : s.reason ? `${deniedBy}: ${s.reason}` : `${deniedBy} without explanation`;
  return new StatusError(code, (s.reason as StatusReason | undefined) ?? (code === 400 ? 'BadRequest' : 'Forbidden'), message);
}

export class WebhookDispatcher implements AdmissionPlugin {
  readonly name = 'AdmissionWebhooks';
  private cache: { revision: string; validating: ValidatingWebhookConfiguration[]; mutating: MutatingWebhookConfiguration[] } | undefined;

  constructor(private readonly registry: Registry) {}

  async admitCreate(info: ResourceInfo, obj: KubeObject, opts: WriteOptions): Promise<void> {
    await this.admit({ info, subresource: undefined, operation: 'CREATE', namespace: obj.metadata.namespace, name: obj.metadata.name, object: obj, oldObject: null, opts });
  }

  async admitUpdate(info: ResourceInfo, obj: KubeObject, old: KubeObject, opts: WriteOptions): Promise<void> {
    const subresource = (opts as WriteOptions & { subresource?: string }).subresource;
    await this.admit({ info, subresource, operation: 'UPDATE', namespace: obj.metadata.namespace, name: obj.metadata.name, object: obj, oldObject: old, opts });
  }

  async admitDelete(info: ResourceInfo, obj: KubeObject): Promise<void> {
    await this.admit({ info, subresource: undefined, operation: 'DELETE', namespace: obj.metadata.namespace, name: obj.metadata.name, object: null, oldObject: obj, opts: {} });
  }

  private async admit(a: Attributes): Promise<void> {
    if (a.info.group === VALIDATING.group) return; // never the webhook configurations themselves
    const { validating, mutating } = await this.configurations();
    if (validating.length === 0 && mutating.length === 0) return;
    const namespaceLabels = await this.namespaceLabels(a);
    for (const config of mutating) {
      for (const hook of config.webhooks ?? []) {
        if (!this.matches(hook, a, namespaceLabels)) continue;
        const response = await this.call(hook, a);
        if (!response?.patch || a.object === null) continue;
        this.applyPatch(hook.name, response.patch, a);
      }
    }
    if (mutating.length > 0 && a.object !== null) this.registry.validate(a.info, a.object, a.oldObject ?? undefined, a.subresource);
    for (const config of validating) {
      for (const hook of config.webhooks ?? []) {
        if (this.matches(hook, a, namespaceLabels)) await this.call(hook, a);
      }
    }
  }

  /** Both configuration lists, re-read only when either kind changed in the store. */
  private async configurations(): Promise<{ validating: ValidatingWebhookConfiguration[]; mutating: MutatingWebhookConfiguration[] }> {
    const revision = `${this.registry.currentRevision(VALIDATING)}/${this.registry.currentRevision(MUTATING)}`;
    if (this.cache?.revision === revision) return this.cache;
    const byName = (x: KubeObject, y: KubeObject): number => compareStrings(x.metadata.name ?? '', y.metadata.name ?? '');
    const validating = ((await this.registry.list(VALIDATING, undefined)).items as ValidatingWebhookConfiguration[]).sort(byName);
    const mutating = ((await this.registry.list(MUTATING, undefined)).items as MutatingWebhookConfiguration[]).sort(byName);
    this.cache = { revision, validating, mutating };
    return this.cache;
  }

  /** The labels the namespaceSelector sees: the namespace's (a Namespace's own), or none needed. */
  private async namespaceLabels(a: Attributes): Promise<Record<string, string> | undefined> {
    if (a.info.kind === 'Namespace' && a.info.group === '') return (a.object ?? a.oldObject)?.metadata.labels ?? {};
    if (!a.info.namespaced || !a.namespace) return undefined;
    const ns = await this.registry.tryGet(NAMESPACE, undefined, a.namespace);
    return ns?.metadata.labels ?? {};
  }

  private matches(hook: ValidatingWebhook, a: Attributes, namespaceLabels: Record<string, string> | undefined): boolean {
    if (!(hook.rules ?? []).some((r) => ruleMatches(r, a))) return false;
    if (namespaceLabels !== undefined && !selects(hook.namespaceSelector, namespaceLabels)) return false;
    return selects(hook.objectSelector, a.object?.metadata.labels) || selects(hook.objectSelector, a.oldObject?.metadata.labels);
  }

  /** Calls one webhook; throws its denial, or (failurePolicy Fail) a 500 when it could not be asked. */
  private async call(hook: ValidatingWebhook, a: Attributes): Promise<AdmissionResponse | undefined> {
    const timeout = hook.timeoutSeconds ?? 10;
    const gvr = { group: a.info.group, version: a.info.version, resource: a.info.plural };
    const gvk = { group: a.info.group, version: a.info.version, kind: a.info.kind };
    const request: AdmissionRequest = {
      uid: randomUUID(), kind: gvk, resource: gvr, requestKind: gvk, requestResource: gvr,
      ...(a.subresource ? { subResource: a.subresource, requestSubResource: a.subresource } : {}),
      ...(a.name ? { name: a.name } : {}),
      ...(a.namespace ? { namespace: a.namespace } : {}),
      operation: a.operation,
      userInfo: { username: a.opts.user?.name ?? 'system:anonymous', groups: a.opts.user?.groups ?? [] },
      object: a.object, oldObject: a.oldObject,
      dryRun: a.opts.dryRun === true,
      options: { apiVersion: 'meta.k8s.io/v1', kind: a.operation === 'CREATE' ? 'CreateOptions' : a.operation === 'UPDATE' ? 'UpdateOptions' : 'DeleteOptions' },
    };
    try {
      const { response } = await callWebhook(this.registry, hook.clientConfig, timeout, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request });
      if (!response.allowed) throw denial(hook.name, response);
      for (const w of response.warnings ?? []) if (a.opts.warnings && !a.opts.warnings.includes(w)) a.opts.warnings.push(w);
      return response;
    } catch (err) {
      if (!(err instanceof WebhookCallError)) throw err;
      if ((hook.failurePolicy ?? 'Fail') === 'Ignore') {
        log.warn('admission', 'webhook failed open (failurePolicy Ignore)', { webhook: hook.name, error: err.message });
        return undefined;
      }
      throw errors.internal(`Internal error occurred: failed calling webhook "${hook.name}": ${err.message}`);
    }
  }

  /** Applies a mutating webhook's base64 JSON patch to the object in place. */
  private applyPatch(webhook: string, patch: string, a: Attributes): void {
    let patched: KubeObject;
    try {
      const ops = JSON.parse(Buffer.from(patch, 'base64').toString('utf8')) as unknown;
      patched = applyJsonPatch(structuredClone(a.object), ops) as KubeObject;
    } catch (err) {
      throw errors.internal(`Internal error occurred: failed calling webhook "${webhook}": received invalid webhook response: ${(err as Error).message}`);
    }
    const target = a.object!;
    for (const k of Object.keys(target)) delete (target as Record<string, unknown>)[k];
    Object.assign(target, patched);
  }
}
