/**
 * ClusterRole aggregation: keeps each aggregated ClusterRole's rules equal to the union of the
 * ClusterRoles its aggregationRule selects (admin ⊇ edit ⊇ view, and any chart's ClusterRole labelled
 * `rbac.authorization.k8s.io/aggregate-to-view: "true"` extends view). Any ClusterRole change
 * requeues every aggregated role; reconcile(name) writes only when the union differs.
 */
import { deepEqual } from '../../api/object-util.js';
import type { ClusterRole } from '../../api/types.js';
import { aggregatedRules } from '../auth/rbac/aggregation.js';
import type { ControllerContext } from './context.js';
import { Controller } from '../../api/machinery/controller.js';
import type { Informer } from '../../api/machinery/informer.js';

class ClusterRoleAggregationController {
  private readonly controller: Controller;

  constructor(private readonly ctx: ControllerContext, private readonly roles: Informer<ClusterRole>) {
    this.controller = new Controller({ name: 'clusterrole-aggregation', reconcile: (key) => this.reconcile(key) });
    const requeueAggregated = (): void => {
      for (const role of roles.list()) if (role.aggregationRule) this.controller.enqueue(role.metadata.name!);
    };
    roles.addHandlers({ onAdd: requeueAggregated, onUpdate: requeueAggregated, onDelete: requeueAggregated });
  }

  start(): void {
    void (async () => {
      await this.roles.waitForSync();
      await this.controller.run(this.ctx.signal);
    })();
  }

  async reconcile(name: string): Promise<void> {
    const role = this.roles.get(name);
    if (!role) return;
    const rules = aggregatedRules(role, this.roles.list());
    if (rules === undefined || deepEqual(rules, role.rules ?? [])) return;
    await this.ctx.client.update('ClusterRole', { ...role, rules });
  }
}

export function startClusterRoleAggregationController(ctx: ControllerContext): void {
  new ClusterRoleAggregationController(ctx, ctx.informers.forKind<ClusterRole>('ClusterRole')).start();
}
