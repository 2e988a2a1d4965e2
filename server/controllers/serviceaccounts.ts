/**
 * ServiceAccount controller (upstream's serviceaccounts-controller): every active namespace has a
 * `default` ServiceAccount — existing namespaces at start, new ones as they appear, and again if
 * someone deletes it. reconcile(namespace) creates it when missing.
 */
import { isAlreadyExists, isForbidden } from '../../api/status.js';
import type { Namespace, ServiceAccount } from '../../api/types.js';
import { Controller } from '../../api/machinery/controller.js';
import type { Informer } from '../../api/machinery/informer.js';
import type { ControllerContext } from './context.js';
import { DEFAULT_SERVICE_ACCOUNT } from '../apiserver/service-account-admission.js';


class ServiceAccountController {
  private readonly controller: Controller;

  constructor(private readonly ctx: ControllerContext, private readonly namespaces: Informer<Namespace>, private readonly accounts: Informer<ServiceAccount>) {
    this.controller = new Controller({ name: 'serviceaccount-controller', reconcile: (key) => this.reconcile(key) });
    const enqueue = (ns: Namespace): void => this.controller.enqueue(ns.metadata.name!);
    namespaces.addHandlers({ onAdd: enqueue, onUpdate: (_old, ns) => enqueue(ns) });
    accounts.addHandlers({
      onDelete: (sa) => { if (sa.metadata.name === DEFAULT_SERVICE_ACCOUNT) this.controller.enqueue(sa.metadata.namespace!); },
    });
  }

  start(): void {
    void (async () => {
      await Promise.all([this.namespaces.waitForSync(), this.accounts.waitForSync()]);
      await this.controller.run(this.ctx.signal);
    })();
  }

  async reconcile(namespace: string): Promise<void> {
    const ns = this.namespaces.get(namespace);
    if (!ns || ns.metadata.deletionTimestamp || ns.status?.phase === 'Terminating') return;
    if (this.accounts.get(`${namespace}/${DEFAULT_SERVICE_ACCOUNT}`)) return;
    try {
      await this.ctx.client.create('ServiceAccount', namespace, {
        apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: DEFAULT_SERVICE_ACCOUNT, namespace },
      });
    } catch (err) {
      // Already there (the cache lags), or the namespace started terminating meanwhile.
      if (isAlreadyExists(err) || isForbidden(err)) return;
      throw err;
    }
  }
}

export function startServiceAccountController(ctx: ControllerContext): void {
  new ServiceAccountController(ctx, ctx.informers.forKind<Namespace>('Namespace'), ctx.informers.forKind<ServiceAccount>('ServiceAccount')).start();
}
