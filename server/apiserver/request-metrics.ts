/**
 * The server's Prometheus metrics under upstream's names, so kube-apiserver and kube-scheduler
 * dashboards and alerts work unchanged: `apiserver_request_total` and `apiserver_request_duration_seconds`
 * by verb, group, version, resource, subresource and code; `apiserver_longrunning_requests` (open
 * watches); `etcd_request_duration_seconds` (store operations, by operation and key prefix);
 * `scheduler_schedule_attempts_total` and `scheduler_scheduling_attempt_duration_seconds`; the process's
 * workqueue metrics (api/metrics/work-queue-prom.ts); prom-client's process metrics (CPU, memory,
 * event-loop lag). One registry per server, so tests can run several servers in one process.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { processMetrics } from '../../api/metrics/process-metrics.js';
import { installWorkQueueMetrics } from '../../api/metrics/work-queue-prom.js';
import type { ResourceInfo } from '../../api/resources.js';
import { parseResourcePath } from './request-info.js';
import { parseGoBool } from '../../api/query-bool.js';

/** Upstream's request-duration buckets (seconds). */
const DURATION_BUCKETS = [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60];

export interface RequestLabels {
  verb: string;
  group: string;
  version: string;
  resource: string;
  subresource: string;
  scope: string;
}

/** The upstream metrics verb of a request: LIST and WATCH apart from GET, APPLY apart from PATCH. */
export function metricsVerb(method: string, path: string, query: URLSearchParams, contentType: string | undefined, parsed = parseResourcePath(path)): RequestLabels {
  const m = method.toUpperCase();
  if (parsed.kind !== 'resource') {
    return { verb: m, group: '', version: '', resource: '', subresource: '', scope: '' };
  }
  const t = parsed.target;
  // Counting must not throw: a misspelt value was already refused with 400.
  const watching = t.legacyWatch || parseGoBool(query.get('watch') ?? '') === true;
  let verb = m;
  if (m === 'GET') verb = watching ? 'WATCH' : t.name === undefined ? 'LIST' : 'GET';
  else if (m === 'PATCH' && (contentType ?? '').startsWith('application/apply-patch')) verb = 'APPLY';
  else if (m === 'DELETE' && t.name === undefined) verb = 'DELETECOLLECTION';
  if (t.subresource && ['exec', 'attach', 'portforward', 'proxy', 'log'].includes(t.subresource) && verb !== 'GET') verb = 'CONNECT';
  const scope = t.name !== undefined ? 'resource' : t.namespace !== undefined ? 'namespace' : 'cluster';
  return { verb, group: t.info.group, version: t.info.version, resource: t.info.plural, subresource: t.subresource ?? '', scope };
}

export class ApiserverMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'apiserver_request_total',
    help: 'Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.',
    labelNames: ['verb', 'dry_run', 'group', 'version', 'resource', 'subresource', 'scope', 'component', 'code'] as const,
    registers: [this.registry],
  });
  private readonly durations = new Histogram({
    name: 'apiserver_request_duration_seconds',
    help: 'Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.',
    labelNames: ['verb', 'dry_run', 'group', 'version', 'resource', 'subresource', 'scope', 'component'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });

  private readonly longrunning = new Gauge({
    name: 'apiserver_longrunning_requests',
    help: 'Gauge of all active long-running apiserver requests broken out by verb, group, version, resource, scope and component. Not all requests are tracked this way.',
    labelNames: ['verb', 'group', 'version', 'resource', 'subresource', 'scope', 'component'] as const,
    registers: [this.registry],
  });
  private readonly storage = new Histogram({
    name: 'etcd_request_duration_seconds',
    help: 'Etcd request latency in seconds for each operation and object type.',
    labelNames: ['operation', 'type'] as const,
    buckets: [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60],
    registers: [this.registry],
  });
  private readonly connections = new Counter({
    name: 'corral_apiserver_connections_total',
    help: 'TLS connections the API server accepted, by the protocol negotiated with ALPN (h2 or http/1.1).',
    labelNames: ['protocol'] as const,
    registers: [this.registry],
  });
  private readonly scheduleAttempts = new Counter({
    name: 'scheduler_schedule_attempts_total',
    help: 'Number of attempts to schedule pods, by the result. \'unschedulable\' means a pod could not be scheduled, while \'error\' means an internal scheduler problem.',
    labelNames: ['result', 'profile'] as const,
    registers: [this.registry],
  });
  private readonly schedulingDuration = new Histogram({
    name: 'scheduler_scheduling_attempt_duration_seconds',
    help: 'Scheduling attempt latency in seconds (scheduling algorithm + binding)',
    labelNames: ['result', 'profile'] as const,
    buckets: Array.from({ length: 15 }, (_, i) => 0.001 * 2 ** i),
    registers: [this.registry],
  });
  /** This server's metrics and the process's workqueue metrics, exposed together. */
  private readonly exposed: Registry;

  constructor() {
    for (const result of ['scheduled', 'unschedulable', 'error']) this.scheduleAttempts.inc({ result, profile: 'default-scheduler' }, 0);
    this.exposed = Registry.merge([this.registry, installWorkQueueMetrics(), processMetrics()]);
  }

  /** Counts an open watch until the returned function is called (once) at its end. */
  watchOpened(info: ResourceInfo, scope: string): () => void {
    const labels = { verb: 'WATCH', group: info.group, version: info.version, resource: info.plural, subresource: '', scope, component: 'apiserver' };
    this.longrunning.inc(labels);
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      this.longrunning.dec(labels);
    };
  }

  /** One accepted connection and the protocol it speaks. */
  connectionAccepted(protocol: string): void {
    this.connections.inc({ protocol });
  }

  /** One store operation: `type` is the key's resource prefix (`/registry/core/pods/`), as upstream. */
  storageOperation(operation: string, type: string, seconds: number): void {
    this.storage.observe({ operation, type }, seconds);
  }

  /** One scheduling attempt of the default profile, through binding. */
  schedulingAttempt(result: 'scheduled' | 'unschedulable' | 'error', seconds: number): void {
    const labels = { result, profile: 'default-scheduler' };
    this.scheduleAttempts.inc(labels);
    this.schedulingDuration.observe(labels, seconds);
  }

  /** Records one finished request (for WATCH and CONNECT: until the response started). */
  record(labels: RequestLabels, dryRun: boolean, code: number, seconds: number): void {
    const common = { ...labels, dry_run: dryRun ? 'All' : '', component: 'apiserver' };
    this.requests.inc({ ...common, code: String(code) });
    // Long-running requests would swamp the latency histogram, as upstream leaves them out.
    if (labels.verb !== 'WATCH' && labels.verb !== 'CONNECT') this.durations.observe(common, seconds);
  }

  /** The text exposition format, with its content type. */
  async exposition(): Promise<{ body: string; contentType: string }> {
    return { body: await this.exposed.metrics(), contentType: this.exposed.contentType };
  }
}
