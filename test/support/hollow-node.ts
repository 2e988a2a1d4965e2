/**
 * A "hollow node": a test-owned API client that behaves like an agent without running containers
 * (after kubemark). It registers a Node with a kubelet-like status, renews its Lease in
 * kube-node-lease, watches the pods bound to it and reports their status (Running and Ready with a
 * fake pod IP from the node's podCIDR, or terminated with an exit code), and deletes pods with grace
 * 0 once they carry a deletionTimestamp, as a kubelet does after stopping them.
 *
 *   const node = await HollowNode.start(server.client, { name: 'n1', capacity: { cpu: '4', memory: '8Gi', pods: 110 } });
 *   node.stop();   // node loss: no more heartbeats or pod updates (pods are kept)
 *   node.resume(); // back again
 */
import type { ApiClient } from '../../api/client/client.js';
import { microTime, rfc3339, type Condition } from '../../api/meta.js';
import { StatusError } from '../../api/status.js';
import { sleep } from '../../api/async-util.js';
import type { ContainerStatus, Lease, Node, Pod, PodStatus, Taint } from '../../api/types.js';

export interface HollowNodeOptions {
  name: string;
  labels?: Record<string, string>;
  /** Capacity (and allocatable): cpu, memory, pods and any extended resource. */
  capacity?: { cpu?: string; memory?: string; pods?: string | number; [resource: string]: string | number | undefined };
  taints?: Taint[];
  /** Default: a distinct 10.42.N.0/24 per hollow node of this process. */
  podCIDR?: string;
  /** Default: a distinct 10.200.0.N per hollow node (reported only: nothing is ever sent to it). */
  nodeIP?: string;
  /** Lease renewal interval (default 2,000 ms). */
  leaseIntervalMs?: number;
  /** A started pod reports Running at once and Ready after this delay (default 0). */
  readyDelayMs?: number;
  /** Pods with restartPolicy Never or OnFailure succeed (exit 0) this long after starting. */
  autoCompleteAfterMs?: number;
  unschedulable?: boolean;
}

/** What the node knows about one of its pods. */
export interface HollowPod {
  namespace: string;
  name: string;
  uid: string;
  pod: Pod;
  ip: string;
  startTime: string;
  ready: boolean;
  phase: 'Running' | 'Succeeded' | 'Failed';
  restartCount: number;
  exitCode?: number;
  /** Set by setReady(false): the readiness probe keeps failing until setReady(true). */
  probeFailing: boolean;
  /** Status writes of one pod run one after another. */
  writes: Promise<void>;
  timers: NodeJS.Timeout[];
}

let nodeCounter = 0;

function hex(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(Math.random() * 16).toString(16);
  return s;
}

function isNotFound(err: unknown): boolean {
  return err instanceof StatusError && err.code === 404;
}

function isConflict(err: unknown): boolean {
  return err instanceof StatusError && err.code === 409;
}

export class HollowNode {
  readonly name: string;
  readonly podCIDR: string;
  readonly nodeIP: string;
  private readonly podsByKey = new Map<string, HollowPod>();
  private nextHost = 2;
  private run: AbortController | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private nodeUid = '';
  private readonly bootID = `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`;

  private constructor(private readonly client: ApiClient, private readonly o: HollowNodeOptions) {
    const n = nodeCounter++;
    this.name = o.name;
    this.podCIDR = o.podCIDR ?? `10.42.${(n % 250) + 1}.0/24`;
    this.nodeIP = o.nodeIP ?? `10.200.${Math.floor(n / 250)}.${(n % 250) + 2}`;
  }

  /** Registers the node (or takes over an existing Node of that name) and starts heartbeating. */
  static async start(client: ApiClient, o: HollowNodeOptions): Promise<HollowNode> {
    const node = new HollowNode(client, o);
    await node.register();
    node.resume();
    return node;
  }

  get leaseIntervalMs(): number {
    return this.o.leaseIntervalMs ?? 2000;
  }

  get running(): boolean {
    return this.run !== undefined;
  }

  /** Stops heartbeats and pod reporting (simulated node loss); the node's pods are kept. */
  stop(): void {
    this.run?.abort();
    this.run = undefined;
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.leaseTimer = undefined;
    this.statusTimer = undefined;
    for (const p of this.podsByKey.values()) for (const t of p.timers.splice(0)) clearTimeout(t);
  }

  /** Heartbeats again: Ready status, Lease renewals, and the pod watch (which re-lists). */
  resume(): void {
    if (this.run) return;
    const run = new AbortController();
    this.run = run;
    void this.renewLease().catch(() => undefined);
    void this.postNodeStatus().catch(() => undefined);
    this.leaseTimer = setInterval(() => void this.renewLease().catch(() => undefined), this.leaseIntervalMs);
    // Kubelets post full node status far less often than they renew the lease.
    this.statusTimer = setInterval(() => void this.postNodeStatus().catch(() => undefined), this.leaseIntervalMs * 5);
    void this.watchPods(run.signal);
    // Back from an outage: report every known pod again (the node controller may have marked them
    // not ready) and restart readiness timers that stop() cancelled.
    for (const p of this.podsByKey.values()) {
      if (p.phase === 'Running' && !p.ready && !p.probeFailing) this.scheduleReady(p);
      void this.writeStatus(p).catch(() => undefined);
    }
  }

  private scheduleReady(p: HollowPod): void {
    p.timers.push(setTimeout(() => {
      if (p.phase !== 'Running' || p.probeFailing) return;
      p.ready = true;
      void this.writeStatus(p).catch(() => undefined);
    }, this.o.readyDelayMs ?? 0));
  }

  /** Stops and deletes the Node and its Lease. */
  async remove(): Promise<void> {
    this.stop();
    await this.client.deleteIfExists('Lease', 'kube-node-lease', this.name).catch(() => undefined);
    await this.client.deleteIfExists('Node', undefined, this.name).catch(() => undefined);
  }

  /** The pods this node runs (not yet deleted), as last reported. */
  pods(): HollowPod[] {
    return [...this.podsByKey.values()];
  }

  pod(namespace: string, name: string): HollowPod | undefined {
    return this.podsByKey.get(`${namespace}/${name}`);
  }

  /**
   * The container exits with `exitCode`. Pods with restartPolicy Never end Failed (Succeeded for 0);
   * otherwise the kubelet restarts the container in place: restartCount + 1, last state terminated.
   */
  async failPod(namespace: string, name: string, exitCode = 1): Promise<void> {
    const p = this.mustPod(namespace, name);
    const policy = p.pod.spec.restartPolicy ?? 'Always';
    if (policy === 'Never' || (policy === 'OnFailure' && exitCode === 0)) {
      p.phase = exitCode === 0 ? 'Succeeded' : 'Failed';
      p.exitCode = exitCode;
      p.ready = false;
      await this.writeStatus(p);
      return;
    }
    p.restartCount += 1;
    p.exitCode = exitCode;
    await this.writeStatus(p, { lastExitCode: exitCode });
  }

  /** The pod's containers exit 0: Succeeded. */
  async completePod(namespace: string, name: string): Promise<void> {
    const p = this.mustPod(namespace, name);
    p.phase = 'Succeeded';
    p.exitCode = 0;
    p.ready = false;
    await this.writeStatus(p);
  }

  /** Readiness probe result. */
  async setReady(namespace: string, name: string, ready: boolean): Promise<void> {
    const p = this.mustPod(namespace, name);
    p.ready = ready;
    p.probeFailing = !ready;
    await this.writeStatus(p);
  }

  // ------------------------------------------------------------------ node and lease

  private nodeLabels(): Record<string, string> {
    return {
      'kubernetes.io/hostname': this.name,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
      'beta.kubernetes.io/os': 'linux',
      'beta.kubernetes.io/arch': 'amd64',
      ...(this.o.labels ?? {}),
    };
  }

  private capacity(): Record<string, string> {
    const c = this.o.capacity ?? {};
    const out: Record<string, string> = { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '50Gi' };
    for (const [k, v] of Object.entries(c)) if (v !== undefined) out[k] = String(v);
    return out;
  }

  private nodeStatus(): NonNullable<Node['status']> {
    const now = rfc3339();
    const cond = (type: string, status: Condition['status'], reason: string, message: string): Condition => ({
      type, status, reason, message, lastHeartbeatTime: now, lastTransitionTime: now,
    });
    const capacity = this.capacity();
    return {
      capacity,
      allocatable: { ...capacity },
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      addresses: [
        { type: 'InternalIP', address: this.nodeIP },
        { type: 'Hostname', address: this.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: hex(32),
        systemUUID: this.bootID,
        bootID: this.bootID,
        kernelVersion: '6.1.0-hollow',
        osImage: 'Hollow Linux (corral test node)',
        containerRuntimeVersion: 'containerd://1.6.0-hollow',
        kubeletVersion: 'v1.32.0-corral',
        kubeProxyVersion: 'v1.32.0-corral',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    };
  }

  private async register(): Promise<void> {
    const node: Node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: this.name, labels: this.nodeLabels() },
      spec: {
        podCIDR: this.podCIDR,
        podCIDRs: [this.podCIDR],
        ...(this.o.taints ? { taints: this.o.taints } : {}),
        ...(this.o.unschedulable ? { unschedulable: true } : {}),
      },
      status: this.nodeStatus(),
    };
    try {
      const created = await this.client.create<Node>('Node', undefined, node);
      this.nodeUid = created.metadata.uid ?? '';
    } catch (err) {
      if (!isConflict(err)) throw err;
      const existing = await this.client.get<Node>('Node', undefined, this.name);
      this.nodeUid = existing.metadata.uid ?? '';
      await this.postNodeStatus();
    }
  }

  private async postNodeStatus(): Promise<void> {
    try {
      await this.client.patchStatus('Node', undefined, this.name, { status: this.nodeStatus() }, 'merge');
    } catch (err) {
      // Deleted while we were away (e.g. `kubectl delete node`): register again, as a kubelet does.
      if (!isNotFound(err)) throw err;
      await this.register();
    }
  }

  private async renewLease(): Promise<void> {
    const renewTime = microTime();
    try {
      await this.client.patch('Lease', 'kube-node-lease', this.name, { spec: { renewTime, holderIdentity: this.name } }, 'merge');
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const lease: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          name: this.name,
          namespace: 'kube-node-lease',
          ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: this.name, uid: this.nodeUid }],
        },
        spec: { holderIdentity: this.name, leaseDurationSeconds: 40, renewTime },
      };
      await this.client.create('Lease', 'kube-node-lease', lease);
    }
  }

  // ------------------------------------------------------------------ pods

  private async watchPods(signal: AbortSignal): Promise<void> {
    try {
      for await (const ev of this.client.watch<Pod>('Pod', undefined, { signal, fieldSelector: `spec.nodeName=${this.name}` })) {
        if (signal.aborted) return;
        if (ev.type === 'RESYNC') {
          const seen = new Set(ev.items.map((p) => `${p.metadata.namespace}/${p.metadata.name}`));
          for (const [key, p] of this.podsByKey) if (!seen.has(key)) this.forget(p);
          for (const pod of ev.items) this.observe(pod);
        } else if (ev.type === 'DELETED') {
          const p = this.podsByKey.get(`${ev.object.metadata.namespace}/${ev.object.metadata.name}`);
          if (p && p.uid === ev.object.metadata.uid) this.forget(p);
        } else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') {
          this.observe(ev.object);
        }
      }
    } catch {
      // the watch ends when the node is stopped
    }
  }

  private forget(p: HollowPod): void {
    for (const t of p.timers.splice(0)) clearTimeout(t);
    this.podsByKey.delete(`${p.namespace}/${p.name}`);
  }

  private observe(pod: Pod): void {
    if (pod.spec.nodeName !== this.name) return;
    const namespace = pod.metadata.namespace ?? 'default';
    const name = pod.metadata.name ?? '';
    const key = `${namespace}/${name}`;
    let p = this.podsByKey.get(key);
    if (p && p.uid !== pod.metadata.uid) {
      this.forget(p);
      p = undefined;
    }
    if (pod.metadata.deletionTimestamp) {
      // A kubelet stops the containers, then removes the pod for good.
      if (p) this.forget(p);
      void this.client.delete('Pod', namespace, name, { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid ?? '' } }).catch(() => undefined);
      return;
    }
    if (p) {
      p.pod = pod;
      return;
    }
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return; // finished before we saw it (e.g. after a restart)
    p = {
      namespace,
      name,
      uid: pod.metadata.uid ?? '',
      pod,
      ip: this.allocateIp(),
      startTime: pod.status?.startTime ?? rfc3339(),
      ready: (this.o.readyDelayMs ?? 0) <= 0,
      phase: 'Running',
      restartCount: 0,
      probeFailing: false,
      writes: Promise.resolve(),
      timers: [],
    };
    // Keep an IP already reported for this pod (resume after a stop).
    if (pod.status?.podIP) p.ip = pod.status.podIP;
    this.podsByKey.set(key, p);
    const started = p;
    void this.writeStatus(started).catch(() => undefined);
    if (!started.ready) this.scheduleReady(started);
    const policy = pod.spec.restartPolicy ?? 'Always';
    if (this.o.autoCompleteAfterMs !== undefined && policy !== 'Always') {
      started.timers.push(setTimeout(() => {
        if (started.phase === 'Running') void this.completePod(namespace, name).catch(() => undefined);
      }, this.o.autoCompleteAfterMs));
    }
  }

  private allocateIp(): string {
    const [base] = this.podCIDR.split('/');
    const octets = (base ?? '10.42.0.0').split('.').map(Number);
    const host = this.nextHost++;
    const o2 = (octets[2] ?? 0) + Math.floor(host / 254);
    const o3 = (host % 254) + (host >= 254 ? 1 : 0);
    return `${octets[0]}.${octets[1]}.${o2}.${o3}`;
  }

  private mustPod(namespace: string, name: string): HollowPod {
    const p = this.podsByKey.get(`${namespace}/${name}`);
    if (!p) throw new Error(`hollow node ${this.name} does not run pod ${namespace}/${name}`);
    return p;
  }

  private podStatus(p: HollowPod, o: { lastExitCode?: number } = {}): PodStatus {
    const now = rfc3339();
    const running = p.phase === 'Running';
    const ready = running && p.ready;
    const finishedReason = p.phase === 'Succeeded' ? 'PodCompleted' : undefined;
    const cond = (type: string, status: boolean, reason?: string): Condition => ({
      type, status: status ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: this.transitionTime(p, type, status, now),
      ...(reason ? { reason } : {}),
    });
    const containers: ContainerStatus[] = p.pod.spec.containers.map((c, i) => {
      const id = `containerd://${p.uid.replace(/-/g, '')}${i}`;
      const status: ContainerStatus = {
        name: c.name,
        image: c.image ?? '',
        imageID: `${c.image ?? ''}@sha256:${'0'.repeat(64)}`,
        containerID: id,
        ready,
        started: running,
        restartCount: p.restartCount,
        state: running
          ? { running: { startedAt: p.startTime } }
          : {
            terminated: {
              exitCode: p.exitCode ?? 0,
              reason: (p.exitCode ?? 0) === 0 ? 'Completed' : 'Error',
              startedAt: p.startTime,
              finishedAt: now,
              containerID: id,
            },
          },
      };
      if (o.lastExitCode !== undefined) {
        status.lastState = { terminated: { exitCode: o.lastExitCode, reason: 'Error', startedAt: p.startTime, finishedAt: now, containerID: id } };
      }
      return status;
    });
    return {
      phase: p.phase,
      conditions: [
        cond('PodReadyToStartContainers', running),
        cond('Initialized', true, finishedReason),
        cond('Ready', ready, ready ? undefined : finishedReason ?? 'ContainersNotReady'),
        cond('ContainersReady', ready, ready ? undefined : finishedReason ?? 'ContainersNotReady'),
        cond('PodScheduled', true),
      ],
      hostIP: this.nodeIP,
      hostIPs: [{ ip: this.nodeIP }],
      podIP: p.ip,
      podIPs: [{ ip: p.ip }],
      startTime: p.startTime,
      containerStatuses: containers,
      qosClass: 'BestEffort',
    } as PodStatus;
  }

  /** Keeps a condition's lastTransitionTime unless its status changes (controllers time availability by it). */
  private transitionTime(p: HollowPod, type: string, status: boolean, now: string): string {
    const prev = p.pod.status?.conditions?.find((c) => c.type === type);
    if (prev && prev.status === (status ? 'True' : 'False') && prev.lastTransitionTime) return prev.lastTransitionTime;
    return now;
  }

  private writeStatus(p: HollowPod, o: { lastExitCode?: number } = {}): Promise<void> {
    // Retried with back-off, as a kubelet's status manager does: a write can fail while the API
    // server it went to is dying (several servers) or briefly overloaded.
    const write = async (): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        if (!this.run) return; // a stopped node reports nothing
        try {
          const updated = await this.client.patchStatus<Pod>('Pod', p.namespace, p.name, { status: this.podStatus(p, o) }, 'merge');
          if (updated.metadata.uid === p.uid) p.pod = updated;
          return;
        } catch (err) {
          if (isNotFound(err)) return;
          if (attempt >= 10) throw err;
          await sleep(250 * attempt);
        }
      }
    };
    p.writes = p.writes.then(write, write);
    return p.writes;
  }
}
