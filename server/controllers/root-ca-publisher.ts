/**
 * Publishes the cluster CA as the `kube-root-ca.crt` ConfigMap (key `ca.crt`) in every namespace, as
 * upstream's root-ca-cert-publisher: pods and in-cluster clients read the CA they verify the API
 * server with from it. A new namespace gets it at once; a deleted or edited copy is put back; a
 * terminating namespace is left alone.
 */
import { isForbidden } from '../../api/status.js';
import type { ConfigMap, Namespace } from '../../api/types.js';
import type { ControllerContext } from './context.js';
import { Controller } from '../../api/machinery/controller.js';
import type { Informer } from '../../api/machinery/informer.js';
import { deepEqual } from '../../api/object-util.js';

export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';
const DESCRIPTION_ANNOTATION = 'kubernetes.io/description';
const DESCRIPTION = 'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.';

class RootCaPublisher {
  private readonly controller: Controller;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly caPem: string,
    private readonly namespaces: Informer<Namespace>,
    private readonly configMaps: Informer<ConfigMap>,
  ) {
    this.controller = new Controller({ name: 'root-ca-cert-publisher', reconcile: (ns) => this.reconcile(ns) });
    const enqueueNamespace = (ns: Namespace): void => this.controller.enqueue(ns.metadata.name!);
    namespaces.addHandlers({ onAdd: enqueueNamespace, onUpdate: (_o, n) => enqueueNamespace(n) });
    const configMapChanged = (cm: ConfigMap): void => {
      if (cm.metadata.name === ROOT_CA_CONFIGMAP && cm.metadata.namespace) this.controller.enqueue(cm.metadata.namespace);
    };
    configMaps.addHandlers({ onUpdate: (_o, n) => configMapChanged(n), onDelete: configMapChanged });
  }

  start(): void {
    void (async () => {
      await Promise.all([this.namespaces.waitForSync(), this.configMaps.waitForSync()]);
      await this.controller.run(this.ctx.signal);
    })();
  }

  private async reconcile(namespace: string): Promise<void> {
    const ns = this.namespaces.get(namespace);
    if (!ns || ns.metadata.deletionTimestamp || ns.status?.phase === 'Terminating') return;
    const data = { 'ca.crt': this.caPem };
    const current = this.configMaps.get(`${namespace}/${ROOT_CA_CONFIGMAP}`);
    try {
      if (!current) {
        await this.ctx.client.create<ConfigMap>('ConfigMap', namespace, {
          apiVersion: 'v1', kind: 'ConfigMap',
          metadata: { name: ROOT_CA_CONFIGMAP, namespace, annotations: { [DESCRIPTION_ANNOTATION]: DESCRIPTION } },
          data,
        });
        return;
      }
      if (deepEqual(current.data ?? {}, data) && current.metadata.annotations?.[DESCRIPTION_ANNOTATION] === DESCRIPTION && !current.binaryData) return;
      // Someone changed it: put the CA back, keeping their other annotations and labels.
      const { binaryData: _dropped, ...rest } = current;
      await this.ctx.client.update<ConfigMap>('ConfigMap', {
        ...rest,
        metadata: { ...current.metadata, annotations: { ...(current.metadata.annotations ?? {}), [DESCRIPTION_ANNOTATION]: DESCRIPTION } },
        data,
      });
    } catch (err) {
      // 403: the namespace started terminating; 409: the cache is behind, the next event brings us back.
      if (isForbidden(err)) return;
      throw err;
    }
  }
}

export function startRootCaPublisher(ctx: ControllerContext): void {
  new RootCaPublisher(ctx, ctx.settings.caPem, ctx.informers.forKind<Namespace>('Namespace'), ctx.informers.forKind<ConfigMap>('ConfigMap')).start();
}
