/**
 * One task list shared by every pod worker: a snapshot is reused for a short while and concurrent
 * readers wait for the same call, so 30 pods syncing at once cost one call, not 30. Container starts
 * and exits invalidate it; a list that was already under way when that happened is neither joined
 * nor kept, since it may predate the change.
 */
import type { ContainerdRuntime, TaskInfo } from '../runtime/index.js';

export class TaskCache {
  private snapshot: { at: number; tasks: Map<string, TaskInfo> } | undefined;
  private pending: { generation: number; tasks: Promise<Map<string, TaskInfo>> } | undefined;
  private generation = 0;

  constructor(private readonly runtime: Pick<ContainerdRuntime, 'listTasks'>, private readonly maxAgeMs = 500) {}

  async get(): Promise<Map<string, TaskInfo>> {
    if (this.snapshot && Date.now() - this.snapshot.at < this.maxAgeMs) return this.snapshot.tasks;
    if (this.pending?.generation === this.generation) return this.pending.tasks;
    const generation = this.generation;
    const started = Date.now();
    const tasks = this.runtime.listTasks({ timeoutMs: 10_000 }).then((list) => {
      const byId = new Map(list.map((t) => [t.id, t]));
      if (generation === this.generation) this.snapshot = { at: started, tasks: byId };
      return byId;
    }).finally(() => {
      if (this.pending?.tasks === tasks) this.pending = undefined;
    });
    this.pending = { generation, tasks };
    return tasks;
  }

  invalidate(): void {
    this.snapshot = undefined;
    this.generation++;
  }
}
