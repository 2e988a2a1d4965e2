/** What every controller gets: an API client (in-process), shared informers, settings and a stop signal. */
import type { ApiClient } from '../../api/client/client.js';
import type { InformerFactory } from '../../api/machinery/informer.js';
import type { LbPool } from './lb-pool.js';

export interface ControllerSettings {
  /** Seconds pods on an unreachable node are tolerated before eviction (edge default: 30). */
  podEvictionTimeoutSeconds: number;
  /** Seconds without a Lease renewal before a node is considered lost. */
  nodeMonitorGracePeriodSeconds: number;
  serviceCidr: string;
  clusterCidr: string;
  /** Root of the local-path provisioner's volume directories on every node. */
  storageDir: string;
  /** The cluster CA certificate (PEM), published to every namespace as `kube-root-ca.crt`. */
  caPem: string;
  /** LoadBalancer addresses (`--lb-pool`); unset: LoadBalancer Services get the eligible nodes' InternalIPs. */
  lbPool?: LbPool | undefined;
}

/** Where controllers report what upstream's components export as metrics (the server's /metrics). */
export interface ControllerMetrics {
  /** One scheduling attempt, through binding: its outcome and how long it took. */
  schedulingAttempt(result: 'scheduled' | 'unschedulable' | 'error', seconds: number): void;
}

export interface ControllerContext {
  client: ApiClient;
  informers: InformerFactory;
  settings: ControllerSettings;
  signal: AbortSignal;
  metrics?: ControllerMetrics;
}

/** A controller's entry point: wire informer handlers, start workers; resolves once running. */
export type ControllerStarter = (ctx: ControllerContext) => void | Promise<void>;
