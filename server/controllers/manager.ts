/**
 * Starts every controller of `corral server` on one shared informer factory and an in-process
 * client. Each controller lives in its own module and is listed here once.
 */
import type { ControllerContext, ControllerStarter } from './context.js';

const STARTERS: { name: string; start: ControllerStarter }[] = [
  // controllers register here: { name: 'replicaset', start: startReplicaSetController },
  { name: 'scheduler', start: async (ctx) => { (await import('./scheduler-loop.js')).startScheduler(ctx); } },
  { name: 'replicaset', start: async (ctx) => { const m = await import('./replicaset.js'); m.startReplicaSetController(ctx); m.startReplicationController(ctx); } },
  { name: 'deployment', start: async (ctx) => { (await import('./deployment.js')).startDeploymentController(ctx); } },
  { name: 'endpoints', start: async (ctx) => { (await import('./endpoints.js')).startEndpointsController(ctx); } },
  { name: 'endpointslice', start: async (ctx) => { (await import('./endpoint-slice.js')).startEndpointSliceController(ctx); } },
  { name: 'root-ca-cert-publisher', start: async (ctx) => { (await import('./root-ca-publisher.js')).startRootCaPublisher(ctx); } },
  { name: 'namespace', start: async (ctx) => { (await import('./namespace.js')).startNamespaceController(ctx); } },
  { name: 'garbage-collector', start: async (ctx) => { (await import('./garbage-collector.js')).startGarbageCollector(ctx); } },
  { name: 'node-lifecycle', start: async (ctx) => { (await import('./node-lifecycle.js')).startNodeLifecycleController(ctx); } },
  { name: 'daemonset', start: async (ctx) => { (await import('./daemonset.js')).startDaemonSetController(ctx); } },
  { name: 'job', start: async (ctx) => { (await import('./job.js')).startJobController(ctx); } },
  { name: 'cronjob', start: async (ctx) => { (await import('./cronjob.js')).startCronJobController(ctx); } },
  { name: 'node-ipam', start: async (ctx) => { (await import('./node-ipam.js')).startNodeIpamController(ctx); } },
  { name: 'pod-gc', start: async (ctx) => { (await import('./pod-gc.js')).startPodGarbageCollector(ctx); } },
  { name: 'serviceaccount', start: async (ctx) => { (await import('./serviceaccounts.js')).startServiceAccountController(ctx); } },
  { name: 'resourcequota', start: async (ctx) => { (await import('./resourcequota.js')).startResourceQuotaController(ctx); } },
  { name: 'clusterrole-aggregation', start: async (ctx) => { (await import('./clusterrole-aggregation.js')).startClusterRoleAggregationController(ctx); } },
  { name: 'statefulset', start: async (ctx) => { (await import('./statefulset.js')).startStatefulSetController(ctx); } },
  { name: 'persistentvolume', start: async (ctx) => { (await import('./persistent-volume.js')).startPersistentVolumeController(ctx); } },
  { name: 'storage-protection', start: async (ctx) => { (await import('./storage-protection.js')).startStorageProtectionController(ctx); } },
  { name: 'local-path-provisioner', start: async (ctx) => { (await import('./local-path-provisioner.js')).startLocalPathProvisioner(ctx); } },
  { name: 'service-lb', start: async (ctx) => { (await import('./load-balancer.js')).startLoadBalancerController(ctx); } },
  { name: 'ingress-status', start: async (ctx) => { (await import('./ingress-status.js')).startIngressStatusController(ctx); } },
  { name: 'disruption', start: async (ctx) => { (await import('./disruption.js')).startDisruptionController(ctx); } },
];

export async function startControllers(ctx: ControllerContext, only?: string[]): Promise<void> {
  for (const s of STARTERS) {
    if (only && !only.includes(s.name)) continue;
    await s.start(ctx);
  }
  ctx.informers.start(ctx.signal);
}
