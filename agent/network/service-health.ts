/**
 * kube-proxy's service health checks: for every LoadBalancer Service with `externalTrafficPolicy: Local`
 * the node answers HTTP on the Service's `spec.healthCheckNodePort` — 200 while it has ready local
 * endpoints, 503 when it has none — so a load balancer in front of the nodes sends traffic only to nodes
 * that keep it local. Same body and headers as upstream. Each listener contains its own faults: a port
 * that cannot be bound is logged and tried again at the next sync.
 */
import { createServer, type Server } from 'node:http';
import { log } from '../../api/log.js';
import type { EndpointSlice, Service } from '../../api/types.js';
import { backendsFor, SERVICE_NAME_LABEL } from '../proxy/rules.js';

export interface HealthCheckTarget {
  port: number;
  namespace: string;
  name: string;
  /** Ready endpoints of the Service on this node. */
  localEndpoints: number;
}

/** The health-check ports this node must serve, from the informer caches (pure). */
export function healthCheckTargets(services: readonly Service[], slices: readonly EndpointSlice[], nodeName: string): HealthCheckTarget[] {
  const out: HealthCheckTarget[] = [];
  for (const svc of services) {
    const port = (svc.spec as { healthCheckNodePort?: number }).healthCheckNodePort;
    if (svc.spec.type !== 'LoadBalancer' || svc.spec.externalTrafficPolicy !== 'Local' || !port) continue;
    const namespace = svc.metadata.namespace ?? 'default';
    const name = svc.metadata.name ?? '';
    const own = slices.filter((s) => (s.metadata.namespace ?? 'default') === namespace && s.metadata.labels?.[SERVICE_NAME_LABEL] === name);
    const local = new Set<string>();
    for (const p of svc.spec.ports ?? []) {
      for (const b of backendsFor(own, p)) if (b.nodeName === nodeName) local.add(b.ip);
    }
    out.push({ port, namespace, name, localEndpoints: local.size });
  }
  return out;
}

export class ServiceHealthServers {
  private readonly servers = new Map<number, { server: Server; target: HealthCheckTarget }>();

  constructor(private readonly bindAddress = '0.0.0.0') {}

  /** Opens, updates and closes listeners so exactly these ports are served. */
  sync(targets: readonly HealthCheckTarget[]): void {
    const wanted = new Map(targets.map((t) => [t.port, t]));
    for (const [port, entry] of this.servers) {
      if (!wanted.has(port)) {
        entry.server.close();
        this.servers.delete(port);
      }
    }
    for (const [port, target] of wanted) {
      const existing = this.servers.get(port);
      if (existing) {
        existing.target = target;
        continue;
      }
      const entry = { server: createServer((req, res) => {
        const t = entry.target;
        const healthy = t.localEndpoints > 0;
        res.writeHead(healthy ? 200 : 503, {
          'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff', 'X-Load-Balancing-Endpoint-Weight': String(t.localEndpoints),
        });
        res.end(JSON.stringify({ service: { namespace: t.namespace, name: t.name }, localEndpoints: t.localEndpoints, serviceProxyHealthy: true }, null, 2));
        req.resume();
      }), target };
      entry.server.on('error', (err) => {
        log.warn('proxy', 'cannot serve a service health check port, will retry', { port, service: `${target.namespace}/${target.name}`, error: err.message });
        if (this.servers.get(port) === entry) this.servers.delete(port);
      });
      entry.server.on('clientError', (_err, socket) => socket.destroy());
      entry.server.requestTimeout = 5_000;
      entry.server.headersTimeout = 5_000;
      entry.server.listen(port, this.bindAddress);
      this.servers.set(port, entry);
    }
  }

  /** Ports served now (tests). */
  ports(): number[] {
    return [...this.servers.keys()].sort((a, b) => a - b);
  }

  close(): void {
    for (const { server } of this.servers.values()) server.close();
    this.servers.clear();
  }
}
