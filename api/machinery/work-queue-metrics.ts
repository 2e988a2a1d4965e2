/**
 * What a work queue reports for client-go's `workqueue_*` metrics, without tying api/machinery (and so
 * every agent loop) to a metrics library: a process-wide provider, as client-go's `SetProvider`, turns
 * a queue's name into a sink. Without a provider, queues report nothing and keep no timestamps.
 */
export interface WorkQueueMetrics {
  /** A key was accepted (new to the queue, or re-added while a worker holds it). */
  added(): void;
  /** Keys waiting now. */
  depth(keys: number): void;
  /** A key went to a worker after waiting this long since it was added. */
  waited(seconds: number): void;
  /** A worker finished a key after this long. */
  worked(seconds: number): void;
  /** A failed key was put back with back-off. */
  retried(): void;
}

export type WorkQueueMetricsProvider = (queueName: string) => WorkQueueMetrics;

let provider: WorkQueueMetricsProvider | undefined;

/** Installs (or with undefined removes) the provider; queues created afterwards report to it. */
export function setWorkQueueMetricsProvider(p: WorkQueueMetricsProvider | undefined): void {
  provider = p;
}

/** The sink for a new queue of this name, if metrics are being collected. */
export function workQueueMetricsFor(queueName: string | undefined): WorkQueueMetrics | undefined {
  return queueName === undefined ? undefined : provider?.(queueName);
}
