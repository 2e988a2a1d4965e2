/**
 * One kept-alive HTTPS agent per node for the plain GETs the server makes to node agents (the usage
 * scrape: `/stats/summary` of every node every 15 s). Node's global agent closes an idle connection
 * after 5 s, so each scrape made a new connection: a new TLS context from the pinned certificate and
 * a full handshake, on both ends (~2.6 ms of CPU; both ends are one process for the local agent).
 * These agents keep it until the node's kubelet endpoint closes it (45 s idle). An agent is replaced
 * when the node's address or certificate changes, and dropped when no GET used it for ten minutes (a
 * deleted node).
 */
import { Agent as HttpsAgent } from 'node:https';

export interface NodeEndpoint { host: string; port: number; certPem: string }

const UNUSED_MS = 10 * 60_000;

export class NodeHttpsAgents {
  private readonly kept = new Map<string, { endpoint: NodeEndpoint; agent: HttpsAgent; usedAt: number }>();

  /** The agent for `nodeName` at `endpoint`, whose certificate is pinned (self-signed, so no name check). */
  agentFor(nodeName: string, endpoint: NodeEndpoint, now = Date.now()): HttpsAgent {
    for (const [name, k] of this.kept) {
      if (now - k.usedAt > UNUSED_MS) {
        k.agent.destroy();
        this.kept.delete(name);
      }
    }
    const k = this.kept.get(nodeName);
    if (k && k.endpoint.host === endpoint.host && k.endpoint.port === endpoint.port && k.endpoint.certPem === endpoint.certPem) {
      k.usedAt = now;
      return k.agent;
    }
    k?.agent.destroy();
    const agent = new HttpsAgent({ keepAlive: true, maxSockets: 2, maxFreeSockets: 1, ca: endpoint.certPem, checkServerIdentity: () => undefined });
    this.kept.set(nodeName, { endpoint: { ...endpoint }, agent, usedAt: now });
    return agent;
  }

  /** Nodes with a kept agent (for tests). */
  size(): number {
    return this.kept.size;
  }

  destroy(): void {
    for (const k of this.kept.values()) k.agent.destroy();
    this.kept.clear();
  }
}
