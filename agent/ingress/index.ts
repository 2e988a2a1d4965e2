/**
 * The node's ingress proxy, started by the agent: a fallback certificate, the proxy's listeners and
 * the control loop that feeds them routes and certificates.
 */
import { createSecureContext } from 'node:tls';
import type { ApiClient } from '../../api/client/client.js';
import { createEventRecorder } from '../../api/machinery/events.js';
import type { InformerFactory } from '../../api/machinery/informer.js';
import type { AgentConfig } from '../config.js';
import { createSelfSignedCert } from '../logs/tls.js';
import { IngressController } from './ingress-controller.js';
import { IngressProxy } from './ingress-proxy.js';

export interface RunningIngress {
  proxy: IngressProxy;
  close(): Promise<void>;
}

/** Name of the fallback certificate served when no Ingress covers the SNI name (Traefik has its "TRAEFIK DEFAULT CERT"). */
export const FALLBACK_CERT_NAME = 'corral ingress default certificate';

export async function startIngress(o: {
  cfg: Pick<AgentConfig, 'nodeName' | 'ingressHttpPort' | 'ingressHttpsPort' | 'ingressBindAddress' | 'ingressMaxBodyBytes'>;
  client: ApiClient;
  informers: InformerFactory;
  signal: AbortSignal;
}): Promise<RunningIngress> {
  const fallback = await createSelfSignedCert({ commonName: FALLBACK_CERT_NAME, dnsNames: ['ingress.corral.invalid'], ips: [], lifetimeMs: 365 * 86400_000 });
  const proxy = new IngressProxy({
    bindAddress: o.cfg.ingressBindAddress,
    ...(o.cfg.ingressHttpPort > 0 ? { httpPort: o.cfg.ingressHttpPort } : {}),
    ...(o.cfg.ingressHttpsPort > 0 ? { httpsPort: o.cfg.ingressHttpsPort } : {}),
    fallback: createSecureContext({ cert: fallback.certPem, key: fallback.keyPem }),
    limits: { maxBodyBytes: o.cfg.ingressMaxBodyBytes },
    signal: o.signal,
  });
  const recorder = createEventRecorder(o.client, { component: 'corral-ingress', host: o.cfg.nodeName });
  const controller = new IngressController({ client: o.client, informers: o.informers, recorder, proxy, signal: o.signal });
  controller.start();
  await proxy.start();
  return { proxy, close: () => proxy.close() };
}
