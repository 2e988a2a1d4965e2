/**
 * RBAC on every request of a real `corral server`, with the real kubectl:
 * - a Role + RoleBinding grants a service account exactly what it says (table-driven over verbs,
 *   resources, subresources and resourceNames, asked with `kubectl auth can-i --as` and checked
 *   with real requests made with the account's own token);
 * - refusals carry upstream's message (`User "x" cannot list resource "secrets" in API group "" in
 *   the namespace "y"`);
 * - `kubectl auth can-i --list --as=system:serviceaccount:ns:sa` and `kubectl auth whoami`;
 * - escalation is refused (a role or binding granting more than the writer holds) unless `escalate`
 *   or `bind` is granted;
 * - impersonation needs `impersonate`; a viewer token cannot read Secrets.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { kubectl, ServerProcess } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'corral.js');
const NS = 'rbac-a';
const DEV = `system:serviceaccount:${NS}:dev`;
const DEV_GROUPS = `["system:serviceaccounts" "system:serviceaccounts:${NS}" "system:authenticated"]`;

const it = suite<{ server: ServerProcess; devToken: string }>('rbac');

async function run(server: ServerProcess, args: string[], input?: string): Promise<string> {
  const r = await kubectl(server, args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

const applyJson = (server: ServerProcess, obj: unknown) => run(server, ['apply', '-f', '-'], JSON.stringify(obj));

/** kubectl as the dev service account, with its own bearer token (no admin credentials). */
function asDev(ctx: { server: ServerProcess; devToken: string }, args: string[], input?: string) {
  return kubectl(ctx.server, ['--token', ctx.devToken, ...args], input === undefined ? {} : { input });
}

function corral(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, CORRAL_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start();
  const s = ctx.server;
  await run(s, ['create', 'namespace', NS]);
  await run(s, ['create', 'serviceaccount', 'dev', '-n', NS]);
  await applyJson(s, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'dev', namespace: NS },
    rules: [
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['pods/log', 'pods/exec'], verbs: ['get'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'update'], resourceNames: ['allowed-cm'] },
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['create', 'get', 'list'] },
      { apiGroups: ['apps'], resources: ['deployments/scale'], verbs: ['update', 'patch'] },
      { apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles', 'rolebindings'], verbs: ['create', 'get'] },
    ],
  });
  await applyJson(s, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'dev', namespace: NS },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'dev' },
    subjects: [{ kind: 'ServiceAccount', name: 'dev', namespace: NS }],
  });
  for (const name of ['allowed-cm', 'other-cm']) await run(s, ['create', 'configmap', name, '-n', NS, '--from-literal=k=v']);
  ctx.devToken = (await run(s, ['create', 'token', 'dev', '-n', NS])).trim();
  // The policy cache follows the bindings through a watch: wait until the grant is in effect.
  await waitUntil('the RoleBinding in effect', async () => (await asDev(ctx, ['get', 'pods', '-n', NS])).code === 0, 10_000);
});

it.after(async (ctx) => {
  await ctx.server?.destroy();
});

interface Case { args: string[]; allowed: boolean }

const CASES: Case[] = [
  { args: ['get', 'pods'], allowed: true },
  { args: ['list', 'pods'], allowed: true },
  { args: ['watch', 'pods'], allowed: true },
  { args: ['create', 'pods'], allowed: false },
  { args: ['delete', 'pods'], allowed: false },
  { args: ['get', 'pods', '--subresource=log'], allowed: true },
  { args: ['create', 'pods', '--subresource=exec'], allowed: false },
  { args: ['get', 'pods', '--subresource=exec'], allowed: true },
  { args: ['get', 'pods', '--subresource=status'], allowed: false },
  { args: ['get', 'configmaps/allowed-cm'], allowed: true },
  { args: ['update', 'configmaps/allowed-cm'], allowed: true },
  { args: ['get', 'configmaps/other-cm'], allowed: false },
  { args: ['list', 'configmaps'], allowed: false },
  { args: ['get', 'secrets'], allowed: false },
  { args: ['create', 'deployments.apps'], allowed: true },
  { args: ['delete', 'deployments.apps'], allowed: false },
  { args: ['update', 'deployments.apps', '--subresource=scale'], allowed: true },
  { args: ['update', 'deployments.apps'], allowed: false },
  { args: ['get', 'pods', '--all-namespaces'], allowed: false },
  { args: ['list', 'nodes'], allowed: false },
];

it('a Role + RoleBinding grants exactly what it says (kubectl auth can-i --as, table)', async ({ server }) => {
  for (const c of CASES) {
    const r = await kubectl(server, ['auth', 'can-i', ...c.args, '-n', NS, `--as=${DEV}`]);
    assert.is(r.stdout.trim(), c.allowed ? 'yes' : 'no', `can-i ${c.args.join(' ')}: ${r.stderr}`);
    assert.is(r.code, c.allowed ? 0 : 1);
  }
  const other = await kubectl(server, ['auth', 'can-i', 'get', 'pods', '-n', 'default', `--as=${DEV}`]);
  assert.is(other.stdout.trim(), 'no', 'a RoleBinding applies in its namespace only');
});

it('real requests with the account\'s token: allowed ones work, refusals carry upstream\'s message', async (ctx) => {
  assert.is((await asDev(ctx, ['get', 'pods', '-n', NS])).code, 0);
  assert.is((await asDev(ctx, ['get', 'configmap', 'allowed-cm', '-n', NS])).code, 0);
  const secrets = await asDev(ctx, ['get', 'secrets', '-n', NS]);
  assert.is(secrets.stderr.trim(), `Error from server (Forbidden): secrets is forbidden: User "${DEV}" cannot list resource "secrets" in API group "" in the namespace "${NS}"`);
  const named = await asDev(ctx, ['get', 'configmap', 'other-cm', '-n', NS]);
  assert.is(named.stderr.trim(), `Error from server (Forbidden): configmaps "other-cm" is forbidden: User "${DEV}" cannot get resource "configmaps" in API group "" in the namespace "${NS}"`);
  const nodes = await asDev(ctx, ['get', 'nodes']);
  assert.is(nodes.stderr.trim(), `Error from server (Forbidden): nodes is forbidden: User "${DEV}" cannot list resource "nodes" in API group "" at the cluster scope`);
  const del = await asDev(ctx, ['delete', 'configmap', 'allowed-cm', '-n', NS]);
  assert.match(del.stderr, `configmaps "allowed-cm" is forbidden: User "${DEV}" cannot delete resource "configmaps" in API group "" in the namespace "${NS}"`);
  const exec = await asDev(ctx, ['create', 'deployment', 'web', '--image=nginx', '-n', NS]);
  assert.is(exec.code, 0, exec.stderr);
});

it('exec needs create on pods/exec as upstream (get alone does not open a shell)', async (ctx) => {
  await ctx.server.client.create('Pod', NS, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'shell' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
  const exec = await asDev(ctx, ['exec', 'shell', '-n', NS, '--', 'true']);
  assert.match(exec.stderr, `pods "shell" is forbidden: User "${DEV}" cannot create resource "pods/exec" in API group "" in the namespace "${NS}"`);
});

it('kubectl auth can-i --list --as a service account, and kubectl auth whoami', async (ctx) => {
  const list = await run(ctx.server, ['auth', 'can-i', '--list', '-n', NS, `--as=${DEV}`]);
  assert.match(list, /^pods\s+\[\]\s+\[\]\s+\[get list watch\]$/m);
  assert.match(list, /^configmaps\s+\[\]\s+\[allowed-cm\]\s+\[get update\]$/m);
  assert.match(list, /^deployments\.apps\/scale\s+\[\]\s+\[\]\s+\[update patch\]$/m);
  assert.match(list, /^selfsubjectaccessreviews\.authorization\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]$/m, 'system:basic-user');
  assert.match(list, /^\s+\[\/api\/\*\]\s+\[\]\s+\[get\]$/m, 'system:discovery');
  assert.not.match(list, /^secrets/m);
  const whoami = await asDev(ctx, ['auth', 'whoami']);
  assert.is(whoami.code, 0, whoami.stderr);
  assert.match(whoami.stdout, new RegExp(`Username\\s+${DEV}`));
  assert.match(whoami.stdout, /Groups\s+\[system:serviceaccounts system:serviceaccounts:rbac-a system:authenticated\]/);
  const admin = await run(ctx.server, ['auth', 'whoami', '-o', 'json']);
  assert.ok((JSON.parse(admin) as { status: { userInfo: { groups: string[] } } }).status.userInfo.groups.includes('system:masters'));
});

it('escalation is refused: no role or binding granting more than the writer holds, unless escalate/bind', async (ctx) => {
  const role = (name: string, rules: unknown[]) => JSON.stringify({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name, namespace: NS }, rules });
  const subset = await asDev(ctx, ['create', '-f', '-'], role('reader', [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }]));
  assert.is(subset.code, 0, subset.stderr);
  const more = await asDev(ctx, ['create', '-f', '-'], role('escalate', [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }]));
  assert.is(more.stderr.trim(), `Error from server (Forbidden): error when creating "STDIN": roles.rbac.authorization.k8s.io "escalate" is forbidden: user "${DEV}" (groups=${DEV_GROUPS}) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}`);
  const binding = (name: string, kind: string, roleName: string) => JSON.stringify({
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name, namespace: NS },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind, name: roleName }, subjects: [{ kind: 'User', name: 'mallory' }],
  });
  assert.is((await asDev(ctx, ['create', '-f', '-'], binding('ok', 'Role', 'reader'))).code, 0, 'binding a role one holds');
  const admin = await asDev(ctx, ['create', '-f', '-'], binding('to-admin', 'ClusterRole', 'admin'));
  assert.match(admin.stderr, `rolebindings.rbac.authorization.k8s.io "to-admin" is forbidden: user "${DEV}" (groups=${DEV_GROUPS}) is attempting to grant RBAC permissions not currently held:`);
  // `bind` on that one ClusterRole lets the account bind it without holding it.
  await applyJson(ctx.server, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'binder', namespace: NS },
    rules: [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['bind'], resourceNames: ['view'] }],
  });
  await applyJson(ctx.server, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'binder', namespace: NS },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'binder' }, subjects: [{ kind: 'ServiceAccount', name: 'dev', namespace: NS }],
  });
  await waitUntil('bind granted', async () => (await asDev(ctx, ['create', '-f', '-'], binding('to-view', 'ClusterRole', 'view'))).code === 0, 10_000);
  assert.is((await asDev(ctx, ['create', '-f', '-'], binding('to-edit', 'ClusterRole', 'edit'))).code, 1, 'bind names view only');
});

it('impersonation needs impersonate; a viewer token reads pods but not Secrets', async (ctx) => {
  const as = await asDev(ctx, ['get', 'pods', '-n', NS, '--as=system:serviceaccount:kube-system:default']);
  assert.match(as.stderr, `serviceaccounts "default" is forbidden: User "${DEV}" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "kube-system"`);
  const made = await corral(['token', 'create', '--role', 'viewer', '--data-dir', ctx.server.dataDir]);
  assert.is(made.code, 0, made.stderr);
  const viewer = made.stdout.trim().split('\n').pop()!.trim();
  const pods = await kubectl(ctx.server, ['--token', viewer, 'get', 'pods', '-n', NS]);
  assert.is(pods.code, 0, pods.stderr);
  const secrets = await kubectl(ctx.server, ['--token', viewer, 'get', 'secrets', '-n', NS]);
  assert.match(secrets.stderr, /Error from server \(Forbidden\): secrets is forbidden: User "[^"]+" cannot list resource "secrets" in API group "" in the namespace "rbac-a"/);
  const write = await kubectl(ctx.server, ['--token', viewer, 'delete', 'configmap', 'allowed-cm', '-n', NS]);
  assert.match(write.stderr, /cannot delete resource "configmaps" in API group "" in the namespace "rbac-a"/);
});

it('corral token create --user --group: a token for a named user whose groups RBAC bindings grant', async (ctx) => {
  const made = await corral(['token', 'create', '--user', 'alice', '--group', 'devs', '--group', 'oncall', '--data-dir', ctx.server.dataDir]);
  assert.is(made.code, 0, made.stderr);
  const token = made.stdout.trim().split('\n').pop()!.trim();
  const whoami = await kubectl(ctx.server, ['--token', token, 'auth', 'whoami']);
  assert.match(whoami.stdout, /Username\s+alice/);
  assert.match(whoami.stdout, /Groups\s+\[devs oncall system:authenticated\]/);
  const before = await kubectl(ctx.server, ['--token', token, 'get', 'pods', '-n', NS]);
  assert.match(before.stderr, `pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "${NS}"`);
  await run(ctx.server, ['create', 'rolebinding', 'devs-edit', '--clusterrole=edit', '--group=devs', '-n', NS]);
  await waitUntil('the group binding in effect', async () => (await kubectl(ctx.server, ['--token', token, 'get', 'pods', '-n', NS])).code === 0, 10_000);
  assert.is((await kubectl(ctx.server, ['--token', token, 'get', 'secrets', '-n', NS])).code, 0, 'edit reads Secrets');
  assert.is((await kubectl(ctx.server, ['--token', token, 'get', 'pods', '-n', 'default'])).code, 1, 'only in the bound namespace');
  const spoof = await corral(['token', 'create', '--user', 'system:node:n1', '--data-dir', ctx.server.dataDir]);
  assert.is.not(spoof.code, 0, 'system: identities cannot be minted');
});

it.run();
