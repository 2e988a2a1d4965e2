/**
 * The agent's Prometheus metrics, served on its kubelet endpoint (`/metrics`), under kubelet's and
 * kube-proxy's names where they exist: `kubelet_pod_start_duration_seconds` (first seen → all
 * containers running), `kubelet_runtime_operations_duration_seconds` and
 * `kubelet_runtime_operations_errors_total` (every `ctr` call, by operation), `kubelet_running_pods`
 * and `kubelet_running_containers`, `kubeproxy_sync_proxy_rules_duration_seconds` (iptables syncs),
 * the process's workqueue metrics (api/metrics/work-queue-prom.ts) and prom-client's process metrics
 * (CPU, memory, event-loop lag).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { installWorkQueueMetrics } from '../../api/metrics/work-queue-prom.js';
import { processMetrics } from '../../api/metrics/process-metrics.js';

const exponential = (start: number, factor: number, count: number): number[] =>
  Array.from({ length: count }, (_, i) => Number((start * factor ** i).toPrecision(4)));

export interface RunningCounts { pods: number; containers: number }

export class AgentMetrics {
  private readonly registry = new Registry();
  private readonly exposed: Registry;
  private readonly podStart = new Histogram({
    name: 'kubelet_pod_start_duration_seconds',
    help: 'Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run',
    buckets: [0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600],
    registers: [this.registry],
  });
  private readonly runtimeDuration = new Histogram({
    name: 'kubelet_runtime_operations_duration_seconds',
    help: 'Duration in seconds of runtime operations. Broken down by operation type.',
    labelNames: ['operation_type'] as const,
    buckets: exponential(0.005, 2.5, 14),
    registers: [this.registry],
  });
  private readonly runtimeErrors = new Counter({
    name: 'kubelet_runtime_operations_errors_total',
    help: 'Cumulative number of runtime operation errors by operation type.',
    labelNames: ['operation_type'] as const,
    registers: [this.registry],
  });
  private readonly proxySync = new Histogram({
    name: 'kubeproxy_sync_proxy_rules_duration_seconds',
    help: 'SyncProxyRules latency in seconds',
    buckets: exponential(0.001, 2, 15),
    registers: [this.registry],
  });

  constructor(running: () => RunningCounts) {
    const registers = [this.registry];
    new Gauge({ name: 'kubelet_running_pods', help: 'Number of pods that have a running pod sandbox', registers, collect() { this.set(running().pods); } });
    new Gauge({
      name: 'kubelet_running_containers', help: 'Number of containers currently running', labelNames: ['container_state'] as const, registers,
      collect() { this.set({ container_state: 'running' }, running().containers); },
    });
    this.exposed = Registry.merge([this.registry, installWorkQueueMetrics(), processMetrics()]);
  }

  podStarted(seconds: number): void {
    this.podStart.observe(seconds);
  }

  runtimeCall(operation: string, seconds: number, failed: boolean): void {
    this.runtimeDuration.observe({ operation_type: operation }, seconds);
    if (failed) this.runtimeErrors.inc({ operation_type: operation });
  }

  proxyRulesSynced(seconds: number): void {
    this.proxySync.observe(seconds);
  }

  /** The text exposition format, with its content type. */
  async exposition(): Promise<{ body: string; contentType: string }> {
    return { body: await this.exposed.metrics(), contentType: this.exposed.contentType };
  }
}
