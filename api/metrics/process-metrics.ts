/**
 * prom-client's process metrics (CPU, memory, file descriptors, GC, `nodejs_eventloop_lag_*`), made once
 * per process like the workqueue metrics: the server and its local agent share one process, and a second
 * set measured the same things twice, with a second event-loop monitor and GC observer running for it.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * How often `nodejs_eventloop_lag_*` samples the event loop. Each sample is a timer that wakes an idle
 * process: prom-client's default (10 ms) cost more CPU than all of an idle agent's own work, and even at
 * 100 ms the ten wakes a second were ~60 ms of CPU per minute of an idle server with its local agent
 * (docs/performance.md). Once a second sees every stall of 1 s or more, and a shorter one in
 * proportion to its length.
 */
export const EVENT_LOOP_SAMPLE_MS = 1000;

let registry: Registry | undefined;

/** The registry holding this process's default metrics, made at the first call. */
export function processMetrics(): Registry {
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  }
  return registry;
}
