/** The ingress proxy's flags, shared by `corral agent` and `corral server` (for its local agent). */
import type { AgentConfig } from '../agent/config.js';
import { quantityToNumber } from '../api/quantity.js';
import { bool, str, type CliCommand } from './flags.js';

export type IngressSettings = Partial<Pick<AgentConfig, 'disableIngress' | 'ingressHttpPort' | 'ingressHttpsPort' | 'ingressBindAddress' | 'ingressMaxBodyBytes'>>;

export const INGRESS_USAGE = '[--disable-ingress] [--ingress-http-port 80] [--ingress-https-port 443] [--ingress-bind-address 0.0.0.0] [--ingress-max-body-size 64Mi]';

export const ingressOptions: CliCommand['options'] = {
  'disable-ingress': { type: 'boolean' },
  'ingress-http-port': { type: 'string' },
  'ingress-https-port': { type: 'string' },
  'ingress-bind-address': { type: 'string' },
  'ingress-max-body-size': { type: 'string' },
};

/** The ingress settings given by flag or `CORRAL_*` variable; the rest keeps the agent's defaults. */
export function ingressSettings(values: Record<string, unknown>): IngressSettings {
  const out: IngressSettings = {};
  if (bool(values, 'disable-ingress', 'DISABLE_INGRESS')) out.disableIngress = true;
  const http = str(values, 'ingress-http-port', 'INGRESS_HTTP_PORT');
  if (http !== undefined) out.ingressHttpPort = Number(http);
  const https = str(values, 'ingress-https-port', 'INGRESS_HTTPS_PORT');
  if (https !== undefined) out.ingressHttpsPort = Number(https);
  const bind = str(values, 'ingress-bind-address', 'INGRESS_BIND_ADDRESS');
  if (bind !== undefined) out.ingressBindAddress = bind;
  const body = str(values, 'ingress-max-body-size', 'INGRESS_MAX_BODY_SIZE');
  if (body !== undefined) out.ingressMaxBodyBytes = quantityToNumber(body);
  return out;
}
