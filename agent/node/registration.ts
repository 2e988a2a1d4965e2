/**
 * The node's presence in the cluster, on the controller kit: one queue with two keys — `status`
 * (register the Node, write its status only when something in it changed: SD cards) and `lease` (the
 * heartbeat in kube-node-lease, a small write every ~10 s) — each reconciled level-triggered and
 * requeued after its period; a failure is retried with the queue's back-off, never given up. A shared
 * Node informer hands this node and its peers (pod CIDR, routes) to `onNodes`. Condition changes
 * are recorded as kubelet's node Events (Starting, NodeReady, NodeNotReady, NodeHasSufficientMemory…).
 */
import type { ApiClient } from '../../api/client/client.js';
import { log } from '../../api/log.js';
import { Controller } from '../../api/machinery/controller.js';
import type { EventRecorder } from '../../api/machinery/events.js';
import type { Informer, InformerFactory } from '../../api/machinery/informer.js';
import { ItemExponentialRateLimiter } from '../../api/machinery/rate-limiter.js';
import { microTime, type Condition } from '../../api/meta.js';
import { isAlreadyExists } from '../../api/status.js';
import type { Lease, Node, NodeStatus } from '../../api/types.js';
import { buildNodeStatus, statusFingerprint, type AgentSignals, type NodeStatusInput } from './node-status.js';
import { NODE_LEASE_NAMESPACE as LEASE_NAMESPACE } from '../../api/node-identity.js';
import { OWNED_LABEL_PREFIX, OWNED_RESOURCE_PREFIX, type DevicePublication } from '../hardware/device-manager.js';

export const LEASE_DURATION_SECONDS = 40;

export interface NodeRegistrationOptions extends NodeStatusInput {
  client: ApiClient;
  informers: InformerFactory;
  events?: EventRecorder;
  leaseRenewSeconds: number;
  statusCheckSeconds: number;
  /** What the agent knows about itself right now (runtime, network). */
  signals(): Promise<AgentSignals>;
  /** Annotations the agent keeps on its Node (e.g. its local-path storage dir). */
  annotations?: Record<string, string>;
  /** The device loop's labels and extended resources (merged in; the ones it no longer publishes are removed). */
  devices?: () => DevicePublication;
  /** Called with every version of the Node list (this node and its peers); a rejection is retried with back-off. */
  onNodes(nodes: Node[]): void | Promise<void>;
  signal: AbortSignal;
}

const STATUS = 'status';
const LEASE = 'lease';
const PEERS = 'peers';

/** kubelet's event reasons for a node condition's status (True / otherwise). */
const CONDITION_REASONS: Record<string, [string, string]> = {
  Ready: ['NodeReady', 'NodeNotReady'],
  MemoryPressure: ['NodeHasInsufficientMemory', 'NodeHasSufficientMemory'],
  DiskPressure: ['NodeHasDiskPressure', 'NodeHasNoDiskPressure'],
  PIDPressure: ['NodeHasInsufficientPID', 'NodeHasSufficientPID'],
};

export class NodeRegistration {
  private lastFingerprint: string | undefined;
  private conditions: Condition[] | undefined;
  private registered = false;
  private lease: Lease | undefined;
  private startingRecorded = false;
  private readonly nodes: Informer<Node>;
  private readonly controller: Controller;
  /** Number of Node status writes (a test and the benchmark watch this stay low). */
  statusWrites = 0;
  leaseRenewals = 0;

  constructor(private readonly o: NodeRegistrationOptions) {
    this.nodes = o.informers.forKind<Node>('Node');
    this.controller = new Controller({
      name: 'node-status',
      workers: 3,
      // The server away: the status and the lease are tried again after 0.5 s, doubling to 10 s.
      rateLimiter: new ItemExponentialRateLimiter({ initialMs: 500, maxMs: 10_000 }),
      reconcile: (key) => this.reconcile(key),
    });
  }

  /** Starts the loops; the Node is registered by the first status reconcile (or keeps being retried). */
  start(): void {
    const peers = (): void => this.controller.enqueue(PEERS);
    this.nodes.addHandlers({ onAdd: peers, onUpdate: peers, onDelete: peers });
    this.controller.enqueue(STATUS);
    this.controller.enqueue(LEASE);
    void this.controller.run(this.o.signal);
  }

  /** Asks for a status check now (e.g. the pod network just came up). */
  checkStatusSoon(): void {
    this.controller.enqueue(STATUS);
  }

  private async reconcile(key: string): Promise<{ requeueAfterMs?: number }> {
    if (key === STATUS) return this.syncStatus();
    if (key === LEASE) return this.renewLease();
    await this.o.onNodes(this.nodes.list());
    return {};
  }

  private async ensureNode(labels: Record<string, string>): Promise<Node> {
    const c = this.o.client;
    const existing = await c.tryGet<Node>('Node', undefined, this.o.nodeName);
    const annotations = this.o.annotations ?? {};
    if (existing) {
      const current = existing.metadata.labels ?? {};
      const currentAnnotations = existing.metadata.annotations ?? {};
      // Device labels this agent published before and no longer does (a board unplugged) go.
      const stale = Object.keys(current).filter((k) => k.startsWith(OWNED_LABEL_PREFIX) && !(k in labels));
      if (stale.length > 0 || Object.entries(labels).some(([k, v]) => current[k] !== v) || Object.entries(annotations).some(([k, v]) => currentAnnotations[k] !== v)) {
        const patchLabels: Record<string, string | null> = { ...labels };
        for (const k of stale) patchLabels[k] = null;
        return c.patch<Node>('Node', undefined, this.o.nodeName, { metadata: { labels: patchLabels, annotations } });
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

  private async syncStatus(): Promise<{ requeueAfterMs: number }> {
    try {
      const { labels, status } = await buildNodeStatus(this.o, await this.o.signals(), this.conditions);
      const devices = this.o.devices?.();
      if (devices) {
        Object.assign(labels, devices.labels);
        status.capacity = { ...status.capacity, ...devices.capacity };
        status.allocatable = { ...status.allocatable, ...devices.allocatable };
      }
      const fp = statusFingerprint(labels, status);
      if (!this.registered || fp !== this.lastFingerprint) {
        const node = await this.ensureNode(labels);
        this.registered = true;
        this.recordStarting();
        if (fp !== this.lastFingerprint) {
          // Keep the times the server has when nothing changed there (another agent run wrote them).
          await this.o.client.patchStatus('Node', undefined, this.o.nodeName, { status: withStaleResourcesRemoved(status, node) });
          this.statusWrites++;
          this.lastFingerprint = fp;
          this.recordConditionChanges(node.status?.conditions ?? this.conditions, status.conditions ?? []);
          this.conditions = status.conditions;
          log.debug('agent', 'node status written', { node: node.metadata.name });
        }
      }
      return { requeueAfterMs: this.o.statusCheckSeconds * 1000 };
    } catch (err) {
      // A failed write may have half-applied; write again next time.
      this.lastFingerprint = undefined;
      this.registered = false;
      throw new Error(`cannot update the node status: ${(err as Error).message}`, { cause: err });
    }
  }

  private async renewLease(): Promise<{ requeueAfterMs: number }> {
    const c = this.o.client;
    try {
      const spec = { holderIdentity: this.o.nodeName, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewTime: microTime() };
      this.lease ??= await c.tryGet<Lease>('Lease', LEASE_NAMESPACE, this.o.nodeName);
      if (!this.lease) {
        this.lease = await c.create<Lease>('Lease', LEASE_NAMESPACE, {
          apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
          metadata: { name: this.o.nodeName, namespace: LEASE_NAMESPACE },
          spec: { ...spec, acquireTime: spec.renewTime },
        });
      } else {
        this.lease = await c.update<Lease>('Lease', { ...this.lease, spec: { ...this.lease.spec, ...spec } });
      }
      this.leaseRenewals++;
      return { requeueAfterMs: this.o.leaseRenewSeconds * 1000 };
    } catch (err) {
      this.lease = undefined; // conflict or server restart: read it again
      throw err;
    }
  }

  /** The reference kubelet puts on node Events: uid is the node name (kubectl describe node looks for both). */
  private nodeRef(): Node {
    return { apiVersion: 'v1', kind: 'Node', metadata: { name: this.o.nodeName, uid: this.o.nodeName }, spec: {} };
  }

  private recordStarting(): void {
    if (this.startingRecorded || !this.o.events) return;
    this.startingRecorded = true;
    this.o.events.record(this.nodeRef(), 'Normal', 'Starting', 'Starting kubelet.');
  }

  /** NodeReady, NodeNotReady, NodeHasSufficientMemory…: one Event per condition whose status changed. */
  private recordConditionChanges(before: Condition[] | undefined, after: Condition[]): void {
    if (!this.o.events) return;
    for (const c of after) {
      const reasons = CONDITION_REASONS[c.type];
      if (!reasons) continue;
      const was = before?.find((b) => b.type === c.type)?.status;
      if (was === c.status) continue;
      const reason = c.status === 'True' ? reasons[0] : reasons[1];
      this.o.events.record(this.nodeRef(), 'Normal', reason, `Node ${this.o.nodeName} status is now: ${reason}`);
    }
  }
}

/** A merge patch drops a map key only when it says null: device resources the node no longer has. */
function withStaleResourcesRemoved(status: NodeStatus, node: Node): Record<string, unknown> {
  const out: Record<string, unknown> = { ...status };
  for (const field of ['capacity', 'allocatable'] as const) {
    const desired: Record<string, string | null> = { ...(status[field] ?? {}) };
    for (const k of Object.keys(node.status?.[field] ?? {})) if (k.startsWith(OWNED_RESOURCE_PREFIX) && !(k in desired)) desired[k] = null;
    out[field] = desired;
  }
  return out;
}
