/**
 * One `ctr tasks ls` shared by every pod worker: a snapshot is reused for a short while and
 * concurrent readers wait for the same call, so 30 pods syncing at once cost one ctr process, not 30.
 * Container exits (from `ctr events`) invalidate it.
 */
import type { ContainerdRuntime, TaskInfo } from '../runtime/index.js';

export class TaskCache {
  private snapshot: { at: number; tasks: Map<string, TaskInfo> } | undefined;
  private pending: Promise<Map<string, TaskInfo>> | undefined;

  constructor(private readonly runtime: ContainerdRuntime, private readonly maxAgeMs = 500) {}

  async get(): Promise<Map<string, TaskInfo>> {
    if (this.snapshot && Date.now() - this.snapshot.at < this.maxAgeMs) return this.snapshot.tasks;
    if (!this.pending) {
      const started = Date.now();
      this.pending = this.runtime.listTasks({ timeoutMs: 10_000 }).then((list) => {
        const tasks = new Map(list.map((t) => [t.id, t]));
        this.snapshot = { at: started, tasks };
        return tasks;
      }).finally(() => { this.pending = undefined; });
    }
    return this.pending;
  }

  invalidate(): void {
    this.snapshot = undefined;
  }
}
