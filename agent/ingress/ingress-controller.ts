/**
 * The control loop behind the node's ingress proxy: informers on Ingresses, IngressClasses,
 * Services and EndpointSlices enqueue one key; reconcile rebuilds the routing table from the
 * Ingresses of the classes `corral.dev/ingress-proxy` serves, reads their TLS Secrets (a node may
 * get those an Ingress names, never list or watch Secrets, so they are read again every
 * `secretRefreshMs`), swaps table and certificates into the proxy, and records a Warning Event on an
 * Ingress when one of its Services, ports or Secrets is missing or bad (once per problem).
 */
import type { ApiClient } from '../../api/client/client.js';
import { log } from '../../api/log.js';
import { Controller } from '../../api/machinery/controller.js';
import type { EventRecorder } from '../../api/machinery/events.js';
import type { Informer, InformerFactory } from '../../api/machinery/informer.js';
import {
  CORRAL_INGRESS_CONTROLLER, LEGACY_INGRESS_CLASS_ANNOTATION, type Ingress, type IngressClass,
} from '../../api/networking-types.js';
import type { EndpointSlice, Secret, Service } from '../../api/types.js';
import type { IngressProxy } from './ingress-proxy.js';
import { RoutingTable, type TlsEntry } from './routing-table.js';
import { secretKeyOf, secureContextOf, tlsPairOf, type CertificateEntry } from './tls-certificates.js';
import type { SecureContext } from 'node:tls';

const KEY = 'routes';
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface IngressControllerOptions {
  client: ApiClient;
  informers: InformerFactory;
  recorder: EventRecorder;
  proxy: IngressProxy;
  signal: AbortSignal;
  /** How often TLS Secrets are read again (rotated certificates), ms. */
  secretRefreshMs?: number;
}

interface CachedSecret {
  readAt: number;
  resourceVersion: string;
  context?: SecureContext;
  problem?: string;
}

export class IngressController {
  private readonly ingresses: Informer<Ingress>;
  private readonly classes: Informer<IngressClass>;
  private readonly services: Informer<Service>;
  private readonly slices: Informer<EndpointSlice>;
  private readonly controller: Controller;
  private readonly secrets = new Map<string, CachedSecret>();
  /** Problems already told per Ingress (`reason: message`), so each is recorded once. */
  private readonly told = new Map<string, Set<string>>();
  private readonly refreshMs: number;

  constructor(private readonly o: IngressControllerOptions) {
    this.refreshMs = o.secretRefreshMs ?? 60_000;
    this.ingresses = o.informers.forKind<Ingress>('Ingress');
    this.classes = o.informers.forKind<IngressClass>('IngressClass');
    this.services = o.informers.forKind<Service>('Service');
    this.slices = o.informers.forKind<EndpointSlice>('EndpointSlice');
    this.slices.addIndexer('ingress-service', (s) => {
      const svc = s.metadata.labels?.[SERVICE_NAME_LABEL];
      return svc ? [`${s.metadata.namespace}/${svc}`] : [];
    });
    this.controller = new Controller({ name: 'ingress-proxy', reconcile: () => this.reconcile() });
    const enqueue = (): void => this.controller.enqueue(KEY);
    const handlers = { onAdd: enqueue, onUpdate: enqueue, onDelete: enqueue };
    this.ingresses.addHandlers(handlers);
    this.classes.addHandlers(handlers);
    this.services.addHandlers(handlers);
    this.slices.addHandlers(handlers);
  }

  start(): void {
    void this.controller.run(this.o.signal);
  }

  /** Whether corral's proxy serves this Ingress (its class, or the deprecated annotation, names one of ours). */
  private served(ing: Ingress): boolean {
    const name = ing.spec?.ingressClassName ?? ing.metadata.annotations?.[LEGACY_INGRESS_CLASS_ANNOTATION];
    return name !== undefined && this.classes.get(name)?.spec?.controller === CORRAL_INGRESS_CONTROLLER;
  }

  private async reconcile(): Promise<{ requeueAfterMs: number } | void> {
    if (!this.ingresses.hasSynced() || !this.classes.hasSynced() || !this.services.hasSynced() || !this.slices.hasSynced()) {
      return { requeueAfterMs: 200 };
    }
    const served = this.ingresses.list().filter((ing) => this.served(ing));
    const table = new RoutingTable(served, {
      service: (ns, name) => this.services.get(`${ns}/${name}`),
      slices: (ns, name) => this.slices.byIndex('ingress-service', `${ns}/${name}`),
    });
    const certificates = await this.certificates(table.tls);
    this.o.proxy.certificates.replace(certificates.entries);
    this.o.proxy.setTable(table);
    this.tell(served, table, certificates.problems);
    if (table.tls.length > 0) return { requeueAfterMs: this.refreshMs };
  }

  /** The certificate of every TLS entry whose Secret is usable, and the problems of the others by Ingress. */
  private async certificates(tls: readonly TlsEntry[]): Promise<{ entries: CertificateEntry[]; problems: Map<string, string[]> }> {
    const entries: CertificateEntry[] = [];
    const problems = new Map<string, string[]>();
    const wanted = new Set(tls.map(secretKeyOf));
    for (const key of this.secrets.keys()) if (!wanted.has(key)) this.secrets.delete(key);
    for (const entry of tls) {
      const secret = await this.secret(entry);
      if (secret.context) {
        entries.push({ hosts: entry.hosts, context: secret.context });
      } else {
        problems.set(entry.ingress, [...(problems.get(entry.ingress) ?? []), secret.problem ?? 'unusable TLS secret']);
      }
    }
    return { entries, problems };
  }

  private async secret(entry: TlsEntry): Promise<CachedSecret> {
    const key = secretKeyOf(entry);
    const cached = this.secrets.get(key);
    if (cached && Date.now() - cached.readAt < this.refreshMs) return cached;
    let fresh: CachedSecret;
    try {
      const secret = await this.o.client.tryGet<Secret>('Secret', entry.namespace, entry.secretName);
      if (!secret) {
        fresh = { readAt: Date.now(), resourceVersion: '', problem: `secret "${key}" not found; serving the default certificate` };
      } else if (cached && cached.resourceVersion === secret.metadata.resourceVersion) {
        fresh = { ...cached, readAt: Date.now() };
      } else {
        const pair = tlsPairOf(secret);
        const context = 'error' in pair ? pair : secureContextOf(pair);
        fresh = 'error' in context
          ? { readAt: Date.now(), resourceVersion: secret.metadata.resourceVersion ?? '', problem: `secret "${key}" is not a usable TLS certificate (${context.error}); serving the default certificate` }
          : { readAt: Date.now(), resourceVersion: secret.metadata.resourceVersion ?? '', context };
      }
    } catch (err) {
      // The server unreachable or the node not (yet) allowed: keep what worked, try again soon.
      log.warn('ingress', 'cannot read a TLS secret', { secret: key, error: (err as Error).message });
      if (cached) return cached;
      fresh = { readAt: Date.now() - this.refreshMs + 5_000, resourceVersion: '', problem: `secret "${key}" cannot be read: ${(err as Error).message}` };
    }
    this.secrets.set(key, fresh);
    return fresh;
  }

  /** One Warning Event per new problem of an Ingress; a fixed problem may be told again if it comes back. */
  private tell(served: readonly Ingress[], table: RoutingTable, secretProblems: Map<string, string[]>): void {
    const seen = new Set<string>();
    for (const ing of served) {
      const key = `${ing.metadata.namespace}/${ing.metadata.name}`;
      seen.add(key);
      const now = new Set<string>();
      for (const p of table.problems.get(key) ?? []) now.add(`${p.reason}\u0000${p.message}`);
      for (const m of secretProblems.get(key) ?? []) now.add(`TLSSecretUnusable\u0000${m}`);
      const before = this.told.get(key) ?? new Set<string>();
      for (const p of now) {
        if (before.has(p)) continue;
        const [reason, message] = p.split('\u0000') as [string, string];
        this.o.recorder.record({ ...ing, apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' }, 'Warning', reason, message);
      }
      this.told.set(key, now);
    }
    for (const key of this.told.keys()) if (!seen.has(key)) this.told.delete(key);
  }
}
