/**
 * Authorization benchmark (prints figures, asserts nothing, ends by itself):
 *
 *   node dist/test/bench/authz.bench.js [--quick]
 *
 * The cost of RBAC on the API create path with 1,000 RoleBindings stored (the bound: the
 * check adds at most 5 %):
 * - in process: microseconds per RBAC decision for a service account whose grant is one of 1,000
 *   RoleBindings in its namespace (plus 1,000 ClusterRoleBindings naming others), through the same
 *   subject-indexed policy cache the server uses;
 * - against a real `corral server`: sequential pod creates per second by that service account with
 *   its own token, first with only its own binding stored, then with the 1,000 others added; and the
 *   per-create RBAC time as a share of a create's time.
 */
import { performance } from 'node:perf_hooks';
import type { ClusterRoleBinding, Role, RoleBinding } from '../../api/types.js';
import { RbacAuthorizer, type PolicySource } from '../../server/auth/rbac/authorizer.js';
import type { RequestAttributes } from '../../server/auth/rbac/rules.js';
import { SubjectIndex } from '../../server/auth/rbac/policy-cache.js';
import { kubectl, ServerProcess } from '../support/server-process.js';

const quick = process.argv.includes('--quick');
const BINDINGS = 1000;
const CREATES = quick ? 100 : 300;
/** Rounds alternate the service account and the admin; the best round of each counts (the VM is shared). */
const ROUNDS = quick ? 3 : 5;
const DECISIONS = quick ? 20_000 : 100_000;
const NS = 'authz-bench';
const SA = `system:serviceaccount:${NS}:bench`;

function line(label: string, value: string): void {
  process.stdout.write(`${label.padEnd(78)} ${value}\n`);
}

const rbacGroup = 'rbac.authorization.k8s.io';
const binding = (i: number): RoleBinding => ({
  apiVersion: `${rbacGroup}/v1`, kind: 'RoleBinding', metadata: { name: `other-${i}`, namespace: NS },
  roleRef: { apiGroup: rbacGroup, kind: 'Role', name: 'creator' },
  subjects: [{ kind: 'User', apiGroup: rbacGroup, name: `user-${i}` }, { kind: 'Group', apiGroup: rbacGroup, name: `team-${i % 50}` }],
});

/** In-process: decisions per second with the server's index (by subject) over 1,000 + 1,000 bindings. */
function inProcess(): number {
  const role: Role = { metadata: { name: 'creator', namespace: NS }, rules: [{ verbs: ['create', 'get', 'list'], apiGroups: [''], resources: ['pods'] }] };
  const rbs = [...Array.from({ length: BINDINGS }, (_, i) => binding(i)), {
    metadata: { name: 'bench', namespace: NS }, roleRef: { apiGroup: rbacGroup, kind: 'Role', name: 'creator' },
    subjects: [{ kind: 'ServiceAccount', name: 'bench', namespace: NS }],
  } as RoleBinding];
  const crbs: ClusterRoleBinding[] = Array.from({ length: BINDINGS }, (_, i) => ({
    metadata: { name: `c-${i}` }, roleRef: { apiGroup: rbacGroup, kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'User', name: `user-${i}` }],
  }));
  // The server's own subject index (PolicyCache's), over plain arrays instead of informers.
  const rbIndex = new SubjectIndex(() => rbs);
  const crbIndex = new SubjectIndex(() => crbs);
  const source: PolicySource = {
    getRole: (ns, name) => (ns === NS && name === 'creator' ? role : undefined),
    getClusterRole: () => undefined,
    clusterRoleBindingsFor: (u) => crbIndex.for(u),
    roleBindingsFor: (u) => rbIndex.for(u),
  };
  const rbac = new RbacAuthorizer(source);
  const a: RequestAttributes = {
    user: { name: SA, groups: ['system:serviceaccounts', `system:serviceaccounts:${NS}`, 'system:authenticated'] },
    verb: 'create', resourceRequest: true, path: `/api/v1/namespaces/${NS}/pods`, namespace: NS, apiGroup: '', resource: 'pods', subresource: '', name: '',
  };
  const t0 = performance.now();
  let allowed = 0;
  for (let i = 0; i < DECISIONS; i++) if (rbac.authorize(a).decision === 'allow') allowed++;
  const us = ((performance.now() - t0) * 1000) / DECISIONS;
  if (allowed !== DECISIONS) throw new Error('the benchmark grant did not allow');
  return us;
}

async function createsPerSecond(server: ServerProcess, token: string, prefix: string): Promise<number> {
  const client = server.clientWithToken(token);
  const t0 = performance.now();
  for (let i = 0; i < CREATES; i++) {
    await client.create('Pod', NS, { apiVersion: 'v1', kind: 'Pod', metadata: { name: `${prefix}-${i}` }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
  }
  return (CREATES / (performance.now() - t0)) * 1000;
}

async function main(): Promise<void> {
  const us = inProcess();
  line(`RBAC decision, ${BINDINGS} RoleBindings + ${BINDINGS} ClusterRoleBindings (in process)`, `${us.toFixed(2)} µs`);

  const server = await ServerProcess.start();
  try {
    const apply = (obj: unknown) => kubectl(server, ['apply', '-f', '-'], { input: JSON.stringify(obj) });
    await server.client.create('Namespace', undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    await server.client.create('ServiceAccount', NS, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'bench' } });
    await apply({ apiVersion: `${rbacGroup}/v1`, kind: 'Role', metadata: { name: 'creator', namespace: NS }, rules: [{ verbs: ['create'], apiGroups: [''], resources: ['pods'] }] });
    await apply({
      apiVersion: `${rbacGroup}/v1`, kind: 'RoleBinding', metadata: { name: 'bench', namespace: NS },
      roleRef: { apiGroup: rbacGroup, kind: 'Role', name: 'creator' }, subjects: [{ kind: 'ServiceAccount', name: 'bench', namespace: NS }],
    });
    const token = (await kubectl(server, ['create', 'token', 'bench', '-n', NS])).stdout.trim();
    await new Promise((r) => setTimeout(r, 500)); // the policy cache follows the binding
    await createsPerSecond(server, token, 'warm');
    const best = async (label: string): Promise<{ sa: number; admin: number }> => {
      let sa = 0;
      let admin = 0;
      for (let r = 0; r < ROUNDS; r++) {
        sa = Math.max(sa, await createsPerSecond(server, token, `${label}-sa-${r}`));
        admin = Math.max(admin, await createsPerSecond(server, server.token, `${label}-admin-${r}`));
      }
      return { sa, admin };
    };
    const before = await best('a');
    for (let i = 0; i < BINDINGS; i++) await server.client.create('RoleBinding', NS, binding(i));
    await new Promise((r) => setTimeout(r, 1000));
    const after = await best('b');
    const slower = (x: number, y: number): string => `${(((y - x) / y) * 100).toFixed(1)} %`;
    line('pod creates/s, service account (RBAC) / admin (system:masters, no RBAC walk)', `${before.sa.toFixed(0)} / ${before.admin.toFixed(0)}`);
    line(`  the same with ${BINDINGS} more RoleBindings in the namespace`, `${after.sa.toFixed(0)} / ${after.admin.toFixed(0)}`);
    line(`service account vs admin, ${BINDINGS} RoleBindings (JWT check + RBAC)`, slower(after.sa, after.admin));
    line('RBAC decision as a share of one create', `${((us / 1000) / (1000 / after.sa) * 100).toFixed(3)} %`);
  } finally {
    await server.destroy();
  }
}

await main();
