/**
 * client-go's workqueue metrics through prom-client, for every named queue of this process (server
 * controllers, the scheduler, agent loops): `workqueue_depth`, `workqueue_adds_total`,
 * `workqueue_queue_duration_seconds`, `workqueue_work_duration_seconds` and `workqueue_retries_total`,
 * labelled by queue `name`. Process-wide like client-go's provider, so a server with its local agent
 * shows both halves' queues on either endpoint.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { setWorkQueueMetricsProvider, type WorkQueueMetricsProvider } from '../machinery/work-queue-metrics.js';

/** client-go's buckets: 10 ns to 10 s, one per decade. */
const BUCKETS = Array.from({ length: 10 }, (_, i) => Number((1e-8 * 10 ** i).toPrecision(1)));

let installed: { registry: Registry; provider: WorkQueueMetricsProvider } | undefined;

/** Installs the provider (its metrics are made once per process) and returns the registry holding them. */
export function installWorkQueueMetrics(): Registry {
  installed ??= create();
  setWorkQueueMetricsProvider(installed.provider);
  return installed.registry;
}

function create(): { registry: Registry; provider: WorkQueueMetricsProvider } {
  const registry = new Registry();
  const registers = [registry];
  const labelNames = ['name'] as const;
  const depth = new Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames, registers });
  const adds = new Counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames, registers });
  const queued = new Histogram({
    name: 'workqueue_queue_duration_seconds', help: 'How long in seconds an item stays in workqueue before being requested.', labelNames, buckets: BUCKETS, registers,
  });
  const worked = new Histogram({
    name: 'workqueue_work_duration_seconds', help: 'How long in seconds processing an item from workqueue takes.', labelNames, buckets: BUCKETS, registers,
  });
  const retries = new Counter({ name: 'workqueue_retries_total', help: 'Total number of retries handled by workqueue', labelNames, registers });
  const provider: WorkQueueMetricsProvider = (name) => {
    const d = depth.labels(name);
    const a = adds.labels(name);
    const q = queued.labels(name);
    const w = worked.labels(name);
    const r = retries.labels(name);
    d.set(0);
    a.inc(0);
    r.inc(0);
    return {
      added: () => a.inc(),
      depth: (keys) => d.set(keys),
      waited: (seconds) => q.observe(seconds),
      worked: (seconds) => w.observe(seconds),
      retried: () => r.inc(),
    };
  };
  return { registry, provider };
}
