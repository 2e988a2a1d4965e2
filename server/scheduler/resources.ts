/**
 * Resource arithmetic for scheduling: what a pod requests and what a node can allocate, reduced to plain
 * numbers once so the per-node hot loop only compares numbers.
 *
 * CPU is kept in milli-cores, every other resource in whole units (bytes for memory and
 * ephemeral-storage, a count for pods and extended resources), as kube-scheduler does.
 */
import type { Container, Node, Pod } from '../../api/types.js';
import { quantityToMilli, quantityToNumber } from '../../api/quantity.js';

/** The requests kube-scheduler assumes for scoring when a container states none (100m CPU, 200 MB). */
export const DEFAULT_MILLI_CPU_REQUEST = 100;
export const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

/** A pod's requests, flattened. `scalars` holds extended resources (e.g. `example.com/gpu`) and hugepages. */
export interface PodRequests {
  milliCpu: number;
  memory: number;
  ephemeralStorage: number;
  scalars: ScalarAmount[];
  /** CPU and memory with the scoring defaults applied to containers that request nothing. */
  nonZeroMilliCpu: number;
  nonZeroMemory: number;
}

export interface ScalarAmount {
  name: string;
  value: number;
}

/** What a node offers: `status.allocatable`, or `status.capacity` when allocatable is absent (API defaulting). */
export interface NodeAllocatable {
  milliCpu: number;
  memory: number;
  ephemeralStorage: number;
  pods: number;
  scalars: Map<string, number>;
}

// Quantity parsing is exact (bigint) and therefore slow; the same few strings recur thousands of times.
const MEMO_LIMIT = 10_000;
const milliMemo = new Map<string, number>();
const unitMemo = new Map<string, number>();

/**
 * Parses through a small memo. An unparsable quantity counts as zero: rejecting it is the API server's
 * validation's job, and one malformed object must not stop the scheduler from placing every other pod.
 */
function memoized(memo: Map<string, number>, parse: (q: string) => number, q: string | number): number {
  if (typeof q === 'number') return parse(String(q));
  const hit = memo.get(q);
  if (hit !== undefined) return hit;
  let value: number;
  try {
    value = parse(q);
  } catch {
    value = 0;
  }
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(q, value);
  return value;
}

export function milliOf(q: string | number): number {
  return memoized(milliMemo, quantityToMilli, q);
}

export function unitsOf(q: string | number): number {
  return memoized(unitMemo, quantityToNumber, q);
}

/**
 * Extended resources are the non-native names the scheduler accounts for: domain-prefixed names outside
 * `kubernetes.io/` (`example.com/gpu`), plus hugepages. Other names (e.g. `storage`) are not node resources.
 */
export function isScalarResourceName(name: string): boolean {
  if (name.startsWith('hugepages-')) return true;
  if (!name.includes('/')) return false;
  if (name.includes('kubernetes.io/')) return false;
  return !name.startsWith('requests.');
}

/** A container's effective requests: limits stand in for missing requests, as API defaulting does. */
function effectiveRequests(container: Container): Record<string, string> | undefined {
  const requests = container.resources?.requests;
  const limits = container.resources?.limits;
  if (limits === undefined) return requests;
  const merged: Record<string, string> = { ...limits };
  if (requests !== undefined) Object.assign(merged, requests);
  return merged;
}

/** Accumulates one container into `acc`, either summing (app containers) or taking the maximum (init). */
function addContainer(acc: PodRequests, scalarAcc: Map<string, number>, container: Container, mode: 'sum' | 'max'): void {
  const requests = effectiveRequests(container);
  let cpu = 0;
  let memory = 0;
  let ephemeral = 0;
  let cpuSet = false;
  let memorySet = false;
  if (requests !== undefined) {
    for (const name of Object.keys(requests)) {
      const q = requests[name];
      if (q === undefined) continue;
      if (name === 'cpu') {
        cpu = milliOf(q);
        cpuSet = true;
      } else if (name === 'memory') {
        memory = unitsOf(q);
        memorySet = true;
      } else if (name === 'ephemeral-storage') {
        ephemeral = unitsOf(q);
      } else if (isScalarResourceName(name)) {
        const v = unitsOf(q);
        const prev = scalarAcc.get(name) ?? 0;
        scalarAcc.set(name, mode === 'sum' ? prev + v : Math.max(prev, v));
      }
    }
  }
  const nonZeroCpu = cpuSet ? cpu : DEFAULT_MILLI_CPU_REQUEST;
  const nonZeroMemory = memorySet ? memory : DEFAULT_MEMORY_REQUEST;
  if (mode === 'sum') {
    acc.milliCpu += cpu;
    acc.memory += memory;
    acc.ephemeralStorage += ephemeral;
    acc.nonZeroMilliCpu += nonZeroCpu;
    acc.nonZeroMemory += nonZeroMemory;
  } else {
    acc.milliCpu = Math.max(acc.milliCpu, cpu);
    acc.memory = Math.max(acc.memory, memory);
    acc.ephemeralStorage = Math.max(acc.ephemeralStorage, ephemeral);
    acc.nonZeroMilliCpu = Math.max(acc.nonZeroMilliCpu, nonZeroCpu);
    acc.nonZeroMemory = Math.max(acc.nonZeroMemory, nonZeroMemory);
  }
}

function emptyRequests(): PodRequests {
  return { milliCpu: 0, memory: 0, ephemeralStorage: 0, scalars: [], nonZeroMilliCpu: 0, nonZeroMemory: 0 };
}

/**
 * The pod's effective requests as Kubernetes computes them: the sum over app containers, raised per
 * resource to the largest single init container (init containers run one at a time, before the app).
 */
export function podRequests(pod: Pod): PodRequests {
  const app = emptyRequests();
  const appScalars = new Map<string, number>();
  for (const c of pod.spec.containers ?? []) addContainer(app, appScalars, c, 'sum');
  const initContainers = pod.spec.initContainers;
  if (initContainers !== undefined && initContainers.length > 0) {
    const init = emptyRequests();
    const initScalars = new Map<string, number>();
    for (const c of initContainers) addContainer(init, initScalars, c, 'max');
    app.milliCpu = Math.max(app.milliCpu, init.milliCpu);
    app.memory = Math.max(app.memory, init.memory);
    app.ephemeralStorage = Math.max(app.ephemeralStorage, init.ephemeralStorage);
    app.nonZeroMilliCpu = Math.max(app.nonZeroMilliCpu, init.nonZeroMilliCpu);
    app.nonZeroMemory = Math.max(app.nonZeroMemory, init.nonZeroMemory);
    for (const [name, v] of initScalars) appScalars.set(name, Math.max(appScalars.get(name) ?? 0, v));
  }
  for (const [name, value] of [...appScalars].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    if (value > 0) app.scalars.push({ name, value });
  }
  return app;
}

export function nodeAllocatable(node: Node): NodeAllocatable {
  const source = node.status?.allocatable ?? node.status?.capacity ?? {};
  const out: NodeAllocatable = { milliCpu: 0, memory: 0, ephemeralStorage: 0, pods: 0, scalars: new Map() };
  for (const name of Object.keys(source)) {
    const q = source[name];
    if (q === undefined) continue;
    if (name === 'cpu') out.milliCpu = milliOf(q);
    else if (name === 'memory') out.memory = unitsOf(q);
    else if (name === 'ephemeral-storage') out.ephemeralStorage = unitsOf(q);
    else if (name === 'pods') out.pods = unitsOf(q);
    else if (isScalarResourceName(name)) out.scalars.set(name, unitsOf(q));
  }
  return out;
}
