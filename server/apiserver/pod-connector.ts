/**
 * The API server's side of `kubectl logs` and `kubectl exec`: finds the node that runs the pod,
 * connects to that node's agent (its kubelet endpoint: InternalIP + status.daemonEndpoints port),
 * authenticates with the node's kubelet token and pins the node's certificate — both published by
 * the agent in the Secret `kube-system/corral-kubelet-<node>` — and relays: logs as a streamed
 * text/plain response, exec and attach as a v5.channel.k8s.io WebSocket spliced frame for frame to the agent's,
 * port-forward as a SPDY/3.1 byte stream (port-forward-relay.ts).
 * `get` reads a plain endpoint of a node's agent (its resource usage, /stats/summary) the same way.
 */
import { KUBELET_CREDENTIALS_NAMESPACE, kubeletCredentialsSecretName } from '../../api/node-identity.js';
import { request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { upgradeWebSocket } from '@hono/node-server';
import { WebSocket } from 'ws';
import { resourceForKind } from '../../api/resources.js';
import { errors, StatusError } from '../../api/status.js';
import { log } from '../../api/log.js';
import { queryBool } from '../../api/query-bool.js';
import type { Node, Pod, Secret } from '../../api/types.js';
import type { Registry } from './registry.js';
import type { PodConnector } from './subresources.js';
import { relayPortForward } from './port-forward-relay.js';
import { NodeHttpsAgents } from './node-https-agents.js';

export const EXEC_PROTOCOL = 'v5.channel.k8s.io';
/** Must match agent/logs/kubelet-server.ts (the server does not import the agent). */

interface AgentTarget { host: string; port: number; token: string; certPem: string }

export class AgentPodConnector implements PodConnector {
  private readonly getAgents = new NodeHttpsAgents();

  constructor(private readonly registry: Registry) {}

  private async target(nodeName: string): Promise<AgentTarget> {
    const node = (await this.registry.tryGet(resourceForKind('Node')!, undefined, nodeName)) as Node | undefined;
    if (!node) throw errors.notFound('nodes', nodeName);
    const host = node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
    const port = node.status?.daemonEndpoints?.kubeletEndpoint?.Port;
    if (!host || !port) throw errors.unavailable(`node "${nodeName}" has not reported its agent endpoint yet`);
    const secret = (await this.registry.tryGet(resourceForKind('Secret')!, KUBELET_CREDENTIALS_NAMESPACE, kubeletCredentialsSecretName(nodeName))) as Secret | undefined;
    const data = (secret?.data ?? {}) as Record<string, string>;
    if (!data['token'] || !data['tls.crt']) throw errors.unavailable(`node "${nodeName}" has not published its agent credentials yet`);
    return { host, port, token: Buffer.from(data['token'], 'base64').toString('utf8'), certPem: Buffer.from(data['tls.crt'], 'base64').toString('utf8') };
  }

  private static path(kind: 'containerLogs' | 'exec' | 'attach', pod: Pod, container: string, q: URLSearchParams): string {
    const qs = q.toString();
    return `/${kind}/${encodeURIComponent(pod.metadata.namespace ?? 'default')}/${encodeURIComponent(pod.metadata.name!)}/${encodeURIComponent(container)}${qs ? `?${qs}` : ''}`;
  }

  /** GETs `path` from the node's agent; resolves with the body of a 200, throws otherwise. */
  async get(nodeName: string, path: string, timeoutMs: number): Promise<string> {
    const t = await this.target(nodeName);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const r = httpsRequest({
        host: t.host, port: t.port, method: 'GET', path, headers: { authorization: `Bearer ${t.token}` },
        agent: this.getAgents.agentFor(nodeName, t), timeout: timeoutMs,
      }, resolve);
      r.on('timeout', () => r.destroy(new Error('timed out')));
      r.on('error', reject);
      r.end();
    });
    const text = await readAll(res);
    if (res.statusCode !== 200) throw new Error(`agent of node "${nodeName}" answered ${res.statusCode} to ${path}: ${text.trim().slice(0, 200)}`);
    return text;
  }

  async logs(c: Context, pod: Pod, container: string, q: URLSearchParams): Promise<Response> {
    const t = await this.target(pod.spec.nodeName!);
    const params = new URLSearchParams();
    for (const k of ['follow', 'tailLines', 'previous', 'timestamps', 'limitBytes', 'sinceSeconds', 'sinceTime']) {
      const v = q.get(k);
      if (v !== null) params.set(k, v);
    }
    const abort = new AbortController();
    c.req.raw.signal.addEventListener('abort', () => abort.abort(), { once: true });
    if (c.req.raw.signal.aborted) abort.abort(); // the client left before this point: no event will come
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const r = httpsRequest({
        host: t.host, port: t.port, method: 'GET', path: AgentPodConnector.path('containerLogs', pod, container, params),
        headers: { authorization: `Bearer ${t.token}` }, ca: t.certPem, checkServerIdentity: () => undefined, signal: abort.signal,
        timeout: 10_000,
      }, resolve);
      r.on('timeout', () => r.destroy(new Error('timed out')));
      r.on('error', reject);
      r.end();
    }).catch((err: unknown) => {
      throw errors.unavailable(`cannot reach the agent of node "${pod.spec.nodeName}": ${(err as Error).message}`);
    });
    res.socket?.setTimeout(0);
    if (res.statusCode !== 200) {
      const text = await readAll(res);
      throw new StatusError(res.statusCode === 401 ? 500 : (res.statusCode ?? 500), 'BadRequest', text.trim() || `agent answered ${res.statusCode}`);
    }
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        res.on('data', (chunk: Buffer) => controller.enqueue(new Uint8Array(chunk)));
        res.on('end', () => controller.close());
        res.on('error', (err) => controller.error(err));
      },
      cancel() {
        abort.abort();
        res.destroy();
      },
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'text/plain', 'cache-control': 'no-cache', 'transfer-encoding': 'chunked' } });
  }

  async exec(c: Context, pod: Pod, container: string, q: URLSearchParams, kind: 'exec' | 'attach'): Promise<Response> {
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
      throw errors.badRequest(`${kind} needs a WebSocket upgrade with the ${EXEC_PROTOCOL} subprotocol`);
    }
    // Bad options are refused before the upgrade, as upstream decodes them (an HTTP 400 Status).
    const asked = ['stdin', 'stdout', 'stderr'].map((k) => queryBool(q, k));
    queryBool(q, 'tty');
    if (kind === 'attach' && !asked.includes(true)) throw errors.badRequest('you must specify at least 1 of stdin, stdout, stderr');
    const t = await this.target(pod.spec.nodeName!);
    const params = new URLSearchParams();
    if (kind === 'exec') for (const cmd of q.getAll('command')) params.append('command', cmd);
    for (const k of ['stdin', 'stdout', 'stderr', 'tty']) {
      const v = q.get(k);
      if (v !== null) params.set(k, v);
    }
    const url = `wss://${t.host}:${t.port}${AgentPodConnector.path(kind, pod, container, params)}`;
    let agent: WebSocket | undefined;
    const pending: Buffer[] = [];
    return upgradeWebSocket(c, {
      onOpen: (_evt, client) => {
        const raw = client.raw as WebSocket;
        agent = new WebSocket(url, [EXEC_PROTOCOL], { headers: { authorization: `Bearer ${t.token}` }, ca: t.certPem, checkServerIdentity: pinnedCertificate });
        agent.on('open', () => {
          for (const m of pending.splice(0)) forward(raw, agent!, m);
          if (agent!.bufferedAmount <= RELAY_WINDOW) raw.resume();
        });
        agent.on('message', (data: Buffer) => {
          if (raw.readyState === raw.OPEN) forward(agent!, raw, data);
        });
        agent.on('close', () => {
          raw.resume(); // a paused socket would not read the client's answer to the close
          raw.close(1000);
        });
        // The agent refused the session (bad query, container not running): its reason, as a Status.
        agent.on('unexpected-response', (_req, res) => {
          void readAll(res).then((text) => {
            const code = res.statusCode === 400 || res.statusCode === 404 ? res.statusCode : 500;
            failSession(raw, code, text.trim() || `the agent of node "${pod.spec.nodeName}" answered ${res.statusCode}`);
          });
        });
        agent.on('error', (err) => {
          log.warn('exec', 'agent connection failed', { node: pod.spec.nodeName, error: err.message });
          failSession(raw, 500, `cannot reach the agent of node "${pod.spec.nodeName}": ${err.message}`);
        });
      },
      onMessage: (evt, client) => {
        const data = evt.data instanceof ArrayBuffer ? Buffer.from(evt.data) : Buffer.from(String(evt.data));
        const raw = client.raw as WebSocket;
        if (agent?.readyState === WebSocket.OPEN) forward(raw, agent, data);
        else {
          pending.push(data);
          if (pending.reduce((n, b) => n + b.length, 0) > RELAY_WINDOW) raw.pause();
        }
      },
      onClose: () => {
        agent?.resume();
        agent?.close();
      },
    });
  }

  /** kubectl port-forward: relayed to the agent of the pod's node (port-forward-relay.ts). */
  async portForward(c: Context, pod: Pod): Promise<Response> {
    return relayPortForward(c, pod, await this.target(pod.spec.nodeName!));
  }
}

/**
 * The agent's certificate is pinned through `ca` (it is self-signed), so the name check is skipped:
 * Node's tls treats a returned value as the error, undefined as success (ws types it as boolean).
 */
const pinnedCertificate = (() => undefined) as unknown as (servername: string, cert: unknown) => boolean;

/** Bytes the relay holds for one direction before it stops reading the other side. */
const RELAY_WINDOW = 1024 * 1024;

/**
 * Sends `data` to `to`; while more than RELAY_WINDOW bytes wait to be written there, `from` is not
 * read (TCP pushes back to its sender), so a peer that does not read (a container ignoring its
 * stdin, a stalled client) costs the server at most that much, never an unbounded buffer.
 */
function forward(from: WebSocket, to: WebSocket, data: Buffer): void {
  to.send(data, () => {
    if (from.isPaused && to.bufferedAmount <= RELAY_WINDOW) from.resume();
  });
  if (to.bufferedAmount > RELAY_WINDOW) from.pause();
}

/** Ends a relayed session with a Failure Status on the status channel (3), which kubectl prints. */
function failSession(raw: WebSocket, code: number, message: string): void {
  if (raw.readyState !== raw.OPEN) return;
  const reason = code === 400 ? 'BadRequest' : code === 404 ? 'NotFound' : 'InternalError';
  raw.send(Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify({ metadata: {}, status: 'Failure', message, reason, code }))]));
  raw.close(1000);
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    res.on('data', (d: Buffer) => parts.push(d));
    res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    res.on('error', () => resolve(Buffer.concat(parts).toString('utf8')));
  });
}
