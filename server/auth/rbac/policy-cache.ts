/**
 * The RBAC policy the authorizer reads on every request: Roles, ClusterRoles and their bindings held
 * by informers, with bindings indexed by subject so a check looks only at the bindings that can name
 * the user (1,000 RoleBindings cost nothing on a request that none of them concerns). The index is
 * rebuilt lazily after a binding changes.
 */
import type { ApiClient } from '../../../api/client/client.js';
import type { ClusterRole, ClusterRoleBinding, RbacSubject, Role, RoleBinding } from '../../../api/types.js';
import { Informer } from '../../../api/machinery/informer.js';
import { serviceAccountUsername, type PolicySource } from './authorizer.js';
import type { UserInfo } from './rules.js';

type Binding = RoleBinding | ClusterRoleBinding;

function subjectKey(s: RbacSubject, bindingNamespace: string): string | undefined {
  switch (s.kind) {
    case 'User': return `U:${s.name}`;
    case 'Group': return `G:${s.name}`;
    case 'ServiceAccount': {
      const ns = s.namespace || bindingNamespace;
      return ns === '' ? undefined : `U:${serviceAccountUsername(ns, s.name)}`;
    }
    default: return undefined;
  }
}

/** Bindings by subject key (`U:name`, `G:group`). */
export class SubjectIndex<B extends Binding> {
  private index: Map<string, B[]> | undefined;

  constructor(private readonly source: () => Iterable<B>) {}

  invalidate(): void {
    this.index = undefined;
  }

  private build(): Map<string, B[]> {
    const index = new Map<string, B[]>();
    for (const b of this.source()) {
      const keys = new Set<string>();
      for (const s of b.subjects ?? []) {
        const k = subjectKey(s, b.metadata.namespace ?? '');
        if (k !== undefined) keys.add(k);
      }
      for (const k of keys) {
        const list = index.get(k);
        if (list) list.push(b);
        else index.set(k, [b]);
      }
    }
    return index;
  }

  /** Each binding once, even when it names the user and several of their groups. */
  *for(user: UserInfo): Iterable<B> {
    this.index ??= this.build();
    const seen = new Set<B>();
    for (const key of [`U:${user.name}`, ...user.groups.map((g) => `G:${g}`)]) {
      for (const b of this.index.get(key) ?? []) {
        if (seen.has(b)) continue;
        seen.add(b);
        yield b;
      }
    }
  }
}

export class PolicyCache implements PolicySource {
  private readonly roles: Informer<Role>;
  private readonly clusterRoles: Informer<ClusterRole>;
  private readonly roleBindings: Informer<RoleBinding>;
  private readonly clusterRoleBindings: Informer<ClusterRoleBinding>;
  private readonly clusterIndex: SubjectIndex<ClusterRoleBinding>;
  /** One index per namespace, rebuilt after a RoleBinding of that namespace changed. */
  private readonly namespaceIndexes = new Map<string, SubjectIndex<RoleBinding>>();
  private readonly bindingsByNamespace = new Map<string, Map<string, RoleBinding>>();

  constructor(client: ApiClient) {
    this.roles = new Informer<Role>(client, 'Role');
    this.clusterRoles = new Informer<ClusterRole>(client, 'ClusterRole');
    this.roleBindings = new Informer<RoleBinding>(client, 'RoleBinding');
    this.clusterRoleBindings = new Informer<ClusterRoleBinding>(client, 'ClusterRoleBinding');
    this.clusterIndex = new SubjectIndex(() => this.clusterRoleBindings.list());
    this.clusterRoleBindings.addHandlers({
      onAdd: () => this.clusterIndex.invalidate(),
      onUpdate: () => this.clusterIndex.invalidate(),
      onDelete: () => this.clusterIndex.invalidate(),
    });
    this.roleBindings.addHandlers({
      onAdd: (rb) => this.putRoleBinding(rb),
      onUpdate: (_old, rb) => this.putRoleBinding(rb),
      onDelete: (rb) => {
        const ns = rb.metadata.namespace ?? '';
        this.bindingsByNamespace.get(ns)?.delete(rb.metadata.name!);
        this.namespaceIndexes.get(ns)?.invalidate();
      },
    });
  }

  private putRoleBinding(rb: RoleBinding): void {
    const ns = rb.metadata.namespace ?? '';
    let byName = this.bindingsByNamespace.get(ns);
    if (!byName) {
      byName = new Map();
      this.bindingsByNamespace.set(ns, byName);
    }
    byName.set(rb.metadata.name!, rb);
    this.namespaceIndexes.get(ns)?.invalidate();
  }

  start(signal: AbortSignal): void {
    for (const inf of [this.roles, this.clusterRoles, this.roleBindings, this.clusterRoleBindings]) (inf as Informer).start(signal);
  }

  async waitForSync(): Promise<void> {
    await Promise.all([this.roles, this.clusterRoles, this.roleBindings, this.clusterRoleBindings].map((i) => (i as Informer).waitForSync()));
  }

  getRole(namespace: string, name: string): Role | undefined {
    return this.roles.get(`${namespace}/${name}`);
  }

  getClusterRole(name: string): ClusterRole | undefined {
    return this.clusterRoles.get(name);
  }

  clusterRoleBindingsFor(user: UserInfo): Iterable<ClusterRoleBinding> {
    return this.clusterIndex.for(user);
  }

  roleBindingsFor(user: UserInfo, namespace: string): Iterable<RoleBinding> {
    let index = this.namespaceIndexes.get(namespace);
    if (!index) {
      index = new SubjectIndex(() => this.bindingsByNamespace.get(namespace)?.values() ?? []);
      this.namespaceIndexes.set(namespace, index);
    }
    return index.for(user);
  }
}
