/**
 * prom-client's process metrics (CPU, memory, file descriptors, GC, `nodejs_eventloop_lag_*`), made once
 * per process like the workqueue metrics: the server and its local agent share one process, and a second
 * set measured the same things twice, with a second event-loop monitor and GC observer running for it.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * How often `nodejs_eventloop_lag_*` samples the event loop. prom-client's default (10 ms) is a timer that
 * wakes the process 100 times a second: with the server and its local agent each keeping one, that was
 * about 60 ms of CPU every 30 s of idle, more than all of an idle agent's own work. Every 100 ms still
 * sees each stall of 100 ms or more.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

let registry: Registry | undefined;

/** The registry holding this process's default metrics, made at the first call. */
export function processMetrics(): Registry {
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  }
  return registry;
}
