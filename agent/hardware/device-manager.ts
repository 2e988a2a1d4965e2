/**
 * The node's device loop, on the controller kit, with two keys reconciled level-triggered: `inventory`
 * reads the hardware (sysfs + /dev) and applies the devices file's rules, `publish` works out what the
 * Node shows from that and the leases; when resources, labels or allocatable changed the Node status
 * loop is asked to write them. fs.watch on /dev, /dev/serial/by-id and the sysfs USB and tty
 * directories only enqueue `inventory` (hot-plug shows within seconds); a periodic resync catches what
 * a watch missed. Pod changes enqueue `publish` (a lease ending changes allocatable).
 *
 * Leases are read from the pods bound to this node (device-allocation.ts); the only memory here is
 * for allocations handed out but not yet seen back in the pod informer, and it is dropped as soon as
 * the pod's recorded status (or its end) arrives.
 *
 * A unit a running pod holds that disappears makes its resource lose it (allocatable drops) and the
 * pod gets a Warning `DeviceUnhealthy` Event, once per unit.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { log } from '../../api/log.js';
import { Controller } from '../../api/machinery/controller.js';
import type { EventRecorder } from '../../api/machinery/events.js';
import type { Informer, InformerFactory } from '../../api/machinery/informer.js';
import type { Pod } from '../../api/types.js';
import type { DeviceRule } from './device-config.js';
import { DEVICE_RESOURCE_PREFIX } from './device-config.js';
import { readDeviceInventory, watchedDirectories, type HostDevice, type InventoryRoots } from './device-inventory.js';
import {
  allocatableCounts, allocateDevices, holdsDevices, missingUnits, podDeviceRequests, recordedAllocation,
  type AllocationResult, type DeviceAllocation, type DeviceHolder,
} from './device-allocation.js';
import { cpuFeatureLabels, deviceResources, FEATURE_LABEL_PREFIX, usbFeatureLabels, type DeviceResource, type DevPath } from './device-resources.js';

/** Re-read the hardware (hot-plug, resync), then publish. */
const INVENTORY = 'inventory';
/** Only recompute what the Node shows (a lease began or ended): no hardware read. */
const PUBLISH = 'publish';

export interface DeviceManagerOptions extends InventoryRoots {
  nodeName: string;
  rules: readonly DeviceRule[];
  informers: InformerFactory;
  events?: EventRecorder | undefined;
  /** Called when what the Node should publish changed. */
  onChange(): void;
  /** Full re-read period (default 10 s). */
  resyncMs?: number;
  /** /proc/cpuinfo, for the CPU feature labels (a test may point elsewhere). */
  cpuinfoPath?: string;
  signal: AbortSignal;
}

/** What the Node publishes for the devices: labels, capacity and allocatable (the extended resources). */
export interface DevicePublication {
  labels: Record<string, string>;
  capacity: Record<string, string>;
  allocatable: Record<string, string>;
}

/** Labels and resource names the device loop owns on the Node (others' are never touched). */
export const OWNED_LABEL_PREFIX = FEATURE_LABEL_PREFIX;
export const OWNED_RESOURCE_PREFIX = DEVICE_RESOURCE_PREFIX;

const SKIPPED_DEV_DIRS = new Set(['pts', 'shm', 'mqueue', 'hugepages', 'fd', 'core', 'stdin', 'stdout', 'stderr', 'net', 'cpu', 'dri']);

/** Device nodes and links to them under devRoot, as container paths (for path rules). */
export async function listDevPaths(devRoot: string, maxDepth = 4): Promise<DevPath[]> {
  const out: DevPath[] = [];
  const walk = async (rel: string, depth: number): Promise<void> => {
    const entries = await readdir(join(devRoot, rel), { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const childRel = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (depth < maxDepth && !(depth === 0 && SKIPPED_DEV_DIRS.has(e.name))) await walk(childRel, depth + 1);
        continue;
      }
      if (!e.isCharacterDevice() && !e.isBlockDevice() && !e.isSymbolicLink()) continue;
      const full = join(devRoot, childRel);
      let nodeRel = childRel;
      if (e.isSymbolicLink()) {
        const target = await realpath(full).catch(() => undefined);
        const st = target ? await stat(target).catch(() => undefined) : undefined;
        if (!target || !st || !(st.isCharacterDevice() || st.isBlockDevice()) || !target.startsWith(`${devRoot}/`)) continue;
        nodeRel = target.slice(devRoot.length + 1);
      }
      out.push({ path: `/dev/${childRel}`, node: `/dev/${nodeRel}` });
    }
  };
  await walk('', 0);
  return out;
}

export class DeviceManager {
  private readonly controller: Controller;
  private readonly pods: Informer<Pod>;
  private resources: DeviceResource[] = [];
  private labels: Record<string, string> = {};
  private published = '';
  /** Allocations handed out whose pod status has not come back through the informer yet. */
  private readonly pending = new Map<string, DeviceAllocation>();
  /** `<pod uid>/<unit id>` already reported as gone. */
  private readonly reportedMissing = new Set<string>();
  private readonly watchers: FSWatcher[] = [];
  private cpuLabels: Record<string, string> | undefined;
  private synced = false;
  /** How many inventory reads ran (tests watch hot-plug and resync). */
  reads = 0;

  constructor(private readonly o: DeviceManagerOptions) {
    this.controller = new Controller({ name: 'devices', reconcile: async (key) => (key === INVENTORY ? this.readInventory() : this.publish()) });
    this.pods = o.informers.forKind<Pod>('Pod', { fieldSelector: `spec.nodeName=${o.nodeName}` });
  }

  /** Reads the inventory once (so the first Node status has it), then runs the loop. */
  async start(): Promise<void> {
    await this.readInventory().catch((err: unknown) => log.warn('devices', 'cannot read the device inventory yet', { error: (err as Error).message }));
    const kick = (): void => this.controller.enqueue(INVENTORY);
    const republish = (): void => this.controller.enqueue(PUBLISH);
    this.pods.addHandlers({ onAdd: republish, onUpdate: republish, onDelete: republish });
    for (const dir of watchedDirectories(this.o)) {
      try {
        const w = watch(dir, { persistent: false }, kick);
        w.on('error', () => w.close());
        this.watchers.push(w);
      } catch { /* absent on this machine (no USB bus): the resync covers it */ }
    }
    this.o.signal.addEventListener('abort', () => { for (const w of this.watchers) w.close(); }, { once: true });
    void this.controller.run(this.o.signal);
    kick();
  }

  /** The resources as last read (tests, `corral status`). */
  current(): readonly DeviceResource[] {
    return this.resources;
  }

  private async readInventory(): Promise<{ requeueAfterMs: number }> {
    const devRoot = this.o.devRoot ?? '/dev';
    const devices: HostDevice[] = await readDeviceInventory(this.o);
    const devPaths = this.o.rules.some((r) => r.match.path !== undefined) ? await listDevPaths(devRoot) : [];
    // The CPU's features are fixed for a boot: read once.
    this.cpuLabels ??= cpuFeatureLabels(await readFile(this.o.cpuinfoPath ?? '/proc/cpuinfo', 'utf8').catch(() => ''));
    this.reads++;
    this.resources = deviceResources(devices, this.o.rules, devPaths);
    this.labels = { ...this.cpuLabels, ...usbFeatureLabels(devices) };
    this.synced = true;
    this.publish();
    return { requeueAfterMs: this.o.resyncMs ?? 10_000 };
  }

  private publish(): void {
    this.dropSettledPending();
    this.reportMissing();
    const fp = JSON.stringify(this.publication());
    if (fp === this.published) return;
    this.published = fp;
    log.info('devices', 'devices published', { resources: this.resources.map((r) => `${r.name}=${r.units.length}`).join(', ') || 'none' });
    this.o.onChange();
  }

  /** Who holds what: every running pod's recorded allocation plus the ones handed out just now. */
  private holders(): DeviceHolder[] {
    const out: DeviceHolder[] = [];
    const seen = new Set<string>();
    for (const pod of this.pods.list()) {
      const uid = pod.metadata.uid ?? '';
      seen.add(uid);
      if (!holdsDevices(pod)) continue;
      const allocation = recordedAllocation(pod) ?? this.pending.get(uid);
      if (allocation) out.push({ podUid: uid, allocation });
    }
    for (const [uid, allocation] of this.pending) if (!seen.has(uid)) out.push({ podUid: uid, allocation });
    return out;
  }

  /** Pending entries whose pod recorded them, ended or is gone from a synced informer. */
  private dropSettledPending(): void {
    if (!this.pods.hasSynced()) return;
    for (const uid of this.pending.keys()) {
      const pod = this.pods.list().find((p) => p.metadata.uid === uid);
      if (!pod || !holdsDevices(pod) || recordedAllocation(pod)) this.pending.delete(uid);
    }
  }

  private reportMissing(): void {
    const uids = new Set(this.pods.list().map((p) => p.metadata.uid ?? ''));
    for (const key of this.reportedMissing) if (!uids.has(key.slice(0, key.indexOf('/')))) this.reportedMissing.delete(key);
    for (const pod of this.pods.list()) {
      if (!holdsDevices(pod)) continue;
      const allocation = recordedAllocation(pod);
      if (!allocation) continue;
      for (const [resource, ids] of missingUnits(allocation, this.resources)) {
        for (const id of ids) {
          const key = `${pod.metadata.uid}/${id}`;
          if (this.reportedMissing.has(key)) continue;
          this.reportedMissing.add(key);
          log.warn('devices', 'an allocated device disappeared', { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, resource, device: id });
          this.o.events?.record({ ...pod, kind: 'Pod', apiVersion: 'v1' }, 'Warning', 'DeviceUnhealthy', `device ${id} of ${resource} allocated to this pod is no longer attached to node ${this.o.nodeName}`);
        }
      }
    }
  }

  /** Labels, capacity and allocatable for the Node status. */
  publication(): DevicePublication {
    const capacity: Record<string, string> = {};
    const allocatable: Record<string, string> = {};
    const counts = allocatableCounts(this.resources, this.holders());
    for (const r of this.resources) {
      if (r.units.length === 0 && !r.configured) continue;
      capacity[r.name] = String(r.units.length * r.count);
      allocatable[r.name] = String(counts[r.name] ?? 0);
    }
    return { labels: { ...this.labels }, capacity, allocatable };
  }

  /**
   * The devices a pod gets: what its status records (an agent restart, a retried start), else what
   * was handed out to it and not yet recorded, else a new choice. Undefined when it asks for none.
   */
  allocate(pod: Pod): AllocationResult | undefined {
    const requests = podDeviceRequests(pod);
    if (requests.size === 0) return undefined;
    const uid = pod.metadata.uid ?? '';
    const recorded = recordedAllocation(pod) ?? this.pending.get(uid);
    if (recorded) return { allocation: recorded };
    // Not an admission failure: the pod's sync is retried with back-off until both are known.
    if (!this.synced || !this.pods.hasSynced()) throw new Error('the device inventory or the node\'s pods are not read yet');
    const result = allocateDevices(uid, requests, this.resources, this.holders());
    if ('allocation' in result) {
      this.pending.set(uid, result.allocation);
      this.controller.enqueue(PUBLISH);
    }
    return result;
  }

  /** Forgets an allocation handed out to a pod that will not run (its lease ends with it). */
  release(uid: string): void {
    if (this.pending.delete(uid)) this.controller.enqueue(PUBLISH);
  }
}
