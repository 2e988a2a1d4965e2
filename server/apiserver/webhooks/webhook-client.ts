/**
 * Calls one admission webhook: resolves where it listens (an https URL, or a Service: the ready
 * endpoint behind the Service port, reached directly as with upstream's aggregator routing, with the
 * certificate checked for `<service>.<namespace>.svc`), POSTs the AdmissionReview with the
 * configured CA and timeout, and returns the response. Every failure is a WebhookCallError, which
 * the dispatcher turns into 500 or ignores according to the failure policy.
 */
import { request } from 'node:https';
import { resourceForKind } from '../../../api/resources.js';
import type { AdmissionResponse, AdmissionReview, WebhookClientConfig } from '../../../api/admission-types.js';
import type { Endpoints, Service } from '../../../api/types.js';
import type { Registry } from '../registry.js';

/** Bigger answers are refused (upstream caps response bodies too). */
const MAX_RESPONSE_BYTES = 3 * 1024 * 1024;

export class WebhookCallError extends Error {}

interface Target {
  /** What upstream names in its error: `https://name.ns.svc:443/path?timeout=10s`. */
  display: string;
  host: string;
  port: number;
  path: string;
  servername: string;
}

async function serviceTarget(registry: Registry, svcRef: NonNullable<WebhookClientConfig['service']>, timeoutSeconds: number): Promise<Target> {
  const port = svcRef.port ?? 443;
  const path = svcRef.path ?? '/';
  const servername = `${svcRef.name}.${svcRef.namespace}.svc`;
  const display = `https://${servername}:${port}${path}?timeout=${timeoutSeconds}s`;
  const svc = await registry.tryGet(resourceForKind('Service')!, svcRef.namespace, svcRef.name) as Service | undefined;
  if (!svc) throw new WebhookCallError(`service "${svcRef.name}" not found`);
  const svcPort = (svc.spec.ports ?? []).find((p) => p.port === port);
  if (!svcPort) throw new WebhookCallError(`service "${svcRef.name}" has no port ${port}`);
  const ep = await registry.tryGet(resourceForKind('Endpoints')!, svcRef.namespace, svcRef.name) as Endpoints | undefined;
  for (const subset of ep?.subsets ?? []) {
    const epPort = (subset.ports ?? []).find((p) => (p.name ?? '') === (svcPort.name ?? '')) ?? (subset.ports?.length === 1 ? subset.ports[0] : undefined);
    const address = subset.addresses?.[0];
    if (epPort && address) return { display, host: address.ip, port: epPort.port, path, servername };
  }
  throw new WebhookCallError(`no endpoints available for service "${svcRef.name}"`);
}

function urlTarget(url: string, timeoutSeconds: number): Target {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return { display: `${url}?timeout=${timeoutSeconds}s`, host, port: Number(u.port || 443), path: u.pathname || '/', servername: host };
}

/** POSTs `review` to the webhook and returns its response (errors: WebhookCallError). */
export async function callWebhook(registry: Registry, cc: WebhookClientConfig, timeoutSeconds: number, review: AdmissionReview): Promise<{ response: AdmissionResponse; display: string }> {
  let target: Target;
  try {
    target = cc.url ? urlTarget(cc.url, timeoutSeconds) : await serviceTarget(registry, cc.service!, timeoutSeconds);
  } catch (err) {
    if (err instanceof WebhookCallError) throw err;
    throw new WebhookCallError((err as Error).message);
  }
  const body = JSON.stringify(review);
  const ca = cc.caBundle ? Buffer.from(cc.caBundle, 'base64').toString('utf8') : undefined;
  const text = await new Promise<string>((resolve, reject) => {
    const fail = (why: string): void => reject(new WebhookCallError(`failed to call webhook: Post "${target.display}": ${why}`));
    const req = request({
      host: target.host, port: target.port, method: 'POST',
      path: `${target.path}?timeout=${timeoutSeconds}s`,
      servername: target.servername,
      ...(ca ? { ca } : {}),
      headers: { 'content-type': 'application/json', accept: 'application/json', 'content-length': Buffer.byteLength(body) },
      timeout: timeoutSeconds * 1000,
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_RESPONSE_BYTES) req.destroy(new Error('response body too large'));
        else chunks.push(c);
      });
      res.on('end', () => {
        if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) fail(`the server responded with HTTP ${res.statusCode}`);
        else resolve(Buffer.concat(chunks).toString('utf8'));
      });
      res.on('error', (e) => fail(e.message));
    });
    req.on('timeout', () => req.destroy(new Error('context deadline exceeded')));
    req.on('error', (e) => fail(e.message));
    req.end(body);
  });
  let parsed: AdmissionReview;
  try {
    parsed = JSON.parse(text) as AdmissionReview;
  } catch {
    throw new WebhookCallError('received invalid webhook response: the response is not JSON');
  }
  const response = parsed?.response;
  if (!response || typeof response.allowed !== 'boolean') throw new WebhookCallError('received invalid webhook response: response is missing');
  if (response.uid !== review.request?.uid) {
    throw new WebhookCallError(`received invalid webhook response: expected response.uid="${review.request?.uid}", got "${response.uid}"`);
  }
  return { response, display: target.display };
}
