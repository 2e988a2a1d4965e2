/**
 * The agent's HTTPS endpoint (kubelet's port 10250), used by the API server to relay `kubectl logs`
 * and `kubectl exec` and to collect resource usage, and by metrics scrapers:
 *   GET /containerLogs/<namespace>/<pod>/<container>?follow&tailLines&previous&timestamps&limitBytes&sinceSeconds&sinceTime
 *   GET /exec/<namespace>/<pod>/<container>?command=..&stdin&stdout&stderr&tty   (WebSocket, v5.channel.k8s.io)
 *   GET /attach/<namespace>/<pod>/<container>?stdin&stdout&stderr               (WebSocket, v5.channel.k8s.io)
 *   POST /portForward/<namespace>/<pod>   (Upgrade: SPDY/3.1, portforward.k8s.io; agent/portforward/)
 *   GET /metrics          Prometheus text (agent/metrics/agent-metrics.ts)
 *   GET /stats/summary    resource usage in kubelet's Summary shape (agent/stats/summary.ts)
 * Requests carry `Authorization: Bearer <per-node secret>`. The secret and this endpoint's
 * self-signed certificate are published in the Secret `kube-system/corral-kubelet-<node>`, which
 * the server reads to authenticate itself and to pin the certificate. /metrics and /stats also take
 * any API token allowed `get` on this node's `nodes/metrics` or `nodes/stats` (delegated-auth.ts).
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { answerOnSocket, containFaults } from '../../api/fault-containment.js';
import { badEscapeMessage, decodePathSegment, isMalformedHost, MALFORMED_HOST_MESSAGE, rawPathOf, rawQueryOf } from '../../api/request-target.js';
import type { ApiClient } from '../../api/client/client.js';
import { log } from '../../api/log.js';
import { WebSocketUpgrades } from './websocket-upgrades.js';
import { isConflict } from '../../api/status.js';
import type { Secret } from '../../api/types.js';
import { agentPaths, type AgentConfig } from '../config.js';
import type { PodManager } from '../pods/pod-manager.js';
import type { ContainerdRuntime } from '../runtime/index.js';
import { runExecSession } from './exec-session.js';
import { runAttachSession } from './attach-session.js';
import { acceptPortForward } from '../portforward/port-forward-upgrade.js';
import type { PortForwardSession } from '../portforward/port-forward-session.js';
import type { DelegatedAuth } from './delegated-auth.js';
import type { AgentMetrics } from '../metrics/agent-metrics.js';
import type { SummaryProvider } from '../stats/summary.js';
import { streamLog } from './log-reader.js';
import { sinceCutoff } from './time-index.js';
import { ensureServingCert, KUBELET_CERT_LIFETIME_MS, type ServingCert } from './tls.js';
import { sleep } from '../../api/async-util.js';
import { rotationCheckIntervalMs, SERVING_TLS_OPTIONS } from '../../api/tls-policy.js';
import { KUBELET_CREDENTIALS_NAMESPACE as CREDENTIALS_NAMESPACE, kubeletCredentialsSecretName as credentialsSecretName } from '../../api/node-identity.js';
import { queryBool } from '../../api/query-bool.js';
import { httpDate } from '../../api/iso-time.js';

export const EXEC_PROTOCOL = 'v5.channel.k8s.io';

export interface KubeletServerOptions {
  cfg: AgentConfig;
  pods: PodManager;
  runtime: ContainerdRuntime;
  client: ApiClient;
  /** /metrics and /stats/summary (404 without them). */
  metrics?: AgentMetrics;
  summary?: SummaryProvider;
  /** Decides for tokens other than the server's (TokenReview + SubjectAccessReview). */
  delegatedAuth?: DelegatedAuth;
}

export class KubeletServer {
  private server: Server | undefined;
  private readonly webSockets = new WebSocketUpgrades(EXEC_PROTOCOL);
  private token = '';
  private cert: ServingCert | undefined;
  port = 0;
  private rotationTimer: NodeJS.Timeout | undefined;
  /** Open port-forward tunnels: closed with the endpoint, counted by tests. */
  readonly forwards = new Set<PortForwardSession>();
  private renewing = false;
  /** Tests shorten it (CORRAL_KUBELET_CERT_LIFETIME_SECONDS) to see a renewal while running. */
  private readonly certLifetimeMs = Number(process.env['CORRAL_KUBELET_CERT_LIFETIME_SECONDS'] ?? '') * 1000 || KUBELET_CERT_LIFETIME_MS;

  constructor(private readonly o: KubeletServerOptions) {}

  async start(): Promise<void> {
    const dir = agentPaths.tls(this.o.cfg);
    const tokenFile = join(dir, 'kubelet-token');
    if (existsSync(tokenFile)) this.token = (await readFile(tokenFile, 'utf8')).trim();
    if (!this.token) {
      this.token = randomBytes(24).toString('hex');
      await writeFile(tokenFile, this.token, { mode: 0o600 });
    }
    this.cert = await ensureServingCert(dir, this.o.cfg.nodeName, this.certIps(), this.certLifetimeMs);
    const server = createServer({ ...SERVING_TLS_OPTIONS, key: this.cert.keyPem, cert: this.cert.certPem },
      containFaults('kubelet', (req: IncomingMessage, res: ServerResponse) => this.handle(req, res), (_err, _req, res) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      }, (req) => ({ method: req.method, path: rawPathOf(req.url ?? '/') })));
    server.on('upgrade', containFaults('kubelet', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head),
      (_err, _req, socket) => answerOnSocket(socket, 500, 'internal error\n'),
      (req) => ({ method: req.method, path: rawPathOf(req.url ?? '/'), upgrade: req.headers.upgrade })));
    // Scrapers come back every 15 s (the server's usage scrape) to 30 s (Prometheus): an idle
    // connection kept that long spares both ends a TLS handshake per scrape (Node's default is 5 s).
    // Below the 60 s headers timeout, so a kept connection never meets a request being timed out.
    server.keepAliveTimeout = 45_000;
    const host = this.o.cfg.kubeletBindAddress ?? this.o.cfg.nodeIp;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.cfg.kubeletPort, host, () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    this.rotationTimer = setInterval(() => void this.renewCertificate(), rotationCheckIntervalMs(this.certLifetimeMs));
    this.rotationTimer.unref();
  }

  private certIps(): string[] {
    return [this.o.cfg.nodeIp, '127.0.0.1'];
  }

  /**
   * Replaces the serving certificate before it expires, without a restart: the new certificate is
   * published next to the old one first (the server pins what the Secret holds, so both are trusted
   * for a moment), then loaded for new connections, then published alone. A failed publish leaves the
   * old certificate serving; the next tick tries again.
   */
  private async renewCertificate(): Promise<void> {
    if (this.renewing || !this.server || !this.cert) return;
    this.renewing = true;
    try {
      const next = await ensureServingCert(agentPaths.tls(this.o.cfg), this.o.cfg.nodeName, this.certIps(), this.certLifetimeMs);
      if (next.certPem === this.cert.certPem) return;
      await this.publishCredentials([next.certPem, this.cert.certPem]);
      this.server.setSecureContext({ ...SERVING_TLS_OPTIONS, key: next.keyPem, cert: next.certPem });
      this.cert = next;
      await this.publishCredentials();
      log.info('kubelet', 'serving certificate renewed and reloaded');
    } catch (err) {
      log.warn('kubelet', 'cannot renew the serving certificate yet; will retry', { error: (err as Error).message });
    } finally {
      this.renewing = false;
    }
  }

  /**
   * Writes the credentials Secret (create or update); retried by the caller until the server answers.
   * `certs`: the certificates the server should accept (two while one replaces the other).
   */
  async publishCredentials(certs: string[] = [this.cert!.certPem]): Promise<void> {
    const c = this.o.client;
    const name = credentialsSecretName(this.o.cfg.nodeName);
    const data = { token: Buffer.from(this.token).toString('base64'), 'tls.crt': Buffer.from(certs.join('')).toString('base64') };
    for (let attempt = 0; ; attempt++) {
      try {
        const existing = await c.tryGet<Secret>('Secret', CREDENTIALS_NAMESPACE, name);
        if (!existing) {
          await c.create('Secret', CREDENTIALS_NAMESPACE, { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name, namespace: CREDENTIALS_NAMESPACE, labels: { 'corral.dev/node': this.o.cfg.nodeName } }, data });
        } else if (JSON.stringify(existing.data) !== JSON.stringify(data)) {
          await c.update('Secret', { ...existing, data });
        }
        return;
      } catch (err) {
        if (attempt >= 2 && !isConflict(err)) throw err;
        await sleep(500);
      }
    }
  }

  private authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? '';
    const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
    const want = Buffer.from(this.token);
    return given.length === want.length && timingSafeEqual(given, want);
  }

  /**
   * Where a request goes. Called only after authentication; a malformed escape is the caller's 400
   * (checked first), and decoding itself never throws.
   */
  private route(req: IncomingMessage): { kind: 'logs' | 'exec' | 'attach'; namespace: string; pod: string; container: string; query: URLSearchParams } | undefined {
    const target = req.url ?? '/';
    const m = /^\/(containerLogs|exec|attach)\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(rawPathOf(target));
    if (!m) return undefined;
    return { kind: m[1] === 'containerLogs' ? 'logs' : m[1] === 'exec' ? 'exec' : 'attach', namespace: decodePathSegment(m[2]!), pod: decodePathSegment(m[3]!), container: decodePathSegment(m[4]!), query: rawQueryOf(target) };
  }

  /** Why the request line cannot be served (400), checked before anything else as Go's server does. */
  private static malformed(req: IncomingMessage): string | undefined {
    if (isMalformedHost(req.headers.host)) return MALFORMED_HOST_MESSAGE;
    return badEscapeMessage(rawPathOf(req.url ?? '/'));
  }

  /** exec over WebSocket: request line, then the token, then the route and the container. */
  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const bad = KubeletServer.malformed(req);
    if (bad !== undefined) {
      log.debug('kubelet', 'malformed upgrade request', { reason: bad });
      answerOnSocket(socket, 400, `${bad}\n`);
      return;
    }
    if (!this.authorized(req)) {
      answerOnSocket(socket, 401, 'Unauthorized\n');
      return;
    }
    const forward = /^\/portForward\/([^/]+)\/([^/]+)$/.exec(rawPathOf(req.url ?? '/'));
    if (forward) {
      this.portForward(req, socket, head, decodePathSegment(forward[1]!), decodePathSegment(forward[2]!));
      return;
    }
    const parsed = this.route(req);
    const found = parsed && parsed.kind !== 'logs' ? this.container(parsed.namespace, parsed.pod, parsed.container, false) : undefined;
    if (parsed?.kind === 'attach' && !found) {
      // kubelet's answers: an unknown pod, or a container not (yet) created.
      const known = this.o.pods.find(parsed.namespace, parsed.pod) !== undefined;
      answerOnSocket(socket, known ? 500 : 404, known ? `container not found (${JSON.stringify(parsed.container)})\n` : 'pod does not exist\n');
      return;
    }
    if (!parsed || !found) {
      answerOnSocket(socket, 404, 'not found\n');
      return;
    }
    socket.on('error', () => undefined);
    const q = parsed.query;
    let streams: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean };
    try {
      streams = { stdin: queryBool(q, 'stdin'), stdout: queryBool(q, 'stdout', true), stderr: queryBool(q, 'stderr'), tty: queryBool(q, 'tty') };
    } catch (err) {
      answerOnSocket(socket, 400, `${(err as Error).message}\n`);
      return;
    }
    if (parsed.kind === 'attach') {
      this.upgradeAttach(req, socket, head, parsed, found, streams);
      return;
    }
    this.webSockets.upgrade(req, socket, head, (ws) => {
      runExecSession(ws, this.o.runtime, { containerId: found.id, command: q.getAll('command'), ...streams });
    });
  }

  /** attach: kubelet's checks (a stream asked for, the container running), then the session. */
  private upgradeAttach(req: IncomingMessage, socket: Duplex, head: Buffer, r: { namespace: string; pod: string; container: string },
    found: { id: string; log: string; running: () => boolean }, streams: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean }): void {
    const spec = this.o.pods.find(r.namespace, r.pod)?.containerSpec(r.container);
    const tty = spec?.tty === true;
    const wanted = { stdin: streams.stdin, stdout: streams.stdout, stderr: streams.stderr && !tty };
    if (!wanted.stdin && !wanted.stdout && !wanted.stderr) {
      answerOnSocket(socket, 400, 'you must specify at least 1 of stdin, stdout, stderr\n');
      return;
    }
    if (!found.running()) {
      // kubelet's words for a container that is not among the running ones (a 500, as its streaming errors).
      answerOnSocket(socket, 500, `container not found (${JSON.stringify(r.container)})\n`);
      return;
    }
    this.webSockets.upgrade(req, socket, head, (ws) => {
      runAttachSession(ws, this.o.runtime, {
        containerId: found.id, logPath: found.log, stdinPath: spec?.stdin ? this.o.runtime.stdinPath(found.id) : undefined,
        stdinOnce: spec?.stdinOnce === true, tty, running: found.running,
      }, wanted);
    });
  }

  /** port-forward: the pod must be on this node with a running container in its network namespace. */
  private portForward(req: IncomingMessage, socket: Duplex, head: Buffer, namespace: string, name: string): void {
    const worker = this.o.pods.find(namespace, name);
    if (!worker) {
      answerOnSocket(socket, 404, `pod "${namespace}/${name}" not found on this node\n`);
      return;
    }
    const netnsPath = worker.portForwardNetns();
    if (!netnsPath) {
      answerOnSocket(socket, 400, `pod "${namespace}/${name}" has no running container to forward to\n`);
      return;
    }
    socket.on('error', () => undefined);
    const session = acceptPortForward(req, socket, head, { namespace, name, uid: worker.uid, netnsPath, nodeBinary: this.o.cfg.nodeBinary });
    if (!session) return;
    this.forwards.add(session);
    void session.done.then(() => this.forwards.delete(session));
  }

  private container(namespace: string, pod: string, container: string, previous: boolean): { id: string; log: string; running: () => boolean } | undefined {
    const w = this.o.pods.find(namespace, pod);
    const files = w?.containerFiles(container, previous);
    if (!w || !files) return undefined;
    return { ...files, running: () => !previous && w.isRunning(container) };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Node's own Date header formats through the local time zone (ICU's pages; why: api/iso-time.ts).
    res.sendDate = false;
    res.setHeader('date', httpDate());
    const bad = KubeletServer.malformed(req);
    if (bad !== undefined) {
      log.debug('kubelet', 'malformed request', { reason: bad });
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`${bad}\n`);
      return;
    }
    const path = rawPathOf(req.url ?? '/');
    if (path === '/metrics' || path === '/stats/summary') {
      await this.serveMetrics(req, res, path === '/metrics' ? 'metrics' : 'stats');
      return;
    }
    if (!this.authorized(req)) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('Unauthorized\n');
      return;
    }
    const r = this.route(req);
    if (!r || r.kind !== 'logs' || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const q = r.query;
    let flags: { previous: boolean; follow: boolean; timestamps: boolean };
    try {
      flags = { previous: queryBool(q, 'previous'), follow: queryBool(q, 'follow'), timestamps: queryBool(q, 'timestamps') };
    } catch (err) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
      return;
    }
    const { previous } = flags;
    const found = this.container(r.namespace, r.pod, r.container, previous);
    if (!found) {
      const what = previous ? `previous terminated container "${r.container}" in pod "${r.pod}" not found` : `container "${r.container}" in pod "${r.pod}" is waiting to start: ContainerCreating`;
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`${what}\n`);
      return;
    }
    let sinceMs: number | undefined;
    try {
      sinceMs = sinceCutoff({ sinceSeconds: q.get('sinceSeconds'), sinceTime: q.get('sinceTime') }, Date.now());
    } catch (err) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
      return;
    }
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
    res.flushHeaders();
    const tailLines = q.get('tailLines');
    const limitBytes = q.get('limitBytes');
    await streamLog(found.log, this.o.cfg.logMaxFiles, {
      follow: flags.follow,
      tailLines: tailLines !== null ? Number(tailLines) : undefined,
      limitBytes: limitBytes !== null ? Number(limitBytes) : undefined,
      timestamps: flags.timestamps,
      sinceMs,
      isRunning: found.running,
      signal: abort.signal,
    }, (chunk) => res.write(chunk) || !res.destroyed);
    res.end();
  }

  /** /metrics and /stats/summary: the server's secret, or a token allowed `get` on nodes/metrics or nodes/stats. */
  private async serveMetrics(req: IncomingMessage, res: ServerResponse, subresource: 'metrics' | 'stats'): Promise<void> {
    const header = req.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    if (!this.authorized(req)) {
      let verdict: Awaited<ReturnType<DelegatedAuth['check']>> = 'unauthenticated';
      try {
        if (token && this.o.delegatedAuth) verdict = await this.o.delegatedAuth.check(token, subresource);
      } catch (err) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end(`cannot check the token with the API server: ${(err as Error).message}\n`);
        return;
      }
      if (verdict !== 'allowed') {
        const forbidden = verdict === 'forbidden';
        res.writeHead(forbidden ? 403 : 401, { 'content-type': 'text/plain' })
          .end(forbidden ? `Forbidden (user is not allowed get on nodes/${subresource} of ${this.o.cfg.nodeName})\n` : 'Unauthorized\n');
        return;
      }
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' }).end('method not allowed\n');
      return;
    }
    if (subresource === 'metrics' && this.o.metrics) {
      const { body, contentType } = await this.o.metrics.exposition();
      res.writeHead(200, { 'content-type': contentType }).end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (subresource === 'stats' && this.o.summary) {
      const body = JSON.stringify(await this.o.summary.summary());
      res.writeHead(200, { 'content-type': 'application/json' }).end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }

  async close(): Promise<void> {
    clearInterval(this.rotationTimer);
    this.webSockets.close();
    for (const f of this.forwards) f.close();
    await new Promise<void>((resolve) => {
      if (!this.server) { resolve(); return; }
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** For log lines and tests. */
  describe(): string {
    return `https://${this.o.cfg.kubeletBindAddress ?? this.o.cfg.nodeIp}:${this.port}`;
  }
}

