/**
 * The node's presence in the cluster: registers the Node, keeps its Lease in kube-node-lease renewed
 * (the heartbeat: a small write every ~10 s), writes the Node status only when something in it
 * changed (SD cards), and watches all Nodes for this node's pod CIDR and its peers' routes.
 * Every loop retries with back-off while the server is unreachable and never gives up.
 */
import type { ApiClient } from '../../api/client/client.js';
import { log } from '../../api/log.js';
import { microTime, type Condition } from '../../api/meta.js';
import { isAlreadyExists, isConflict } from '../../api/status.js';
import type { Lease, Node } from '../../api/types.js';
import { buildNodeStatus, statusFingerprint, type AgentSignals, type NodeStatusInput } from './node-status.js';
import { Backoff, sleep } from '../../api/async-util.js';

export const LEASE_NAMESPACE = 'kube-node-lease';
export const LEASE_DURATION_SECONDS = 40;

export interface NodeRegistrationOptions extends NodeStatusInput {
  client: ApiClient;
  leaseRenewSeconds: number;
  statusCheckSeconds: number;
  /** What the agent knows about itself right now (runtime, network). */
  signals(): Promise<AgentSignals>;
  /** Annotations the agent keeps on its Node (e.g. its local-path storage dir). */
  annotations?: Record<string, string>;
  /** Called with every version of the Node list (this node and its peers). */
  onNodes(nodes: Node[]): void;
  signal: AbortSignal;
}

export class NodeRegistration {
  private lastFingerprint: string | undefined;
  private conditions: Condition[] | undefined;
  private statusKick: (() => void) | undefined;
  /** A kick that arrived while a status check was running: check again right after it. */
  private kickPending = false;
  /** Number of Node status writes (a test and the benchmark watch this stay low). */
  statusWrites = 0;
  leaseRenewals = 0;

  constructor(private readonly o: NodeRegistrationOptions) {}

  /** Starts the loops; resolves once the Node exists (or keeps trying in the background). */
  start(): void {
    void this.statusLoop();
    void this.leaseLoop();
    void this.watchNodes();
  }

  /** Asks for a status check now (e.g. the pod network just came up). */
  checkStatusSoon(): void {
    if (this.statusKick) this.statusKick();
    else this.kickPending = true;
  }

  private async ensureNode(labels: Record<string, string>): Promise<Node> {
    const c = this.o.client;
    const existing = await c.tryGet<Node>('Node', undefined, this.o.nodeName);
    const annotations = this.o.annotations ?? {};
    if (existing) {
      const current = existing.metadata.labels ?? {};
      const currentAnnotations = existing.metadata.annotations ?? {};
      if (Object.entries(labels).some(([k, v]) => current[k] !== v) || Object.entries(annotations).some(([k, v]) => currentAnnotations[k] !== v)) {
        return c.patch<Node>('Node', undefined, this.o.nodeName, { metadata: { labels, annotations } });
      }
      return existing;
    }
    try {
      const created = await c.create<Node>('Node', undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: this.o.nodeName, labels, annotations }, spec: {} });
      log.info('agent', 'registered node', { node: this.o.nodeName });
      return created;
    } catch (err) {
      if (isAlreadyExists(err)) return c.get<Node>('Node', undefined, this.o.nodeName);
      throw err;
    }
  }

  private async statusLoop(): Promise<void> {
    const backoff = new Backoff({ initialMs: 500, maxMs: 10_000 });
    let registered = false;
    while (!this.o.signal.aborted) {
      try {
        const { labels, status } = await buildNodeStatus(this.o, await this.o.signals(), this.conditions);
        const fp = statusFingerprint(labels, status);
        if (!registered || fp !== this.lastFingerprint) {
          const node = await this.ensureNode(labels);
          registered = true;
          if (fp !== this.lastFingerprint) {
            // Keep the times the server has when nothing changed there (another agent run wrote them).
            await this.o.client.patchStatus('Node', undefined, this.o.nodeName, { status });
            this.statusWrites++;
            this.lastFingerprint = fp;
            this.conditions = status.conditions;
            log.debug('agent', 'node status written', { node: node.metadata.name });
          }
        }
        backoff.reset();
        await this.wait(this.o.statusCheckSeconds * 1000);
      } catch (err) {
        if (this.o.signal.aborted) return;
        log.warn('agent', 'cannot update the node status, retrying', { error: (err as Error).message });
        // A failed write may have half-applied; write again next time.
        this.lastFingerprint = undefined;
        registered = false;
        await this.wait(backoff.next());
      }
    }
  }

  private wait(ms: number): Promise<void> {
    if (this.kickPending) {
      this.kickPending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.statusKick = undefined;
        this.o.signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.statusKick = done;
      this.o.signal.addEventListener('abort', done, { once: true });
    });
  }

  private async leaseLoop(): Promise<void> {
    const c = this.o.client;
    let lease: Lease | undefined;
    while (!this.o.signal.aborted) {
      let delay = this.o.leaseRenewSeconds * 1000;
      try {
        const spec = { holderIdentity: this.o.nodeName, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewTime: microTime() };
        if (!lease) lease = await c.tryGet<Lease>('Lease', LEASE_NAMESPACE, this.o.nodeName);
        if (!lease) {
          lease = await c.create<Lease>('Lease', LEASE_NAMESPACE, {
            apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
            metadata: { name: this.o.nodeName, namespace: LEASE_NAMESPACE },
            spec: { ...spec, acquireTime: spec.renewTime },
          });
        } else {
          lease = await c.update<Lease>('Lease', { ...lease, spec: { ...lease.spec, ...spec } });
        }
        this.leaseRenewals++;
      } catch (err) {
        if (this.o.signal.aborted) return;
        lease = undefined; // conflict or server restart: read it again
        if (!isConflict(err)) {
          log.warn('agent', 'cannot renew the node lease, retrying', { error: (err as Error).message });
        }
        delay = 1_000;
      }
      await sleep(delay, { signal: this.o.signal });
    }
  }

  private async watchNodes(): Promise<void> {
    const nodes = new Map<string, Node>();
    try {
      for await (const ev of this.o.client.watch<Node>('Node', undefined, { signal: this.o.signal })) {
        if (ev.type === 'RESYNC') {
          nodes.clear();
          for (const n of ev.items) nodes.set(n.metadata.name!, n);
        } else if (ev.type === 'DELETED') {
          nodes.delete(ev.object.metadata.name!);
        } else {
          nodes.set(ev.object.metadata.name!, ev.object);
        }
        this.o.onNodes([...nodes.values()]);
      }
    } catch (err) {
      if (!this.o.signal.aborted) log.error('agent', 'node watch ended', { error: (err as Error).message });
    }
  }
}

