/**
 * Keeps the API server's serving certificate fresh while the server runs: on a timer it asks
 * ensureTls for the certificate (which re-issues it, signed by the same CA, once renewal is due or
 * the host's names changed) and, when it changed, loads it into the listening server with
 * setSecureContext. New connections get the new certificate; open ones (watches) keep theirs. The CA
 * does not change, so kubeconfigs and joined agents are unaffected.
 */
import type { Server } from 'node:tls';
import { log } from '../../api/log.js';
import { rotationCheckIntervalMs, SERVING_TLS_OPTIONS } from '../../api/tls-policy.js';
import { ensureTls, type TlsMaterial } from './pki.js';

export interface ServingCertRotationOptions {
  server: Server;
  tlsDir: string;
  extraSans: string[];
  lifetimeMs: number;
  /** The material the server was started with. */
  current: TlsMaterial;
  signal: AbortSignal;
}

export function startServingCertRotation(o: ServingCertRotationOptions): void {
  let current = o.current;
  let running = false;
  const check = async (): Promise<void> => {
    if (running || o.signal.aborted) return;
    running = true;
    try {
      const next = await ensureTls(o.tlsDir, o.extraSans, o.lifetimeMs);
      if (next.certPem === current.certPem) return;
      o.server.setSecureContext({ ...SERVING_TLS_OPTIONS, key: next.keyPem, cert: next.certPem, ca: next.caPem });
      current = next;
      log.info('server', 'serving certificate renewed and reloaded');
    } catch (err) {
      log.warn('server', 'cannot renew the serving certificate; will retry', { error: (err as Error).message });
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void check(), rotationCheckIntervalMs(o.lifetimeMs));
  timer.unref();
  o.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}
